"""`RecordChangeBatcher`: the incremental record writes of many live calls as one command, against the real
test database (FerretDB or mongod). Each writer must still learn its own outcome."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring

from devtools.ferretdb import LocalMongo
from models.call_record import CallRecord, TranscriptLine
from services.call.record_batcher import RecordChangeBatcher
from services.call.record_writer import CallRecordWriter
from services.store.calls import CallRepository
from services.store.client import create_mongo_client
from services.store.database import Database


class Commands(monitoring.CommandListener):
    """The `update` commands sent, each as its number of statements (pymongo's command monitoring)."""

    def __init__(self) -> None:
        self.updates: list[int] = []

    def started(self, event: Any) -> None:
        if event.command_name == "update":
            self.updates.append(len(event.command.get("updates", ())))

    def succeeded(self, event: Any) -> None:
        pass

    def failed(self, event: Any) -> None:
        pass


@pytest.fixture
async def watched(mongo_uri: str, database_name: str) -> AsyncIterator[tuple[CallRepository, Commands]]:
    commands = Commands()
    client: AsyncMongoClient = AsyncMongoClient(mongo_uri, event_listeners=[commands])
    try:
        yield Database(client, database_name).calls, commands
    finally:
        await client.close()


@pytest.fixture
async def batcher(watched: tuple[CallRepository, Commands]) -> AsyncIterator[RecordChangeBatcher]:
    """A batcher with a short window in front of the watched repository, closed after the test."""
    batching = RecordChangeBatcher(watched[0], window_s=0.05)
    try:
        yield batching
    finally:
        await batching.aclose()


def sid(n: int) -> str:
    return f"CA{n:032x}"


async def started_writers(calls: CallRepository, batcher: RecordChangeBatcher, n: int) -> list[CallRecordWriter]:
    """n live calls' writers, their first (whole-record) write done."""
    writers = [CallRecordWriter(calls, CallRecord(call_sid=sid(i)), changes=batcher) for i in range(n)]
    assert all(await asyncio.gather(*(writer.flush() for writer in writers)))
    return writers


async def stored_lines(calls: CallRepository, call_sid: str) -> list[str]:
    stored = await calls.get(call_sid)
    assert stored is not None, "the record is stored"
    return [line["text"] for line in stored["transcript"]]


def say(writer: CallRecordWriter, text: str) -> None:
    writer.record.transcript.append(TranscriptLine(role="caller", text=text))


async def test_the_changes_of_many_live_calls_go_out_as_one_command(
    watched: tuple[CallRepository, Commands], batcher: RecordChangeBatcher
) -> None:
    calls, commands = watched
    writers = await started_writers(calls, batcher, 20)
    commands.updates.clear()
    for n, writer in enumerate(writers):
        say(writer, f"Mera order {n} kahan hai?")
    assert all(await asyncio.gather(*(writer.flush() for writer in writers)))
    assert commands.updates == [20], "one update command carrying every call's change"
    for n in (0, 19):
        assert await stored_lines(calls, sid(n)) == [f"Mera order {n} kahan hai?"]


async def test_a_change_the_database_cannot_take_fails_alone_and_is_kept(
    watched: tuple[CallRepository, Commands], batcher: RecordChangeBatcher
) -> None:
    calls, _ = watched
    bad, good = await started_writers(calls, batcher, 2)
    bad.record.latencies.barge_ins = 2**70  # BSON holds at most 8-byte ints: this change cannot be encoded
    say(bad, "Refund kab aayega?")
    say(good, "Delivery kab hogi?")
    assert await asyncio.gather(bad.flush(), good.flush()) == [False, True]
    assert await stored_lines(calls, good.record.call_sid) == ["Delivery kab hogi?"]

    bad.record.latencies.barge_ins = 1  # fixed: the kept change goes with it, once
    assert await bad.flush()
    assert await stored_lines(calls, bad.record.call_sid) == ["Refund kab aayega?"]
    stored = await calls.get(bad.record.call_sid)
    assert stored is not None and stored["latencies"]["barge_ins"] == 1


async def test_a_record_deleted_under_a_live_call_is_told_apart_and_written_whole_again(
    watched: tuple[CallRepository, Commands], batcher: RecordChangeBatcher
) -> None:
    calls, _ = watched
    gone, kept = await started_writers(calls, batcher, 2)
    await calls.collection.delete_one({"_id": gone.record.call_sid})
    say(gone, "Hello?")
    say(kept, "Namaste")
    assert await asyncio.gather(gone.flush(), kept.flush()) == [False, True], "no record to update: not taken"
    assert await gone.flush(), "then the whole record is written again"
    assert await stored_lines(calls, gone.record.call_sid) == ["Hello?"]


async def test_while_the_database_is_paused_every_change_is_kept_and_lands_once_it_is_back() -> None:
    with LocalMongo() as server:
        client = create_mongo_client(server.uri, serverSelectionTimeoutMS=300, socketTimeoutMS=300)
        calls = Database(client, "paused").calls
        batcher = RecordChangeBatcher(calls, window_s=0.05)
        assert server.process is not None
        try:
            writers = await started_writers(calls, batcher, 3)
            server.process.send_signal(signal.SIGSTOP)
            for writer in writers:
                say(writer, "Awaaz aa rahi hai?")
            assert await asyncio.gather(*(writer.flush() for writer in writers)) == [False] * 3
            server.process.send_signal(signal.SIGCONT)
            for writer in writers:
                say(writer, "Ab theek hai")
            deadline = asyncio.get_running_loop().time() + 10
            while not all(await asyncio.gather(*(writer.flush() for writer in writers))):
                assert asyncio.get_running_loop().time() < deadline, "the database is back: the writes must land"
                await asyncio.sleep(0.1)
            for writer in writers:
                assert await stored_lines(calls, writer.record.call_sid) == ["Awaaz aa rahi hai?", "Ab theek hai"]
        finally:
            server.process.send_signal(signal.SIGCONT)
            await batcher.aclose()
            await client.close()


async def test_a_change_pending_at_shutdown_is_sent_and_later_ones_go_straight_out(
    watched: tuple[CallRepository, Commands],
) -> None:
    calls, commands = watched
    batcher = RecordChangeBatcher(calls, window_s=0.5)
    (writer,) = await started_writers(calls, batcher, 1)
    say(writer, "Shukriya")
    flushing = asyncio.create_task(writer.flush())
    await asyncio.sleep(0.01)
    await batcher.aclose()  # does not wait out the window's end for nothing: sends what is pending
    assert await flushing
    commands.updates.clear()
    say(writer, "Bye")
    assert await writer.flush()
    assert commands.updates == [1]
    assert await stored_lines(calls, writer.record.call_sid) == ["Shukriya", "Bye"]


async def test_shutdown_with_the_database_paused_is_bounded_and_the_writer_keeps_its_change() -> None:
    with LocalMongo() as server:
        client = create_mongo_client(server.uri, serverSelectionTimeoutMS=10_000, socketTimeoutMS=10_000)
        calls = Database(client, "shutdown").calls
        batcher = RecordChangeBatcher(calls, window_s=0.05)
        assert server.process is not None
        try:
            (writer,) = await started_writers(calls, batcher, 1)
            server.process.send_signal(signal.SIGSTOP)
            say(writer, "Hello?")
            flushing = asyncio.create_task(writer.flush())
            await asyncio.sleep(0.2)  # the bulk write is under way, waiting on the paused database
            loop = asyncio.get_running_loop()
            began = loop.time()
            await batcher.aclose(timeout_s=0.3)
            assert loop.time() - began < 2, "shutdown does not wait out the database client's timeouts"
            assert await flushing is False, "not written: the writer keeps the change"
            server.process.send_signal(signal.SIGCONT)
            assert await writer.flush(), "written once the database is back"
            assert await stored_lines(calls, writer.record.call_sid) == ["Hello?"]
        finally:
            server.process.send_signal(signal.SIGCONT)
            await client.close()
