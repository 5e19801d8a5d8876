"""Database bytes written per call-minute by the live call-record writer, for calls of 1 to 30 minutes.

A call is simulated on a virtual clock (no waiting): every `TURN_S` seconds the caller speaks and the
assistant answers (two transcript lines, one turn latency, the usage totals change; every fourth turn
a tool call), and the writer flushes after each change, as `CallRecordWriter` does live (at most
once a second, whenever the record changed). Every `update` command the writer sends is measured as BSON bytes through
pymongo's command monitoring, against a real FerretDB (or `MONGODB_URI`). Two writers are compared:

- `incremental`: the product's `CallRecordWriter` (first write whole, then only what changed);
- `full $set`: the whole record `$set` on every flush (`CallRepository.save`), what the writer did
  before (kept here as the baseline).

    .venv/bin/python -m bench.record_bytes            # 1, 5, 15, 30 minute calls, ~1 min
    .venv/bin/python -m bench.record_bytes --minutes 1,30

Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import bson
from pymongo import AsyncMongoClient, monitoring

from devtools.ferretdb import LocalMongo
from models.call_record import CallRecord, ToolCallRecord, TurnLatency
from services.call.record_delta import RecordDelta
from services.call.record_writer import CallRecordWriter
from services.call.transcript import Transcript
from services.store.calls import EXTERNALLY_OWNED
from services.store.database import Database

TURN_S = 8  # one caller line and one answer every 8 s of call
CALLER = "Mera order ORD-482913 abhi tak nahi aaya, kab tak aayega? Aur COD ka refund kaise milega?"
ANSWER = "Aapka order kal shaam tak deliver ho jayega. COD orders ka refund aapke bank account mein aata hai."


class UpdateBytes(monitoring.CommandListener):
    def __init__(self) -> None:
        self.bytes = 0
        self.commands = 0
        self.largest = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "update":
            size = len(bson.encode(event.command))
            self.bytes += size
            self.commands += 1
            self.largest = max(self.largest, size)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def simulate(
    flush: Callable[[], Awaitable[bool]], record: CallRecord, transcript: Transcript, minutes: int
) -> float:
    """Run a call of `minutes` on a virtual clock; returns the CPU seconds the flushes took."""
    cpu = 0.0
    for turn in range(minutes * 60 // TURN_S):
        transcript.caller_turn(f"item_c{turn}")
        transcript.add_assistant(f"item_a{turn}", ANSWER)
        record.latencies.turns.append(TurnLatency(response_id=f"resp_{turn}", speech_end_to_audio_ms=742.0))
        record.usage.input_audio_tokens += 180
        record.usage.output_audio_tokens += 420
        record.usage.total_tokens += 600
        if turn % 4 == 3:
            record.tool_calls.append(
                ToolCallRecord(
                    call_id=f"call_{turn}",
                    name="lookup_order",
                    arguments={"order_id": "ORD-482913"},
                    ok=True,
                    output={"status": "shipped", "expected_delivery": "5 March"},
                    duration_ms=4.2,
                )
            )
        started = time.process_time()
        assert await flush()
        cpu += time.process_time() - started
        transcript.add_caller(f"item_c{turn}", CALLER)  # transcription lands after the line was written
    return cpu


def _serialise_ms(record: CallRecord, writer_kind: str, rounds: int = 50) -> float:
    """What one more turn costs to turn into an update on the event loop, at the end of the call:
    the delta (`RecordDelta.take`) or the whole record (`model_dump` + BSON encoding)."""
    delta = RecordDelta(record, EXTERNALLY_OWNED)
    delta.written_in_full()
    started = time.perf_counter()
    for n in range(rounds):
        record.usage.total_tokens += 1
        record.latencies.turns.append(TurnLatency(response_id=f"extra_{n}", speech_end_to_audio_ms=700.0))
        if writer_kind == "incremental":
            pending = delta.take()
            bson.encode(pending.update)
            delta.done(pending, ok=True)
        else:
            bson.encode({"$set": record.model_dump()})
    return (time.perf_counter() - started) / rounds * 1000


async def measure(uri: str, minutes: int, writer_kind: str) -> dict[str, Any]:
    counter = UpdateBytes()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, event_listeners=[counter])
    database = Database(client, f"bench_record_{uuid.uuid4().hex[:8]}")
    try:
        record = CallRecord(call_sid="CA" + uuid.uuid4().hex)
        writer = CallRecordWriter(database.calls, record)
        transcript = Transcript(record.transcript, on_change=writer.line_changed)
        if writer_kind == "incremental":
            cpu = await simulate(writer.flush, record, transcript, minutes)
        else:
            cpu = await simulate(lambda: database.calls.save(record), record, transcript, minutes)
        stored = await database.calls.get(record.call_sid)
        assert stored is not None and len(stored["transcript"]) == len(record.transcript)
        size = len(bson.encode(record.model_dump()))
        serialise_ms = _serialise_ms(record, writer_kind)
        return {
            "bytes_per_min": counter.bytes / minutes,
            "largest": counter.largest,
            "record": size,
            "cpu_ms_per_flush": cpu / max(counter.commands, 1) * 1000,
            "serialise_ms": serialise_ms,
        }
    finally:
        await client.drop_database(database.raw.name)
        await client.close()


async def amain(args: argparse.Namespace) -> None:
    minutes = [int(m) for m in args.minutes.split(",")]
    uri = os.environ.get("MONGODB_URI")
    with LocalMongo() if uri is None else _NoServer(uri) as server:
        rows = []
        for m in minutes:
            rows.append((m, await measure(server.uri, m, "incremental"), await measure(server.uri, m, "full")))
    print(f"- Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; command `.venv/bin/python -m bench.record_bytes`")
    print(f"- A turn every {TURN_S} s (2 lines, 1 latency, usage), a tool call every 4th turn, a flush after each")
    print()
    print(
        "| call length | incremental: KB written per call-minute | largest update | CPU per flush "
        "| building one update at the end | full `$set`: KB per call-minute | largest update | CPU per flush "
        "| building one update at the end | final record |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for m, inc, full in rows:
        print(
            f"| {m} min | {inc['bytes_per_min'] / 1000:.1f} | {inc['largest'] / 1000:.1f} KB "
            f"| {inc['cpu_ms_per_flush']:.2f} ms | {inc['serialise_ms']:.2f} ms | {full['bytes_per_min'] / 1000:.1f} "
            f"| {full['largest'] / 1000:.1f} KB "
            f"| {full['cpu_ms_per_flush']:.2f} ms | {full['serialise_ms']:.2f} ms | {inc['record'] / 1000:.1f} KB |"
        )


class _NoServer:
    def __init__(self, uri: str) -> None:
        self.uri = uri

    def __enter__(self) -> _NoServer:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.record_bytes", description=__doc__)
    parser.add_argument("--minutes", default="1,5,15,30")
    asyncio.run(amain(parser.parse_args()))


if __name__ == "__main__":
    main()
