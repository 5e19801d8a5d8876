"""Crash-tolerant, incremental writes of a call's record, off the audio path.

The call session mutates its in-memory `CallRecord` and calls `touch()` (no I/O). A background task
writes the record whenever it changed, at most once per `flush_interval_s`, so a crash loses at most
the last interval. Writes are single-document upserts keyed by the call sid: idempotent, no
transactions needed. `close()` writes the final state; a failed write is retried on the next tick.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError

from models.call_record import CallRecord, utc_now
from services.metrics import DB_ERRORS
from utils.logger import get_logger

log = get_logger(__name__)

CALLS_COLLECTION = "calls"
# Written only by Twilio callbacks (`patch_call_record`); the live session must not overwrite them.
_EXTERNALLY_OWNED = {"twilio_status", "twilio_duration_s"}


class CallRecordWriter:
    def __init__(self, collection: AsyncCollection, record: CallRecord, flush_interval_s: float = 1.0) -> None:
        self._collection = collection
        self.record = record
        self._interval = flush_interval_s
        self._dirty = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._write_lock = asyncio.Lock()

    def start(self) -> None:
        self._dirty.set()
        self._task = asyncio.create_task(self._flush_loop(), name=f"record-{self.record.call_sid}")

    def touch(self) -> None:
        """Mark the record changed; the background task writes it soon. Never blocks."""
        self._dirty.set()

    async def _flush_loop(self) -> None:
        # Stopped by a flag, not by cancellation: a write cancelled half-way can race the final write.
        while not self._stopping.is_set():
            await self._dirty.wait()
            if self._stopping.is_set():
                return
            self._dirty.clear()
            if not await self.flush():
                self._dirty.set()  # keep the change; try again next tick
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self._interval)

    async def flush(self) -> bool:
        async with self._write_lock:
            self.record.updated_at = utc_now()
            document: dict[str, Any] = self.record.model_dump(mode="python", exclude=_EXTERNALLY_OWNED)
            for attempt in range(2):
                try:
                    await self._collection.update_one({"_id": self.record.call_sid}, {"$set": document}, upsert=True)
                    return True
                except DuplicateKeyError:
                    # Two upserts of a new document raced (e.g. a status callback); the second one finds it.
                    if attempt:
                        return False
                except PyMongoError as error:
                    DB_ERRORS.labels(operation="call_record_write").inc()
                    log.warning("call_record_write_failed", error=str(error)[:300])
                    return False
            return False

    async def close(self, timeout_s: float = 5.0) -> None:
        """Stop the background task and write the final state (bounded, so shutdown never hangs)."""
        self._stopping.set()
        self._dirty.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=timeout_s)
            except TimeoutError:
                log.error("call_record_writer_stuck")
            self._task = None
        try:
            await asyncio.wait_for(self.flush(), timeout=timeout_s)
        except TimeoutError:
            DB_ERRORS.labels(operation="call_record_final_write").inc()
            log.error("call_record_final_write_timeout")


async def patch_call_record(collection: AsyncCollection, call_sid: str, fields: dict[str, Any]) -> bool:
    """Set fields on a record from outside the live session (status callbacks, transfer results)."""
    try:
        result = await collection.update_one(
            {"_id": call_sid}, {"$set": {**fields, "updated_at": utc_now()}}, upsert=False
        )
        return result.matched_count > 0
    except PyMongoError as error:
        DB_ERRORS.labels(operation="call_record_patch").inc()
        log.warning("call_record_patch_failed", error=str(error))
        return False
