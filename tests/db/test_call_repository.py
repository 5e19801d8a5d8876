"""`CallRepository` (every query of the `calls` collection) and the live session's `CallRecordWriter`,
against the real test database (FerretDB or mongod)."""

from __future__ import annotations

import asyncio
import inspect
import random
import signal
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import bson
import pytest
from bson.codec_options import CodecOptions
from pymongo import AsyncMongoClient, monitoring

from devtools.ferretdb import LocalMongo, free_port
from models.call_record import CallRecord, TranscriptLine, TransferInfo, TurnLatency
from services.call.record_writer import CallRecordWriter
from services.call.transcript import Transcript
from services.call.unsaved_records import UnsavedRecords
from services.metrics import REGISTRY
from services.store.calls import CallFilter, CallRepository
from services.store.client import create_mongo_client
from services.store.database import Database

IST = ZoneInfo("Asia/Kolkata")
SID = "CA" + "a" * 32


@pytest.fixture
async def calls(mongo_client: AsyncMongoClient, database_name: str) -> CallRepository:
    db = Database(mongo_client, database_name)
    await db.calls.ensure_indexes()
    return db.calls


@pytest.fixture
async def unreachable() -> AsyncIterator[CallRepository]:
    client = create_mongo_client(f"mongodb://127.0.0.1:{free_port()}/", serverSelectionTimeoutMS=200)
    try:
        yield Database(client, "unreachable").calls
    finally:
        await client.close()


def minimal(call_sid: str = SID, **fields: Any) -> CallRecord:
    return CallRecord(call_sid=call_sid, direction="outbound", status="queued", **fields)


async def is_ferretdb(calls: CallRepository) -> bool:
    build_info = await calls.collection.database.client.admin.command("buildInfo")
    return "ferretdbVersion" in build_info


def db_errors(operation: str) -> float:
    return REGISTRY.get_sample_value("voice_db_errors_total", {"operation": operation}) or 0.0


async def eventually(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Poll `check` (plain or async) until it returns something truthy; returns that."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


# ------------------------------------------------------------------------------------------ indexes


async def test_indexes_are_those_earlier_versions_created_and_can_be_ensured_again(calls: CallRepository) -> None:
    await calls.ensure_indexes()
    names = {index["name"] for index in await (await calls.collection.list_indexes()).to_list()}
    assert {"started_at_-1", "status_1_started_at_-1"} <= names


# ------------------------------------------------------------------------------------------ status callbacks


async def test_status_callbacks_applied_out_of_order_keep_the_highest_sequence_number(calls: CallRepository) -> None:
    assert await calls.apply_status(SID, "ringing", seq=2, new_record=minimal()) is True  # creates the record
    assert await calls.apply_status(SID, "initiated", seq=1, new_record=minimal()) is False  # stale
    assert await calls.apply_status(SID, "completed", seq=4, duration_s=30, new_record=minimal()) is True
    assert await calls.apply_status(SID, "in-progress", seq=3, new_record=minimal()) is False
    assert await calls.apply_status(SID, "completed", seq=4, new_record=minimal()) is False  # a retry
    record = await calls.get(SID)
    assert record is not None
    assert (record["twilio_status"], record["twilio_status_seq"], record["twilio_duration_s"]) == ("completed", 4, 30)
    assert record["call_sid"] == SID and record["direction"] == "outbound" and record["status"] == "queued"


async def test_concurrent_status_callbacks_leave_the_newest(calls: CallRepository) -> None:
    sequence = list(range(12))
    random.Random(7).shuffle(sequence)
    applied = await asyncio.gather(
        *(calls.apply_status(SID, f"status-{seq}", seq=seq, new_record=minimal()) for seq in sequence)
    )
    assert applied[sequence.index(11)] is True  # the newest one always applies
    assert await calls.count() == 1
    record = await calls.get(SID)
    assert record is not None
    if record["twilio_status_seq"] != 11 and await is_ferretdb(calls):
        # FerretDB 1.24 runs an update as read, modify, write without isolation: two concurrent updates
        # of one document can both match its old state, and the later write wins. MongoDB evaluates the
        # filter and writes atomically per document, which is what `apply_status` relies on.
        pytest.xfail("FerretDB 1.24 does not apply concurrent updates of one document atomically")
    assert record["twilio_status"] == "status-11" and record["twilio_status_seq"] == 11


async def test_status_without_a_sequence_number_always_applies(calls: CallRepository) -> None:
    await calls.apply_status(SID, "ringing", seq=5, new_record=minimal())
    assert await calls.apply_status(SID, "completed", seq=None, new_record=minimal()) is True
    record = await calls.get(SID)
    assert record is not None and record["twilio_status"] == "completed" and record["twilio_status_seq"] == 5


async def test_apply_status_refuses_another_calls_record(calls: CallRepository) -> None:
    with pytest.raises(ValueError):
        await calls.apply_status(SID, "ringing", seq=0, new_record=minimal("CA" + "b" * 32))


async def test_complete_ended_call_keeps_the_sessions_end_and_fails_a_queued_call(calls: CallRepository) -> None:
    session_end = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    later = datetime(2026, 3, 1, 10, 5, tzinfo=UTC)
    ended = CallRecord(call_sid=SID, status="completed", ended_at=session_end, end_reason="caller_hung_up")
    assert await calls.save(ended)
    await calls.complete_ended_call(SID, ended_at=later, status="completed", end_reason="completed")
    record = await calls.get(SID)
    assert record is not None
    assert (record["ended_at"], record["status"], record["end_reason"]) == (session_end, "completed", "caller_hung_up")

    queued = "CA" + "c" * 32
    assert await calls.insert_if_absent(minimal(queued))
    await calls.complete_ended_call(queued, ended_at=later, status="failed", end_reason="no-answer")
    record = await calls.get(queued)
    assert record is not None
    assert (record["ended_at"], record["status"], record["end_reason"]) == (later, "failed", "no-answer")


# ------------------------------------------------------------------------------------------ the live session's writes


async def test_save_is_idempotent_and_never_overwrites_twilio_fields(calls: CallRepository) -> None:
    await calls.apply_status(SID, "completed", seq=3, duration_s=42, new_record=minimal())
    record = CallRecord(call_sid=SID, twilio_status="in-progress", twilio_duration_s=0, stream_sid="MZ1")
    assert await calls.save(record) is True
    assert await calls.save(record) is True
    stored = await calls.get(SID)
    assert stored is not None and stored["stream_sid"] == "MZ1" and stored["status"] == "in_progress"
    assert (stored["twilio_status"], stored["twilio_duration_s"], stored["twilio_status_seq"]) == ("completed", 42, 3)
    assert await calls.count() == 1


async def test_insert_if_absent_never_overwrites(calls: CallRepository) -> None:
    assert await calls.insert_if_absent(minimal(purpose="Delivery confirmation")) is True
    assert await calls.save(CallRecord(call_sid=SID, status="in_progress", purpose="Delivery confirmation"))
    assert await calls.insert_if_absent(minimal(purpose="something else")) is False
    stored = await calls.get(SID)
    assert stored is not None and stored["status"] == "in_progress" and stored["purpose"] == "Delivery confirmation"


async def test_patch_and_add_ticket(calls: CallRepository) -> None:
    assert await calls.patch(SID, {"end_reason": "x"}) is False  # no such record: nothing is created
    assert await calls.add_ticket(SID, "TKT-000001") is False
    assert await calls.get(SID) is None

    assert await calls.save(CallRecord(call_sid=SID, transfer=TransferInfo(status="dialing")))
    assert await calls.patch(SID, {"transfer.status": "failed", "transfer.dial_call_status": "busy"}) is True
    for _ in range(2):  # idempotent
        assert await calls.add_ticket(SID, "TKT-000001") is True
    assert await calls.add_ticket(SID, "TKT-000002") is True
    stored = await calls.get(SID)
    assert stored is not None and stored["tickets"] == ["TKT-000001", "TKT-000002"]
    assert stored["transfer"]["status"] == "failed" and stored["transfer"]["dial_call_status"] == "busy"
    assert stored["transfer"]["reason"] is None, "a dotted patch leaves the rest of the sub-document"


async def test_best_effort_writes_never_raise(unreachable: CallRepository) -> None:
    before = db_errors("call_record_patch"), db_errors("call_record_write")
    assert await unreachable.patch(SID, {"end_reason": "x"}) is False
    assert await unreachable.add_ticket(SID, "TKT-000001") is False
    assert await unreachable.save(CallRecord(call_sid=SID)) is False
    assert (db_errors("call_record_patch"), db_errors("call_record_write")) == (before[0] + 2, before[1] + 1)


# ------------------------------------------------------------------------------------------ reads


async def test_get_with_and_without_transcript(calls: CallRepository) -> None:
    await calls.save(CallRecord(call_sid=SID, transcript=[TranscriptLine(role="caller", text="namaste")]))
    full = await calls.get(SID)
    assert full is not None and full["transcript"][0]["text"] == "namaste"
    short = await calls.get(SID, with_transcript=False)
    assert short is not None and "transcript" not in short and short["call_sid"] == SID
    assert await calls.get("CA" + "0" * 32) is None


async def test_page_filters_and_pages_newest_first(calls: CallRepository) -> None:
    def at(day: int, hour: int) -> datetime:
        return datetime(2026, 3, day, hour, tzinfo=UTC)

    records = [
        CallRecord(call_sid="CA01", started_at=at(1, 5), status="completed"),
        CallRecord(call_sid="CA02", started_at=at(1, 20), status="transferred", transfer=TransferInfo()),  # 2 Mar IST
        CallRecord(call_sid="CA03", started_at=at(2, 12), status="completed"),
        CallRecord(call_sid="CA04", started_at=at(3, 6), status="failed"),
        CallRecord(call_sid="CA05", started_at=at(3, 6), status="completed"),  # same time: by id
    ]
    for record in records:
        record.transcript.append(TranscriptLine(role="caller", text="private"))
        assert await calls.save(record)

    async def listed(filters: CallFilter, limit: int = 10, offset: int = 0) -> tuple[int, list[str]]:
        total, documents = await calls.page(filters, limit=limit, offset=offset)
        assert all("transcript" not in document for document in documents)
        return total, [document["call_sid"] for document in documents]

    assert await listed(CallFilter()) == (5, ["CA05", "CA04", "CA03", "CA02", "CA01"])
    assert await listed(CallFilter(), limit=2, offset=1) == (5, ["CA04", "CA03"])
    assert await listed(CallFilter(), limit=2, offset=6) == (5, [])
    assert await listed(CallFilter(status="completed")) == (3, ["CA05", "CA03", "CA01"])
    assert await listed(CallFilter(transferred=True)) == (1, ["CA02"])
    assert await listed(CallFilter(transferred=False, status="completed"), limit=1) == (3, ["CA05"])
    march_2 = CallFilter.for_days(zone=IST, date_from=date(2026, 3, 2), date_to=date(2026, 3, 2))
    assert await listed(march_2) == (2, ["CA03", "CA02"])
    assert await listed(CallFilter.for_days(zone=IST, date_to=date(2026, 3, 1))) == (1, ["CA01"])
    assert await listed(CallFilter.for_days(zone=UTC, date_from=date(2026, 3, 3))) == (2, ["CA05", "CA04"])
    assert await calls.count(CallFilter(status="failed")) == 1 and await calls.count() == 5
    with pytest.raises(ValueError):
        await calls.page(CallFilter(), limit=0)


def test_call_filter_query() -> None:
    assert CallFilter().query() == {}
    day = CallFilter.for_days(zone=IST, date_from=date(2026, 3, 2), date_to=date(2026, 3, 2), transferred=False)
    assert day.query() == {
        "started_at": {"$gte": datetime(2026, 3, 2, tzinfo=IST), "$lt": datetime(2026, 3, 3, tzinfo=IST)},
        "transfer": None,
    }


# ------------------------------------------------------------------------------------------ the record writer


async def test_writer_survives_a_record_it_cannot_encode_and_writes_the_next_valid_state(
    calls: CallRepository,
) -> None:
    record = CallRecord(call_sid=SID)
    writer = CallRecordWriter(calls, record, flush_interval_s=0.02)
    writer.start()
    await eventually(lambda: calls.get(SID))
    errors_before = db_errors("call_record_write")

    record.latencies.barge_ins = 2**70  # BSON holds at most 8-byte ints: every write of this state fails
    writer.touch()
    await eventually(lambda: db_errors("call_record_write") >= errors_before + 2)  # it keeps retrying
    assert writer._task is not None and not writer._task.done(), "the flush loop must not die"

    record.latencies.barge_ins = 3
    record.end_reason = "caller_hung_up"  # the change made meanwhile is written, not lost
    stored = await eventually(lambda: _stored_when(calls, lambda r: r["latencies"]["barge_ins"] == 3))
    assert stored["end_reason"] == "caller_hung_up"

    record.latencies.barge_ins = 2**70
    await writer.close(timeout_s=2)  # the final write fails too, without raising
    record.latencies.barge_ins = 4
    assert await writer.flush() is True


async def _stored_when(calls: CallRepository, ready: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
    stored = await calls.get(SID)
    return stored if stored is not None and ready(stored) else None


async def test_one_writer_at_a_time_changes_go_through_the_writer_until_its_final_write(
    calls: CallRepository,
) -> None:
    record = CallRecord(call_sid=SID, transfer=TransferInfo(status="dialing"))
    writer = CallRecordWriter(calls, record, flush_interval_s=0.02)
    writer.start()

    def connected(r: CallRecord) -> None:
        assert r.transfer is not None
        r.transfer.status = "connected"

    assert writer.apply(connected), "a live record is changed in memory, and its writer saves it"
    await eventually(lambda: _stored_when(calls, lambda r: r["transfer"]["status"] == "connected"))

    closing = asyncio.create_task(writer.close(timeout_s=2))
    await asyncio.sleep(0)  # the close has begun: once the final state is taken, nobody may change it here
    await writer.wait_saved()
    await closing
    assert writer.sealed and not writer.apply(lambda r: r.tickets.append("TKT-000001"))
    assert record.tickets == [], "a sealed record is not changed in memory (that change would be lost)"
    # The late change goes to the database instead, and no final write of ours can overwrite it now.
    assert await calls.add_ticket(SID, "TKT-000001")
    stored = await calls.get(SID)
    assert stored is not None and stored["tickets"] == ["TKT-000001"] and stored["transfer"]["status"] == "connected"


async def test_a_call_that_ends_while_the_database_is_paused_keeps_its_record() -> None:
    """The final write fails during the outage; the record is retried until the database is back."""
    with LocalMongo() as server:
        client = create_mongo_client(server.uri, serverSelectionTimeoutMS=500, socketTimeoutMS=500)
        repo = Database(client, "outage").calls
        unsaved = UnsavedRecords(repo, retry_every_s=0.2)
        record = CallRecord(call_sid=SID)
        writer = CallRecordWriter(repo, record, flush_interval_s=0.05, on_unsaved=unsaved.add)
        writer.start()
        assert server.process is not None
        try:
            await eventually(lambda: repo.get(SID))
            server.process.send_signal(signal.SIGSTOP)  # the database stops answering
            record.transcript.append(TranscriptLine(role="caller", text="Mera refund kab aayega?"))
            record.finish("caller_hung_up", 42.0)
            await writer.close(timeout_s=1)
            assert len(unsaved) == 1, "the final state is kept for a retry, not dropped"
            await asyncio.sleep(0.5)
            server.process.send_signal(signal.SIGCONT)  # back
            stored = await eventually(lambda: _stored_when(repo, lambda r: r.get("ended_at") is not None), 15)
            assert stored["end_reason"] == "caller_hung_up" and stored["transcript"][-1]["text"].startswith("Mera")
            # The retry forgets the record right after its write lands, which the read above can beat.
            assert await eventually(lambda: len(unsaved) == 0)
        finally:
            server.process.send_signal(signal.SIGCONT)
            await unsaved.aclose(timeout_s=2)
            await client.close()


# ------------------------------------------------------------------------------ incremental writes


class UpdateSizes(monitoring.CommandListener):
    """The BSON size of each `update` command the writer sends (pymongo's command monitoring)."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def started(self, event: Any) -> None:
        if event.command_name == "update":
            self.sizes.append(len(bson.encode(event.command)))

    def succeeded(self, event: Any) -> None:
        pass

    def failed(self, event: Any) -> None:
        pass


def _turn(record: CallRecord, n: int) -> None:
    record.transcript.append(TranscriptLine(role="caller", text=f"Mera order {n} kahan hai?"))
    record.transcript.append(TranscriptLine(role="assistant", text=f"Aapka order {n} kal tak aa jayega."))
    record.latencies.turns.append(TurnLatency(response_id=f"resp_{n}", speech_end_to_audio_ms=700.0))


def _stored_model(stored: dict[str, Any]) -> dict[str, Any]:
    return CallRecord.model_validate(stored).model_dump(exclude={"updated_at"})


def _as_stored(record: CallRecord) -> dict[str, Any]:
    """The record as the database keeps it (BSON dates have millisecond precision)."""
    document = bson.decode(bson.encode(record.model_dump()), CodecOptions(tz_aware=True))
    return _stored_model(document)


async def test_each_write_after_the_first_carries_only_what_changed_however_long_the_call(
    mongo_uri: str, database_name: str
) -> None:
    sizes = UpdateSizes()
    client: AsyncMongoClient = AsyncMongoClient(mongo_uri, event_listeners=[sizes])
    try:
        calls = Database(client, database_name).calls
        record = CallRecord(call_sid=SID)
        writer = CallRecordWriter(calls, record)
        for n in range(300):
            _turn(record, n)
            if n in (5, 295):
                record.usage.total_tokens += 1  # the same changes early and late in the call
                sizes.sizes.clear()
                assert await writer.flush()
                early_or_late = sizes.sizes[-1]
                if n == 5:
                    early = early_or_late
                else:
                    late = early_or_late
            elif n % 10 == 0:
                assert await writer.flush()
        # Five turns cost the same bytes at turn 295 as at turn 5 (but for longer positions and
        # numbers in the keys and texts), a small fraction of the whole record by then.
        assert late <= early * 1.05, (early, late)
        assert late * 20 < len(bson.encode(record.model_dump())), "not the whole record"
        assert await writer.flush()
        stored = await calls.get(SID)
        assert stored is not None and _stored_model(stored) == _as_stored(record)
    finally:
        await client.close()


async def test_lines_changed_after_they_were_written_are_written_again(calls: CallRepository) -> None:
    record = CallRecord(call_sid=SID)
    writer = CallRecordWriter(calls, record)
    transcript = Transcript(record.transcript, on_change=writer.line_changed)
    transcript.caller_turn("item_caller")  # a placeholder: transcription comes later
    assert transcript.add_assistant("item_reply", "Ji, main aapka order check karti hoon, ek second dijiye.")
    assert await writer.flush()
    assert transcript.add_caller("item_caller", "Mera order kahan hai?")  # fills the written placeholder
    transcript.interrupted("item_reply", heard_ms=500, sent_ms=1000)  # cuts the written reply in place
    record.tickets.append("TKT-000007")
    assert await writer.flush()
    stored = await calls.get(SID)
    assert stored is not None
    assert [(line["text"], line["interrupted"]) for line in stored["transcript"]] == [
        ("Mera order kahan hai?", False),
        ("Ji, main aapka order check", True),
    ]
    assert stored["tickets"] == ["TKT-000007"]
    assert _stored_model(stored) == _as_stored(record)


async def test_a_write_that_failed_or_whose_reply_was_lost_is_sent_again_without_duplicates(
    calls: CallRepository,
) -> None:
    record = CallRecord(call_sid=SID)
    writer = CallRecordWriter(calls, record)
    transcript = Transcript(record.transcript, on_change=writer.line_changed)
    transcript.caller_turn("item_1")
    assert await writer.flush()

    record.latencies.barge_ins = 2**70  # BSON cannot encode it: this write fails as a whole
    assert transcript.add_caller("item_1", "Refund kab tak aayega?")
    _turn(record, 1)
    assert not await writer.flush()
    record.latencies.barge_ins = 1
    assert await writer.flush(), "the failed change and the new one go together"

    # A write the database applied but whose reply was lost is resent as is: positions, not $push.
    _turn(record, 2)
    pending = writer._delta.take()
    assert await calls.save_changes(SID, pending.update)
    writer._delta.done(pending, ok=False)
    assert await writer.flush()

    stored = await calls.get(SID)
    assert stored is not None and _stored_model(stored) == _as_stored(record)
    assert [line["text"] for line in stored["transcript"]][:2] == ["Refund kab tak aayega?", "Mera order 1 kahan hai?"]
    assert len(stored["transcript"]) == 5 and stored["latencies"]["barge_ins"] == 1


async def test_a_record_deleted_under_a_live_call_is_written_whole_again(calls: CallRepository) -> None:
    record = CallRecord(call_sid=SID)
    writer = CallRecordWriter(calls, record)
    _turn(record, 1)
    assert await writer.flush()
    await calls.collection.delete_one({"_id": SID})
    _turn(record, 2)
    assert not await writer.flush(), "no record to update: the change is not taken"
    assert await writer.flush()
    stored = await calls.get(SID)
    assert stored is not None and len(stored["transcript"]) == 4
