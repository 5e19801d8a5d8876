"""Running a call's function calls: one task per call, outputs back to the model, then one follow-up.

The relay never awaits a tool: each runs as its own task (the registry applies the timeout). The
function calls of one response form a batch; once that response is done and every output is in, the
model is asked to speak once (`response.create`) — unless the session says the call is ending on a
line already spoken.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol

import orjson

from models.call_record import CallRecord, ToolCallRecord
from services import metrics
from services.call.realtime_link import RealtimeLink, RealtimeLinkClosed
from services.call.turn_timing import TurnTimer
from services.tools.registry import ToolContext, ToolRegistry, ToolResult
from utils.logger import get_logger

log = get_logger(__name__)


class ToolHost(Protocol):
    """What the runner needs from its call session."""

    def tool_finished(self, response_id: str, result: ToolResult) -> None:
        """Apply a result's typed side effects (arm an action, note a ticket); never blocks."""
        ...

    def follow_up_wanted(self, response_id: str) -> bool:
        """Whether the model should speak after this batch (False: the call ends on a line already said)."""
        ...


@dataclass
class _Batch:
    pending: set[str] = field(default_factory=set)
    response_done: bool = False
    # End of the caller's speech when the tool-calling response said nothing: the turn is then timed
    # to the follow-up's first audio (tool time included, as the caller hears it).
    speech_stopped_at: float | None = None


class ToolRunner:
    def __init__(
        self,
        *,
        registry: ToolRegistry,
        context: ToolContext,
        timeout_s: float,
        link: RealtimeLink,
        record: CallRecord,
        touch_record: Callable[[], None],
        timer: TurnTimer,
        host: ToolHost,
        unpaced: Callable[[], AbstractContextManager[None]],
    ) -> None:
        """`unpaced`: the block a tool runs in, the event loop unpaced (services/loop_pacer.py)."""
        self._registry = registry
        self._context = context
        self._timeout_s = timeout_s
        self._link = link
        self._record = record
        self._touch = touch_record
        self._timer = timer
        self._host = host
        self._unpaced = unpaced
        self._batches: dict[str, _Batch] = {}
        self._session = 0  # bumped when the Realtime session is replaced: its call ids mean nothing after
        self.tasks: set[asyncio.Task[None]] = set()

    @property
    def busy(self) -> bool:
        return bool(self.tasks or self._batches)

    def start(self, response_id: str, call_id: str, name: str, arguments: str) -> None:
        """A function call is complete in the model's output: run it in the background."""
        batch = self._batches.get(response_id)
        if batch is None:
            batch = self._batches[response_id] = _Batch(speech_stopped_at=self._timer.silent_turn_start(response_id))
        batch.pending.add(call_id)
        task = asyncio.create_task(self._run(response_id, call_id, name, arguments), name=f"tool-{name}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def response_done(self, response_id: str) -> None:
        batch = self._batches.get(response_id)
        if batch is not None:
            batch.response_done = True
            await self._maybe_follow_up(response_id)

    def forget_batches(self) -> None:
        """The session that asked for these calls is gone: no follow-up for them (the new session gets
        their results in the replayed conversation)."""
        self._batches.clear()
        self._session += 1

    def cancel(self) -> list[asyncio.Task[None]]:
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        return tasks

    async def _run(self, response_id: str, call_id: str, name: str, arguments: str) -> None:
        session = self._session
        with self._unpaced():  # a tool is a chain of database round trips: no tick per hop
            result = await self._registry.execute(call_id, name, arguments, self._context, self._timeout_s)
        self._note(result)
        self._host.tool_finished(response_id, result)
        try:
            if session != self._session:
                # Asked by a session that is gone: the new one never issued this call id, so it gets
                # the result as a note, and the model answers the caller who is waiting for it.
                await self._link.add_system_note(
                    f"Result of {name}, asked before the line dropped: {_encode_output(result)}"
                )
                await self._link.request_response()
                return
            await self._link.function_output(call_id, _encode_output(result))
        except RealtimeLinkClosed:
            return  # the session's read loop reports the lost link
        batch = self._batches.get(response_id)
        if batch is not None:
            batch.pending.discard(call_id)
            await self._maybe_follow_up(response_id)

    def _note(self, result: ToolResult) -> None:
        outcome = "ok" if result.ok else (result.error or "error")
        metrics.TOOL_DURATION.labels(tool=result.name[:40]).observe(result.duration_ms / 1000)
        metrics.TOOL_CALLS.labels(tool=result.name[:40], outcome=outcome[:40]).inc()
        self._record.tool_calls.append(
            ToolCallRecord(
                call_id=result.call_id,
                name=result.name,
                arguments=result.arguments,
                ok=result.ok,
                error=result.error,
                output=result.output,
                duration_ms=round(result.duration_ms, 2),
            )
        )
        self._touch()
        log.info("tool_done", tool=result.name, outcome=outcome, duration_ms=round(result.duration_ms, 1))

    async def _maybe_follow_up(self, response_id: str) -> None:
        """Once the tool-calling response is done and every output is in, let the model speak."""
        batch = self._batches.get(response_id)
        if batch is None or batch.pending or not batch.response_done:
            return
        del self._batches[response_id]
        if not self._host.follow_up_wanted(response_id):
            return
        self._timer.resume_turn(batch.speech_stopped_at)
        try:
            await self._link.request_response()
        except RealtimeLinkClosed:
            return


def _encode_output(result: ToolResult) -> str:
    """The function output as JSON; a value JSON cannot carry (e.g. a huge integer) is sent as text."""
    try:
        return orjson.dumps(result.output).decode()
    except TypeError:  # orjson refuses integers past 64 bits; the standard library does not
        return json.dumps(result.output, default=str, ensure_ascii=False)
