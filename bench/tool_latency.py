"""Tool latency on the seeded database: p50 / p99 per tool, one call alone and many calls at once.

Each simulated call runs the tools the way a support call uses them (recent orders, an order by its
spoken id, someone else's order with a verification attempt, a product check in Hinglish, a ticket,
a transfer, the hang-up) through `ToolRegistry.execute`, exactly as the call bridge does. Three
phases: one call at a time; a burst (all calls start together and call their next tool as soon as
the previous one answered, no think time, far harsher than real traffic); and paced calls (joining
over 5 s, talking 0.5-2 s before each tool). The report says which of them meets the target (p99
under 50 ms at 50 concurrent callers) and the CPU each tool run cost the client and the database.

    .venv/bin/python -m bench.tool_latency                # starts its own FerretDB
    MONGODB_URI=mongodb://host:27017/ .venv/bin/python -m bench.tool_latency

Writes the figures and the command into bench/tool_latency.md (use --no-write to only print).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import random
import shutil
import subprocess
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from config.settings import Settings
from devtools.ferretdb import LocalMongo
from services.store.client import create_mongo_client
from services.store.database import Database
from services.store.seed import load_seed_records, seed_database
from services.tools import ToolContext, ToolRegistry, ToolResult, build_tool_registry
from tests.stack import make_settings
from utils.logger import configure_logging

README = Path(__file__).resolve().parent / "tool_latency.md"
HINDI_DIGITS = ["shunya", "ek", "do", "teen", "chaar", "paanch", "chhe", "saat", "aath", "nau"]
PRODUCT_QUERIES = ["pressure cooker", "पंखा", "mujhe ek mixie chahiye", "airdopes", "atta", "razai", "chai patti"]
SINGLE_CALLS = 20  # baseline: calls one after another, nothing else running
THINK_S = (0.5, 2.0)  # paced runs: talk before each tool call
START_WITHIN_S = 5.0  # paced runs: calls join over the first seconds instead of in one instant
TARGET_P99_MS = 50.0  # issue 9: tool p99 under 50 ms at 50 concurrent callers on the local FerretDB
# "1234" is no pincode: the tool asks again (`verification_unclear`) without counting an attempt.
EXPECTED_REFUSALS = (None, "verification_required", "verification_unclear", "verification_failed")
# Inside support hours (11:00 IST) so transfers are recorded, not refused.
IN_HOURS = datetime(2026, 11, 23, 11, 0, tzinfo=ZoneInfo("Asia/Kolkata")).astimezone(UTC)


def bench_settings() -> Settings:
    # Support hours open all day (tests' settings), so transfers are recorded whatever the hour.
    return make_settings()


def spoken(order_id: str) -> str:
    """ "ORD-482913" as a caller says it: "order char aath do nau ek teen"."""
    return "order " + " ".join(HINDI_DIGITS[int(ch)] for ch in order_id[4:])


def call_script(rng: random.Random, own_order: str, other_order: str) -> list[tuple[str, dict]]:
    return [
        ("lookup_order", {}),
        ("lookup_order", {"order_id": spoken(own_order)}),
        ("lookup_order", {"order_id": other_order}),
        ("lookup_order", {"order_id": other_order, "verification": "1234"}),  # no pincode: asked again
        ("check_product_availability", {"product_name": rng.choice(PRODUCT_QUERIES), "quantity": "do"}),
        ("create_ticket", {"category": "delivery", "description": "Order is late", "order_id": own_order}),
        ("transfer_to_human", {"reason": "Wants to talk to an agent", "department": "orders"}),
        ("end_call", {"reason": "bench"}),
    ]


async def simulate_call(
    registry: ToolRegistry,
    db: Database,
    settings: Settings,
    phone: str,
    script: list[tuple[str, dict]],
    think_s: tuple[float, float],
    rng: random.Random,
    start_within_s: float = 0.0,
) -> list[ToolResult]:
    ctx = ToolContext(
        call_sid=f"CA-bench-{uuid.uuid4().hex}",
        caller_phone=phone,
        db=db,
        settings=settings,
        conversation_summary=lambda: "Caller asked about a late order.",
        clock=lambda: IN_HOURS,
    )
    await asyncio.sleep(rng.uniform(0, start_within_s))
    results = []
    for index, (name, args) in enumerate(script):
        if think_s[1] > 0:  # the caller and the model talking between two tool calls
            await asyncio.sleep(rng.uniform(*think_s))
        arguments = json.dumps(args)
        results.append(await registry.execute(f"call_{index}", name, arguments, ctx, settings.tool_timeout_s))
    return results


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def row_name(result: ToolResult) -> str:
    if result.name == "lookup_order":  # two different queries: by `_id`, or all orders of a phone
        return "lookup_order (by id)" if result.arguments.get("order_id") else "lookup_order (recent orders)"
    return result.name


def summarize(results: list[ToolResult]) -> dict[str, dict[str, float]]:
    by_tool: dict[str, list[float]] = defaultdict(list)
    for result in results:
        by_tool[row_name(result)].append(result.duration_ms)
        by_tool["all tools"].append(result.duration_ms)
    return {
        name: {"n": len(values), "p50": percentile(values, 50), "p99": percentile(values, 99), "max": max(values)}
        for name, values in by_tool.items()
    }


async def run_round(
    registry: ToolRegistry,
    db: Database,
    settings: Settings,
    concurrency: int,
    rng: random.Random,
    think_s: tuple[float, float] = (0.0, 0.0),
    start_within_s: float = 0.0,
) -> tuple[list[ToolResult], float]:
    customers, _, orders = load_seed_records()
    by_phone: dict[str, list[str]] = defaultdict(list)
    for order in orders:
        by_phone[order.customer_phone].append(order.order_id)
    callers = [customer.phone for customer in customers if by_phone[customer.phone]]
    jobs = []
    for _ in range(concurrency):
        phone = rng.choice(callers)
        other_phone = rng.choice([p for p in callers if p != phone])
        script = call_script(rng, rng.choice(by_phone[phone]), rng.choice(by_phone[other_phone]))
        jobs.append(simulate_call(registry, db, settings, phone, script, think_s, rng, start_within_s))
    start = time.perf_counter()
    per_call = await asyncio.gather(*jobs)
    return [result for results in per_call for result in results], time.perf_counter() - start


@contextlib.contextmanager
def database_uri() -> Iterator[tuple[str, str, int | None]]:
    """(uri, what server, the server's pid when this process started it, for its CPU time)."""
    uri = os.environ.get("MONGODB_URI")
    if uri:
        yield uri, "MONGODB_URI (external server)", None
        return
    kind = "mongod (local)" if shutil.which("mongod") else "FerretDB 1.24 on SQLite (devtools.ferretdb.LocalMongo)"
    with LocalMongo() as server:
        yield server.uri, kind, server.process.pid if server.process else None


def cpu_seconds(server_pid: int | None) -> tuple[float, float]:
    """CPU seconds used so far by this process (the tools, pymongo) and by the database server (Linux
    /proc; 0 when unknown). The machine is shared and noisy: CPU per tool run is the steadier figure."""
    own = os.times()
    server = 0.0
    if server_pid is not None:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{server_pid}/stat").read_text().rsplit(")", 1)[1].split()
            server = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own.user + own.system, server


@dataclass
class Phase:
    """The tool runs of one part of the benchmark, its wall time and the CPU it cost."""

    results: list[ToolResult] = field(default_factory=list)
    wall_s: float = 0.0
    client_cpu_s: float = 0.0
    server_cpu_s: float = 0.0

    def add(
        self, results: list[ToolResult], wall_s: float, before: tuple[float, float], after: tuple[float, float]
    ) -> None:
        self.results += results
        self.wall_s += wall_s
        self.client_cpu_s += after[0] - before[0]
        self.server_cpu_s += after[1] - before[1]

    def cpu_line(self, server_known: bool) -> str:
        runs = max(len(self.results), 1)
        line = f"CPU per tool run: {self.client_cpu_s / runs * 1000:.2f} ms in the client"
        if server_known:
            line += f", {self.server_cpu_s / runs * 1000:.2f} ms in the database server"
        return line + f"; {len(self.results) / self.wall_s:.0f} tool runs/s."


# Measured once with this script, alternating the two versions (before, after, before, after) on a
# shared machine (load average 4-5 on 2 cores): the CPU figures are the steady ones.
BEFORE_AND_AFTER = [
    "## Before and after the `_id`-only tool paths",
    "",
    "Before: commit ab9291f (recent orders by `find({customer_phone})`, a scan on FerretDB). After: the",
    "per-phone order list (`services/store/phone_index.py`) and the product check's two reads at once",
    "(the background reload of the search index came after these runs).",
    "Same script, runs alternated on 2026-12-01 13:07-13:17 UTC while other work kept the load average at",
    "4-5 on the 2 cores (both runs of each shown).",
    "",
    "| figure | before | after |",
    "|---|---:|---:|",
    "| recent orders, one call alone, p50 ms | 85.2 / 69.4 | 22.5 / 17.4 |",
    "| recent orders, 50 paced calls, p99 ms | 2713.8 / 4003.9 | 1171.8 / 103.0 |",
    "| all tools, 50 paced calls, p99 ms | 1935.1 / 3046.6 | 715.1 / 72.7 |",
    "| all tools, 50-call burst, p99 ms | 4108.5 / 4015.8 | 1527.0 / 949.7 |",
    "| burst throughput, tool runs/s | 56 / 76 | 123 / 181 |",
    "| database server CPU per tool run, burst, ms | 11.5 / 9.9 | 4.2 / 4.8 |",
    "| client CPU per tool run, burst, ms | 2.7 / 2.1 | 2.4 / 2.6 |",
    "| tool timeouts (4 s) and other unexpected errors, of 2560 | 89 / 39 | 0 / 0 |",
    "",
    "The report of 2026-11-22 on a quiet machine (before): recent orders alone p50 47.4 ms, burst p99",
    "2387.9 ms, paced p99 167.0 ms (all tools 108.2 ms).",
    "",
]

READING = [
    "## Reading the numbers",
    "",
    "- FerretDB 1.24 on SQLite finds a document directly only by `_id`; any other filter, and `$in` even",
    "  on `_id` (measured: 3 ids by `$in` 64 ms, by three concurrent `find_one` 4 ms), scans and decodes",
    '  the whole collection. "Recent orders" now reads the caller\'s `phone_orders` document, then its',
    "  newest orders by `_id` at once: two round trips and ~4 ms of server CPU instead of a 60 ms scan.",
    "  MongoDB serves the same reads from `_id`, and the `customer_phone, placed_at` index stays for",
    "  phones whose list is not built yet.",
    "- What is left is per-operation cost: a FerretDB `_id` read costs it ~0.7-1 ms of CPU (a 2.3 KB",
    "  product document ~5 ms: its 30 serviceable pincodes), an insert ~2.3 ms, plus ~0.6-0.8 ms of",
    "  pymongo in the client. The paced p99 follows the machine's load: each sequential round trip waits",
    "  for both processes to be scheduled.",
    "- Connection pool: 8, 25 and 100 connections (`--max-pool-size`) cost the same CPU per tool run",
    "  (4.3-4.4 ms in FerretDB); the default (100) stays.",
    "- The product search scores ~340 names and aliases in memory (~1.5 ms). Its index is reloaded in the",
    "  background once it is a minute old (reading the catalogue costs FerretDB ~0.3 s of CPU, which one",
    "  caller used to wait for each minute); the matched product is always read fresh by `_id`.",
    "- `end_call` touches no database: it shows the registry's own overhead.",
    "",
]


def table(stats: dict[str, dict[str, float]]) -> list[str]:
    lines = ["| tool | n | p50 ms | p99 ms | max ms |", "|---|---:|---:|---:|---:|"]
    order = [
        "lookup_order (recent orders)",
        "lookup_order (by id)",
        "check_product_availability",
        "create_ticket",
        "transfer_to_human",
        "end_call",
        "all tools",
    ]
    for name in order:
        if name in stats:
            row = stats[name]
            lines.append(f"| {name} | {row['n']:.0f} | {row['p50']:.1f} | {row['p99']:.1f} | {row['max']:.1f} |")
    return lines


async def run_phases(
    args: argparse.Namespace, db: Database, server_pid: int | None
) -> tuple[float, Phase, Phase, Phase]:
    settings, registry, rng = bench_settings(), build_tool_registry(), random.Random(args.seed)
    seed_start = time.perf_counter()
    await seed_database(db)
    seed_s = time.perf_counter() - seed_start
    await run_round(registry, db, settings, 1, rng)  # warm-up: connections, search index
    single, burst, paced = Phase(), Phase(), Phase()
    for _ in range(SINGLE_CALLS):
        before = cpu_seconds(server_pid)
        results, seconds = await run_round(registry, db, settings, 1, rng)
        single.add(results, seconds, before, cpu_seconds(server_pid))
    for _ in range(args.rounds):
        before = cpu_seconds(server_pid)
        results, seconds = await run_round(registry, db, settings, args.calls, rng)
        burst.add(results, seconds, before, cpu_seconds(server_pid))
    for _ in range(args.rounds):
        before = cpu_seconds(server_pid)
        results, seconds = await run_round(
            registry, db, settings, args.calls, rng, think_s=THINK_S, start_within_s=START_WITHIN_S
        )
        paced.add(results, seconds, before, cpu_seconds(server_pid))
    return seed_s, single, burst, paced


def verdict(name: str, phase: Phase) -> str:
    stats = summarize(phase.results)
    worst_name, worst = max(((n, row["p99"]) for n, row in stats.items() if n != "all tools"), key=lambda x: x[1])
    met = all(row["p99"] < TARGET_P99_MS for row in stats.values())
    return (
        f"- {name}: {'**met**' if met else '**not met**'} (all tools p99 {stats['all tools']['p99']:.1f} ms; "
        f"slowest tool {worst_name}, p99 {worst:.1f} ms)"
    )


def burst_floor(calls: int, phase: Phase, server_known: bool) -> list[str]:
    """Little's law for the closed-loop burst: each call always waits on exactly one tool, so the mean
    latency is calls / throughput, whatever the code does; only more tool runs per second lower it."""
    rate = len(phase.results) / phase.wall_s
    runs = max(len(phase.results), 1)
    cpu_ms = (phase.client_cpu_s + (phase.server_cpu_s if server_known else 0.0)) / runs * 1000
    needed = calls / (TARGET_P99_MS / 1000)
    cores = os.cpu_count() or 1
    return [
        f"- Why the burst cannot meet it here: {calls} calls with no think time always have {calls} tools in",
        f"  flight, so by Little's law the mean tool latency is {calls} / {rate:.0f} tool runs/s = "
        f"{calls / rate * 1000:.0f} ms, whatever",
        f"  the queries are. A p99 under {TARGET_P99_MS:.0f} ms needs well over {needed:.0f} tool runs/s: under "
        f"{cores * 1000 / needed:.1f} ms of CPU per tool",
        f"  run on {cores} cores, client and database together, against {cpu_ms:.1f} ms measured "
        "(a FerretDB `_id` read alone",
        "  costs ~0.7-1 ms of its CPU, a 2 KB product document ~5 ms). It would take a server several times",
        "  cheaper per operation (MongoDB) or on its own cores, or answering the hot reads from memory.",
    ]


async def main(args: argparse.Namespace) -> None:
    configure_logging(json_output=False, level="WARNING")
    load_before = os.getloadavg()[0]
    with database_uri() as (uri, server_kind, server_pid):
        client = create_mongo_client(uri, **({"maxPoolSize": args.max_pool_size} if args.max_pool_size else {}))
        db = Database(client, f"bench_{uuid.uuid4().hex[:8]}")
        try:
            seed_s, single, burst, paced = await run_phases(args, db, server_pid)
        finally:
            await client.drop_database(db.raw.name)
            await client.close()
    settings = bench_settings()
    known = server_pid is not None
    runs = single.results + burst.results + paced.results
    failures = [r for r in runs if r.error not in EXPECTED_REFUSALS]
    command = (
        ".venv/bin/python -m bench.tool_latency"
        + (f" --calls {args.calls}" if args.calls != 50 else "")
        + (f" --rounds {args.rounds}" if args.rounds != 3 else "")
        + (f" --max-pool-size {args.max_pool_size}" if args.max_pool_size else "")
    )
    report = [
        "# Tool latency benchmark",
        "",
        "Measures `ToolRegistry.execute` (argument validation, Hinglish normalisation, MongoDB queries,",
        "output formatting) on the seeded data set. Each simulated call runs 8 tools in sequence: recent",
        "orders, own order by spoken Hindi id, someone else's order (refused), a verification that is no",
        "pincode (four digits: asked again), a product check, a ticket, a transfer and end_call. All calls",
        "start at once; in the burst runs each call fires its next tool the moment the previous one answers",
        "(far harsher than real calls).",
        "",
        "Command (from the repository root; starts its own FerretDB unless `MONGODB_URI` is set):",
        "",
        "```",
        command,
        "```",
        "",
        f"- Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC at commit {git_commit()}, {os.cpu_count()} CPU cores, "
        f"Python {platform.python_version()}, {platform.system()} {platform.machine()}",
        f"- Database: {server_kind}; client and database on the same machine",
        f"- Machine load (1-minute load average, other work included): {load_before:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end; latency moves with it, CPU per tool run much less",
        f"- Seeding the data set: {seed_s:.2f} s; tool timeout {settings.tool_timeout_s:.0f} s",
        f"- Unexpected errors (timeouts, database errors, ...): {len(failures)} of {len(runs)} tool runs",
        "",
        f"## Target: p99 under {TARGET_P99_MS:.0f} ms at {args.calls} concurrent callers",
        "",
        verdict(f"{args.calls} calls at once, paced (real calls talk between tools)", paced),
        verdict(f"{args.calls} calls at once, burst (no think time)", burst),
        *burst_floor(args.calls, burst, known),
        "",
        f"## One call at a time ({SINGLE_CALLS} calls one after another, {len(single.results)} tool runs)",
        "",
        *table(summarize(single.results)),
        "",
        single.cpu_line(known),
        "",
        f"## {args.calls} calls at once, burst ({args.rounds} rounds, {len(burst.results)} tool runs, "
        f"{len(burst.results) / burst.wall_s:.0f} tool runs/s)",
        "",
        *table(summarize(burst.results)),
        "",
        burst.cpu_line(known),
        "",
        f"## {args.calls} calls at once, paced ({args.rounds} rounds, {len(paced.results)} tool runs)",
        "",
        f"Closer to real traffic: the calls join within {START_WITHIN_S:.0f} s and each spends "
        f"{THINK_S[0]:.1f}-{THINK_S[1]:.1f} s talking before every tool call.",
        "",
        *table(summarize(paced.results)),
        "",
        paced.cpu_line(known),
        "",
        *BEFORE_AND_AFTER,
        *READING,
    ]
    text = "\n".join(report)
    print(text)
    if not args.no_write:
        README.write_text(text, encoding="utf-8")
        print(f"written to {README}")


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=50, help="simulated calls running at once")
    parser.add_argument("--rounds", type=int, default=3, help="how many times to run the concurrent batch")
    parser.add_argument("--seed", type=int, default=7, help="random seed for callers and queries")
    parser.add_argument("--max-pool-size", type=int, default=0, help="client connection pool (0: the app's)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/tool_latency.md alone")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
