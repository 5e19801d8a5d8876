"""Crash-tolerant, incremental writes of a call's record, off the audio path.

The call session mutates its in-memory `CallRecord` and calls `touch()` (no I/O). A background task
writes the record whenever it changed, at most once per `flush_interval_s`, so a crash loses at most
the last interval. The first write is the whole record (`CallRepository.save`, an upsert keyed by the
call sid); every later one only what changed since (`services.call.record_delta`), so the bytes
written per call-minute stay flat however long the call. All are single-document updates, idempotent,
no transactions needed. `close()` writes the final state; a failed write is retried on the next tick.
The incremental writes of all live calls go out together through one `RecordChangeBatcher` when the
app gives one; the first and the final writes go straight to the database.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, Protocol

from models.call_record import CallRecord, TranscriptLine, utc_now
from services.call.record_delta import RecordDelta
from services.metrics import DB_ERRORS
from services.store.calls import EXTERNALLY_OWNED, CallRepository
from utils.logger import get_logger

log = get_logger(__name__)


class ChangesSink(Protocol):
    """Where incremental updates go: the repository itself, or a `RecordChangeBatcher` in front of it."""

    async def save_changes(self, call_sid: str, update: dict[str, Any]) -> bool | None: ...


class CallRecordWriter:
    def __init__(
        self,
        calls: CallRepository,
        record: CallRecord,
        flush_interval_s: float = 1.0,
        on_unsaved: Callable[[CallRecord], None] | None = None,
        changes: ChangesSink | None = None,
    ) -> None:
        self._calls = calls
        self._changes: ChangesSink = changes or calls
        self._on_unsaved = on_unsaved  # where a final state the database refused goes to be retried
        self.record = record
        self._interval = flush_interval_s
        self._dirty = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._write_lock = asyncio.Lock()
        # Sealed when the final state is taken: from then on the record has no writer here, and anyone
        # else changing it writes to the database (after `wait_saved`), so one writer at a time.
        self.sealed = False
        self._saved = asyncio.Event()
        self._delta = RecordDelta(record, EXTERNALLY_OWNED)
        self._in_full = True  # the next write is the whole record (the first, or after it went missing)

    def start(self) -> None:
        self._dirty.set()
        self._task = asyncio.create_task(self._flush_loop(), name=f"record-{self.record.call_sid}")

    def touch(self) -> None:
        """Mark the record changed; the background task writes it soon. Never blocks."""
        self._dirty.set()

    def line_changed(self, line: TranscriptLine) -> None:
        """A transcript line already in the record changed in place (e.g. its transcription arrived)."""
        self._delta.item_changed("transcript", line)
        self._dirty.set()

    def apply(self, change: Callable[[CallRecord], None]) -> bool:
        """Change the record from outside the call (e.g. a transfer result), to be saved by this writer.

        False once the final state has been taken: the caller then writes to the database itself, after
        `wait_saved()`, so its change is not overwritten by our final write.
        """
        if self.sealed:
            return False
        change(self.record)
        self._dirty.set()
        return True

    async def wait_saved(self, timeout_s: float = 5.0) -> None:
        """Until the final write is done (bounded)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._saved.wait(), timeout=timeout_s)

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

    async def flush(self, *, final: bool = False) -> bool:
        """Write the record now; False if that failed. Never raises (but for cancellation)."""
        async with self._write_lock:
            # `save` serialises the record before its first await: nothing can change in between.
            self.sealed = self.sealed or final
            try:
                return await self._write(final=final)
            except Exception as error:
                # Not a database error (those `save` handles): e.g. a value BSON cannot encode. The loop
                # must live on, and the change stays pending, so a later valid state is still written.
                DB_ERRORS.labels(operation="call_record_write").inc()
                log.error("call_record_write_failed", call_sid=self.record.call_sid, error=type(error).__name__)
                return False

    async def _write(self, *, final: bool = False) -> bool:
        # Whatever is written is taken from the record before the first await.
        if self._in_full:
            self.record.updated_at = utc_now()
            self._delta.written_in_full()
            self._in_full = not await self._calls.save(self.record)
            return not self._in_full
        pending = self._delta.take()
        if pending.empty:
            return True
        self.record.updated_at = utc_now()
        pending.update.setdefault("$set", {})["updated_at"] = self.record.updated_at
        saved: bool | None = False
        try:
            # The final state goes straight out: it ends the call, nothing else is worth waiting for.
            sink = self._calls if final else self._changes
            saved = await sink.save_changes(self.record.call_sid, pending.update)
        finally:
            self._delta.done(pending, saved is True)  # not taken (or raised): resent next time
        if saved is None:  # the document is gone (deleted by hand?): write it whole again
            self._in_full = True
        return saved is True

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
        saved = False
        try:
            saved = await asyncio.wait_for(self.flush(final=True), timeout=timeout_s)
        except TimeoutError:
            DB_ERRORS.labels(operation="call_record_final_write").inc()
            log.error("call_record_final_write_timeout")
        finally:
            if not saved and self._on_unsaved is not None:
                self._on_unsaved(self.record)  # retried until the database is back, not lost
            self.sealed = True
            self._saved.set()
