"""Client CPU per call-record update: one `update_one` per call against one unordered `bulk_write` for many.

50 records (one per live call) each get the update a live call's writer sends once a second (a `$set` of
scalars and a `$push` of one transcript line), 20 times over; this process's CPU is divided by the
updates sent. Against a throwaway FerretDB (or mongod if installed), as `services/call/record_batcher.py`
is used by the app.

    .venv/bin/python -m bench.record_bulk
"""

from __future__ import annotations

import asyncio
import resource
import time
from typing import Any

from pymongo import AsyncMongoClient, UpdateOne

from devtools.ferretdb import LocalMongo

CALLS = 50
TICKS = 20


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def change(tick: int) -> dict[str, Any]:
    line = {"role": "caller", "text": "Mera order kahan hai?", "at_ms": tick * 1000}
    return {"$set": {"updated_at": tick, "latencies.barge_ins": tick}, "$push": {"transcript": {"$each": [line]}}}


async def run(mode: str, calls: Any) -> tuple[float, float]:
    began_cpu, began = cpu_s(), time.perf_counter()
    for tick in range(TICKS):
        if mode == "update_one":
            await asyncio.gather(*(calls.update_one({"_id": f"CA{i}"}, change(tick)) for i in range(CALLS)))
        else:
            size = int(mode.removeprefix("bulk_write/"))
            for first in range(0, CALLS, size):
                ops = [UpdateOne({"_id": f"CA{i}"}, change(tick)) for i in range(first, first + size)]
                await calls.bulk_write(ops, ordered=False)
    cpu_us = (cpu_s() - began_cpu) / (CALLS * TICKS) * 1e6
    wall_ms = (time.perf_counter() - began) / TICKS * 1000
    return cpu_us, wall_ms


async def main() -> None:
    with LocalMongo() as server:
        client: AsyncMongoClient[Any] = AsyncMongoClient(server.uri)
        calls = client.bench.calls
        await calls.insert_many([{"_id": f"CA{i}", "transcript": []} for i in range(CALLS)])
        print("| mode | client CPU µs per update | wall ms per 50 updates |\n|---|---:|---:|")
        for mode in ("update_one", "bulk_write/50", "bulk_write/10") * 2:
            cpu_us, wall_ms = await run(mode, calls)
            print(f"| {mode} | {cpu_us:.0f} | {wall_ms:.0f} |")
        await client.close()


if __name__ == "__main__":
    asyncio.run(main())
