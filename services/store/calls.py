"""The `calls` collection: one record per call (`models.call_record.CallRecord`), keyed by call sid.

Several writers share a record, and each uses a single-document atomic update, never read-then-write:

- the live session's `CallRecordWriter`: first `save`, a `$set` of the whole in-memory record except
  the fields only Twilio's status callbacks write (`EXTERNALLY_OWNED`), then `save_changes`, only
  what changed since (appended items `$set` at their positions, changed scalars);
- Twilio's status callbacks (`apply_status`, `complete_ended_call`): conditional on `SequenceNumber`,
  so out-of-order and concurrent callbacks leave the newest status;
- transfer results and callback tickets (`patch`, `add_ticket`);
- outbound calls placed through the admin API (`insert_if_absent`).

Reads return documents (with `call_sid` filled in from `_id`), not models: readers project them
differently (the list leaves transcripts out) and validate what they serve.

FerretDB 1.24 (tests, development) runs each update as read, modify, write without isolation, so two
concurrent updates of one record can lose one of them (even `$set`s of different fields). MongoDB
applies each single-document update atomically, which is what these writers rely on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import bson
from pymongo import ASCENDING, DESCENDING, IndexModel, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure, PyMongoError

from models.call_record import CallRecord, CallStatus, StaffNote, utc_now
from services.metrics import DB_ERRORS
from services.store.base import IndexedCollection
from services.store.client import Document
from utils.logger import get_logger

log = get_logger(__name__)

CALLS_COLLECTION = "calls"
# Written only by Twilio status callbacks (`apply_status`) and staff (`add_staff_note`); the live
# session must not overwrite them.
EXTERNALLY_OWNED = frozenset({"twilio_status", "twilio_duration_s", "staff_notes"})
# The SequenceNumber of the status callback last applied; stored only, not part of `CallRecord`.
STATUS_SEQ_FIELD = "twilio_status_seq"


@dataclass(frozen=True)
class CallFilter:
    """Which calls `CallRepository.page` lists; None means any."""

    status: CallStatus | None = None
    started_from: datetime | None = None  # inclusive
    started_before: datetime | None = None  # exclusive
    transferred: bool | None = None  # with (True) / without (False) a transfer attempt

    @classmethod
    def for_days(
        cls,
        *,
        zone: ZoneInfo,
        status: CallStatus | None = None,
        date_from: date | None = None,
        date_to: date | None = None,
        transferred: bool | None = None,
    ) -> CallFilter:
        """Calls started on `date_from` … `date_to` (both inclusive), as days in `zone`."""
        return cls(
            status=status,
            started_from=_day_start(date_from, zone) if date_from is not None else None,
            # Inclusive: up to the start of the next day.
            started_before=_day_start(date_to + timedelta(days=1), zone) if date_to is not None else None,
            transferred=transferred,
        )

    def query(self) -> dict[str, Any]:
        query: dict[str, Any] = {}
        if self.status is not None:
            query["status"] = self.status
        started: dict[str, datetime] = {}
        if self.started_from is not None:
            started["$gte"] = self.started_from
        if self.started_before is not None:
            started["$lt"] = self.started_before
        if started:
            query["started_at"] = started
        if self.transferred is not None:
            query["transfer"] = {"$ne": None} if self.transferred else None
        return query


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def _with_call_sid(document: Document) -> Document:
    # Records are keyed by `_id`; one inserted without the named field still reads with it.
    return {**document, "call_sid": document["_id"]}


class CallRepository(IndexedCollection):
    """Every query and index of the `calls` collection.

    Reads and the status-callback writes raise `PyMongoError` for their callers to answer; `save`,
    `patch` and `add_ticket` are best effort (False on failure, counted in `DB_ERRORS`), because they
    run beside a live call or a Twilio callback that must go on regardless.
    """

    # Unnamed on purpose: the default names ("started_at_-1", "status_1_started_at_-1") are those of
    # the indexes earlier versions created, and the same keys under another name would be refused.
    indexes: tuple[IndexModel, ...] = (
        IndexModel([("started_at", DESCENDING)]),  # the admin list, newest first
        IndexModel([("status", ASCENDING), ("started_at", DESCENDING)]),  # … filtered by status
    )

    @staticmethod
    def retention_index(days: int) -> IndexModel:
        """CALL_RECORD_RETENTION_DAYS: MongoDB deletes a record this many days after its call started."""
        return IndexModel([("started_at", ASCENDING)], expireAfterSeconds=days * 86_400, name="started_at_retention")

    # -------------------------------------------------------------- the live session

    async def save(self, record: CallRecord) -> bool:
        """Upsert the live session's record, leaving the status callbacks' fields alone. Idempotent.

        False when the write failed (logged and counted); the caller keeps the change and retries.
        """
        document: Document = record.model_dump(mode="python", exclude=set(EXTERNALLY_OWNED))
        for attempt in range(2):
            try:
                await self.collection.update_one({"_id": record.call_sid}, {"$set": document}, upsert=True)
                return True
            except DuplicateKeyError:
                # Two upserts of a new document raced (e.g. a status callback); the second one finds it.
                if attempt:
                    return False
            except PyMongoError as error:
                DB_ERRORS.labels(operation="call_record_write").inc()
                log.warning("call_record_write_failed", call_sid=record.call_sid, error=str(error)[:300])
                return False
        return False

    async def save_changes(self, call_sid: str, update: dict[str, Any]) -> bool | None:
        """Apply the live session's incremental update to its record (no upsert: `save` made it).

        True when applied, None when there is no such record, False when the write failed (logged and
        counted; the caller keeps the change and retries)."""
        try:
            result = await self.collection.update_one({"_id": call_sid}, update)
        except PyMongoError as error:
            DB_ERRORS.labels(operation="call_record_write").inc()
            log.warning("call_record_write_failed", call_sid=call_sid, error=str(error)[:300])
            return False
        return True if result.matched_count else None

    async def save_changes_many(self, changes: list[tuple[str, dict[str, Any]]]) -> list[bool | None]:
        """`save_changes` for several live calls in one unordered bulk write (one record each): per change,
        True / None / False as `save_changes` says. One change failing does not stop the others."""
        try:
            result = await self.collection.bulk_write(
                [UpdateOne({"_id": call_sid}, update) for call_sid, update in changes], ordered=False
            )
            failed: set[int] = set()
            matched = result.matched_count
        except BulkWriteError as error:  # some changes refused by the server; the rest applied
            failed = {int(write_error["index"]) for write_error in error.details.get("writeErrors", [])}
            matched = int(error.details.get("nMatched", 0))
            DB_ERRORS.labels(operation="call_record_write").inc(len(failed))
            log.warning("call_record_writes_failed", failed=len(failed), of=len(changes))
        except PyMongoError as error:
            DB_ERRORS.labels(operation="call_record_write").inc(len(changes))
            log.warning("call_record_writes_failed", failed=len(changes), error=str(error)[:300])
            return [False] * len(changes)
        except (bson.errors.BSONError, OverflowError, TypeError, ValueError):
            # A change BSON cannot encode fails the whole bulk before anything is sent: one by one, only
            # that change fails (its writer keeps it and retries).
            return [await self._save_unless_unencodable(call_sid, update) for call_sid, update in changes]
        results: list[bool | None] = [index not in failed for index in range(len(changes))]
        if matched < len(changes) - len(failed):  # some records are gone (deleted by hand?)
            applied = [call_sid for index, (call_sid, _) in enumerate(changes) if index not in failed]
            try:
                present = {doc["_id"] async for doc in self.collection.find({"_id": {"$in": applied}}, {"_id": 1})}
            except PyMongoError:
                return results  # unknown for now: the next change finds out
            results = [None if ok and changes[i][0] not in present else ok for i, ok in enumerate(results)]
        return results

    async def _save_unless_unencodable(self, call_sid: str, update: dict[str, Any]) -> bool | None:
        try:
            return await self.save_changes(call_sid, update)
        except (bson.errors.BSONError, OverflowError, TypeError, ValueError) as error:
            DB_ERRORS.labels(operation="call_record_write").inc()
            log.error("call_record_write_failed", call_sid=call_sid, error=type(error).__name__)
            return False

    # -------------------------------------------------------------- reads

    async def get(self, call_sid: str, *, with_transcript: bool = True) -> Document | None:
        projection = None if with_transcript else {"transcript": 0}
        document = await self.collection.find_one({"_id": call_sid}, projection)
        return None if document is None else _with_call_sid(document)

    async def count(self, filters: CallFilter | None = None) -> int:
        return await self.collection.count_documents((filters or CallFilter()).query())

    async def page(
        self, filters: CallFilter, *, limit: int, offset: int = 0, number: str | None = None
    ) -> tuple[int, list[Document]]:
        """(how many calls match, the `limit` (≥ 1) of them after `offset`), newest first, without
        transcripts; only calls from or to `number` (exact E.164) when given."""
        if limit < 1:
            raise ValueError("limit must be at least 1")  # 0 would mean "no limit" to the server
        query = filters.query()
        if number:
            query = {"$and": [query, {"$or": [{"from_number": number}, {"to_number": number}]}]}
        total = await self.collection.count_documents(query)
        cursor = (
            self.collection.find(query, {"transcript": 0})
            .sort([("started_at", DESCENDING), ("_id", DESCENDING)])
            .skip(offset)
            .limit(limit)
        )
        return total, [_with_call_sid(document) async for document in cursor]

    # -------------------------------------------------------------- writes from outside the live session

    async def insert_if_absent(self, record: CallRecord) -> bool:
        """Insert the record unless the call has one; True if inserted.

        `$setOnInsert`: e.g. an outbound call's first record, which the live session, once the call is
        answered, may already have written (if the stream connected before Twilio's reply reached us).
        """
        try:
            result = await self.collection.update_one(
                {"_id": record.call_sid}, {"$setOnInsert": record.model_dump()}, upsert=True
            )
        except DuplicateKeyError:  # a concurrent upsert inserted it first
            return False
        return result.upserted_id is not None

    async def patch(self, call_sid: str, fields: dict[str, Any]) -> bool:
        """Set fields (dotted paths allowed) on an existing record, e.g. a transfer's result. Best effort:
        False when there is no such record or the write failed."""
        try:
            result = await self.collection.update_one(
                {"_id": call_sid}, {"$set": {**fields, "updated_at": utc_now()}}, upsert=False
            )
        except PyMongoError as error:
            DB_ERRORS.labels(operation="call_record_patch").inc()
            log.warning("call_record_patch_failed", call_sid=call_sid, error=str(error)[:300])
            return False
        return result.matched_count > 0

    async def add_staff_note(self, call_sid: str, note: StaffNote) -> bool:
        """Append a staff note to a call's record (`$push`: notes from several people never collide)."""
        result = await self.collection.update_one(
            {"_id": call_sid}, {"$push": {"staff_notes": note.model_dump()}, "$set": {"updated_at": utc_now()}}
        )
        return result.matched_count > 0

    async def add_ticket(self, call_sid: str, ticket_id: str) -> bool:
        """Add a ticket id to the record's tickets, once however often it is called. Best effort:
        False when there is no such record or the write failed."""
        try:
            result = await self.collection.update_one(
                {"_id": call_sid}, {"$addToSet": {"tickets": ticket_id}, "$set": {"updated_at": utc_now()}}
            )
        except PyMongoError as error:
            DB_ERRORS.labels(operation="call_record_patch").inc()
            log.warning("call_record_ticket_failed", call_sid=call_sid, error=type(error).__name__)
            return False
        return result.matched_count > 0

    # -------------------------------------------------------------- Twilio status callbacks

    async def apply_status(
        self,
        call_sid: str,
        twilio_status: str,
        *,
        seq: int | None,
        duration_s: int | None = None,
        new_record: CallRecord,
    ) -> bool:
        """Set Twilio's status fields unless a newer callback (higher SequenceNumber) got there first;
        a call without a record gets `new_record` plus those fields.

        Returns False for a stale callback. Callbacks may arrive out of order and concurrently, so the
        ordering is decided by the database (a conditional update), never by reading first. A callback
        without a SequenceNumber always applies.
        """
        if new_record.call_sid != call_sid:
            raise ValueError("new_record is another call's")
        fields: dict[str, Any] = {"twilio_status": twilio_status}
        if duration_s is not None:
            fields["twilio_duration_s"] = duration_s
        if seq is not None:
            fields[STATUS_SEQ_FIELD] = seq
        newer: dict[str, Any] = {"_id": call_sid}
        if seq is not None:
            newer["$or"] = [{STATUS_SEQ_FIELD: None}, {STATUS_SEQ_FIELD: {"$lt": seq}}]
        update = {"$set": {**fields, "updated_at": utc_now()}}
        if (await self.collection.update_one(newer, update)).matched_count:
            return True
        try:
            inserted = await self.collection.update_one(
                {"_id": call_sid}, {"$setOnInsert": {**new_record.model_dump(), **fields}}, upsert=True
            )
            if inserted.upserted_id is not None:
                return True
        except DuplicateKeyError:  # a concurrent upsert inserted it first
            pass
        # It exists: stale, or inserted by a concurrent writer between our two writes.
        return (await self.collection.update_one(newer, update)).matched_count > 0

    async def complete_ended_call(
        self, call_sid: str, *, ended_at: datetime, status: CallStatus, end_reason: str
    ) -> None:
        """A terminal status arrived with no live session for the call: make sure its record shows it
        ended. The session's own `ended_at` is kept; a record still "queued" (an outbound call that
        never reached the assistant) gets `status` and `end_reason`."""
        await self.collection.update_one({"_id": call_sid, "ended_at": None}, {"$set": {"ended_at": ended_at}})
        await self.collection.update_one(
            {"_id": call_sid, "status": "queued"}, {"$set": {"status": status, "end_reason": end_reason}}
        )

    # -------------------------------------------------------------- the staff console (reads, and its own fields)

    _slice_projection = True  # until the server says it has no `$slice` projection

    async def live(self, *, limit: int, recent_since: datetime, transcript_tail: int = 3) -> list[Document]:
        """Calls under way, plus recent calls whose transfer is still requested or dialing; newest first.

        Bounded (`limit`), the transcript cut to its last `transcript_tail` lines: the console's one shared
        poller per process runs this every second or so.
        """
        query = {
            "$or": [
                {"status": "in_progress"},
                {"transfer.status": {"$in": ["requested", "dialing"]}, "started_at": {"$gte": recent_since}},
            ]
        }
        projection: dict[str, Any] = {"latencies": 0, "realtime_sessions": 0}
        if self._slice_projection:
            projection["transcript"] = {"$slice": -transcript_tail}
        try:
            cursor = self.collection.find(query, projection).sort([("started_at", DESCENDING)]).limit(limit)
            documents = [_with_call_sid(document) async for document in cursor]
        except OperationFailure as error:
            if error.code != 238 or not self._slice_projection:  # 238: FerretDB 1.24 has no `$slice` projection
                raise
            self._slice_projection = False
            return await self.live(limit=limit, recent_since=recent_since, transcript_tail=transcript_tail)
        for document in documents:  # cut here when the server could not
            document["transcript"] = (document.get("transcript") or [])[-transcript_tail:]
        return documents

    async def started_between(
        self, started_from: datetime, started_before: datetime, *, limit: int, projection: dict[str, Any]
    ) -> list[Document]:
        """Calls started in [from, before), at most `limit`, with only the projected fields (the numbers
        at a glance)."""
        query = {"started_at": {"$gte": started_from, "$lt": started_before}}
        cursor = self.collection.find(query, projection).sort([("started_at", DESCENDING)]).limit(limit)
        return [_with_call_sid(document) async for document in cursor]

    async def take_transfer(self, call_sid: str, taken_by: str, at: datetime) -> bool:
        """Record who took a transfer (`transfer_taken_by`, a field only the console writes); the first
        taker keeps it. False when there is no such record or another user took it first."""
        result = await self.collection.update_one(
            {"_id": call_sid, "transfer_taken_by": None},
            {"$set": {"transfer_taken_by": {"username": taken_by, "at": at}}},
        )
        return result.matched_count > 0
