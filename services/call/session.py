"""One live call: relays audio between the carrier stream and OpenAI Realtime, and orchestrates the rest.

Tasks (all cancelled by `close()`, none awaited by the relay): `_pump_carrier` (carrier events →
`input_audio_buffer.append`, payload as-is; marks; stop), `_pump_realtime` (Realtime events → carrier
audio + marks; barge-in; transcripts; tools), the tool runner's tasks, the action task (transfer /
hang-up), SMS notices, the watchdogs, and the record writer (the relay never awaits the database).
Where the stream's socket allows it (the stream port), caller audio skips the pump: `_caller_audio` takes
each frame in the socket's read callback (`MediaStream.deliver_audio`).

What happens after a line is spoken belongs to `speech.ActionSlot` alone; this class only feeds it
events (response created / done, marks heard, barge-in) and hands an action, once it is ready, to
`action_runner.ActionRunner`.
Every way a call ends goes through `close(reason)`, which is idempotent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import structlog

from models.call_record import CallPhase, CallRecord
from services import metrics
from services.call import server_events as ev
from services.call.action_runner import ActionRunner
from services.call.call_tasks import CallTasks
from services.call.continuity import Continuity, ResumedLeg, note_realtime_error
from services.call.failure import CallFailure
from services.call.history import replay_events
from services.call.keypad import Keypad
from services.call.model_inputs import ModelInputs
from services.call.playout import Playout
from services.call.ports import CallDependencies
from services.call.realtime_link import RealtimeLink, RealtimeLinkClosed
from services.call.speech import ActionSlot
from services.call.summary import CallSummaries, settle
from services.call.tool_runner import ToolRunner
from services.call.transcript import Transcript
from services.call.turn_timing import TurnTimer
from services.call.watchdogs import enforce_max_duration, rotate_before_cap, watch_silence
from services.telephony.events import AudioIn, Digit, MediaStream, PlaybackMarkEcho, StreamClosed, StreamStopped
from services.tools.registry import ToolResult
from utils.logger import get_logger

log = get_logger(__name__)

SUMMARY_AT_END_S = 3.0  # the caller has gone: only the record waits


class CallSession(ModelInputs):
    def __init__(self, deps: CallDependencies, stream: MediaStream, resume: ResumedLeg | None = None) -> None:
        """`resume`: this stream brings the call back after a failed transfer; it continues the record."""
        self.deps, self.stream, self.info, self._resume = deps, stream, stream.info, resume
        self.call_sid = self.info.call_sid
        self.record = resume.record.next_leg(self.info.stream_sid) if resume else CallRecord.for_call(self.info)
        self.record.node, self.record.carrier = deps.settings.own_node_url, stream.carrier
        self.recorder = deps.new_record_writer(self.record)
        settings = deps.settings
        self.link = RealtimeLink(
            deps.connector,
            deps.preopened,
            batch_ms=settings.inbound_audio_batch_ms,
            speech_batch_ms=settings.inbound_speech_batch_ms,
            silence_ms=deps.agent.vad.silence_duration_ms,
        )
        self.continuity = Continuity(self.link, self.record, self.touch_record)
        self.playout = Playout(stream)
        self.actions = ActionSlot()
        self.transcript = Transcript(self.record.transcript, on_change=self.recorder.line_changed)
        self._started_at = time.monotonic()
        self.timer = TurnTimer(self.record, self._started_at)
        self.tools = ToolRunner(
            registry=deps.tools,
            context=deps.new_tool_context(self.info, self.transcript.summary),
            timeout_s=deps.settings.tool_timeout_s,
            link=self.link,
            record=self.record,
            touch_record=self.touch_record,
            timer=self.timer,
            host=self,
            unpaced=deps.unpaced,
        )
        self.log = log.bind(call_sid=self.call_sid)
        self.tasks = CallTasks(self.call_sid)
        self._speech_active = False
        self._caller_turns = 0
        self.summaries = CallSummaries(self.link, self.record, on_usage=self.timer.response_done)
        self.action_runner = ActionRunner(
            self,
            tasks=self.tasks,
            transfers=deps.transfers,
            summaries=self.summaries,
            set_phase=self._set_phase,
            tell_model=self.tell_model,
            log=self.log,
        )
        self.keypad = Keypad(self, pause_s=deps.settings.keypad_pause_s, key_map=deps.settings.keypad_keys)
        self.failure = CallFailure(
            deps.failure_notice, self.info, self.record, self.touch_record, self.transcript.summary, self.log
        )
        self._end = asyncio.Event()
        self._end_reason = "unknown"
        self._closing = False
        self._closed = asyncio.Event()

    # ----------------------------------------------------------------- lifecycle
    async def run(self) -> None:
        """Own the call until it ends; always finishes through `close()`."""
        # Every log line written by this call's tasks carries its call sid (tasks inherit the context).
        structlog.contextvars.bind_contextvars(call_sid=self.call_sid)
        metrics.ACTIVE_CALLS.inc()
        self.recorder.start()
        self.log.info("call_started", caller=self.info.caller, direction=self.info.direction)
        try:
            try:
                with self.deps.unpaced():  # set-up is a chain of hops while the caller waits: no tick per hop
                    if self._resume is not None:  # no greeting: the conversation so far, and why we are back
                        await self.link.reopen(replay_events(self.record), self._resume.note)
                    else:
                        await self.link.open(self.call_sid, self.greeting)
            except Exception as error:  # connection refused, timeout, auth failure...
                self.log.error("realtime_connect_failed", error=repr(error))
                await self._fail_with_apology("realtime_connect_failed")
                return
            self.record.realtime_preopened = self.link.preopened
            self.stream.deliver_audio(self._caller_audio)  # on the stream port: no task wakes per frame
            self.tasks.spawn(self._pump_carrier(), "carrier")
            self.tasks.spawn(self._pump_realtime(), "realtime")
            self.tasks.spawn(watch_silence(self, self.deps.agent), "silence")
            self.tasks.spawn(enforce_max_duration(self, self.deps.settings.max_call_duration_s), "limit")
            self.tasks.spawn(rotate_before_cap(self, self.link, self.deps.settings.realtime_session_max_s), "rotate")
            await self._end.wait()
        finally:
            await self.close(self._end_reason)

    def end(self, reason: str) -> None:
        """Ask the call to end (from any task); the first reason wins."""
        if not self._end.is_set():
            self._end_reason = reason
            self._end.set()

    async def close(self, reason: str) -> None:
        """The one way a call ends. Idempotent; a second caller waits for the first to finish."""
        if self._closing:
            await self._closed.wait()
            return
        self._closing = True
        self.end(reason)
        self.keypad.close()
        try:
            summary = await self.summaries.summary(SUMMARY_AT_END_S, fresh=True)  # the read loop still runs
            self.summaries.close()
            await self.tasks.stop(self.tools.cancel())
            await self.link.close()
            await self.stream.close()
            self.record.finish(self._end_reason, time.monotonic() - self._started_at)
            self.record.summary = settle(summary, self.record)
            self.record.disposition = self.record.summary.disposition
            self.touch_record()
            await self.recorder.close()
        finally:
            metrics.ACTIVE_CALLS.dec()
            outcome = self.record.status if self.record.status != "in_progress" else "completed"
            metrics.CALLS_TOTAL.labels(outcome=outcome, carrier=self.stream.carrier).inc()
            self._closed.set()
            self.log.info("call_ended", reason=self._end_reason, duration_s=self.record.duration_s)

    def touch_record(self) -> None:
        self.recorder.touch()

    def _set_phase(self, phase: CallPhase, *, unless: tuple[CallPhase, ...] = ()) -> None:  # for live views
        if self.record.phase != phase and self.record.phase not in unless:
            self.record.phase = phase
            self.touch_record()

    def update_record(self, change: Callable[[CallRecord], None]) -> bool:
        return self.recorder.apply(change)

    async def record_saved(self) -> None:
        await self.recorder.wait_saved()

    async def _fail_with_apology(self, reason: str) -> None:
        if not self._end.is_set() and await self.failure.apologise(reason):
            self.end(reason)

    def conversation_is_idle(self) -> bool:
        return not (self._speech_active or self.playout.busy or self.tools.busy or self.actions.running)

    def caller_turns(self) -> int:
        return self._caller_turns

    # ----------------------------------------------------------------- carrier → OpenAI
    async def _pump_carrier(self) -> None:
        while True:
            event = await self.stream.receive()
            if isinstance(event, AudioIn):
                self._caller_audio(event)
            elif isinstance(event, PlaybackMarkEcho):
                self._on_mark_echo(event.name)
            elif isinstance(event, Digit):
                await self.keypad.press(event.digit)
            elif isinstance(event, StreamStopped):
                self.link.flush_audio()
                self.end(self._reason_for_stop())
                return
            elif isinstance(event, StreamClosed):
                self.end(event.reason)
                return

    def _caller_audio(self, audio: AudioIn) -> None:
        """Every caller frame, from the pump or the socket's tap; held, not lost, while the link is down."""
        self.link.append_audio(audio.payload, audio.audio)

    def _reason_for_stop(self) -> str:
        """The carrier also stops the stream when we moved the call ourselves: that is not a hang-up."""
        return "transferred" if self.actions.moving_the_call else (self.failure.reason or "caller_hung_up")

    def _on_mark_echo(self, name: str) -> None:
        for handle in self.playout.mark_echoed(name):
            self.action_runner.start_if_ready(self.actions.line_played_out(handle))
            if not self.playout.busy:
                self._set_phase("listening", unless=("tool", "transferring"))

    # ----------------------------------------------------------------- OpenAI → carrier
    async def _pump_realtime(self) -> None:
        """Relay Realtime events; when the socket is lost mid-call, move to a new session and go on."""
        while (lost := await self._relay_realtime()) is not None and not self._end.is_set():
            if not await self._recover(lost):
                return

    async def _recover(self, reason: str) -> bool:
        # The old session's responses end here (audio already sent still plays); its tool batches are dropped.
        resume = self.playout.busy or self.tools.busy or self.transcript.caller_is_waiting()
        await self.playout.seal()  # what was sent still plays: its end must be marked to be seen
        for handle in self.playout.abandon():
            self.action_runner.start_if_ready(self.actions.line_played_out(handle))
        self.tools.forget_batches()
        self._speech_active = False
        if await self.continuity.reconnect(reason, resume=resume):
            return True
        await self._fail_with_apology("realtime_disconnected")
        return False

    async def rotate_session(self) -> None:
        await self.continuity.rotate()

    async def _relay_realtime(self) -> str | None:
        """Until the link is lost (returns why) or the call ends (None)."""
        try:
            async for event_type, event in self.link.events():
                if event_type == "response.output_audio.delta":
                    await self._on_audio_delta(event)
                    continue
                if self.summaries.active and self.summaries.take(event_type, event):
                    continue  # the summary's out-of-band response: nothing to say or play
                handler = self._control_handlers.get(event_type)
                if handler is None:
                    continue  # e.g. transcript deltas: nothing to type
                try:
                    parsed = ev.typed(event_type, event)
                except ValueError:
                    self.log.warning("realtime_event_unparsed", event_type=event_type)
                    continue
                await handler(self, parsed)
        except RealtimeLinkClosed as closed:
            if self._end.is_set():
                return None
            self.log.error("realtime_disconnected", detail=str(closed)[:200])
            return str(closed) or "closed"
        return None

    async def _on_audio_delta(self, event: dict[str, Any]) -> None:
        now = time.monotonic()
        if self.record.phase in ("listening", "tool"):  # an answer's first audio: one compare per chunk after it
            self._set_phase("speaking")
        if await self.playout.play(event, now) and self.timer.audio_sent(event.get("response_id"), now):
            self.touch_record()

    async def _on_speech_started(self, event: ev.SpeechStarted) -> None:
        self._speech_active = True
        self.link.caller_speaking(True)
        self._set_phase("listening", unless=("tool", "transferring"))
        self._caller_turns += 1
        await self.barge_in(cancel_generation=False)  # server VAD cancels its own response

    async def barge_in(self, *, cancel_generation: bool) -> None:
        """Stop playback at the caller, and make the model forget what they did not hear."""
        if cancel_generation and self.playout.speech.current is not None:
            try:
                await self.link.cancel_response()
            except RealtimeLinkClosed:
                pass
        interruption, cut_off = await self.playout.interrupt()
        for handle in cut_off:
            self.action_runner.start_if_ready(self.actions.line_played_out(handle))
        if interruption is None:
            return
        metrics.BARGE_INS.inc()
        self.record.latencies.barge_ins += 1
        try:
            await self.link.truncate(interruption.item_id, interruption.audio_end_ms)
        except RealtimeLinkClosed:
            return
        self.transcript.interrupted(interruption.item_id, interruption.audio_end_ms, interruption.sent_ms)
        self.touch_record()
        heard, sent = interruption.audio_end_ms, round(interruption.sent_ms)
        self.log.info("barge_in", item_id=interruption.item_id, heard_ms=heard, sent_ms=sent)

    async def _on_speech_stopped(self, event: ev.SpeechStopped) -> None:
        self._speech_active = False
        self.link.caller_speaking(False)
        self.timer.speech_stopped()
        self.transcript.caller_turn(event.item_id)

    async def _on_response_created(self, event: ev.ResponseCreated) -> None:
        if event.response.id is None:
            return  # the API always sends one; without it no audio could be matched to the response
        handle = self.playout.response_started(event.response.id)
        self.timer.response_started(handle.response_id)
        self.action_runner.start_if_ready(self.actions.response_started(handle))

    async def _on_audio_done(self, event: ev.AudioDone) -> None:
        await self.playout.seal()

    async def _on_response_done(self, event: ev.ResponseDone) -> None:
        response = event.response
        if response.id is None:
            return
        await self.playout.seal()  # in case its audio's `done` was not seen
        handle = self.playout.response_done(response.id)
        if self.timer.response_done(response.id, response.usage):
            self.touch_record()
        if response.status == "failed":
            metrics.REALTIME_ERRORS.labels(code="response_failed").inc()
            self.log.warning("response_failed", details=str(response.status_details)[:300])
        if handle is not None and handle.played_out:  # first: a line that said nothing re-arms its action
            self.action_runner.start_if_ready(self.actions.line_played_out(handle))
        await self.tools.response_done(response.id)

    async def _on_caller_transcript(self, event: ev.CallerTranscript) -> None:
        if self.transcript.add_caller(event.item_id, event.transcript):
            self.touch_record()

    async def _on_assistant_transcript(self, event: ev.AssistantTranscript) -> None:
        if self.transcript.add_assistant(event.item_id, event.transcript):
            self.touch_record()

    async def _on_error(self, event: ev.ServerError) -> None:
        if note_realtime_error(self.record, event.error):
            self.touch_record()

    async def _on_function_call(self, event: ev.FunctionCall) -> None:
        self._set_phase("tool", unless=("transferring",))
        self.tools.start(event.response_id, event.call_id, event.name, event.arguments)

    # ----------------------------------------------------------------- tool results (ToolHost)
    def tool_finished(self, response_id: str, result: ToolResult) -> None:
        self._set_phase("listening", unless=("transferring",))
        effects = result.effects
        if effects.transfer_requested is not None:
            self.summaries.start()  # written while the announcement plays
        if effects.ticket_filed is not None:
            ticket = effects.ticket_filed
            if ticket.ticket_id not in self.record.tickets:
                self.record.tickets.append(ticket.ticket_id)
                self.touch_record()
            self.tasks.spawn(self.deps.tickets.ticket_filed(self.info, ticket), "ticket-notice")
        hang_up = self.actions.arm_for_tool(effects)
        handle = self.playout.handle(response_id)
        if hang_up is not None and handle is not None:
            self.action_runner.start_if_ready(self.actions.bind(hang_up, handle))

    def follow_up_wanted(self, response_id: str) -> bool:
        return self.actions.follow_up_wanted()

    # Each handler takes the SDK's model of its own event type (`server_events.HANDLED`, the same keys).
    _control_handlers: ClassVar[dict[str, Callable[[CallSession, Any], Awaitable[None]]]] = {
        "input_audio_buffer.speech_started": _on_speech_started,
        "input_audio_buffer.speech_stopped": _on_speech_stopped,
        "response.created": _on_response_created,
        "response.output_audio.done": _on_audio_done,
        "response.done": _on_response_done,
        "response.function_call_arguments.done": _on_function_call,
        "response.output_audio_transcript.done": _on_assistant_transcript,
        "conversation.item.input_audio_transcription.completed": _on_caller_transcript,
        "error": _on_error,
    }
