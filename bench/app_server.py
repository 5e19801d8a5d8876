"""The app served exactly as `python app.py` serves it (`app.serve`), with settings from the command line.

Benchmarks start it as a child process. The settings are built by the tests' builder
(`tests.stack.make_settings`: test credentials, support hours all day; but the loop pacer at the product's
default `LOOP_TICK_MS`, which the in-process test stack turns off) from the options below, never
from a `.env` file; a setting given by none of them still falls back to its environment variable, so
start it with a clean environment (`bench.bridge_load` does).

    .venv/bin/python -m bench.app_server --port 8000 --mongodb-uri mongodb://127.0.0.1:27017/ \\
        --realtime-url ws://127.0.0.1:9000/v1 --twilio-api-url http://127.0.0.1:9001 \\
        --setting OPENAI_PREOPEN=false

Instrumentation (none of it changes the app's behaviour):
- `--stats-file PATH`: while a call is live (the app's `voice_active_calls` gauge is above 0), record how
  late a 10 ms sleep wakes up (event-loop lag) and how long each full (generation-2) garbage collection
  takes; written to PATH as JSON about once a second while calls are live and when the last call ends,
  then also with the number of gc-tracked objects and the time one `gc.collect()` takes. The probe is
  started from uvicorn's `callback_notify` hook, i.e. in the server's own loop right after start-up.
- `--cpu N`: pin the process to CPU N before any thread starts (every thread inherits it).
- `--op-costs PATH`: the thread CPU time a few of the call path's operations take, as they run under
  load (`bench/op_costs.py`), written to PATH.

Experiments, not the product: `--gc-gen0 N` sets the collector's generation-0 threshold (no effect
measured: bench/README.md, "Round two"); `--gc-freeze` runs `gc.collect(); gc.freeze()` after the imports and the
settings, before serving. (The product's lifespan has done the same since the benchmark found the
problem, so today this only moves a few more objects out of the collector's reach.)
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from pydantic import ValidationError

import app as app_module
from bench import op_costs
from config.settings import Settings, describe_validation_error
from services import metrics
from tests.stack import make_settings
from utils.logger import configure_logging

LAG_PROBE_S = 0.01
DUMP_EVERY_S = 1.0


def active_calls() -> float:
    """The app's own `voice_active_calls` gauge (public prometheus_client API, no I/O)."""
    return metrics.ACTIVE_CALLS.collect()[0].samples[0].value


class Instrumentation:
    """Event-loop lag and full-GC pauses of this process while calls are live, dumped to a JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.stats: dict[str, Any] = {"lag_s": [], "gc2_s": [], "objects": 0, "full_gc_s": 0.0}
        self.live = False  # refreshed by the probe every 10 ms; read by the gc callback
        self._gc_started = 0.0
        self._task: asyncio.Task[None] | None = None

    def uvicorn_options(self) -> dict[str, Any]:
        """`app.serve` overrides that start the probe in the server's loop once it has started."""
        gc.callbacks.append(self._time_full_gc)
        return {"callback_notify": self._start}

    async def _start(self) -> None:
        # uvicorn awaits callback_notify on its first tick after start-up, then every timeout_notify s.
        if self._task is None:
            self._task = asyncio.create_task(self._probe(), name="bench-lag-probe")

    def _time_full_gc(self, phase: str, info: dict[str, Any]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._gc_started = time.perf_counter()
        elif self.live:
            self.stats["gc2_s"].append(time.perf_counter() - self._gc_started)

    async def _probe(self) -> None:
        loop = asyncio.get_running_loop()
        last_dump, was_live = loop.time(), False
        while True:
            before = time.perf_counter()
            await asyncio.sleep(LAG_PROBE_S)
            lag = time.perf_counter() - before - LAG_PROBE_S
            live = self.live = active_calls() > 0
            if live:
                self.stats["lag_s"].append(lag)
            if live and loop.time() - last_dump > DUMP_EVERY_S:
                last_dump = loop.time()
                self.dump()
            elif was_live and not live:
                self.dump(count_objects=True)
            was_live = live

    def dump(self, count_objects: bool = False) -> None:
        if count_objects:  # both take tens of ms: only once the calls have ended
            self.stats["objects"] = max(self.stats["objects"], len(gc.get_objects()))
            started = time.perf_counter()
            gc.collect()
            self.stats["full_gc_s"] = max(self.stats["full_gc_s"], time.perf_counter() - started)
        partial = self.path.with_name(self.path.name + ".tmp")
        partial.write_text(json.dumps(self.stats))
        os.replace(partial, self.path)
        op_costs.dump_installed()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.app_server", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--mongodb-uri", help="MONGODB_URI")
    parser.add_argument("--mongodb-database", help="MONGODB_DATABASE")
    parser.add_argument("--realtime-url", help="OPENAI_WEBSOCKET_BASE_URL, e.g. the fake Realtime server's url")
    parser.add_argument("--twilio-api-url", help="TWILIO_API_BASE_URL, e.g. the fake Twilio REST API's base_url")
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any other setting, by its environment name, e.g. OPENAI_PREOPEN=false (repeatable)",
    )
    parser.add_argument("--stats-file", type=Path, help="record loop lag and full-GC pauses here (see above)")
    parser.add_argument("--cpu", type=int, help="pin the process to this CPU")
    parser.add_argument("--op-costs", type=Path, help="time the call path's operations, written here (see above)")
    parser.add_argument("--gc-freeze", action="store_true", help="experiment: gc.collect(); gc.freeze() first")
    parser.add_argument("--gc-gen0", type=int, help="experiment: the collector's generation-0 threshold")
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_level": args.log_level,
        # The product's default, not the in-process test stack's 0: here the app has its own process and loop.
        "loop_tick_ms": Settings.model_fields["loop_tick_ms"].default,
    }
    for flag, name in (
        ("mongodb_uri", "mongodb_uri"),
        ("mongodb_database", "mongodb_database"),
        ("realtime_url", "openai_websocket_base_url"),
        ("twilio_api_url", "twilio_api_base_url"),
    ):
        if getattr(args, flag) is not None:
            overrides[name] = getattr(args, flag)
    for assignment in args.setting:
        name, equals, value = assignment.partition("=")
        if not equals or name.lower() not in Settings.model_fields:
            parser.error(f"--setting {assignment!r}: expected NAME=VALUE with NAME a setting, e.g. OPENAI_PREOPEN")
        overrides[name.lower()] = value
    args.overrides = overrides
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})  # before any thread starts (the log writer is one): all inherit
    try:
        settings = make_settings(**args.overrides)
    except ValidationError as error:
        sys.exit(f"bench.app_server: {describe_validation_error(error)}")
    configure_logging(json_output=settings.environment == "production", level=settings.log_level)  # as main()
    instrumentation = Instrumentation(args.stats_file) if args.stats_file else None
    if args.op_costs:
        op_costs.install(args.op_costs)
    if args.gc_freeze:
        gc.collect()
        gc.freeze()
    if args.gc_gen0:
        gc.set_threshold(args.gc_gen0, *gc.get_threshold()[1:])
    try:
        app_module.serve(settings, **(instrumentation.uvicorn_options() if instrumentation else {}))
    finally:
        # Not reached on SIGTERM (uvicorn re-raises the signal once it has shut down); the benchmark reads
        # the file before stopping the app.
        if instrumentation is not None:
            instrumentation.dump()


if __name__ == "__main__":
    main()
