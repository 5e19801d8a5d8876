"""Tool latency on the seeded database: p50 / p99 per tool, one call alone and many calls at once.

Each simulated call runs the tools the way a support call uses them (recent orders, an order by its
spoken id, someone else's order with a verification attempt, a product check in Hinglish, a ticket,
a transfer, the hang-up) through `ToolRegistry.execute`, exactly as the call bridge does. All calls
start together and call their next tool as soon as the previous one answered (no think time), so
this is harsher than real traffic.

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
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
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
        ("lookup_order", {"order_id": other_order, "verification": "1234"}),
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
def database_uri() -> Iterator[tuple[str, str]]:
    uri = os.environ.get("MONGODB_URI")
    if uri:
        yield uri, "MONGODB_URI (external server)"
        return
    kind = "mongod (local)" if shutil.which("mongod") else "FerretDB 1.24 on SQLite (devtools.ferretdb.LocalMongo)"
    with LocalMongo() as server:
        yield server.uri, kind


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


async def main(args: argparse.Namespace) -> None:
    configure_logging(json_output=False, level="WARNING")
    settings = bench_settings()
    registry = build_tool_registry()
    rng = random.Random(args.seed)
    with database_uri() as (uri, server_kind):
        client = create_mongo_client(uri)
        db = Database(client, f"bench_{uuid.uuid4().hex[:8]}")
        try:
            seed_start = time.perf_counter()
            await seed_database(db)
            seed_s = time.perf_counter() - seed_start
            await run_round(registry, db, settings, 1, rng)  # warm-up: connections, search index
            single: list[ToolResult] = []
            for _ in range(SINGLE_CALLS):
                single += (await run_round(registry, db, settings, 1, rng))[0]
            loaded: list[ToolResult] = []
            wall = 0.0
            for _ in range(args.rounds):
                results, seconds = await run_round(registry, db, settings, args.calls, rng)
                loaded += results
                wall += seconds
            paced: list[ToolResult] = []
            for _ in range(args.rounds):
                paced += (
                    await run_round(
                        registry, db, settings, args.calls, rng, think_s=THINK_S, start_within_s=START_WITHIN_S
                    )
                )[0]
        finally:
            await client.drop_database(db.raw.name)
            await client.close()

    runs = single + loaded + paced
    expected_refusals = (None, "verification_required", "verification_failed")
    failures = [r for r in runs if r.error not in expected_refusals]
    command = (
        ".venv/bin/python -m bench.tool_latency"
        + (f" --calls {args.calls}" if args.calls != 50 else "")
        + (f" --rounds {args.rounds}" if args.rounds != 3 else "")
    )
    report = [
        "# Tool latency benchmark",
        "",
        "Measures `ToolRegistry.execute` (argument validation, Hinglish normalisation, MongoDB queries,",
        "output formatting) on the seeded data set. Each simulated call runs 8 tools in sequence: recent",
        "orders, own order by spoken Hindi id, someone else's order (refused), a wrong verification, a",
        "product check, a ticket, a transfer and end_call. All calls start at once; in the burst runs each",
        "call fires its next tool the moment the previous one answers (far harsher than real calls).",
        "",
        "Command (from the repository root; starts its own FerretDB unless `MONGODB_URI` is set):",
        "",
        "```",
        command,
        "```",
        "",
        f"- Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPU cores, Python "
        f"{platform.python_version()}, {platform.system()} {platform.machine()}",
        f"- Database: {server_kind}; client and database on the same machine",
        f"- Seeding the data set: {seed_s:.2f} s; tool timeout {settings.tool_timeout_s:.0f} s",
        f"- Unexpected errors (timeouts, database errors, ...): {len(failures)} of {len(runs)} tool runs",
        "",
        f"## One call at a time ({SINGLE_CALLS} calls one after another, {len(single)} tool runs)",
        "",
        *table(summarize(single)),
        "",
        f"## {args.calls} calls at once, burst ({args.rounds} rounds, {len(loaded)} tool runs, "
        f"{len(loaded) / wall:.0f} tool runs/s)",
        "",
        *table(summarize(loaded)),
        "",
        f"## {args.calls} calls at once, paced ({args.rounds} rounds, {len(paced)} tool runs)",
        "",
        f"Closer to real traffic: the calls join within {START_WITHIN_S:.0f} s and each spends "
        f"{THINK_S[0]:.1f}-{THINK_S[1]:.1f} s talking before every tool call.",
        "",
        *table(summarize(paced)),
        "",
        "## Reading the numbers",
        "",
        "- FerretDB 1.24 on SQLite finds a document directly only by `_id` (every natural id here is the",
        "  `_id`, so order, customer, product, ticket and transfer reads are ~1-2 ms). Any other filter",
        '  scans and decodes the whole collection: "recent orders of this phone" costs ~40 ms on the',
        "  200 orders even alone, and 50 of them queued in one FerretDB process make the burst p99.",
        "  MongoDB answers that query from the `customer_phone, placed_at` index, so these figures are an",
        "  upper bound for production.",
        "- The Python side is small: the product search scores ~340 names and aliases in about 2 ms;",
        "  validation and formatting are well under a millisecond.",
        "- `end_call` touches no database: it shows the registry's own overhead.",
        "",
    ]
    text = "\n".join(report)
    print(text)
    if not args.no_write:
        README.write_text(text, encoding="utf-8")
        print(f"written to {README}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=50, help="simulated calls running at once")
    parser.add_argument("--rounds", type=int, default=3, help="how many times to run the concurrent batch")
    parser.add_argument("--seed", type=int, default=7, help="random seed for callers and queries")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/tool_latency.md alone")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
