"""Running what a spoken line made ready: hanging up, or moving the call to a human.

`speech.ActionSlot` decides when an action may start (the line before it has played out at the phone);
the session hands each ready action here. A hang-up ends the call at once. A transfer gets the call's
summary for the agent's screen (bounded wait: the caller is on the line), then the carrier transfer; if
that fails, the conversation goes on and the model is told to offer a callback instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from models.call_record import CallPhase, TranscriptLine
from models.tools import TransferRequested
from services.call.call_tasks import CallTasks
from services.call.ports import CallControl, TransferExecutor
from services.call.speech import PendingAction
from services.call.summary import CallSummaries

SUMMARY_AT_TRANSFER_S = 1.0  # asked for when the transfer was armed; the caller waits on the line
TRANSFER_FAILED_NOTE = "The transfer to a human agent failed. Apologise briefly and offer a callback ticket instead."


class ActionRunner:
    def __init__(
        self,
        call: CallControl,
        *,
        tasks: CallTasks,
        transfers: TransferExecutor,
        summaries: CallSummaries,
        set_phase: Callable[[CallPhase], None],
        tell_model: Callable[[str], Awaitable[None]],
        log: Any,
    ) -> None:
        self._call = call
        self._tasks = tasks
        self._transfers = transfers
        self._summaries = summaries
        self._set_phase = set_phase
        self._tell_model = tell_model
        self._log = log

    def start_if_ready(self, action: PendingAction | None) -> None:
        """Start the action a line's playout made ready (the slot decides; see `speech.ActionSlot`)."""
        if action is None:
            return
        action.start()
        self._log.info("action_start", action=action.kind)
        self._tasks.spawn(self._run(action), f"action-{action.kind}")

    async def _run(self, action: PendingAction) -> None:
        call = self._call
        if action.kind == "hang_up":
            action.succeeded()
            call.end(action.end_reason)
            return
        self._set_phase("transferring")
        call.record.summary = await self._summaries.summary(SUMMARY_AT_TRANSFER_S)  # for the agent's screen
        if await self._transfers.transfer(call, action.transfer or TransferRequested()):
            action.succeeded()
            call.end(action.end_reason)
            return
        action.failed("transfer_failed")
        self._set_phase("listening")
        call.record.transcript.append(TranscriptLine(role="system", text="Transfer failed to start"))
        call.touch_record()
        await self._tell_model(TRANSFER_FAILED_NOTE)
