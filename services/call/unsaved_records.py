"""Final call records the database did not take when their call ended, retried until it does.

A call that ends while MongoDB is unreachable must not lose its record: its writer hands the final
state here, and one process-wide task keeps saving it (an idempotent upsert) every few seconds. Each
record is a snapshot, so nothing can change it any more. Bounded: past `MAX_PENDING` the oldest is
dropped (logged and counted). At shutdown the app tries once more for a few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict

from models.call_record import CallRecord
from services import metrics
from services.store.calls import CallRepository
from utils.logger import get_logger

log = get_logger(__name__)

RETRY_EVERY_S = 2.0
MAX_PENDING = 5_000


class UnsavedRecords:
    def __init__(self, calls: CallRepository, retry_every_s: float = RETRY_EVERY_S) -> None:
        self._calls = calls
        self._every = retry_every_s
        self._pending: OrderedDict[str, CallRecord] = OrderedDict()
        self._task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, record: CallRecord) -> None:
        """Keep trying to save this final state (a newer one for the same call replaces it)."""
        self._pending[record.call_sid] = record.model_copy(deep=True)
        self._pending.move_to_end(record.call_sid)
        while len(self._pending) > MAX_PENDING:
            lost, _ = self._pending.popitem(last=False)
            metrics.DB_ERRORS.labels(operation="call_record_given_up").inc()
            log.error("call_record_given_up", call_sid=lost)
        log.warning("call_record_pending", call_sid=record.call_sid, pending=len(self._pending))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._retry(), name="unsaved-records")

    async def _retry(self) -> None:
        while self._pending:
            await asyncio.sleep(self._every)
            await self.save_pending()

    async def save_pending(self) -> int:
        """One pass over the pending records; returns how many are still pending."""
        for call_sid, record in list(self._pending.items()):
            if await self._calls.save(record):  # never raises; False while the database is away
                self._pending.pop(call_sid, None)
                log.info("call_record_saved_late", call_sid=call_sid)
            else:
                break  # the database is still away: try the rest next time
        return len(self._pending)

    async def aclose(self, timeout_s: float = 5.0) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._pending:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.save_pending(), timeout_s)
        if self._pending:
            log.error("call_records_unsaved_at_exit", count=len(self._pending))
