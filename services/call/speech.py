"""Spoken lines and the one action a line may announce.

A `SpeechHandle` is one assistant response as the caller experiences it (the idea of LiveKit Agents'
`SpeechHandle`): how much audio was sent, whether the caller interrupted it, and an awaitable for
"it has finished playing at the phone" — which only the carrier's mark echoes can prove.

A `PendingAction` is what happens once a line has played: hand the call to a human, or hang up. It is
the only owner of that state, and it moves through one path:

    armed ─bind→ bound ─played out→ ready ─start→ running ─→ done
                                                        └──→ failed   (the call goes back to conversation)
    armed | bound | ready ─cancel→ cancelled                       (e.g. the caller talked over a goodbye)

An action is armed by a tool result (or the silence watchdog), bound to the response that announces
it, and started by the session once that response has played out. `ActionSlot` holds at most one
live action per call; a terminal state frees the slot, so a failed transfer can never block the
`end_call` that follows it.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from models.tools import ToolEffects, TransferRequested


class SpeechHandle:
    """One response's audio: sent, heard, interrupted, played out."""

    __slots__ = ("_played_out", "generation_done", "interrupted", "response_id", "sent_ms")

    def __init__(self, response_id: str) -> None:
        self.response_id = response_id
        self.sent_ms = 0.0
        self.generation_done = False  # response.done arrived: no more audio will be sent
        self.interrupted = False
        self._played_out = asyncio.Event()

    @property
    def played_out(self) -> bool:
        return self._played_out.is_set()

    @property
    def has_audio(self) -> bool:
        return self.sent_ms > 0

    def audio_sent(self, duration_ms: float) -> None:
        self.sent_ms += duration_ms

    def mark_generation_done(self, unplayed: bool) -> None:
        """The response is done; it has played out already when none of its audio is still queued."""
        self.generation_done = True
        if not unplayed:
            self._played_out.set()

    def mark_all_heard(self) -> None:
        """The carrier echoed the last mark after this response's audio (only meaningful once done)."""
        if self.generation_done:
            self._played_out.set()

    def mark_interrupted(self) -> None:
        """The caller talked over it; playback was cleared, so nothing more of it will be heard."""
        self.interrupted = True
        self._played_out.set()

    async def wait_for_playout(self) -> None:
        await self._played_out.wait()


class SpeechLog:
    """The recent handles by response id; bounded, so it never grows with the call's length."""

    def __init__(self, keep: int = 8) -> None:
        self._keep = keep
        self._handles: OrderedDict[str, SpeechHandle] = OrderedDict()
        self.current: SpeechHandle | None = None  # the response being generated now, if any

    def start(self, response_id: str) -> SpeechHandle:
        handle = SpeechHandle(response_id)
        self._handles[response_id] = handle
        while len(self._handles) > self._keep:
            self._handles.popitem(last=False)
        self.current = handle
        return handle

    def get(self, response_id: str | None) -> SpeechHandle | None:
        return self._handles.get(response_id) if response_id else None

    def done(self, response_id: str, unplayed: bool) -> SpeechHandle | None:
        handle = self._handles.get(response_id)
        if handle is not None:
            handle.mark_generation_done(unplayed)
        if self.current is handle:
            self.current = None
        return handle

    def unplayed(self) -> list[SpeechHandle]:
        """Handles that have not played out yet (generating, or audio still queued at the phone)."""
        return [handle for handle in self._handles.values() if not handle.played_out]


class ActionState(StrEnum):
    ARMED = "armed"
    BOUND = "bound"
    READY = "ready"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL_STATES = frozenset({ActionState.DONE, ActionState.FAILED, ActionState.CANCELLED})
ActionKind = Literal["transfer", "hang_up"]


class InvalidTransition(RuntimeError):
    pass


@dataclass
class PendingAction:
    """A transfer or hang-up waiting for the line that announces it."""

    kind: ActionKind
    end_reason: str  # why the call ends if the action succeeds ("transferred", "assistant_ended", ...)
    # What to do when the caller talks over the announcing line: a hang-up is called off (they want to
    # keep talking); a transfer the caller asked for waits for the model's next line instead.
    cancel_if_interrupted: bool
    transfer: TransferRequested | None = None  # what the hand-off is about (transfers only)
    state: ActionState = ActionState.ARMED
    handle: SpeechHandle | None = None
    failure: str | None = None
    history: list[ActionState] = field(default_factory=list)

    @property
    def live(self) -> bool:
        return self.state not in TERMINAL_STATES

    def _move(self, allowed: frozenset[ActionState], to: ActionState) -> None:
        if self.state not in allowed:
            raise InvalidTransition(f"{self.kind}: {self.state} -> {to}")
        self.history.append(self.state)
        self.state = to

    def bind(self, handle: SpeechHandle) -> None:
        """Bound to the response that announces it (again, after an interrupted announcement)."""
        self._move(frozenset({ActionState.ARMED, ActionState.BOUND}), ActionState.BOUND)
        self.handle = handle

    def rearm(self) -> None:
        """The announcing line was interrupted: wait for the next response instead."""
        self._move(frozenset({ActionState.BOUND}), ActionState.ARMED)
        self.handle = None

    def played_out(self) -> None:
        self._move(frozenset({ActionState.BOUND}), ActionState.READY)

    def start(self) -> None:
        self._move(frozenset({ActionState.READY}), ActionState.RUNNING)

    def succeeded(self) -> None:
        self._move(frozenset({ActionState.RUNNING}), ActionState.DONE)

    def failed(self, why: str) -> None:
        self._move(frozenset({ActionState.RUNNING}), ActionState.FAILED)
        self.failure = why

    def cancel(self, why: str) -> None:
        self._move(frozenset({ActionState.ARMED, ActionState.BOUND, ActionState.READY}), ActionState.CANCELLED)
        self.failure = why


class ActionSlot:
    """At most one live action per call; terminal actions leave the slot free.

    It also owns the binding rules, so the session only reports what happened to a line and starts
    the action the slot hands back:
    - an action binds to a line the caller can hear; a response that ends without audio is not one;
    - a line that played to its end makes its action ready;
    - a line the caller talked over cancels a hang-up, and makes a transfer wait for the next line.
    """

    def __init__(self) -> None:
        self.action: PendingAction | None = None

    @property
    def busy(self) -> bool:
        return self.action is not None and self.action.live

    @property
    def running(self) -> bool:
        return self.action is not None and self.action.state is ActionState.RUNNING

    @property
    def moving_the_call(self) -> bool:
        """A transfer is redirecting (or has redirected) the call: the carrier's `stop` is ours."""
        action = self.action
        return (
            action is not None and action.kind == "transfer" and action.state in (ActionState.RUNNING, ActionState.DONE)
        )

    def arm_for_tool(self, effects: ToolEffects) -> PendingAction | None:
        """Arm what a tool's effects ask for; returns a hang-up, to bind to the line that asked for it."""
        if effects.transfer_requested is not None:
            # Announced by the follow-up; the caller asked for a person, so talking over it does not cancel it.
            action = self.arm("transfer", "transferred", cancel_if_interrupted=False)
            if action is not None:
                action.transfer = effects.transfer_requested
        if effects.end_call:
            # The goodbye is normally said in the same response, before the function call.
            return self.arm("hang_up", "assistant_ended", cancel_if_interrupted=True)
        return None

    def arm(self, kind: ActionKind, end_reason: str, *, cancel_if_interrupted: bool) -> PendingAction | None:
        """A new action, or None when one is already under way (the first one wins)."""
        if self.busy:
            return None
        self.action = PendingAction(kind, end_reason, cancel_if_interrupted)
        return self.action

    def waiting_for_next_response(self) -> PendingAction | None:
        action = self.action
        return action if action is not None and action.state is ActionState.ARMED else None

    def bound_to(self, handle: SpeechHandle) -> PendingAction | None:
        action = self.action
        if action is not None and action.state is ActionState.BOUND and action.handle is handle:
            return action
        return None

    def bind(self, action: PendingAction, handle: SpeechHandle) -> PendingAction | None:
        """Bind an armed action to a line; returns it when it is ready to start at once."""
        if handle.interrupted and action.cancel_if_interrupted:
            action.cancel("interrupted")
            return None
        if handle.interrupted or (handle.generation_done and not handle.has_audio):
            return None  # not a line the caller hears: wait for the next response
        action.bind(handle)
        return self.line_played_out(handle) if handle.played_out else None

    def response_started(self, handle: SpeechHandle) -> PendingAction | None:
        action = self.waiting_for_next_response()
        return self.bind(action, handle) if action is not None else None

    def line_played_out(self, handle: SpeechHandle) -> PendingAction | None:
        """A line finished at the phone (or was cut off); returns the action now ready to start."""
        action = self.bound_to(handle)
        if action is None:
            return None
        if handle.interrupted and action.cancel_if_interrupted:
            action.cancel("interrupted")
        elif handle.interrupted or not handle.has_audio:
            action.rearm()  # announce it in the next line instead
        else:
            action.played_out()
            return action
        return None

    def follow_up_wanted(self) -> bool:
        """Whether the model may speak after a tool batch."""
        action = self.action
        if action is None or not action.live:
            return True
        if action.state is ActionState.RUNNING:
            return False  # the call is being moved or hung up
        # A hang-up bound to a line that spoke: the goodbye is said, nothing may follow it. One still
        # waiting for a line (the goodbye was not spoken) gets it from the follow-up.
        return not (action.kind == "hang_up" and action.state in (ActionState.BOUND, ActionState.READY))
