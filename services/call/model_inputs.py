"""What a call tells the model besides the caller's audio: the greeting, system notes (with or without a
reply), keys typed on the keypad, staff notes. A mixin of `CallSession`, kept apart so the orchestrator stays
readable; it only uses the link, the record and the action slot."""

from __future__ import annotations

from models.call_record import CallRecord, TranscriptLine
from services.call.playout import Playout
from services.call.ports import CallDependencies
from services.call.realtime_link import RealtimeLink, RealtimeLinkClosed
from services.call.speech import ActionSlot
from services.realtime.session_config import greeting_instructions
from services.telephony.events import CallInfo

STAFF_NOTE = "Note from support staff ({author}), for you only: use it, never read it out or mention it. {text}"


class ModelInputs:
    deps: CallDependencies
    info: CallInfo
    link: RealtimeLink
    record: CallRecord
    actions: ActionSlot
    playout: Playout

    def touch_record(self) -> None:
        raise NotImplementedError

    async def greeting(self) -> str:
        """In the customer's preferred language when their record says one (a bounded read)."""
        language = await self.deps.preferred_language(self.info.caller)
        return greeting_instructions(self.deps.agent, self.info.direction, self.info.purpose, language)

    async def tell_model(self, instruction: str) -> None:
        """Give the model a system note and let it speak about it (e.g. a failed transfer)."""
        try:
            await self.link.add_system_note(instruction)
            await self.link.request_response()
        except RealtimeLinkClosed:
            pass  # the read loop reports the lost link

    async def say_goodbye_and_hang_up(self, instruction: str, end_reason: str) -> None:
        if self.actions.arm("hang_up", end_reason, cancel_if_interrupted=True) is None:
            return  # a transfer or hang-up is already under way
        await self.tell_model(instruction)

    async def add_staff_note(self, text: str, author: str) -> bool:
        """Context from staff, for the model only: no response asked for, it is used when it next speaks."""
        note = STAFF_NOTE.format(author=author, text=text)
        try:
            await self.link.add_system_note(note)
        except RealtimeLinkClosed:
            return False
        self.record.transcript.append(TranscriptLine(role="system", text=note))  # replayed after a reconnect
        self.touch_record()
        return True

    @property
    def assistant_speaking(self) -> bool:
        return self.playout.busy

    async def caller_typed(self, text: str) -> None:
        """Keys typed on the keypad, as the caller's input: a user message, then a reply to it."""
        self.record.transcript.append(TranscriptLine(role="caller", text=text))
        self.touch_record()
        try:
            await self.link.add_caller_text(text)
        except RealtimeLinkClosed:
            pass  # the read loop reports the lost link
