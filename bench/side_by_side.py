"""Side by side: our bridge, a bare relay and the official Twilio sample under the same load.

Targets, each a fresh process pinned to CPU 0 per run, with fresh fakes (fake Realtime server, fake
Twilio REST, Twilio simulator) in this process, as `bench.bridge_load` runs them:
- `ours`: the app as `bench.bridge_load` runs it (`python -m bench.app_server`, FerretDB behind it);
- `bare`: `bench/bare_relay.py`, the floor (aiohttp + websockets, nothing but the relay);
- `sample`: `main.py` of twilio-samples/speech-assistant-openai-realtime-api-python from a scratch copy
  outside the repository (`--sample-dir`, default /tmp/twilio-sample; get it with
  `git clone https://github.com/twilio-samples/speech-assistant-openai-realtime-api-python /tmp/twilio-sample`).
  Its main.py is copied to the temporary work directory and patched in two places only: the OpenAI URL
  points at the fake, and `send_initial_conversation_item` is uncommented so it greets first like ours.
  It runs with this repository's venv (uvicorn picks uvloop and httptools, as for ours). No sample
  directory: that target is skipped.

R rounds × each level N of --calls: the targets run one after the other (their order rotated every
round) under the same simulated callers: greeting played, --turns turns (600 ms of speech, the 500 ms
VAD window, a 1.5 s reply played in full), hang-up; 16 turns make a ~45 s measured window.

Per target and level: the median (min–max over rounds) of the bridge's CPU s per call-minute (from
/proc), RSS per call ((peak RSS during the calls − RSS before them) / N; the peak is reset after the
warm-up call), relay delay p50/p99 both ways (`bench.byte_probe`: inbound Twilio frame sent → the fake
reading the append holding it; outbound fake sending an audio delta → the phone receiving it), inbound
also per append (its newest frame only: the relay's own delay, without the time a batching bridge holds
a batch's older frames on purpose), for the caller's speech frames alone and for the VAD-trigger ones
(the frames whose arrival made the fake's server VAD fire `speech_started` or `speech_stopped`: how late
the caller is heard to start or to end a turn), frames and bytes lost, failed calls; then the ratios
ours/sample and ours/bare. Call set-up is left out of the relay figures: frames the phone sent before
the bridge's Realtime session connected, and audio the fake sent before the phone's stream started (ours
opens the session and has the greeting generated at webhook time, so its first deltas wait for the
stream: set-up, not relay).

The fake answers every handshake and starts every response at once by default, and the phone opens its
stream as soon as it has the TwiML, which keeps the relay figures about the relay. The greeting then
measures set-up only. `--connect-delay`, `--think` and `--twilio-gap` give the OpenAI handshake, the
model's time to first audio and Twilio's TwiML-to-stream gap real values, for the greeting as a caller
waits for it ("answer to greeting": the answer webhook → the first greeting audio at the phone).

    .venv/bin/python -m bench.side_by_side                               # 10, 25, 50 calls, ~9 min
    .venv/bin/python -m bench.side_by_side --calls 5 --turns 2 --rounds 1   # smoke, ~1 min
    .venv/bin/python -m bench.side_by_side --calls 50 --stream-port --connect-delay 0.3 --think 0.4 --twilio-gap 0.2

This process and each bridge get their autogroups (sessions) raised to nice -10 (`--autogroup-nice`):
with autogroups on, other people's `nice -n 19` jobs in their own sessions would otherwise share the
bridge's core equally. Exits 1 if a call failed or audio was lost in any run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import math
import os
import platform
import shutil
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench import bridge_load as bl
from bench.byte_probe import (
    ByteRelayProbe,
    append_completing_frames,
    inbound_delays,
    outbound_delays,
    vad_trigger_frames,
)
from devtools.ferretdb import LocalMongo, free_port
from tests.fakes.mulaw import tone
from tests.fakes.realtime_server import FakeSession, Script
from tests.fakes.twilio_rest import FakeTwilioRest
from tests.fakes.twilio_sim import SimulatedCall, TwilioSimulator
from tests.stack import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL

TARGETS = ("ours", "bare", "sample")
DEFAULT_CALLS = "10,25,50"
# After the last hang-up, how long the bridge may take to close its Realtime sessions before the
# measured window ends anyway (the sample never closes them: Starlette's iter_text() swallows the
# disconnect its `except WebSocketDisconnect` waits for).
SESSION_CLOSE_S = 3.0
SAMPLE_URL = "https://github.com/twilio-samples/speech-assistant-openai-realtime-api-python"
SAMPLE_PATCHES = (  # (what main.py says, what the bench runs): each must occur exactly once
    ("wss://api.openai.com/v1", "{realtime_url}"),
    ("    # await send_initial_conversation_item(openai_ws)", "    await send_initial_conversation_item(openai_ws)"),
)


class Bridge(bl.AppProcess):
    """Any bridge server in its own process (`taskset` pins it), healthy once `health_path` answers."""

    def __init__(self, argv: list[str], env: dict[str, str], port: int, workdir: Path, health: str, pin: bool):
        super().__init__([], env, port, workdir)
        self.argv, self.health_path, self.pin = argv, health, pin

    def command(self) -> list[str]:
        return ["taskset", "-c", str(bl.APP_CPU), *self.argv] if self.pin else self.argv


def sample_revision(sample_dir: Path) -> str:
    return bl.git_output(sample_dir, "rev-parse", "--short", "HEAD") or "unknown commit"


def patched_sample(sample_dir: Path, workdir: Path, realtime_url: str) -> Path:
    text = (sample_dir / "main.py").read_text()
    for old, new in SAMPLE_PATCHES:
        if text.count(old) != 1:
            raise RuntimeError(f"sample main.py: expected {old.strip()!r} exactly once (another sample version?)")
        text = text.replace(old, new.format(realtime_url=realtime_url))
    target = workdir / "sample" / "main.py"
    target.parent.mkdir(exist_ok=True)
    target.write_text(text)
    return target


def make_bridge(target: str, args: argparse.Namespace, workdir: Path, urls: tuple[str, str, str]) -> bl.AppProcess:
    mongo_uri, realtime_url, rest_url = urls
    port = free_port()
    if target == "ours":
        options = bl.app_options(mongo_uri, f"bench_sbs_{uuid.uuid4().hex[:8]}", realtime_url, rest_url)
        pin = ["--cpu", str(bl.APP_CPU)] if args.pin else []
        pin += [flag for setting in args.setting for flag in ("--setting", setting)]
        # No loop-lag probe: nothing here reads it, and the other targets carry none.
        app = bl.AppProcess([*options, *pin], bl.app_env(), port, workdir, probe=False)
        if args.stream_port:
            app.serve_streams_apart()
        return app
    if target == "bare":
        argv = [sys.executable, "-m", "bench.bare_relay", "--port", str(port), "--realtime-url", realtime_url]
        return Bridge(argv, bl.app_env(), port, workdir, "/health", args.pin)
    main_py = patched_sample(args.sample_dir, workdir, realtime_url)
    env = {**bl.app_env(), "PORT": str(port), "OPENAI_API_KEY": "sk-bench-fake"}
    env.pop("PYTHONPATH")
    return Bridge([sys.executable, str(main_py)], env, port, workdir, "/", args.pin)


async def sessions_closed(sessions: list[FakeSession], timeout: float) -> int:
    """Wait until the bridge has closed every Realtime session, at most `timeout` s; how many it left open."""
    with contextlib.suppress(TimeoutError):
        await bl.wait_until(lambda: all(s.closed.is_set() for s in sessions), timeout, "sessions closed", 0.02)
    return sum(1 for s in sessions if not s.closed.is_set())


def raise_autogroup(pid: int, nice: int) -> str:
    """Give the autogroup (the session) of `pid` the scheduling weight of `nice`. With autogroups on
    (/proc/sys/kernel/sched_autogroup_enabled) the CPU is shared fairly between sessions first and a
    thread's nice only counts within its own session, so other people's `nice -n 19` jobs, each in its
    own session, would still take an equal share of the bridge's core. Needs root for nice < 0."""
    try:
        Path(f"/proc/{pid}/autogroup").write_text(str(nice))
        return Path(f"/proc/{pid}/autogroup").read_text().strip()
    except OSError as error:
        return f"not set ({error.strerror})"


def reset_peak_rss(pid: int) -> None:
    """VmHWM := VmRSS now (Linux ≥ 4.0), so the peak read later is the peak during the calls."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


# ----------------------------------------------------------------------------------------- one run
@dataclass
class Run:
    target: str
    calls: int
    cpu_per_call_min: float
    rss_per_call_kib: float
    inbound_ms: list[float]
    append_ms: list[float]  # inbound relay of each append's newest frame (`append_completing_frames`)
    speech_ms: list[float]  # inbound relay of the caller's speech frames only
    turn_ms: list[float]  # inbound relay of the frames that made the server VAD act (`vad_trigger_frames`)
    outbound_ms: list[float]
    greeting_ms: list[float]  # stream `start` sent → first assistant audio at the phone
    answer_ms: list[float]  # the answer webhook asked → first assistant audio at the phone (the caller's wait)
    matched: int  # calls whose Realtime session was found at the right byte offset
    setup_frames: int  # inbound frames sent before the Realtime session connected (not in inbound_ms)
    setup_deltas: int  # audio deltas the fake sent before the phone's stream started (not in outbound_ms)
    frames_lost: float  # inbound: (bytes the phone sent − bytes appended) / 160
    out_bytes_lost: int  # outbound: bytes the fake sent − bytes the phone received
    failed: list[str]
    violations: list[str]
    bridge_cpu_pct: float
    bench_lag_p99_ms: float
    bench_cpu_pct: float  # this process (simulator + fakes), % of one core
    rest_cpu_pct: float  # the rest of the machine (FerretDB, other people's jobs), % of one core
    sessions_left_open: int  # Realtime sessions still open SESSION_CLOSE_S after the last hang-up
    extensions: set[str] = field(default_factory=set)


def speech_frames(call: SimulatedCall) -> set[int]:
    """Indices of the frames that carried the caller's speech (each `say()`), from their timestamps."""
    frames: set[int] = set()
    for spoken in call.speech:
        if spoken.first_timestamp_ms is not None and spoken.last_timestamp_ms is not None:
            frames.update(range(spoken.first_timestamp_ms // bl.FRAME_MS, spoken.last_timestamp_ms // bl.FRAME_MS + 1))
    return frames


async def run_once(target: str, n: int, args: argparse.Namespace, workdir: Path, mongo: LocalMongo) -> Run:
    probe = ByteRelayProbe()
    script = Script(
        greeting_ms=bl.GREETING_MS, reply_ms=bl.REPLY_MS, response_latency_s=args.think, tone_hz=bl.GREETING_HZ
    )
    realtime = bl.bench_fake_realtime(probe, script, on_server_event=probe.on_server_event)
    realtime.connect_delay_s = args.connect_delay
    await realtime.start()
    rest = FakeTwilioRest(ACCOUNT_SID, AUTH_TOKEN)
    await rest.start()
    bridge = make_bridge(target, args, workdir, (mongo.uri, realtime.url, rest.base_url))
    sim: TwilioSimulator | None = None
    lag = bl.LoopLag()
    problems: list[str] = []
    calls: dict[str, SimulatedCall] = {}
    try:
        bridge.start()
        if args.autogroup_nice is not None:
            raise_autogroup(bridge.pid, args.autogroup_nice)  # its own session (start_new_session)
        await bridge.wait_healthy()
        sim = TwilioSimulator(
            app_base_url=bridge.url, public_base_url=PUBLIC_BASE_URL, account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN
        )
        sim.stream_base_url = bridge.stream_url
        rest.attach(sim)
        sim.add_call_listener(lambda call: calls.__setitem__(call.call_sid, call))
        warm = await asyncio.wait_for(bl.run_call(sim, 10**6, 0.0, 1, tone(bl.SPEECH_MS, 1250)), 60)
        if warm.error:
            raise RuntimeError(f"{target}: warm-up call failed: {warm.error}\n{bridge.log_tail()}")
        sessions_before = len(realtime.sessions)
        await sessions_closed(realtime.sessions, SESSION_CLOSE_S)
        await asyncio.sleep(0.5)  # the bridge finishes the warm-up call's bookkeeping
        speeches = [bl.speech_for(i) for i in range(n)]
        probe.speech_frames.update({s[: bl.FRAME_BYTES]: i for i, s in enumerate(speeches)})
        reset_peak_rss(bridge.pid)
        rss0 = bl.proc_status_kib(bridge.pid, "VmRSS")
        loop = asyncio.get_running_loop()
        cpu0, bench0, busy0, wall0 = bl.proc_cpu_s(bridge.pid), bl.self_cpu_s(), bl.machine_busy_s(), loop.time()
        lag.start()
        gc.disable()  # this process's own full collections would stall the fakes mid-measurement
        per_call_s = (bl.GREETING_MS + args.turns * (bl.SPEECH_MS + 500 + bl.REPLY_MS)) / 1000
        tasks = [
            asyncio.create_task(bl.run_call(sim, i, i / n, args.turns, speeches[i], args.twilio_gap)) for i in range(n)
        ]
        done, pending = await asyncio.wait(tasks, timeout=1 + per_call_s * 3 + 60)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        results = [t.result() if t in done else bl.CallResult(i, error="run deadline") for i, t in enumerate(tasks)]
        measured = realtime.sessions[sessions_before:]
        leaked = await sessions_closed(measured, SESSION_CLOSE_S)
        cpu1, bench1, busy1, wall1 = bl.proc_cpu_s(bridge.pid), bl.self_cpu_s(), bl.machine_busy_s(), loop.time()
        gc.enable()
        await lag.stop()
        peak = bl.proc_status_kib(bridge.pid, "VmHWM")
        try:
            realtime.assert_clean()
        except AssertionError as problem:
            problems.append(str(problem)[:2000])
    finally:
        gc.enable()
        await lag.stop()
        if sim is not None:
            await sim.aclose()
        try:  # first: a bridge that leaked its Realtime sockets (the sample) then exits at once on SIGTERM
            await realtime.stop()
        except AssertionError as problem:  # the fake itself crashed
            problems.append(str(problem)[:2000])
        bridge.stop()
        await rest.stop()

    by_call = {p.call: p for p in probe.sessions if p.call is not None}
    inbound: list[float] = []
    per_append: list[float] = []
    speech: list[float] = []
    turn: list[float] = []
    outbound: list[float] = []
    greetings: list[float] = []
    answers: list[float] = []
    matched = setup = out_setup = 0
    in_lost = out_lost = 0
    extensions = {f"Realtime: {s.ws_extensions or 'none'}" for s in measured}
    for result in results:
        call = calls.get(result.call_sid)
        if call is not None and call.ws is not None and call.ws.response is not None:
            extensions.add(f"Twilio: {call.ws.response.headers.get('Sec-WebSocket-Extensions') or 'none'}")
        session_probe = probe.probes.get(by_call[result.index].session) if result.index in by_call else None
        if session_probe is None or call is None:
            in_lost += len(result.sent) * bl.FRAME_BYTES
            continue
        in_lost += len(result.sent) * bl.FRAME_BYTES - session_probe.in_bytes
        out_lost += session_probe.out_bytes - call.received_media_bytes
        if session_probe.first_speech_rx == result.first_speech_frame:
            matched += 1
            delays, skipped = inbound_delays(result.sent, session_probe)
            inbound += delays
            setup += skipped
            per_append += inbound_delays(result.sent, session_probe, append_completing_frames(session_probe))[0]
            speech += inbound_delays(result.sent, session_probe, speech_frames(call))[0]
            turn += inbound_delays(result.sent, session_probe, vad_trigger_frames(session_probe))[0]
            if call.first_media_at is not None and call.t0 is not None:
                greetings.append((call.first_media_at - call.t0) * 1000)
                answers.append((call.first_media_at - result.placed_at) * 1000)
            delays, skipped = outbound_delays(call, session_probe)
            outbound += delays
            out_setup += skipped
    call_minutes = sum(r.ended_at - r.started_at for r in results if r.started_at) / 60
    return Run(
        target=target,
        calls=n,
        cpu_per_call_min=(cpu1 - cpu0) / max(call_minutes, 1e-9),
        rss_per_call_kib=(peak - rss0) / n,
        inbound_ms=inbound,
        append_ms=per_append,
        speech_ms=speech,
        turn_ms=turn,
        outbound_ms=outbound,
        greeting_ms=greetings,
        answer_ms=answers,
        matched=matched,
        setup_frames=setup,
        setup_deltas=out_setup,
        frames_lost=in_lost / bl.FRAME_BYTES,
        out_bytes_lost=out_lost,
        failed=[f"call {r.index}: {r.error}" for r in results if r.error],
        violations=[v for r in results for v in r.violations] + problems,
        bridge_cpu_pct=(cpu1 - cpu0) / (wall1 - wall0) * 100,
        bench_lag_p99_ms=bl.percentile([x * 1000 for x in lag.samples], 99),
        bench_cpu_pct=(bench1 - bench0) / (wall1 - wall0) * 100,
        rest_cpu_pct=max(busy1 - busy0 - (cpu1 - cpu0) - (bench1 - bench0), 0.0) / (wall1 - wall0) * 100,
        sessions_left_open=leaked,
        extensions=extensions,
    )


# ----------------------------------------------------------------------------------------- report
METRICS: list[tuple[str, Callable[[Run], float], str]] = [
    ("CPU s per call-minute", lambda r: r.cpu_per_call_min, "{:.2f}"),
    ("RSS per call KiB", lambda r: r.rss_per_call_kib, "{:.0f}"),
    ("inbound relay p50 ms", lambda r: bl.percentile(r.inbound_ms, 50), "{:.1f}"),
    ("inbound relay p99 ms", lambda r: bl.percentile(r.inbound_ms, 99), "{:.1f}"),
    ("inbound per-append relay p50 ms", lambda r: bl.percentile(r.append_ms, 50), "{:.1f}"),
    ("inbound per-append relay p99 ms", lambda r: bl.percentile(r.append_ms, 99), "{:.1f}"),
    ("inbound speech relay p50 ms", lambda r: bl.percentile(r.speech_ms, 50), "{:.1f}"),
    ("inbound speech relay p99 ms", lambda r: bl.percentile(r.speech_ms, 99), "{:.1f}"),
    ("inbound VAD-trigger relay p50 ms", lambda r: bl.percentile(r.turn_ms, 50), "{:.1f}"),
    ("inbound VAD-trigger relay p99 ms", lambda r: bl.percentile(r.turn_ms, 99), "{:.1f}"),
    ("outbound relay p50 ms", lambda r: bl.percentile(r.outbound_ms, 50), "{:.1f}"),
    ("outbound relay p99 ms", lambda r: bl.percentile(r.outbound_ms, 99), "{:.1f}"),
    ("greeting p50 ms", lambda r: bl.percentile(r.greeting_ms, 50), "{:.0f}"),
    ("greeting p99 ms", lambda r: bl.percentile(r.greeting_ms, 99), "{:.0f}"),
    ("answer to greeting p50 ms", lambda r: bl.percentile(r.answer_ms, 50), "{:.0f}"),
    ("answer to greeting p99 ms", lambda r: bl.percentile(r.answer_ms, 99), "{:.0f}"),
]


def median(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return statistics.median(finite) if finite else math.nan


def cell(values: list[float], fmt: str) -> str:
    """Median (min–max) over rounds."""
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        return "–"
    shown = fmt.format(statistics.median(finite))
    return shown if len(finite) == 1 else f"{shown} ({fmt.format(min(finite))}–{fmt.format(max(finite))})"


def ratio(a: float, b: float) -> str:
    return "–" if math.isnan(a) or math.isnan(b) or b == 0 else f"{a / b:.2f}"


def report(runs: list[Run], args: argparse.Namespace, notes: list[str], elapsed_s: float) -> str:
    levels = sorted({r.calls for r in runs})
    targets = [t for t in TARGETS if any(r.target == t for r in runs)]
    lines = [
        f"- Command: `{command_line(args)}` (whole run {elapsed_s / 60:.1f} min)",
        f"- Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPU cores, Python "
        f"{platform.python_version()}, {platform.system()} {platform.machine()}; "
        + (
            f"bridge pinned to CPU {bl.APP_CPU}, this process and FerretDB (at idle priority) to the rest"
            if args.pin
            else "no CPU pinning"
        )
        + f"; ours at {bl.git_revision()}",
        *notes,
        f"- Per call: greeting {bl.GREETING_MS} ms, {args.turns} turns of {bl.SPEECH_MS} ms speech + {bl.REPLY_MS} ms "
        f"reply played in full, hang-up; calls start over 1 s; fake OpenAI handshake {args.connect_delay:g} s, model "
        f"think time {args.think:g} s, audio at 10x real time; Twilio opens the stream "
        f"{args.twilio_gap:g} s after the TwiML",
        "",
        "Median (min–max over rounds); relay delays over all matched frames of a run:",
        "",
        "| calls | target | runs | " + " | ".join(name for name, _, _ in METRICS) + " | frames lost | outbound bytes "
        "lost | failed calls | protocol violations | bridge CPU % | bench CPU % | bench loop lag p99 ms "
        "| rest of machine CPU % |",
        "|---:|---|---:|" + "---:|" * (len(METRICS) + 8),
    ]
    for n in levels:
        for target in targets:
            mine = [r for r in runs if r.calls == n and r.target == target]
            lines.append(
                f"| {n} | {target} | {len(mine)} | "
                + " | ".join(cell([get(r) for r in mine], fmt) for _, get, fmt in METRICS)
                + f" | {sum(r.frames_lost for r in mine):.0f} | {sum(r.out_bytes_lost for r in mine)} "
                f"| {sum(len(r.failed) for r in mine)} | {sum(len(r.violations) for r in mine)} "
                f"| {cell([r.bridge_cpu_pct for r in mine], '{:.0f}')} "
                f"| {cell([r.bench_cpu_pct for r in mine], '{:.0f}')} "
                f"| {cell([r.bench_lag_p99_ms for r in mine], '{:.1f}')} "
                f"| {cell([r.rest_cpu_pct for r in mine], '{:.0f}')} |"
            )
    lines += ["", "Ratios of the medians (below 1: ours is leaner / faster):", ""]
    lines += ["| calls | ratio | " + " | ".join(name for name, _, _ in METRICS) + " |"]
    lines += ["|---:|---|" + "---:|" * len(METRICS)]
    for n in levels:
        ours = [r for r in runs if r.calls == n and r.target == "ours"]
        for other in ("sample", "bare"):
            theirs = [r for r in runs if r.calls == n and r.target == other]
            if ours and theirs:
                cells = [ratio(median([g(r) for r in ours]), median([g(r) for r in theirs])) for _, g, _ in METRICS]
                lines.append(f"| {n} | ours/{other} | " + " | ".join(cells) + " |")
    for target in targets:
        mine = [r for r in runs if r.target == target]
        extensions = sorted(set().union(*(r.extensions for r in mine)))
        lines.append(
            f"- {target}: relay matched on {sum(r.matched for r in mine)} of {sum(r.calls for r in mine)} calls; "
            f"{sum(r.setup_frames for r in mine) / max(sum(r.matched for r in mine), 1):.1f} frames per call sent "
            f"before its Realtime session connected, "
            f"{sum(r.setup_deltas for r in mine) / max(sum(r.matched for r in mine), 1):.1f} audio deltas per call "
            "sent by the fake before the stream started (both left out); Realtime sessions still open "
            f"{SESSION_CLOSE_S:.0f} s after the hang-up: {sum(r.sessions_left_open for r in mine)}; "
            f"WebSocket extensions: {'; '.join(extensions)}"
        )
        for r in mine:
            lines += [f"- FAILED ({target}, {r.calls} calls) {f}" for f in r.failed[:3]]
            lines += [f"- VIOLATION ({target}, {r.calls} calls) {v[:300]}" for v in r.violations[:3]]
    return "\n".join(lines)


def command_line(args: argparse.Namespace) -> str:
    return (
        ".venv/bin/python -m bench.side_by_side"
        + (f" --calls {args.calls}" if args.calls != DEFAULT_CALLS else "")
        + (f" --turns {args.turns}" if args.turns != 16 else "")
        + (f" --rounds {args.rounds}" if args.rounds != 1 else "")
        + (f" --targets {args.targets}" if args.targets != ",".join(TARGETS) else "")
        + (f" --sample-dir {args.sample_dir}" if str(args.sample_dir) != "/tmp/twilio-sample" else "")
        + ("" if args.pin else " --no-pin")
        + (" --stream-port" if args.stream_port else "")
        + "".join(f" --setting {setting}" for setting in args.setting)
        + (f" --connect-delay {args.connect_delay:g}" if args.connect_delay else "")
        + (f" --think {args.think:g}" if args.think else "")
        + (f" --twilio-gap {args.twilio_gap:g}" if args.twilio_gap else "")
    )


async def amain(args: argparse.Namespace) -> int:
    started = time.monotonic()
    levels = [int(x) for x in args.calls.split(",") if x.strip()]
    targets = [t for t in args.targets.split(",") if t]
    notes: list[str] = []
    if "sample" in targets:
        if (args.sample_dir / "main.py").is_file():
            notes.append(f"- Twilio sample: {SAMPLE_URL} at {sample_revision(args.sample_dir)} ({args.sample_dir})")
        else:
            targets.remove("sample")
            line = f"- sample: skipped, no main.py in {args.sample_dir} (git clone {SAMPLE_URL} {args.sample_dir})"
            print(line, flush=True)
            notes.append(line)
    if args.autogroup_nice is not None:
        group = raise_autogroup(os.getpid(), args.autogroup_nice)
        notes.append(
            f"- Scheduling: this process's and each bridge's autogroup at nice {args.autogroup_nice} ({group})"
        )
    bl.check_fake_speed_ups()
    bl.memo_tone(bl.GREETING_MS, bl.GREETING_HZ)
    gc.collect()
    gc.freeze()
    runs: list[Run] = []
    with bl.workspace() as workdir, LocalMongo() as mongo:
        if args.pin:
            if mongo.process is not None:  # as bench.bridge_load: idle priority, off the bridge's core
                bl.idle_priority(mongo.process.pid)
                bl.off_app_cpu(mongo.process.pid)
            os.sched_setaffinity(0, set(range(os.cpu_count() or 1)) - {bl.APP_CPU})
        for round_ in range(args.rounds):
            for n in levels:
                shift = round_ % len(targets)
                for target in targets[shift:] + targets[:shift]:  # alternate: the order rotates every round
                    run = await asyncio.wait_for(run_once(target, n, args, workdir, mongo), args.run_timeout)
                    runs.append(run)
                    print(
                        f"--- round {round_ + 1} {n} calls {target}: CPU {run.cpu_per_call_min:.2f} s/call-min, "
                        f"RSS {run.rss_per_call_kib:.0f} KiB/call, in p99 {bl.percentile(run.inbound_ms, 99):.1f} ms, "
                        f"out p99 {bl.percentile(run.outbound_ms, 99):.1f} ms, lost {run.frames_lost:.0f} frames "
                        f"{run.out_bytes_lost} B, failed {len(run.failed)}, "
                        f"bench loop lag p99 {run.bench_lag_p99_ms:.1f} ms",
                        flush=True,
                    )
    print("\n" + report(runs, args, notes, time.monotonic() - started))
    return 1 if any(r.failed or r.frames_lost or r.out_bytes_lost for r in runs) else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", default=DEFAULT_CALLS, help="comma-separated concurrency levels")
    parser.add_argument("--turns", type=int, default=16, help="caller turns per call (16: ~45 s per call)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of every target at every level")
    parser.add_argument("--targets", default=",".join(TARGETS), help="comma-separated subset of ours,bare,sample")
    parser.add_argument("--sample-dir", type=Path, default=Path("/tmp/twilio-sample"), help="clone of the sample")
    parser.add_argument("--no-pin", dest="pin", action="store_false", help="do not pin the bridge to CPU 0")
    parser.add_argument(
        "--stream-port",
        action="store_true",
        help="ours with STREAM_PORT: its media streams on the aiohttp listener (api/stream_listener.py)",
    )
    parser.add_argument(
        "--autogroup-nice",
        type=int,
        default=-10,
        help="nice of this process's and the bridge's autogroups (default -10; see raise_autogroup)",
    )
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting of ours by its environment name, e.g. INBOUND_AUDIO_BATCH_MS=40 (repeatable)",
    )
    parser.add_argument("--no-autogroup", dest="autogroup_nice", action="store_const", const=None)
    parser.add_argument("--run-timeout", type=float, default=300.0, help="hard limit per run, seconds")
    parser.add_argument("--connect-delay", type=float, default=0.0, help="fake OpenAI handshake time, s (default 0)")
    parser.add_argument("--think", type=float, default=0.0, help="fake model time to first audio, s (default 0)")
    parser.add_argument(
        "--twilio-gap", type=float, default=0.0, help="Twilio's TwiML → stream start time, s (default 0: at once)"
    )
    args = parser.parse_args()
    args.pin = args.pin and (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None
    unknown = set(args.targets.split(",")) - set(TARGETS)
    if unknown:
        parser.error(f"unknown --targets {sorted(unknown)}; choose from {', '.join(TARGETS)}")
    sys.exit(asyncio.run(amain(args)))  # the standard loop, as bench.bridge_load explains


if __name__ == "__main__":
    main()
