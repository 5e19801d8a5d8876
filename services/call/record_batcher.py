"""One database command for the record changes of every live call, instead of one command per call.

Each live call's `CallRecordWriter` writes what changed in its record about once a second. On pymongo's
async client one `update_one` costs ~0.9 ms of client CPU (its session, retryable-write, connection and
reply machinery run per command), while the same updates sent as one unordered `bulk_write` of 50 cost
~0.06 ms each (bench/README.md, "Round three"): at 50 calls that was ~7 % of the process. So the
writers hand their change here and await its own outcome; whatever is pending goes out together, at
most `window_s` after the first of them. The changes stay single-document ($set / $push on one call's
record, one pending per call since each writer has one write at a time): unordered, so one refused
change does not stop the others, and no transaction is needed. Off the audio path, like the writers.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from services.store.calls import CallRepository
from utils.logger import get_logger

log = get_logger(__name__)

WINDOW_S = 0.2  # how long a change may wait for others: a crash loses at most the writer's interval + this
MAX_BATCH = 500  # changes per command; one call's change is a few KiB, far below a message's 48 MB


Change = tuple[str, dict[str, Any], "asyncio.Future[bool | None]"]  # call sid, update, its outcome


class RecordChangeBatcher:
    """Gathers `save_changes` calls from many writers into `CallRepository.save_changes_many`."""

    def __init__(self, calls: CallRepository, window_s: float = WINDOW_S, max_batch: int = MAX_BATCH) -> None:
        self._calls = calls
        self._window_s = window_s
        self._max_batch = max_batch
        self._pending: list[Change] = []
        self._in_flight: list[Change] = []  # the command under way
        self._sender: asyncio.Task[None] | None = None
        self._closed = False
        self._send_now = asyncio.Event()  # set at shutdown: the window is not waited out

    async def save_changes(self, call_sid: str, update: dict[str, Any]) -> bool | None:
        """As `CallRepository.save_changes`: True applied, None no such record, False failed (kept)."""
        if self._closed:
            return await self._calls.save_changes(call_sid, update)
        outcome: asyncio.Future[bool | None] = asyncio.get_running_loop().create_future()
        self._pending.append((call_sid, update, outcome))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_soon(), name="record-change-batcher")
        return await outcome

    async def _send_soon(self) -> None:
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._send_now.wait(), self._window_s)
            while self._pending:  # what arrived while a command was under way goes next, at once
                batch = self._pending[: self._max_batch]
                self._in_flight, self._pending = batch, self._pending[self._max_batch :]
                try:
                    results = await self._calls.save_changes_many([(sid, update) for sid, update, _ in batch])
                except Exception as error:  # the repository answers failures itself; this is a bug guard
                    log.error("record_change_batch_failed", error=type(error).__name__)
                    results = [False] * len(batch)
                self._in_flight = []
                for (_, _, outcome), result in zip(batch, results, strict=True):
                    if not outcome.done():  # its writer may have given up waiting (a bounded close)
                        outcome.set_result(result)
        finally:
            self._fail_unsent()  # cancelled (shutdown): the writers keep their changes

    def _fail_unsent(self) -> None:
        unsent, self._in_flight, self._pending = self._in_flight + self._pending, [], []
        for _, _, outcome in unsent:
            if not outcome.done():
                outcome.set_result(False)  # not known to be written: the writer sends it again (positions)

    async def aclose(self, timeout_s: float = 2.0) -> None:
        """Send what is pending, for at most `timeout_s` (a paused database must not hold up shutdown;
        the writers keep what did not go), then write directly."""
        self._closed = True
        self._send_now.set()
        if self._sender is not None and not self._sender.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._sender), timeout_s)
            except TimeoutError:
                self._sender.cancel()
                await asyncio.wait([self._sender])  # its pending writers are told False as it ends
