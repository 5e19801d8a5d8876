"""End-to-end load on the audio bridge: N concurrent calls through the real app, in its own process.

This process runs FerretDB (a child process), the fake OpenAI Realtime server, the fake Twilio REST
API and the Twilio simulator; the app runs as a separate Python process, `python -m bench.app_server`
(`app.serve()`, i.e. uvicorn on uvloop with the arguments `python app.py` uses, plus a 10 ms
event-loop lag probe and a full-GC timer), all on 127.0.0.1.
For each level a fresh app process and fresh fakes are started, one warm-up call is made (not
counted), then N calls start, staggered over --stagger seconds. Each call:

1. is placed (signed voice webhook) and streams; **greeting latency** = stream `start` sent →
   first assistant audio received by the phone;
2. takes --turns caller turns: say a 600 ms tone, then wait until the whole reply has played at the
   phone. **Turn latency** = last caller frame sent → first reply audio received by the phone. It
   contains the fake server VAD's silence window (`silence_duration_ms` of the app's session
   config, 500 ms), reported separately;
3. hangs up.

**Inbound relay latency** = a Twilio media frame sent by the simulator → the fake Realtime server
reading the `input_audio_buffer.append` holding its last byte (both stamped with this process's `loop.time()`;
frames are matched by audio byte offset, `bench.byte_probe`, checked on each call's first speech frame).

Measurement hygiene (through the fakes' public hooks; their defaults are what the tests use):
- with 2+ cores the app is pinned to CPU 0 and this process to the others; FerretDB runs on those
  others too, at SCHED_IDLE (a deployment's database is on other machines);
- the fake server gets a memoised `tone()` and, for its VAD, a table version of `frame_energy()`
  (identical results, checked at start); appends are validated strictly for the first 50 per
  session, then every 25th (every other client event always);
- this process runs the standard asyncio loop (uvloop's `loop.time()` is a cached millisecond clock)
  and keeps its garbage collector off while a level runs.

    .venv/bin/python -m bench.bridge_load                    # 1, 25, 50, 100, 200 calls, ~3 min
    .venv/bin/python -m bench.bridge_load --calls 1,25,50
    .venv/bin/python -m bench.bridge_load --calls 50 --app-patch gc-freeze   # experiment, see --help

Prints Markdown tables; exits 1 if a call failed, a frame was lost or a protocol violation was seen.
Everything is bounded by deadlines, and the app process is terminated (then killed) on every exit path.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import json
import math
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from bench import op_costs
from bench.app_server import LAG_PROBE_S
from devtools.ferretdb import LocalMongo, free_port
from services.call.session import CallSession
from services.store.client import create_mongo_client
from services.store.database import Database
from services.store.seed import seed_database
from tests.fakes.mulaw import frame_energy, mulaw_decode, tone
from tests.fakes.realtime_server import FakeRealtimeServer, FakeSession, Script, Turn
from tests.fakes.twilio_rest import FakeTwilioRest
from tests.fakes.twilio_sim import SimulatedCall, TwilioSimulator
from tests.stack import ACCOUNT_SID, ADMIN_TOKEN, AUTH_TOKEN, PUBLIC_BASE_URL

REPO = Path(__file__).resolve().parent.parent
BYTES_PER_MS = 8
FRAME_MS = 20
FRAME_BYTES = FRAME_MS * BYTES_PER_MS
GREETING_MS = 1000
REPLY_MS = 1500
SPEECH_MS = 600
GREETING_HZ = 300.0
APPENDS_ALWAYS_VALIDATED = 50
APPEND_VALIDATION_EVERY = 25
APP_CPU = 0  # with --pin (default on 2+ cores): the app's core; the benchmark and FerretDB get the others
DEFAULT_CALLS = "1,25,50,100,200"
# --app-patch name -> flag of bench.app_server (experiments)
APP_PATCHES = {"gc-freeze": "--gc-freeze", "gc-gen0-20k": "--gc-gen0=20000"}
CLK_TCK = os.sysconf("SC_CLK_TCK")
# --tool-every: the function calls a tool turn asks for, in turn (on the seeded sample data). The caller's
# own recent orders (the by-phone query), someone else's order (read, then refused without verification),
# a fuzzy product search with a pincode check, a ticket (a write).
TOOL_TURNS = [
    ("lookup_order", "{}"),
    ("lookup_order", '{"order_id": "ORD-482913"}'),
    ("check_product_availability", '{"product_name": "pressure cooker", "quantity": "do", "pincode": "110017"}'),
    ("create_ticket", '{"category": "delivery", "description": "Order is late"}'),
]


# ----------------------------------------------------------------------------------------- statistics
def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


def dist(values: list[float]) -> str:
    if not values:
        return "–"
    return " / ".join(f"{percentile(values, q):.0f}" for q in (50, 95, 99)) + f" / {max(values):.0f}"


def dist_fine(values: list[float]) -> str:
    if not values:
        return "–"
    return " / ".join(f"{percentile(values, q):.1f}" for q in (50, 95, 99)) + f" / {max(values):.1f}"


# ----------------------------------------------------------------------------------------- processes
def proc_cpu(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process (/proc/<pid>/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def proc_cpu_s(pid: int) -> float:
    return sum(proc_cpu(pid))


def proc_status_kib(pid: int, key: str) -> float:
    """A kB field of /proc/<pid>/status, e.g. VmRSS (resident now) or VmHWM (peak resident); NaN if absent."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return float(line.split()[1])
    return math.nan


def proc_peak_rss_mb(pid: int) -> float:
    return proc_status_kib(pid, "VmHWM") / 1024


def idle_priority(pid: int) -> None:
    """SCHED_IDLE for every thread of a process: it runs only on CPU time nobody else wants (threads it
    starts later inherit the policy)."""
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                os.sched_setscheduler(int(tid), os.SCHED_IDLE, os.sched_param(0))


def off_app_cpu(pid: int) -> None:
    """Every thread of a process onto the cores the app is not pinned to (threads it starts later inherit
    it). At idle priority a process still runs on the app's core whenever the app waits, and each of the
    app's wake-ups then preempts it onto a cache it left cold."""
    cores = set(range(os.cpu_count() or 1)) - {APP_CPU}
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                os.sched_setaffinity(int(tid), cores)


def machine_busy_s() -> float:
    """CPU seconds all cores spent busy (not idle / iowait), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def self_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
    return usage.ru_utime + usage.ru_stime


class AppProcess:
    """The real app in its own Python process (`python -m bench.app_server`, which calls `app.serve()`);
    `stop()` always leaves no process behind. Subclasses run other servers by overriding `command()`
    (and `health_path`, answered 200 once the server is up)."""

    health_path = "/health"

    def __init__(
        self, options: list[str], env: dict[str, str], port: int, workdir: Path, *, probe: bool = True
    ) -> None:
        self.options = options  # bench.app_server's command line, without --port / --stats-file
        self.probe = probe  # run the app's loop-lag probe (a 10 ms timer: ~2 % of a core of its own)
        self.env = env
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.workdir = workdir
        self.log_path = workdir / "app.log"
        self.stats_path = workdir / "app-stats.json"
        self.process: subprocess.Popen[bytes] | None = None
        self.stream_url: str | None = None  # the app's STREAM_PORT listener, when it runs one

    def serve_streams_apart(self) -> None:
        """Run the app with STREAM_PORT (its streams on aiohttp); the simulator is pointed there."""
        stream_port = free_port()
        self.options = [*self.options, "--setting", f"STREAM_PORT={stream_port}"]
        self.stream_url = f"http://127.0.0.1:{stream_port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def command(self) -> list[str]:
        command = [sys.executable, "-m", "bench.app_server", "--port", str(self.port), *self.options]
        return [*command, "--stats-file", str(self.stats_path)] if self.probe else command

    def start(self) -> None:
        self.stats_path.unlink(missing_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command(),
                cwd=self.workdir,  # nothing stray (.env, ...) in the working directory
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    async def wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2.0, trust_env=False) as client:
            while time.monotonic() < deadline:
                if self.process is None or self.process.poll() is not None:
                    raise RuntimeError(f"app exited during start-up:\n{self.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(self.url + self.health_path)).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise RuntimeError(f"app not healthy within {timeout:.0f} s:\n{self.log_tail()}")

    async def metrics(self) -> dict[str, float]:
        """Sum of each Prometheus counter family (labels folded)."""
        async with httpx.AsyncClient(timeout=5.0, trust_env=False) as client:
            response = await client.get(f"{self.url}/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        totals: dict[str, float] = {}
        for line in response.text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                family = name.split("{", 1)[0]
                with contextlib.suppress(ValueError):
                    totals[family] = totals.get(family, 0.0) + float(value)
        return totals

    def stats(self) -> dict[str, Any]:
        """The app's loop lags and full-GC pauses (seconds) recorded while calls were live, so far."""
        with contextlib.suppress(OSError, ValueError):
            return json.loads(self.stats_path.read_text())
        return {"lag_s": [], "gc2_s": [], "objects": 0, "full_gc_s": 0.0}

    async def active_calls(self) -> int:
        async with httpx.AsyncClient(timeout=5.0, trust_env=False) as client:
            return int((await client.get(f"{self.url}/health")).json()["active_calls"])

    def stop(self) -> None:
        """SIGTERM (uvicorn shuts down gracefully), SIGKILL after 20 s."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


class LoopLag:
    """Lag of this process's event loop (10 ms sleeps), to show when the benchmark itself saturates."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(LAG_PROBE_S)
            self.samples.append(time.perf_counter() - before - LAG_PROBE_S)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


# ----------------------------------------------------------------------------------------- relay probe
@dataclass
class SessionProbe:
    session: FakeSession
    rx: list[float] = field(default_factory=list)  # loop.time() each append was read by the fake
    call: int | None = None  # index of the call this session belongs to (found by its speech)
    first_speech_rx: int | None = None
    appends: int = 0  # appends seen by the validation sampler


class RelayProbe:
    """The fake Realtime server's hooks a relay probe answers: `on_session` (a SessionProbe per session),
    `on_client_event` (the loop.time() the fake started reading each client event) and
    `validate_incoming` (sampled validation, here). Matching appends to frames is by audio byte offset,
    in `bench.byte_probe.ByteRelayProbe`: the app coalesces frames, so indices do not line up."""

    def __init__(self) -> None:
        self.sessions: list[SessionProbe] = []
        self._by_session: dict[FakeSession, SessionProbe] = {}

    def attach(self, session: FakeSession) -> None:
        """`on_session` hook."""
        probe = SessionProbe(session)
        self.sessions.append(probe)
        self._by_session[session] = probe

    def on_client_event(self, session: FakeSession, event: Any, received_at: float) -> None:
        """`on_client_event` hook: when each append was read."""
        if isinstance(event, dict) and event.get("type") == "input_audio_buffer.append":
            self._by_session[session].rx.append(received_at)

    def validate(self, session: FakeSession, event: dict[str, Any]) -> bool:
        """`validate_incoming` hook. Every client event is validated strictly, except that of the
        identical-shaped appends (one line of app code makes them all) only the first 50 and then every
        25th are: validation is ~40 µs per event, and this process is what saturates first."""
        if event["type"] != "input_audio_buffer.append":
            return True
        probe = self._by_session[session]
        probe.appends += 1
        return probe.appends <= APPENDS_ALWAYS_VALIDATED or probe.appends % APPEND_VALIDATION_EVERY == 0


class ToolProbe:
    """Tool round trips as the fake Realtime server sees them: `response.function_call_arguments.done`
    sent → the app's `function_call_output` item read, per call id (the app runs the tool in between:
    its database round trips, and every event-loop hop on the way, at the load of the other calls)."""

    def __init__(self) -> None:
        self._asked_at: dict[str, float] = {}
        self.round_trip_ms: list[float] = []

    def on_server_event(self, session: FakeSession, event: dict[str, Any], sent_at: float) -> None:
        """`on_server_event` hook."""
        if event["type"] == "response.function_call_arguments.done":
            self._asked_at[event["call_id"]] = sent_at

    def on_client_event(self, session: FakeSession, event: Any, received_at: float) -> None:
        """Chained after the relay probe's `on_client_event` hook."""
        if not isinstance(event, dict) or event.get("type") != "conversation.item.create":
            return
        item = event.get("item") or {}
        if item.get("type") != "function_call_output":
            return
        asked = self._asked_at.pop(item.get("call_id", ""), None)
        if asked is not None:
            self.round_trip_ms.append((received_at - asked) * 1000)


def script_turns(turns: int, tool_every: int) -> list[Turn]:
    """Every `tool_every`-th turn (0: none) asks for the next function call of TOOL_TURNS; the model
    speaks its reply after the result, so the caller hears the same audio either way."""
    scripted = [Turn() for _ in range(turns)]
    if tool_every > 0:
        for n, index in enumerate(range(tool_every - 1, turns, tool_every)):
            scripted[index] = Turn(tool_calls=[TOOL_TURNS[n % len(TOOL_TURNS)]])
    return scripted


async def seed_bench_database(mongo_uri: str, database: str) -> None:
    """The sample data set (as `python app.py seed` loads it), for the tools a tool turn calls."""
    client = create_mongo_client(mongo_uri)
    try:
        await seed_database(Database(client, database))  # indexes included
    finally:
        await client.close()


def time_media_sends(call: SimulatedCall) -> list[float]:
    """loop.time() after each inbound media frame the simulator writes (its `on_send` hook)."""
    sent: list[float] = []

    def on_send(message: dict[str, Any], sent_at: float) -> None:
        if message.get("event") == "media":
            sent.append(sent_at)

    call.on_send = on_send
    return sent


# ----------------------------------------------------------------------------------------- fake speed-ups
_ABS_LINEAR = [abs(mulaw_decode(byte)) for byte in range(256)]


def table_frame_energy(frame: bytes) -> float:
    """Same value as tests.fakes.mulaw.frame_energy (same integer sum), ~40 % less CPU per frame."""
    return sum(map(_ABS_LINEAR.__getitem__, frame)) / len(frame) if frame else 0.0


# The fake synthesises every greeting (~17 ms of CPU for 1 s of audio), which at 200 calls would stall
# this process for seconds right when the greetings are measured.
memo_tone = functools.lru_cache(maxsize=64)(tone)


def check_fake_speed_ups() -> None:
    """The replacements handed to the fake server (`frame_energy=`, `tone=`) return exactly what the
    originals return."""
    for frame in (tone(20, 440), tone(20, 1000, amplitude=300), bytes([0xFF]) * 160, b"", bytes(range(160))):
        assert table_frame_energy(frame) == frame_energy(frame)
    assert memo_tone(100, GREETING_HZ) == tone(100, GREETING_HZ)


def bench_fake_realtime(probe: RelayProbe, script: Script, **hooks: Any) -> FakeRealtimeServer:
    """The fake Realtime server as the load benchmarks run it: the probe's hooks and sampled validation,
    the speed-ups above. validate_outgoing=False: the fake's own events are checked by its test suite;
    checking them here too would only add CPU to this process."""
    return FakeRealtimeServer(
        script,
        on_session=probe.attach,
        on_client_event=probe.on_client_event,
        validate_incoming=probe.validate,
        validate_outgoing=False,
        frame_energy=table_frame_energy,
        tone=memo_tone,
        **hooks,
    )


# ----------------------------------------------------------------------------------------- one call
_SHARED_SPEECH = tone(SPEECH_MS - FRAME_MS, 440)


def speech_for(index: int) -> bytes:
    """600 ms of 'speech' whose first 20 ms frame is unique to the call (a tone at its own pitch)."""
    return tone(FRAME_MS, 1300 + 5 * index) + _SHARED_SPEECH


@dataclass
class CallResult:
    index: int
    call_sid: str = ""
    greeting_ms: float | None = None
    turn_ms: list[float] = field(default_factory=list)
    placed_at: float = 0.0  # the answer webhook asked (loop time, as the simulator's own timestamps)
    started_at: float = 0.0
    ended_at: float = 0.0
    sent: list[float] = field(default_factory=list)  # media frame send times
    first_speech_frame: int | None = None
    received_media_bytes: int = 0
    violations: list[str] = field(default_factory=list)
    error: str | None = None


async def wait_until_async(count: Callable[[], Awaitable[int]], timeout: float, what: str) -> None:
    """Poll an async count (e.g. the app's live calls) until it is 0."""
    deadline = time.monotonic() + timeout
    while await count():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not within {timeout:.0f} s")
        await asyncio.sleep(0.05)


async def wait_until(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError(f"{what} not within {timeout:.0f} s")
        await asyncio.sleep(interval)


async def run_call(
    sim: TwilioSimulator, index: int, delay_s: float, turns: int, speech: bytes, stream_gap_s: float = 0.0
) -> CallResult:
    """One caller: greeting, `turns` turns, hang-up. Latencies come from the simulator's own timestamps.
    `stream_gap_s`: Twilio's time between our TwiML and opening the media stream (0: at once)."""
    loop = asyncio.get_running_loop()
    result = CallResult(index)
    await asyncio.sleep(delay_s)
    call: SimulatedCall | None = None
    try:
        result.placed_at = loop.time()
        call = await sim.place_call(from_=f"+9198{index % 10**8:08d}")
        result.call_sid = call.call_sid
        result.sent = time_media_sends(call)
        if stream_gap_s:
            await asyncio.sleep(stream_gap_s)
        await call.connect_stream()
        assert call.t0 is not None
        result.started_at = call.t0
        await wait_until(lambda: call.first_media_at is not None, 20, "greeting audio")
        assert call.first_media_at is not None
        result.greeting_ms = (call.first_media_at - call.t0) * 1000
        expected = GREETING_MS * BYTES_PER_MS
        await wait_until(lambda: call.received_media_bytes >= expected and call.queued_ms == 0, 20, "greeting play")
        for _ in range(turns):
            seen_messages, seen_bytes = len(call.received), call.received_media_bytes
            spoken = await call.say_and_wait(speech, timeout=10)
            if result.first_speech_frame is None and spoken.first_timestamp_ms is not None:
                result.first_speech_frame = spoken.first_timestamp_ms // FRAME_MS
            await wait_until(lambda seen=seen_bytes: call.received_media_bytes > seen, 20, "reply audio", interval=0.02)
            first_reply = next(
                at
                for message, at in zip(call.received[seen_messages:], call.received_times[seen_messages:], strict=True)
                if message.get("event") == "media"
            )
            assert spoken.last_frame_at is not None
            result.turn_ms.append((first_reply - spoken.last_frame_at) * 1000)
            expected += REPLY_MS * BYTES_PER_MS
            await wait_until(
                lambda target=expected: call.received_media_bytes >= target and call.queued_ms == 0, 20, "reply play"
            )
        await call.hangup()
        result.ended_at = loop.time()
    except Exception as error:  # recorded and reported; the level goes on
        result.error = f"{type(error).__name__}: {error}"[:300]
        result.ended_at = loop.time()
        if call is not None:
            await call.aclose()
    if call is not None:
        result.received_media_bytes = call.received_media_bytes
        result.violations = list(call.violations)
    return result


# ----------------------------------------------------------------------------------------- one level
@dataclass
class Level:
    calls: int
    results: list[CallResult]
    relay_ms: list[float]
    relay_calls: int  # calls whose frames were matched
    setup_frames: int  # frames sent before the app's Realtime session existed (not in relay_ms)
    frames_sent: int
    frames_appended: int
    appends: int  # input_audio_buffer.append messages that carried them
    app_greeting_ms: list[float]
    app_turn_ms: list[float]
    app_tools: list[tuple[str, float, str | None]]  # each tool call in the app's records: name, ms, error
    tool_round_trip_ms: list[float]  # arguments.done sent → function_call_output read, at the fake
    silence_ms: int | None
    realtime_problems: list[str]
    app_counters: dict[str, float]
    wall_s: float
    call_seconds: float
    app_cpu_s: float
    app_sys_s: float  # of which in the kernel (loopback TCP is charged largely to the sender)
    app_rss_mb: float
    app_lag_ms: list[float]
    app_gc2_ms: list[float]  # full (generation 2) garbage collections in the app while calls were live
    app_objects: int  # most gc-tracked objects seen in the app (counted when the calls had ended)
    app_full_gc_ms: float  # one gc.collect() in the app right after the calls ended
    bench_cpu_s: float
    bench_lag_ms: list[float]
    db_cpu_s: float
    other_cpu_s: float  # everything else on the machine (other users' jobs would show here)
    server_events: Counter[str]
    cold_greeting_ms: float | None
    app_idle_pct: float  # app CPU % with no call (includes the lag probe)
    op_costs: dict[str, tuple[int, float]] = field(default_factory=dict)  # --op-costs, over the window

    @property
    def failed(self) -> list[CallResult]:
        return [r for r in self.results if r.error]

    @property
    def violations(self) -> list[str]:
        return [v for r in self.results for v in r.violations] + self.realtime_problems


def app_env() -> dict[str, str]:
    """The app process's whole environment: no settings in it, they are all on its command line."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONPATH": str(REPO),
        "PYTHONUNBUFFERED": "1",  # the log tail is shown when something fails
    }


def app_options(mongo_uri: str, database: str, realtime_url: str, rest_url: str) -> list[str]:
    """bench.app_server's settings (on top of the tests' `make_settings`): everything on loopback."""
    return [
        "--mongodb-uri",
        mongo_uri,
        "--mongodb-database",
        database,
        "--realtime-url",
        realtime_url,
        "--twilio-api-url",
        rest_url,
        "--log-level",
        "WARNING",
        "--setting",
        "SMS_ON_TICKET=false",
    ]


async def app_latencies(
    mongo_uri: str, database: str, sids: list[str]
) -> tuple[list[float], list[float], list[tuple[str, float, str | None]]]:
    """The app's own figures from the call records: greeting (session start → first media written),
    per turn `speech_stopped` received → first media written to Twilio (PROTOCOLS.md §3.4 T3 − T0), and
    each tool call's duration (the tool registry's own clock)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri, serverSelectionTimeoutMS=5000)
    try:
        calls = client[database]["calls"]
        deadline = time.monotonic() + 15
        while True:
            records = await calls.find({"_id": {"$in": sids}}).to_list(None)
            done = [r for r in records if r.get("ended_at")]
            if len(done) >= len(sids) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
    finally:
        await client.close()
    greetings = [r["latencies"]["greeting_ms"] for r in done if r["latencies"].get("greeting_ms") is not None]
    turns = [t["speech_end_to_audio_ms"] for r in done for t in r["latencies"]["turns"]]
    tools = [(t["name"], t["duration_ms"], t.get("error")) for r in done for t in r.get("tool_calls") or []]
    return greetings, turns, tools


async def run_level(n: int, mongo: LocalMongo, args: argparse.Namespace, workdir: Path) -> Level:
    from bench.byte_probe import ByteRelayProbe, inbound_delays  # it builds on this module's RelayProbe

    # The app coalesces frames into fewer appends: frames are matched by audio byte offset, not index.
    probe = ByteRelayProbe()
    # One greeting pitch for every session (the default varies it per session): with the memoised tone()
    # the greeting audio is synthesised once, here, instead of in the middle of the measurement.
    script = Script(
        greeting_ms=GREETING_MS,
        reply_ms=REPLY_MS,
        response_latency_s=0.0,
        tone_hz=GREETING_HZ,
        turns=script_turns(args.turns, args.tool_every),
    )
    memo_tone(GREETING_MS, GREETING_HZ)
    realtime = bench_fake_realtime(probe, script)
    tools = ToolProbe()
    if args.tool_every:
        realtime.on_server_event = tools.on_server_event

        def on_client_event(session: FakeSession, event: Any, received_at: float) -> None:
            probe.on_client_event(session, event, received_at)
            tools.on_client_event(session, event, received_at)

        realtime.on_client_event = on_client_event
    await realtime.start()
    rest = FakeTwilioRest(ACCOUNT_SID, AUTH_TOKEN)
    await rest.start()
    port = free_port()
    database = f"bench_bridge_{uuid.uuid4().hex[:8]}"
    options = app_options(mongo.uri, database, realtime.url, rest.base_url)
    if args.tool_every:
        await seed_bench_database(mongo.uri, database)
    for assignment in args.app_setting:
        options += ["--setting", assignment]
    options += [APP_PATCHES[patch] for patch in filter(None, args.app_patch.split(","))]
    ops_path = workdir / "op-costs.json"
    if args.op_costs:
        options += ["--op-costs", str(ops_path)]
    if args.pin:
        options += ["--cpu", str(APP_CPU)]
    app = AppProcess(options, app_env(), port, workdir)
    if args.stream_port:
        app.serve_streams_apart()
    sim: TwilioSimulator | None = None
    bench_lag = LoopLag()
    realtime_problems: list[str] = []
    try:
        app.start()
        await app.wait_healthy()
        # Baseline: the idle app (uvicorn, timers, and the 10 ms lag probe itself) for 2 s.
        idle0, idle_t0 = proc_cpu_s(app.pid), time.monotonic()
        await asyncio.sleep(2.0)
        idle_pct = (proc_cpu_s(app.pid) - idle0) / (time.monotonic() - idle_t0) * 100
        sim = TwilioSimulator(
            app_base_url=app.url, public_base_url=PUBLIC_BASE_URL, account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN
        )
        sim.stream_base_url = app.stream_url
        rest.attach(sim)

        # Warm-up: the app's first call pays one-off costs (lazy pydantic schemas, first connections).
        warm = await asyncio.wait_for(run_call(sim, 10**6, 0.0, 1, tone(SPEECH_MS, 1250)), 60)
        if warm.error:
            raise RuntimeError(f"warm-up call failed: {warm.error}\n{app.log_tail()}")
        sessions_before = len(realtime.sessions)
        await wait_until_async(lambda: app.active_calls(), 10, "warm-up call to end in the app")
        await asyncio.sleep(0.1)  # the app's probe writes its stats when the last call ends
        stats0 = app.stats()
        ops0 = op_costs.read(ops_path)  # written with the stats: the warm-up call's operations

        speeches = [speech_for(i) for i in range(n)]
        probe.speech_frames.update({s[:FRAME_BYTES]: i for i, s in enumerate(speeches)})
        loop = asyncio.get_running_loop()
        cpu0, bench0, db0, busy0, wall0 = proc_cpu(app.pid), self_cpu_s(), db_cpu(mongo), machine_busy_s(), loop.time()
        bench_lag.start()
        gc.disable()  # this process's own full collections would stall the fakes mid-measurement
        per_call_s = (GREETING_MS + args.turns * (SPEECH_MS + 500 + REPLY_MS)) / 1000
        level_timeout = args.stagger + per_call_s * 3 + 60
        tasks = [asyncio.create_task(run_call(sim, i, args.stagger * i / n, args.turns, speeches[i])) for i in range(n)]
        done, pending = await asyncio.wait(tasks, timeout=level_timeout)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        results = [t.result() if t in done else CallResult(i, error="level deadline") for i, t in enumerate(tasks)]
        measured = realtime.sessions[sessions_before:]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(s.closed.wait() for s in measured)), 15)
        cpu1, bench1, db1, busy1, wall1 = proc_cpu(app.pid), self_cpu_s(), db_cpu(mongo), machine_busy_s(), loop.time()
        gc.enable()
        await bench_lag.stop()
        rss = proc_peak_rss_mb(app.pid)
        with contextlib.suppress(TimeoutError, httpx.HTTPError):
            await wait_until_async(lambda: app.active_calls(), 10, "calls to end in the app")
        await asyncio.sleep(0.1)
        stats1 = app.stats()
        ops1 = op_costs.read(ops_path)
        counters = await app.metrics()
        app_greetings, app_turns, app_tools = await app_latencies(
            mongo.uri, database, [r.call_sid for r in results if r.call_sid]
        )
        silence = None
        if measured and measured[0].turn_detection:
            silence = measured[0].turn_detection.get("silence_duration_ms")
        try:
            realtime.assert_clean()
        except AssertionError as problem:
            realtime_problems.append(str(problem)[:2000])
        events: Counter[str] = Counter(e["type"] for s in measured for e in s.sent)
    finally:
        gc.enable()
        await bench_lag.stop()
        if sim is not None:
            await sim.aclose()
        app.stop()
        await rest.stop()
        try:
            await realtime.stop()
        except AssertionError as problem:  # FakeServerBug: the fake itself crashed
            realtime_problems.append(str(problem)[:2000])

    # Inbound relay: each frame the simulator sent ↔ the append holding its last byte, for each call whose
    # first speech frame sits at the same byte offset on both sides (i.e. nothing was lost or reordered).
    by_call = {p.call: p for p in probe.sessions if p.call is not None}
    relay: list[float] = []
    relay_calls = frames_sent = frames_appended = setup_frames = appends = 0
    for result in results:
        frames_sent += len(result.sent)
        matched = by_call.get(result.index)
        session_probe = probe.probes.get(matched.session) if matched is not None else None
        if session_probe is None:
            continue
        frames_appended += session_probe.in_bytes // FRAME_BYTES
        appends += len(session_probe.rx)
        if session_probe.first_speech_rx is not None and session_probe.first_speech_rx == result.first_speech_frame:
            relay_calls += 1
            # Frames sent before the app had its Realtime session wait for call set-up: counted apart.
            delays, skipped = inbound_delays(result.sent, session_probe)
            relay += delays
            setup_frames += skipped
    return Level(
        calls=n,
        results=results,
        relay_ms=relay,
        relay_calls=relay_calls,
        setup_frames=setup_frames,
        frames_sent=frames_sent,
        frames_appended=frames_appended,
        appends=appends,
        app_greeting_ms=app_greetings,
        app_turn_ms=app_turns,
        app_tools=app_tools,
        tool_round_trip_ms=tools.round_trip_ms,
        silence_ms=silence,
        realtime_problems=realtime_problems,
        app_counters=counters,
        wall_s=wall1 - wall0,
        call_seconds=sum(r.ended_at - r.started_at for r in results if r.started_at),
        app_cpu_s=sum(cpu1) - sum(cpu0),
        app_sys_s=cpu1[1] - cpu0[1],
        app_rss_mb=rss,
        app_lag_ms=[x * 1000 for x in stats1["lag_s"][len(stats0["lag_s"]) :]],
        app_gc2_ms=[x * 1000 for x in stats1["gc2_s"][len(stats0["gc2_s"]) :]],
        app_objects=stats1["objects"],
        app_full_gc_ms=stats1["full_gc_s"] * 1000,
        bench_cpu_s=bench1 - bench0,
        bench_lag_ms=[x * 1000 for x in bench_lag.samples],
        db_cpu_s=db1 - db0,
        other_cpu_s=max((busy1 - busy0) - (sum(cpu1) - sum(cpu0)) - (bench1 - bench0) - (db1 - db0), 0.0),
        server_events=events,
        cold_greeting_ms=warm.greeting_ms,
        app_idle_pct=idle_pct,
        op_costs={
            op: (count - ops0.get(op, (0, 0.0))[0], seconds - ops0.get(op, (0, 0.0))[1])
            for op, (count, seconds) in ops1.items()
        }
        if args.op_costs
        else {},
    )


def db_cpu(mongo: LocalMongo) -> float:
    return proc_cpu_s(mongo.process.pid) if mongo.process is not None else math.nan


# ----------------------------------------------------------------------------------------- report
def report(levels: list[Level], args: argparse.Namespace, elapsed_s: float) -> str:
    silence = next((lv.silence_ms for lv in levels if lv.silence_ms), 500)
    command = (
        ".venv/bin/python -m bench.bridge_load"
        + (f" --calls {args.calls}" if args.calls != DEFAULT_CALLS else "")
        + (f" --turns {args.turns}" if args.turns != 3 else "")
        + (f" --stagger {args.stagger:g}" if args.stagger != 1.0 else "")
        + (f" --app-patch {args.app_patch}" if args.app_patch else "")
        + "".join(f" --app-setting {a}" for a in args.app_setting)
        + ("" if args.pin else " --no-pin")
        + (" --stream-port" if args.stream_port else "")
        + (" --op-costs" if args.op_costs else "")
        + (f" --tool-every {args.tool_every}" if args.tool_every else "")
    )
    lines = [
        f"- Command: `{command}` (whole run {elapsed_s:.0f} s)",
        f"- Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPU cores, Python "
        f"{platform.python_version()}, {platform.system()} {platform.machine()}; app on uvloop, benchmark on asyncio; "
        + (
            f"app pinned to CPU {APP_CPU}, benchmark and FerretDB (at idle priority) to the other core(s)"
            if args.pin
            else "no CPU pinning"
        )
        + f"; product code at {git_revision()}",
        f"- Per call: greeting {GREETING_MS} ms, then {args.turns} turns of a {SPEECH_MS} ms tone + a {REPLY_MS} ms "
        f"reply played in full, then hang-up; calls start over {args.stagger:.1f} s; fake model think time 0, "
        f"audio generated at 10x real time in 100 ms deltas; fake VAD silence window {silence} ms",
        "",
        "Latency in ms, `p50 / p95 / p99 / max`:",
        "",
        "| calls | greeting (start → first audio at phone) | turn (last caller frame → first reply audio) "
        f"| turn − {silence} ms VAD window | inbound relay per frame (Twilio → Realtime) "
        "| app's own turn figure (speech_stopped → media written) |",
        "|---:|---|---|---|---|---|",
    ]
    for lv in levels:
        greetings = [r.greeting_ms for r in lv.results if r.greeting_ms is not None]
        turns = [t for r in lv.results for t in r.turn_ms]
        lines.append(
            f"| {lv.calls} | {dist(greetings)} | {dist(turns)} | {dist([t - silence for t in turns])} "
            f"| {dist_fine(lv.relay_ms)} | {dist_fine(lv.app_turn_ms)} |"
        )
    lines += [
        "",
        "Correctness (must be all zeros / complete):",
        "",
        "| calls | failed calls | inbound frames sent / appended / lost | outbound audio complete "
        "| protocol violations (fake Realtime + simulator) | app dropped stream msgs |",
        "|---:|---:|---|---|---:|---:|",
    ]
    for lv in levels:
        expected = (GREETING_MS + args.turns * REPLY_MS) * BYTES_PER_MS
        complete = sum(1 for r in lv.results if r.received_media_bytes == expected)
        dropped = lv.app_counters.get("voice_stream_messages_dropped_total", 0.0)
        lines.append(
            f"| {lv.calls} | {len(lv.failed)} | {lv.frames_sent} / {lv.frames_appended} / "
            f"{lv.frames_sent - lv.frames_appended} | {complete}/{lv.calls} | {len(lv.violations)} | {dropped:.0f} |"
        )
    lines += [
        "",
        "Resources over the measured window (first call placed → last Realtime session closed). CPU % is of one "
        "core (the machine has 2; kernel share in brackets); `ms/call-s` = app CPU per second of call; loop lag = "
        "how late a 10 ms sleep wakes up; full GCs = generation-2 collections in the app while calls were live:",
        "",
        "| calls | call length p50 / max s | app CPU % | app ms/call-s | app peak RSS MB "
        "| app loop lag p50 / p99 / max ms | app full GCs (n, max ms) | bench CPU % | bench loop lag p99 / max ms "
        "| FerretDB CPU % | rest of machine CPU % |",
        "|---:|---|---:|---:|---:|---|---|---:|---|---:|---:|",
    ]
    for lv in levels:
        lengths = [r.ended_at - r.started_at for r in lv.results if r.started_at and not r.error]
        lines.append(
            f"| {lv.calls} | {percentile(lengths, 50):.1f} / {max(lengths, default=math.nan):.1f} "
            f"| {lv.app_cpu_s / lv.wall_s * 100:.0f} ({lv.app_sys_s / lv.wall_s * 100:.0f}) "
            f"| {lv.app_cpu_s / max(lv.call_seconds, 1e-9) * 1000:.1f} | {lv.app_rss_mb:.0f} "
            f"| {percentile(lv.app_lag_ms, 50):.1f} / {percentile(lv.app_lag_ms, 99):.1f} / "
            f"{max(lv.app_lag_ms, default=0):.1f} "
            f"| {len(lv.app_gc2_ms)}, {max(lv.app_gc2_ms, default=0):.0f} "
            f"| {lv.bench_cpu_s / lv.wall_s * 100:.0f} "
            f"| {percentile(lv.bench_lag_ms, 99):.1f} / {max(lv.bench_lag_ms, default=0):.1f} "
            f"| {lv.db_cpu_s / lv.wall_s * 100:.0f} | {lv.other_cpu_s / lv.wall_s * 100:.0f} |"
        )
    handled = set(CallSession._control_handlers)
    last = levels[-1]
    per_call = max(len([r for r in last.results if not r.error]), 1)
    deltas = last.server_events.get("response.output_audio.delta", 0)
    others = sum(c for t, c in last.server_events.items() if t != "response.output_audio.delta")
    unhandled = sum(c for t, c in last.server_events.items() if t != "response.output_audio.delta" and t not in handled)
    lines += [
        "",
        f"- Relay matched on {sum(lv.relay_calls for lv in levels)} of {sum(lv.calls for lv in levels)} calls "
        "(frames matched by audio byte offset; the first speech frame sits at the same offset on both sides). "
        "Frames the phone sent while the app was still opening its Realtime session are left out of the relay figures: "
        + ", ".join(f"{lv.setup_frames / max(lv.relay_calls, 1):.1f}" for lv in levels)
        + " per call.",
        "- Idle app process (no call; uvicorn, timers and the 10 ms lag probe itself), CPU %: "
        + ", ".join(f"{lv.app_idle_pct:.1f}" for lv in levels)
        + ".",
        "- Cold first call of a fresh app process (the warm-up call, not in the tables): greeting "
        + ", ".join(f"{lv.cold_greeting_ms:.0f} ms" for lv in levels if lv.cold_greeting_ms is not None)
        + ".",
        f"- Caller audio per call ({last.calls}-call level): {last.frames_appended / per_call:.0f} frames from the "
        f"phone in {last.appends / per_call:.0f} appends.",
        f"- Server events per call ({last.calls}-call level): {deltas / per_call:.0f} audio deltas, "
        f"{others / per_call:.0f} other events, {unhandled / per_call:.0f} of them of a type the app has no handler "
        "for.",
        "- App heap right after the calls ended (gc-tracked objects) and the time one full `gc.collect()` then "
        "took, i.e. how long every live call's audio would stall if a full collection ran mid-call: "
        + "; ".join(f"{lv.calls}: {lv.app_objects / 1000:.0f}k objects, {lv.app_full_gc_ms:.0f} ms" for lv in levels)
        + ".",
        "- App greeting figure from its call records (session start → first media written), p50 / p99: "
        + "; ".join(
            f"{lv.calls}: {percentile(lv.app_greeting_ms, 50):.0f} / {percentile(lv.app_greeting_ms, 99):.0f} ms"
            for lv in levels
        )
        + ".",
    ]
    if args.tool_every:
        lines += [
            "",
            f"Tool calls (`--tool-every {args.tool_every}`: every {args.tool_every}th turn asks for one, in turn "
            + ", ".join(name for name, _ in TOOL_TURNS)
            + "; sample data seeded), ms, `p50 / p95 / p99 / max`:",
            "",
            "| calls | tool calls | in the app (call records) "
            "| round trip at the fake (arguments done → output read) |",
            "|---:|---:|---|---|",
        ]
        for lv in levels:
            lines.append(
                f"| {lv.calls} | {len(lv.app_tools)} | {dist_fine([ms for _, ms, _ in lv.app_tools])} "
                f"| {dist_fine(lv.tool_round_trip_ms)} |"
            )
        for lv in levels:
            by_tool: dict[tuple[str, str | None], list[float]] = {}
            for name, ms, error in lv.app_tools:
                by_tool.setdefault((name, error), []).append(ms)
            lines.append(
                f"- {lv.calls} calls, in the app by tool and outcome: "
                + "; ".join(
                    f"{name} ({error or 'ok'}) ×{len(values)}: {dist_fine(values)}"
                    for (name, error), values in sorted(by_tool.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
                )
            )
    for lv in levels:
        if lv.op_costs:
            title = f"Operations inside the app ({lv.calls} calls, `--op-costs`; rows nest, see bench/op_costs.py):"
            lines += ["", title, ""]
            lines += op_costs.table(lv.op_costs, lv.app_cpu_s)
    for lv in levels:
        for r in lv.failed[:5]:
            lines.append(f"- FAILED ({lv.calls} calls) call {r.index}: {r.error}")
        for v in lv.violations[:5]:
            lines.append(f"- VIOLATION ({lv.calls} calls): {v[:300]}")
    return "\n".join(lines)


def git_output(repo: Path, *arguments: str) -> str:
    """Read-only git query in `repo`; "" if git fails."""
    try:
        return subprocess.run(
            ["git", *arguments], cwd=repo, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def git_revision() -> str:
    """The commit the app ran from, marked when the product code (anything but bench/) has local changes."""
    head = git_output(REPO, "rev-parse", "--short", "HEAD")
    if not head:
        return "unknown commit"
    dirty = git_output(REPO, "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)bench")
    return f"{head} + local changes" if dirty else head


@contextlib.contextmanager
def workspace() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="bridge-load-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


async def amain(args: argparse.Namespace) -> int:
    levels_wanted = [int(x) for x in args.calls.split(",") if x.strip()]
    started = time.monotonic()
    levels: list[Level] = []
    check_fake_speed_ups()
    gc.collect()
    gc.freeze()  # the benchmark's own start-up objects: keeps its full collections short
    with workspace() as workdir, LocalMongo() as mongo:
        if args.pin:
            # FerretDB only serves the app's database calls (in production the database is on other
            # machines): it gets idle CPU time only, and not on the app's core. The app gets a core of its
            # own (its one event loop cannot use more); this process and its threads get the rest.
            if mongo.process is not None:
                idle_priority(mongo.process.pid)
                off_app_cpu(mongo.process.pid)
            os.sched_setaffinity(0, set(range(os.cpu_count() or 1)) - {APP_CPU})
        for n in levels_wanted:
            print(f"--- {n} concurrent calls", flush=True)
            level = await asyncio.wait_for(run_level(n, mongo, args, workdir), timeout=args.level_timeout)
            levels.append(level)
            turns = [t for r in level.results for t in r.turn_ms]
            print(
                f"    greeting p50 {percentile([r.greeting_ms for r in level.results if r.greeting_ms], 50):.0f} ms, "
                f"turn p50 {percentile(turns, 50):.0f} ms p99 {percentile(turns, 99):.0f} ms, "
                f"relay p99 {percentile(level.relay_ms, 99):.1f} ms, failed {len(level.failed)}, "
                f"violations {len(level.violations)}, app CPU {level.app_cpu_s / level.wall_s * 100:.0f} %, "
                f"bench CPU {level.bench_cpu_s / level.wall_s * 100:.0f} %",
                flush=True,
            )
    print()
    print(report(levels, args, time.monotonic() - started))
    bad = any(lv.failed or lv.violations or lv.frames_sent != lv.frames_appended for lv in levels)
    return 1 if bad else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", default=DEFAULT_CALLS, help="comma-separated concurrency levels")
    parser.add_argument("--turns", type=int, default=3, help="caller turns per call")
    parser.add_argument("--stagger", type=float, default=1.0, help="seconds over which a level's calls start")
    parser.add_argument(
        "--app-patch",
        default="",
        help="experiment, not the product: comma-separated fixes applied by the app launcher, bench.app_server "
        f"({', '.join(APP_PATCHES)})",
    )
    parser.add_argument(
        "--app-setting",
        "--app-env",
        dest="app_setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra setting for the app process, e.g. OPENAI_PREOPEN=false (repeatable; bench.app_server --setting)",
    )
    parser.add_argument(
        "--no-pin",
        dest="pin",
        action="store_false",
        help="do not give the app a core of its own (default: pinned when the machine has 2+ cores)",
    )
    parser.add_argument(
        "--stream-port",
        action="store_true",
        help="run the app with STREAM_PORT: its media streams on the aiohttp listener (api/stream_listener.py)",
    )
    parser.add_argument(
        "--op-costs",
        action="store_true",
        help="time a few of the call path's operations inside the app as it runs (bench/op_costs.py)",
    )
    parser.add_argument(
        "--tool-every",
        type=int,
        default=0,
        metavar="K",
        help="every K-th turn the model calls a tool first (on the seeded sample data): tool latency with calls live",
    )
    parser.add_argument("--level-timeout", type=float, default=150.0, help="hard limit per level, seconds")
    args = parser.parse_args()
    args.pin = args.pin and (os.cpu_count() or 1) >= 2
    unknown = set(filter(None, args.app_patch.split(","))) - set(APP_PATCHES)
    if unknown:
        parser.error(f"unknown --app-patch {sorted(unknown)}; choose from {', '.join(APP_PATCHES)}")
    # The standard loop on purpose: the fakes stamp events with loop.time(), which on uvloop is the
    # millisecond clock cached at the start of each loop iteration; asyncio's is time.monotonic().
    sys.exit(asyncio.run(amain(args)))


if __name__ == "__main__":
    main()
