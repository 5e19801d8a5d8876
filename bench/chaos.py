"""Chaos run: N concurrent calls through the real app while everything around it misbehaves.

This process runs FerretDB (a child process), the fake OpenAI Realtime server, the fake Twilio REST
API and the Twilio simulator; the app runs in its own process (`python -m bench.app_server`, i.e.
`app.serve()` under uvicorn), all on 127.0.0.1. `--calls` call slots each place calls back to back
for `--duration` seconds (no call starts later; calls under way finish). Each call:

1. is placed (signed voice webhook) and streams; waits for the greeting to play;
2. takes 3-6 caller turns (say 600 ms of speech, wait until the reply has played). Some turns make the
   fake model call a tool: `check_product_availability` (a database read), `create_ticket` (a database
   write, then an SMS through Twilio REST); one call in five ends with `transfer_to_human` (a REST
   redirect to the agent, which ends our stream when it succeeds). A turn not answered within
   `TURN_TIMEOUT_S` is said once more; a turn still unanswered makes the caller give up;
3. hangs up (or is transferred).

Meanwhile the chaos task
- drops a random call's Realtime socket every ~`--drop-every` seconds (close code 1011, or a TCP abort
  with no close frame, which the app sees as 1006). A session is tied to its call by the caller's
  audio (each call speaks at its own pitch, so every 20 ms frame names its call), so drops are made
  only once a call has spoken at least once on its current session, never during its last turn;
- pauses the database once (SIGSTOP to the FerretDB process, SIGCONT after `--db-pause` seconds; the
  kernel still accepts its TCP traffic, so the app's queries hang until the driver's timeouts);
- makes Twilio REST fail intermittently: each request fails with probability `--rest-fail-rate`
  (a 503, or one time in four the connection is cut mid-reply, before or after the fake acted), so an
  SMS (sent once by design) fails that often and a redirect (retried) fails only when every attempt does.

Afterwards every call record is read from MongoDB and checked against what reached the app:
- each caller transcript the fake Realtime server delivered (sent before that socket was dropped) is
  a caller line in the record; each function call delivered is in `tool_calls`; each drop injected on
  the call is an entry of `realtime_sessions`; each ticket filed in the database for the call is in
  `tickets`; a call the simulator saw transferred is `transferred`; every record has `ended_at`.
  Anything missing is a **call-record event lost** (must be 0).
- each caller turn the simulator made is also traced to the record: in it, or why not (OpenAI never
  committed the turn because its socket dropped first, or its transcript never reached the app).

    .venv/bin/python -m bench.chaos                                     # 20 calls, 120 s, 30 s DB pause
    .venv/bin/python -m bench.chaos --calls 10 --duration 60 --db-pause 15 --report /tmp/chaos.md

Prints Markdown; exits 1 when a call-record event was lost, a record is missing, or the fakes saw a
protocol violation. Every wait is bounded, the whole run by `--timeout`; the app and FerretDB are
stopped (FerretDB resumed first) on every exit path.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import functools
import json
import logging
import os
import platform
import random
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import structlog
from prometheus_client.parser import text_string_to_metric_families
from pymongo import AsyncMongoClient

from bench.bridge_load import AppProcess, app_env, git_revision, memo_tone, percentile, table_frame_energy
from devtools.ferretdb import LocalMongo, free_port
from services.store.client import create_mongo_client
from services.store.database import Database
from services.store.seed import seed_database
from tests.fakes.mulaw import tone
from tests.fakes.realtime_server import FakeRealtimeServer, FakeSession, Script, Turn
from tests.fakes.twilio_rest import FakeTwilioRest
from tests.fakes.twilio_sim import FRAME_BYTES, SimulatedCall, TwilioSimulator
from tests.stack import ACCOUNT_SID, ADMIN_TOKEN, AUTH_TOKEN, PUBLIC_BASE_URL

BYTES_PER_MS = 8
GREETING_MS = 1000
REPLY_MS = 1500
SPEECH_MS = 600
GREETING_HZ = 300.0
# Caller's last frame -> first reply audio. A tool on the paused database answers within ~4.5 s; the app's
# silence prompt comes after 10 s of quiet, so audio within 7 s is the answer, not the prompt.
TURN_TIMEOUT_S = 7.0
PLAY_TIMEOUT_S = 20.0
GREETING_TIMEOUT_S = 20.0
TRANSFER_WAIT_S = 8.0  # reply played -> the REST redirect ends the stream (retries included)
CALL_DEADLINE_S = 150.0
QUIET_S = 0.4  # no reply audio for this long and nothing queued: the reply has played
DROP_MIN_SPACING_S = 3.0  # per call
APPENDS_ALWAYS_VALIDATED = 50
APPEND_VALIDATION_EVERY = 25
TRANSCRIPT_DONE = "conversation.item.input_audio_transcription.completed"
FUNCTION_CALL_DONE = "response.function_call_arguments.done"
TOOLS = {
    "stock": [("check_product_availability", json.dumps({"product_name": "pressure cooker", "pincode": "110017"}))],
    "ticket": [("create_ticket", json.dumps({"category": "callback", "description": "Caller wants a call back"}))],
    "transfer": [("transfer_to_human", json.dumps({"reason": "Caller asked for a person", "department": "general"}))],
}
WORDS = {
    "talk": "Mera order kab aayega?",
    "stock": "Pressure cooker stock mein hai?",
    "ticket": "Mujhe call back chahiye.",
    "transfer": "Kisi insaan se baat karni hai.",
}
DEFAULT_SETTINGS = (
    "MAX_CONCURRENT_CALLS=200",
    "REPEAT_CALL_LIMIT=1000",
    "MAX_SMS_PER_NUMBER_PER_DAY=100",
    "SMS_ON_TICKET=true",
)


# ----------------------------------------------------------------------------------------- helpers
def dist(values: list[float]) -> str:
    if not values:
        return "–"
    return " / ".join(f"{percentile(values, q):.0f}" for q in (50, 95)) + f" / {max(values):.0f}"


async def until(predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    """Poll until `predicate()` (True) or `timeout` seconds (False)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(interval)
    return True


def is_open(call: SimulatedCall) -> bool:
    """The call's stream is up (a function, not the property: the state changes under every await)."""
    return call.connected


def answered_or_closed(call: SimulatedCall, moment: float) -> bool:
    return not is_open(call) or heard_since(call, moment)


def heard_since(call: SimulatedCall, moment: float) -> bool:
    """Audio from the app reached the phone after `moment` (loop time)."""
    return (call.last_media_at or 0.0) > moment


def speech_for(index: int) -> bytes:
    """600 ms of 'speech' at a pitch (and loudness) of the call's own: every 20 ms frame is unique."""
    hz = 400.0 + 13.0 * (index % 250)
    return tone(SPEECH_MS, hz, amplitude=5000 + 2500 * (index // 250 % 4))


def load_average() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "?"


# ----------------------------------------------------------------------------------------- plans
@dataclass
class Plan:
    index: int
    caller: str
    kinds: list[str]  # per turn: talk | stock | ticket | transfer


def make_plan(rng: random.Random, index: int, turns: tuple[int, int]) -> Plan:
    count = rng.randint(*turns)
    kinds = ["talk"]
    ticket = False
    for _ in range(count - 1):
        roll = rng.random()
        if roll < 0.25:
            kinds.append("stock")
        elif roll < 0.40 and not ticket:
            kinds.append("ticket")
            ticket = True
        else:
            kinds.append("talk")
    if count >= 2 and rng.random() < 0.2:
        kinds[-1] = "transfer"
    return Plan(index, f"+9198{index:08d}", kinds)


def turn_tag(index: int, turn: int, attempt: int) -> str:
    return f"C{index} T{turn}" + (f" again{attempt}" if attempt else "")


def scripted_turn(index: int, turn: int, attempt: int, kind: str) -> Turn:
    tag = turn_tag(index, turn, attempt)
    return Turn(
        transcript=f"{tag}: {WORDS[kind]}", reply_transcript=f"Reply to {tag}.", tool_calls=list(TOOLS.get(kind, []))
    )


# ----------------------------------------------------------------------------------------- tracking
@dataclass
class Drop:
    at: float  # seconds since the calls started
    session: int
    code: int | None


@dataclass
class SessionInfo:
    session: FakeSession
    call: int | None = None  # the call whose audio this session carried
    dropped_at: float | None = None
    drop_index: int | None = None  # len(session.sent) when dropped: events from there on never reached the app
    drop_code: int | None = None

    def delivered(self, position: int) -> bool:
        return self.drop_index is None or position < self.drop_index


class Tracker:
    """The fake Realtime server's hooks: ties sessions to calls by the caller's audio, gives each session the
    scripted turn of the utterance it is hearing, and samples append validation (every other event always)."""

    def __init__(self) -> None:
        self.frames: dict[str, int] = {}  # base64 of a 20 ms speech frame -> call index
        self.ambiguous: set[str] = set()
        self.sessions: dict[FakeSession, SessionInfo] = {}
        self.latest: dict[int, FakeSession] = {}  # call -> the newest session that carried its audio
        self.turn: dict[int, Turn] = {}  # call -> the turn the caller is saying now
        self._assigned: dict[FakeSession, Turn] = {}
        self._appends: Counter[FakeSession] = Counter()
        self.conflicts = 0

    def register_speech(self, index: int, speech: bytes) -> None:
        for start in range(0, len(speech), FRAME_BYTES):
            key = base64.b64encode(speech[start : start + FRAME_BYTES]).decode()
            owner = self.frames.setdefault(key, index)
            if owner != index:
                self.ambiguous.add(key)

    def on_session(self, session: FakeSession) -> None:
        self.sessions[session] = SessionInfo(session)

    def on_client_event(self, session: FakeSession, event: Any, received_at: float) -> None:
        if not isinstance(event, dict) or event.get("type") != "input_audio_buffer.append":
            return
        audio = event.get("audio")
        if not isinstance(audio, str) or audio in self.ambiguous:
            return
        index = self.frames.get(audio)
        if index is None:
            return
        info = self.sessions[session]
        if info.call is None:
            info.call = index
        elif info.call != index:
            self.conflicts += 1
            return
        latest = self.latest.get(index)
        if latest is None or latest.index < session.index:
            self.latest[index] = session
        turn = self.turn.get(index)
        if turn is not None and self._assigned.get(session) is not turn:
            session.script.turns = [turn]  # consumed when this session's VAD commits the utterance
            self._assigned[session] = turn

    def validate(self, session: FakeSession, event: dict[str, Any]) -> bool:
        if event["type"] != "input_audio_buffer.append":
            return True
        self._appends[session] += 1
        n = self._appends[session]
        return n <= APPENDS_ALWAYS_VALIDATED or n % APPEND_VALIDATION_EVERY == 0

    def of_call(self, index: int) -> list[SessionInfo]:
        return sorted((i for i in self.sessions.values() if i.call == index), key=lambda i: i.session.index)


# ----------------------------------------------------------------------------------------- one call
@dataclass
class TurnRun:
    turn: int
    attempt: int
    kind: str
    started: float  # seconds since the calls started
    tag: str
    answered: bool = False
    latency_ms: float | None = None
    ended: float = 0.0
    speech_end: float | None = None  # the caller's last frame, seconds since the calls started


@dataclass
class CallRun:
    plan: Plan
    call_sid: str = ""
    started: float = 0.0
    ended: float = 0.0
    outcome: str = "dropped"  # completed | transferred | dropped
    reason: str = ""
    turns: list[TurnRun] = field(default_factory=list)
    drops: list[Drop] = field(default_factory=list)
    in_turns: bool = False
    last_turn: bool = False
    transfer_failed: bool = False
    violations: list[str] = field(default_factory=list)
    call: SimulatedCall | None = None

    @property
    def index(self) -> int:
        return self.plan.index


class Chaos:
    """Everything one run shares: the fakes, the calls, the injected faults and their log."""

    def __init__(
        self, args: argparse.Namespace, realtime: FakeRealtimeServer, rest: FakeTwilioRest, tracker: Tracker
    ) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.chaos_rng = random.Random(args.seed + 1)
        self.realtime = realtime
        self.rest = rest
        self.tracker = tracker
        self.sim: TwilioSimulator | None = None
        self.runs: dict[int, CallRun] = {}
        self.t0 = 0.0
        self.next_index = 0
        self.db_paused: tuple[float, float] | None = None
        self.drop_tasks: set[asyncio.Task[Any]] = set()
        self.rest_faults: Counter[str] = Counter()
        self.skipped_drops = 0

    def now(self) -> float:
        return asyncio.get_running_loop().time() - self.t0

    # ------------------------------------------------------------------ callers
    async def slot(self, slot: int) -> None:
        await asyncio.sleep(self.args.stagger * slot / max(self.args.calls, 1))
        while self.now() < self.args.duration:
            index = self.next_index
            self.next_index += 1
            plan = make_plan(self.rng, index, self.args.turns)
            run = CallRun(plan)
            self.runs[index] = run
            try:
                await asyncio.wait_for(self.run_call(run), CALL_DEADLINE_S)
            except TimeoutError:
                run.outcome, run.reason = "dropped", f"call deadline ({CALL_DEADLINE_S:.0f} s)"
            finally:
                run.in_turns = False
                if run.call is not None:
                    run.violations = list(run.call.violations)
                    await run.call.aclose()

    async def run_call(self, run: CallRun) -> None:
        assert self.sim is not None
        speech = speech_for(run.index)
        self.tracker.register_speech(run.index, speech)
        run.started = self.now()
        try:
            call = await self.sim.place_call(from_=run.plan.caller)
        except Exception as error:
            run.reason = f"webhook: {type(error).__name__}: {error}"[:200]
            run.ended = self.now()
            return
        run.call, run.call_sid = call, call.call_sid
        try:
            await self._converse(run, call, speech)
        except Exception as error:  # recorded; the run goes on
            run.outcome, run.reason = "dropped", f"{type(error).__name__}: {error}"[:200]
        finally:
            run.in_turns = False
            self.tracker.turn.pop(run.index, None)
            run.ended = self.now()

    async def _converse(self, run: CallRun, call: SimulatedCall, speech: bytes) -> None:
        loop = asyncio.get_running_loop()
        await call.connect_stream()
        greeting = GREETING_MS * BYTES_PER_MS
        played = await until(
            lambda: not is_open(call) or (call.received_media_bytes >= greeting and call.queued_ms == 0),
            GREETING_TIMEOUT_S,
        )
        if not is_open(call):
            run.reason = self._closed_reason(call, "during the greeting")
            return
        if not played:
            run.reason = "greeting not played within the timeout"
            await call.hangup()
            return
        run.in_turns = True
        for turn, kind in enumerate(run.plan.kinds):
            run.last_turn = turn == len(run.plan.kinds) - 1
            answered = False
            for attempt in range(2):
                tag = turn_tag(run.index, turn, attempt)
                record = TurnRun(turn, attempt, kind, self.now(), tag)
                run.turns.append(record)
                self.tracker.turn[run.index] = scripted_turn(run.index, turn, attempt, kind)
                seen = len(call.received)
                spoken = await call.say_and_wait(speech, timeout=10)
                last_frame = spoken.last_frame_at or loop.time()
                record.speech_end = last_frame - self.t0
                answer_or_close: Callable[[], bool] = functools.partial(answered_or_closed, call, last_frame)
                got = await until(answer_or_close, TURN_TIMEOUT_S)
                if got and heard_since(call, last_frame):
                    record.answered = True
                    first = next(
                        (
                            at
                            for message, at in zip(call.received[seen:], call.received_times[seen:], strict=False)
                            if message.get("event") == "media" and at > last_frame
                        ),
                        None,
                    )
                    if first is not None:
                        record.latency_ms = (first - last_frame) * 1000
                    await until(
                        lambda: (
                            not is_open(call)
                            or (call.queued_ms == 0 and loop.time() - (call.last_media_at or 0.0) >= QUIET_S)
                        ),
                        PLAY_TIMEOUT_S,
                    )
                    answered = True
                record.ended = self.now()
                if answered or not is_open(call):
                    break
            if not is_open(call):
                break
            if not answered:
                run.reason = f"turn {turn} never answered (the caller said it twice, then gave up)"
                run.in_turns = False
                await call.hangup()
                return
            if kind == "transfer":
                await until(lambda: not is_open(call), TRANSFER_WAIT_S)
                if not is_open(call):
                    break
                run.transfer_failed = True  # the redirect did not happen: the conversation went on
            if not run.last_turn:
                await asyncio.sleep(self.rng.uniform(0.2, 0.8))  # the caller thinks
        run.in_turns = False
        if not is_open(call):
            twiml = (call.redirected_to or {}).get("Twiml", "")
            if call.stream_stopped_by == "redirect" and "<Dial" in twiml and run.plan.kinds[-1] == "transfer":
                run.outcome = "transferred"
            else:
                run.reason = self._closed_reason(call, f"in turn {run.turns[-1].turn if run.turns else 0}")
            return
        await call.hangup()
        run.outcome = "completed"

    @staticmethod
    def _closed_reason(call: SimulatedCall, when: str) -> str:
        if call.stream_stopped_by == "redirect":
            twiml = (call.redirected_to or {}).get("Twiml", "")
            what = "transfer" if "<Dial" in twiml else ("apology / say-and-hang-up" if "<Say" in twiml else "redirect")
            return f"redirected by the app ({what}) {when}"
        return f"stream closed by the app (code {call.close_code}) {when}"

    # ------------------------------------------------------------------ chaos
    async def drop_sockets(self) -> None:
        """Every ~drop_every s: drop the current Realtime socket of a random call that is mid-conversation."""
        mean = self.args.drop_every
        while True:
            await asyncio.sleep(self.chaos_rng.uniform(0.5 * mean, 1.5 * mean))
            if self.now() >= self.args.duration:
                return
            now = self.now()
            candidates = []
            for run in self.runs.values():
                if not run.in_turns or run.last_turn or (run.drops and now - run.drops[-1].at < DROP_MIN_SPACING_S):
                    continue
                session = self.tracker.latest.get(run.index)
                if session is None or session.closed.is_set() or self.tracker.sessions[session].dropped_at is not None:
                    continue
                candidates.append((run, session))
            if not candidates:
                self.skipped_drops += 1
                continue
            run, session = self.chaos_rng.choice(candidates)
            code = self.chaos_rng.choice([1011, None])
            info = self.tracker.sessions[session]
            info.dropped_at, info.drop_index, info.drop_code = now, len(session.sent), code
            run.drops.append(Drop(now, session.index, code))
            task = asyncio.create_task(self._disconnect(session, code))
            self.drop_tasks.add(task)
            task.add_done_callback(self.drop_tasks.discard)

    @staticmethod
    async def _disconnect(session: FakeSession, code: int | None) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(session.disconnect(code=code, reason="chaos: injected drop"), 10)

    async def pause_database(self, mongo: LocalMongo) -> None:
        """SIGSTOP FerretDB at --db-pause-at for --db-pause seconds; always SIGCONT."""
        assert mongo.process is not None
        pid = mongo.process.pid
        await asyncio.sleep(max(0.0, self.args.db_pause_at - self.now()))
        started = self.now()
        os.kill(pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(self.args.db_pause)
        finally:
            os.kill(pid, signal.SIGCONT)
            self.db_paused = (started, self.now())

    async def twilio_faults(self) -> None:
        """Each Twilio REST request fails with probability --rest-fail-rate, independently: after every
        request the fake is armed (or not) for the next one: a 503, or one time in four a connection cut
        mid-reply (before or after the fake acted on the request)."""
        seen = -1
        while self.now() < self.args.duration:
            count = len(self.rest.requests)
            if count != seen:
                seen = count
                self.rest.clear_faults()
                if self.chaos_rng.random() < self.args.rest_fail_rate:
                    if self.chaos_rng.random() < 0.75:
                        self.rest.fail_next("*", status=503, code=20503, message="chaos: injected 503")
                        self.rest_faults["503"] += 1
                    else:
                        processed = self.chaos_rng.random() < 0.5
                        self.rest.drop_next("*", processed=processed)
                        self.rest_faults["cut mid-reply, " + ("after" if processed else "before") + " acting"] += 1
            await asyncio.sleep(0.01)
        self.rest.clear_faults()


# ----------------------------------------------------------------------------------------- checks
@dataclass
class CallCheck:
    run: CallRun
    record: dict[str, Any] | None
    caller_expected: int = 0
    caller_recorded: int = 0
    caller_lost: list[str] = field(default_factory=list)
    caller_extra: list[str] = field(default_factory=list)
    caller_empty: int = 0  # placeholder lines: the app heard the turn end, the transcript never came
    tools_expected: int = 0
    tools_recorded: int = 0
    tools_lost: list[str] = field(default_factory=list)
    tools_undelivered: int = 0
    moves_expected: int = 0
    moves_recorded: int = 0
    moves_lost: int = 0
    moves: list[dict[str, Any]] = field(default_factory=list)
    tickets_db: int = 0
    tickets_lost: list[str] = field(default_factory=list)
    ended_missing: bool = False
    transfer_mismatch: bool = False
    turns_traced: Counter[str] = field(default_factory=Counter)
    untraced: list[TurnRun] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return (
            len(self.caller_lost)
            + len(self.tools_lost)
            + self.moves_lost
            + len(self.tickets_lost)
            + int(self.ended_missing)
            + int(self.transfer_mismatch)
        )


def check_call(
    run: CallRun, record: dict[str, Any] | None, sessions: list[SessionInfo], tickets: list[str]
) -> CallCheck:
    check = CallCheck(run, record)
    rec = record or {}
    delivered: Counter[str] = Counter()
    committed: set[str] = set()
    undelivered_transcripts: set[str] = set()
    tool_ids: list[str] = []
    for info in sessions:
        session = info.session
        committed |= {turn.script.transcript for turn in session.user_turns}
        for position, event in enumerate(session.sent):
            kind = event["type"]
            if kind == TRANSCRIPT_DONE:
                if info.delivered(position):
                    delivered[event["transcript"]] += 1
                else:
                    undelivered_transcripts.add(event["transcript"])
            elif kind == FUNCTION_CALL_DONE:
                if info.delivered(position):
                    tool_ids.append(event["call_id"])
                else:
                    check.tools_undelivered += 1
    lines = rec.get("transcript") or []
    recorded = Counter(line["text"] for line in lines if line.get("role") == "caller" and line.get("text"))
    check.caller_empty = sum(1 for line in lines if line.get("role") == "caller" and not line.get("text"))
    check.caller_expected, check.caller_recorded = sum(delivered.values()), sum(recorded.values())
    check.caller_lost = list((delivered - recorded).elements())
    check.caller_extra = list((recorded - delivered).elements())

    in_record = {tool.get("call_id") for tool in rec.get("tool_calls") or []}
    check.tools_expected, check.tools_recorded = len(tool_ids), len(in_record)
    check.tools_lost = [call_id for call_id in tool_ids if call_id not in in_record]

    check.moves = [m for m in rec.get("realtime_sessions") or [] if m.get("reason") != "rotation"]
    check.moves_expected, check.moves_recorded = len(run.drops), len(check.moves)
    check.moves_lost = max(0, check.moves_expected - check.moves_recorded)

    record_tickets = set(rec.get("tickets") or [])
    check.tickets_db = len(tickets)
    check.tickets_lost = [t for t in tickets if t not in record_tickets]
    check.ended_missing = rec.get("ended_at") is None
    check.transfer_mismatch = run.outcome == "transferred" and rec.get("status") != "transferred"

    # Every caller turn the simulator made, traced to the record.
    for turn in run.turns:
        prefix = turn.tag + ":"
        if any(text.startswith(prefix) for text in recorded):
            check.turns_traced["in the record"] += 1
        elif any(text.startswith(prefix) for text in delivered):
            check.turns_traced["reached the app, not in the record (lost)"] += 1
        elif any(text.startswith(prefix) for text in undelivered_transcripts) or any(
            text.startswith(prefix) for text in committed
        ):
            check.turns_traced["committed by OpenAI, transcript never reached the app (socket dropped)"] += 1
        else:
            hit = any(turn_hit_by(turn, drop) for drop in run.drops)
            check.turns_traced["never committed by OpenAI" + (" (a drop hit the turn)" if hit else " (no drop)")] += 1
            check.untraced.append(turn)
    return check


def turn_hit_by(turn: TurnRun, drop: Drop) -> bool:
    """The drop came while the caller was saying the turn or waiting for its answer."""
    return turn.started - 0.1 <= drop.at <= (turn.ended or turn.started)


def drop_offsets(run: CallRun, turn: TurnRun) -> str:
    """Where each drop that hit a turn fell, relative to the end of the caller's speech."""
    offsets = [
        f"{(drop.at - turn.speech_end) * 1000:+.0f} ms ({'1011' if drop.code else 'abort'})"
        for drop in run.drops
        if turn_hit_by(turn, drop) and turn.speech_end is not None
    ]
    return ", ".join(offsets) or "no drop"


# ----------------------------------------------------------------------------------------- the run
async def app_metrics(url: str) -> list[tuple[str, dict[str, str], float]]:
    async with httpx.AsyncClient(timeout=5.0, trust_env=False) as client:
        response = await client.get(f"{url}/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    return [
        (sample.name, dict(sample.labels), float(sample.value))
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    ]


async def read_records(
    uri: str, database: str, sids: list[str], timeout: float
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The call records (waiting, bounded, until each has `ended_at`) and the tickets filed for each call."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, serverSelectionTimeoutMS=5000, tz_aware=True)
    try:
        db = client[database]
        deadline = time.monotonic() + timeout
        while True:
            records = {r["_id"]: r for r in await db["calls"].find({"_id": {"$in": sids}}).to_list(None)}
            if all(records.get(s, {}).get("ended_at") for s in sids) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        tickets: dict[str, list[str]] = {}
        async for ticket in db["tickets"].find({"call_sid": {"$in": sids}}, {"ticket_id": 1, "call_sid": 1}):
            tickets.setdefault(ticket["call_sid"], []).append(ticket.get("ticket_id") or str(ticket["_id"]))
    finally:
        await client.close()
    return records, tickets


async def seed(uri: str, database: str) -> None:
    client = create_mongo_client(uri)
    try:
        await seed_database(Database(client, database))
    finally:
        await client.close()


@dataclass
class Result:
    args: argparse.Namespace
    chaos: Chaos
    checks: list[CallCheck]
    metrics: list[tuple[str, dict[str, str], float]]
    wall_s: float
    load_before: str
    load_after: str
    realtime_problems: list[str]
    app_log: Path | None
    details: list[str] = field(default_factory=list)


async def run(args: argparse.Namespace, workdir: Path) -> Result:
    load_before = load_average()
    started = time.monotonic()
    tracker = Tracker()
    script = Script(greeting_ms=GREETING_MS, reply_ms=REPLY_MS, response_latency_s=0.0, tone_hz=GREETING_HZ)
    memo_tone(GREETING_MS, GREETING_HZ)
    realtime = FakeRealtimeServer(
        script,
        on_session=tracker.on_session,
        on_client_event=tracker.on_client_event,
        validate_incoming=tracker.validate,
        validate_outgoing=False,
        frame_energy=table_frame_energy,
        tone=memo_tone,
    )
    rest = FakeTwilioRest(ACCOUNT_SID, AUTH_TOKEN)
    database = f"bench_chaos_{uuid.uuid4().hex[:8]}"
    app: AppProcess | None = None
    chaos: Chaos | None = None
    problems: list[str] = []
    with LocalMongo() as mongo:
        try:
            await seed(mongo.uri, database)
            await realtime.start()
            await rest.start()
            options = [
                "--mongodb-uri", mongo.uri, "--mongodb-database", database,
                "--realtime-url", realtime.url, "--twilio-api-url", rest.base_url,
                "--log-level", "WARNING",
            ]  # fmt: skip
            for assignment in [*DEFAULT_SETTINGS, *args.setting]:
                options += ["--setting", assignment]
            app = AppProcess(options, app_env(), free_port(), workdir)
            app.start()
            await app.wait_healthy()
            chaos = Chaos(args, realtime, rest, tracker)
            chaos.sim = TwilioSimulator(
                app_base_url=app.url, public_base_url=PUBLIC_BASE_URL, account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN
            )
            rest.attach(chaos.sim)
            print(f"--- {args.calls} call slots for {args.duration:.0f} s; DB paused at {args.db_pause_at:.0f} s "
                  f"for {args.db_pause:.0f} s", flush=True)  # fmt: skip
            chaos.t0 = asyncio.get_running_loop().time()
            injectors = [
                asyncio.create_task(chaos.drop_sockets()),
                asyncio.create_task(chaos.twilio_faults()),
            ]
            if args.db_pause > 0:
                injectors.append(asyncio.create_task(chaos.pause_database(mongo)))
            slots = [asyncio.create_task(chaos.slot(i)) for i in range(args.calls)]
            progress = asyncio.create_task(report_progress(chaos))
            try:
                await asyncio.wait(slots, timeout=args.duration + CALL_DEADLINE_S + 30)
            finally:
                for task in [*slots, *injectors, progress]:
                    task.cancel()
                await asyncio.gather(*slots, *injectors, progress, return_exceptions=True)
                if chaos.drop_tasks:
                    await asyncio.gather(*chaos.drop_tasks, return_exceptions=True)
                rest.clear_faults()
            print(f"--- calls done at {chaos.now():.0f} s; reading the records", flush=True)
            # The app closes each call's record in the background: wait (bounded) for its live calls to end.
            with contextlib.suppress(Exception):
                await until_async_zero(app, 30)
            sids = [r.call_sid for r in chaos.runs.values() if r.call_sid]
            records, tickets = await read_records(mongo.uri, database, sids, timeout=30)
            metrics = await app_metrics(app.url)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(s.closed.wait() for s in realtime.sessions)), 15)
            try:
                realtime.assert_clean()
            except AssertionError as problem:
                problems.append(str(problem)[:3000])
        finally:
            if mongo.process is not None and mongo.process.poll() is None:
                with contextlib.suppress(OSError):
                    os.kill(mongo.process.pid, signal.SIGCONT)  # never leave it stopped
            if chaos is not None and chaos.sim is not None:
                await chaos.sim.aclose()
            if app is not None:
                app.stop()
            await rest.stop()
            try:
                await realtime.stop()
            except AssertionError as problem:
                problems.append(str(problem)[:3000])
    checks = [
        check_call(r, records.get(r.call_sid), tracker.of_call(r.index), tickets.get(r.call_sid, []))
        for r in chaos.runs.values()
        if r.call_sid
    ]
    if tracker.conflicts:
        problems.append(f"{tracker.conflicts} appends carried another call's audio (session mapping conflict)")
    return Result(
        args, chaos, checks, metrics, time.monotonic() - started, load_before, load_average(), problems,
        app.log_path if app is not None else None,
    )  # fmt: skip


async def until_async_zero(app: AppProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while await app.active_calls():
        if time.monotonic() > deadline:
            return
        await asyncio.sleep(0.2)


async def report_progress(chaos: Chaos) -> None:
    while True:
        await asyncio.sleep(15)
        runs = list(chaos.runs.values())
        done = [r for r in runs if r.ended]
        drops = sum(len(r.drops) for r in runs)
        pausing = chaos.args.db_pause > 0 and chaos.db_paused is None and chaos.args.db_pause_at <= chaos.now()
        paused = " (DB paused)" if pausing else ""
        print(
            f"    t={chaos.now():5.0f} s: calls placed {len(runs)}, ended {len(done)} "
            f"({sum(r.outcome != 'dropped' for r in done)} as planned), drops injected {drops}{paused}",
            flush=True,
        )


# ----------------------------------------------------------------------------------------- report
def metric_sum(metrics: list[tuple[str, dict[str, str], float]], name: str, **labels: str) -> float:
    return sum(v for n, lab, v in metrics if n == name and all(lab.get(k) == x for k, x in labels.items()))


def metric_by(metrics: list[tuple[str, dict[str, str], float]], name: str, label: str) -> str:
    values: dict[str, float] = {}
    for n, lab, v in metrics:
        if n == name and v:
            values[lab.get(label, "")] = values.get(lab.get(label, ""), 0.0) + v
    return ", ".join(f"{k} {v:.0f}" for k, v in sorted(values.items())) or "none"


def command_line(args: argparse.Namespace) -> str:
    parts = [".venv/bin/python -m bench.chaos", f"--calls {args.calls}", f"--duration {args.duration:g}"]
    parts.append(f"--db-pause {args.db_pause:g}")
    if args.db_pause_at_given:
        parts.append(f"--db-pause-at {args.db_pause_at:g}")
    if args.drop_every != 3.0:
        parts.append(f"--drop-every {args.drop_every:g}")
    if args.rest_fail_rate != 0.3:
        parts.append(f"--rest-fail-rate {args.rest_fail_rate:g}")
    if args.seed != 1:
        parts.append(f"--seed {args.seed}")
    parts += [f"--setting {s}" for s in args.setting]
    return " ".join(parts)


def report(result: Result) -> str:
    args, chaos, checks = result.args, result.chaos, result.checks
    runs = list(chaos.runs.values())
    pause = chaos.db_paused
    m = result.metrics

    def phase(run: CallRun) -> str:
        if pause is None or run.ended < pause[0]:
            return "before"
        return "during" if run.ended <= pause[1] else "after"

    completed = [r for r in runs if r.outcome == "completed"]
    transferred = [r for r in runs if r.outcome == "transferred"]
    dropped = [r for r in runs if r.outcome == "dropped"]
    turns = [t for r in runs for t in r.turns]
    utterances = {(r.index, t.turn) for r in runs for t in r.turns}
    first_try = sum(1 for t in turns if t.attempt == 0 and t.answered)
    second_try = sum(1 for t in turns if t.attempt == 1 and t.answered)
    latencies = [t.latency_ms for t in turns if t.latency_ms is not None]
    hit = [
        t.latency_ms
        for r in runs
        for t in r.turns
        if t.latency_ms is not None and any(turn_hit_by(t, d) for d in r.drops)
    ]
    paused_tools = [
        t.latency_ms
        for t in turns
        if t.latency_ms is not None and t.kind != "talk" and pause is not None and pause[0] <= t.started <= pause[1]
    ]
    drops = [d for r in runs for d in r.drops]
    moves = [mv for c in checks for mv in c.moves]
    gaps = [float(mv["gap_ms"]) for mv in moves]
    attempts = Counter(int(mv.get("attempts", 0)) for mv in moves)
    lost_total = sum(c.lost for c in checks)
    traced: Counter[str] = Counter()
    for c in checks:
        traced.update(c.turns_traced)

    rest_rows: dict[str, Counter[str]] = {}
    for request in list(chaos.rest.requests):
        row = rest_rows.setdefault(request.kind, Counter())
        row["requests"] += 1
        if request.dropped:
            row["cut"] += 1
        elif request.status_code == 503:
            row["503"] += 1
        elif 200 <= request.status_code < 300:
            row["ok"] += 1
        else:
            row["other"] += 1

    lines = [
        f"- Command: `{command_line(args)}` (whole run {result.wall_s:.0f} s: FerretDB start, seeding, app start, "
        f"{args.duration:.0f} s of new calls, the calls under way finishing, checks)",
        f"- Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPU cores shared with other jobs (load "
        f"average {result.load_before} before, {result.load_after} after), Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}; no CPU pinning; product code at {git_revision()}; seed {args.seed}",
        f"- Per call: greeting {GREETING_MS} ms, then {args.turns[0]}-{args.turns[1]} turns of {SPEECH_MS} ms speech "
        f"+ a {REPLY_MS} ms reply played in full (fake model think time 0), tools on some turns, then hang-up; "
        f"calls start over {args.stagger:g} s, each slot places its next call as soon as one ends",
        f"- Injected: {len(drops)} Realtime socket drops on {len({r.index for r in runs if r.drops})} calls "
        f"({sum(d.code == 1011 for d in drops)} close 1011, {sum(d.code is None for d in drops)} TCP abort; "
        f"{chaos.skipped_drops} ticks found no call to drop); "
        + (
            f"database paused (SIGSTOP) from t = {pause[0]:.1f} s to {pause[1]:.1f} s; "
            if pause
            else "no database pause; "
        )
        + f"Twilio REST requests failing at random (p = {args.rest_fail_rate:g}), faults armed: "
        + (", ".join(f"{k} ×{v}" for k, v in sorted(chaos.rest_faults.items())) or "none")
        + " (the last one armed may have found no request)",
        "",
        "Calls (completed = the caller's plan ran to its end: hung up, or transferred when it asked for a person):",
        "",
        "| calls placed | completed | of which transferred | of which the transfer failed and the call went on "
        "| dropped | ended before / during / after the DB pause |",
        "|---:|---:|---:|---:|---:|---|",
        f"| {len(runs)} | {len(completed) + len(transferred)} | {len(transferred)} "
        f"| {sum(r.transfer_failed for r in completed)} | {len(dropped)} "
        f"| {sum(phase(r) == 'before' for r in runs)} / {sum(phase(r) == 'during' for r in runs)} / "
        f"{sum(phase(r) == 'after' for r in runs)} |",
        "",
        "Caller turns (latency = caller's last frame → first reply audio at the phone, ms, `p50 / p95 / max`):",
        "",
        "| turns | said | answered first time | answered after the caller repeated it | never answered "
        "| latency, all | turns a drop hit | tool turns during the DB pause |",
        "|---:|---:|---:|---:|---:|---|---|---|",
        f"| {len(utterances)} | {len(turns)} | {first_try} | {second_try} "
        f"| {len(utterances) - first_try - second_try} | {dist(latencies)} | {dist(hit)} | {dist(paused_tools)} |",
        "",
        "Call-record events (read from MongoDB after the run; *expected* = what reached the app):",
        "",
        "| event | expected | in the records | lost |",
        "|---|---:|---:|---:|",
        f"| caller transcript lines | {sum(c.caller_expected for c in checks)} | "
        f"{sum(c.caller_expected - len(c.caller_lost) for c in checks)} | {sum(len(c.caller_lost) for c in checks)} |",
        f"| tool calls | {sum(c.tools_expected for c in checks)} | "
        f"{sum(c.tools_expected - len(c.tools_lost) for c in checks)} | {sum(len(c.tools_lost) for c in checks)} |",
        f"| reconnects (`realtime_sessions` entries vs drops injected) | {sum(c.moves_expected for c in checks)} | "
        f"{sum(min(c.moves_recorded, c.moves_expected) for c in checks)} | {sum(c.moves_lost for c in checks)} |",
        f"| tickets (filed in the database for the call vs the record's `tickets`) | "
        f"{sum(c.tickets_db for c in checks)} | {sum(c.tickets_db - len(c.tickets_lost) for c in checks)} | "
        f"{sum(len(c.tickets_lost) for c in checks)} |",
        f"| transfers (the caller was transferred: record `transferred`) | {len(transferred)} | "
        f"{len(transferred) - sum(c.transfer_mismatch for c in checks)} | {sum(c.transfer_mismatch for c in checks)} |",
        f"| `ended_at` | {len(checks)} | {len(checks) - sum(c.ended_missing for c in checks)} | "
        f"{sum(c.ended_missing for c in checks)} |",
        f"| **total** | | | **{lost_total}** |",
        "",
        f"Records missing entirely: {sum(c.record is None for c in checks)} ("
        f"{sum(c.record is None and pause is not None and pause[0] <= c.run.started <= pause[1] for c in checks)} of "
        "them of calls placed while the database was paused); caller lines the records have beyond "
        f"what reached the app: {sum(len(c.caller_extra) for c in checks)}; empty caller lines (the app saw the turn "
        f"end, its transcript never came): {sum(c.caller_empty for c in checks)}; function calls sent after their "
        f"socket was dropped (never reached the app): {sum(c.tools_undelivered for c in checks)}.",
        "",
        "Every caller turn the simulator said, traced to the records:",
        "",
        "| said | " + " | ".join(sorted(traced)) + " |",
        "|---:|" + "---:|" * len(traced),
        f"| {len(turns)} | " + " | ".join(str(traced[k]) for k in sorted(traced)) + " |",
        "",
        "By when the call ended (the database was paused in the middle):",
        "",
        "| ended | calls | completed | dropped | records with `ended_at` | events lost |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in ("before", "during", "after"):
        group = [c for c in checks if phase(c.run) == name]
        lines.append(
            f"| {name} the pause | {len(group)} | {sum(c.run.outcome != 'dropped' for c in group)} "
            f"| {sum(c.run.outcome == 'dropped' for c in group)} | {sum(not c.ended_missing for c in group)} "
            f"| {sum(c.lost for c in group)} |"
        )
    lines += [
        "",
        "Reconnects, from the records' `realtime_sessions` (gap = drop noticed → new session ready, caller audio "
        "held meanwhile):",
        "",
        "| reconnects | ok | failed | gap p50 / p95 / max ms | attempts |",
        "|---:|---:|---:|---|---|",
        f"| {len(moves)} | {sum(1 for mv in moves if mv.get('ok'))} | {sum(1 for mv in moves if not mv.get('ok'))} "
        f"| {dist(gaps)} | " + (", ".join(f"{k}: {v}" for k, v in sorted(attempts.items())) or "–") + " |",
        "",
        "Twilio REST as the fake saw it:",
        "",
        "| request | total | ok | 503 (injected) | cut mid-reply (injected) | other |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for kind, row in sorted(rest_rows.items()):
        lines.append(f"| {kind} | {row['requests']} | {row['ok']} | {row['503']} | {row['cut']} | {row['other']} |")
    lines += [
        "",
        "The app's own counters (`/metrics`): "
        f"realtime sessions moved: {metric_by(m, 'voice_realtime_sessions_moved_total', 'outcome')}; "
        f"database errors: {metric_by(m, 'voice_db_errors_total', 'operation')}; "
        f"Twilio REST retries: {metric_by(m, 'voice_twilio_rest_retries_total', 'operation')}; "
        f"refused by the open circuit: {metric_by(m, 'voice_twilio_rest_rejected_total', 'operation')}; "
        f"circuit changes: {metric_by(m, 'voice_twilio_circuit_changes_total', 'state')}; "
        f"SMS: {metric_by(m, 'voice_sms_total', 'outcome')}; "
        f"transfers: {metric_by(m, 'voice_transfers_total', 'outcome')}; "
        f"tool calls: {metric_by(m, 'voice_tool_calls_total', 'outcome')}; "
        f"realtime errors: {metric_by(m, 'voice_realtime_errors_total', 'code')}; "
        f"calls: {metric_by(m, 'voice_calls_total', 'outcome')}.",
    ]
    timed = sorted(
        ((t, r) for r in runs for t in r.turns if t.latency_ms is not None), key=lambda x: -(x[0].latency_ms or 0)
    )
    lines += ["", "Slowest turns:", ""]
    for t, r in timed[:5]:
        during = pause is not None and pause[0] <= t.started <= pause[1]
        lines.append(
            f"- {t.latency_ms:.0f} ms: call {r.index} ({r.call_sid}) `{t.tag}` {t.kind}"
            f"{', during the DB pause' if during else ''}; drops: {drop_offsets(r, t)}"
        )
    untraced = [(t, c.run) for c in checks for t in c.untraced]
    if untraced:
        lines += ["", "Caller turns OpenAI never committed (drop time relative to the end of the caller's speech):", ""]
        for t, r in untraced[:20]:
            answer = "answered" if t.answered else "not answered"
            lines.append(f"- call {r.index} `{t.tag}` ({t.kind}, {answer}): drops {drop_offsets(r, t)}")
    if dropped:
        lines += ["", "Dropped calls:", ""]
        reasons = Counter(r.reason.split(" (code")[0] if "code" in r.reason else r.reason for r in dropped)
        lines += [f"- {count} × {reason}" for reason, count in reasons.most_common()]
    details = []
    for c in checks:
        label = f"call {c.run.index} ({c.run.call_sid}, ended {phase(c.run)} the pause, {c.run.outcome})"
        if c.record is None:
            details.append(f"- {label}: no record at all")
        if c.ended_missing and c.record is not None:
            details.append(f"- {label}: record has no `ended_at` (status {c.record.get('status')!r}, "
                           f"{len(c.record.get('transcript') or [])} transcript lines)")  # fmt: skip
        for text in c.caller_lost:
            details.append(f"- {label}: caller line lost: {text!r}")
        for call_id in c.tools_lost:
            details.append(f"- {label}: tool call lost: {call_id}")
        if c.moves_lost:
            details.append(f"- {label}: {c.moves_expected} drops, {c.moves_recorded} reconnects recorded")
        for ticket in c.tickets_lost:
            details.append(f"- {label}: ticket {ticket} is in the database for this call, not in its record")
        if c.transfer_mismatch:
            details.append(f"- {label}: transferred, record status {(c.record or {}).get('status')!r}")
    if details:
        lines += ["", f"Lost events ({len(details)} lines, first 40):", "", *details[:40]]
        result.details = details
    problems = result.realtime_problems + [f"call {r.index}: {v}" for r in runs for v in r.violations]
    if problems:
        lines += ["", "Protocol problems:", "", *[f"- {p[:400]}" for p in problems[:10]]]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------- main
async def amain(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="chaos-"))
    try:
        result = await asyncio.wait_for(run(args, workdir), args.timeout)
        text = report(result)
        print()
        print(text)
        if args.report:
            args.report.write_text(text + "\n")
        if args.keep:
            (workdir / "lost-events.txt").write_text("\n".join(result.details) + "\n")
            print(f"\n(app log, stats and every lost event kept in {workdir})")
        lost = sum(c.lost for c in result.checks)
        missing = sum(c.record is None for c in result.checks)
        return 1 if lost or missing or result.realtime_problems else 0
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20, help="concurrent call slots")
    parser.add_argument("--duration", type=float, default=120.0, help="seconds during which new calls start")
    parser.add_argument("--db-pause", type=float, default=30.0, help="seconds the database is paused (0: never)")
    parser.add_argument("--db-pause-at", type=float, help="when the pause starts (default: centred in --duration)")
    parser.add_argument("--drop-every", type=float, default=3.0, help="mean seconds between Realtime socket drops")
    parser.add_argument("--rest-fail-rate", type=float, default=0.3, help="share of Twilio REST requests that fail")
    parser.add_argument("--turns", default="3,6", help="caller turns per call, min,max")
    parser.add_argument("--stagger", type=float, default=5.0, help="seconds over which the first calls start")
    parser.add_argument("--seed", type=int, default=1, help="seed of the call plans and the chaos schedule")
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra app setting (bench.app_server --setting), after " + ", ".join(DEFAULT_SETTINGS) + "; repeatable",
    )
    parser.add_argument("--report", type=Path, help="also write the Markdown report to this file")
    parser.add_argument("--keep", action="store_true", help="keep the app's log (printed path)")
    parser.add_argument("--timeout", type=float, help="hard limit for the whole run, seconds")
    args = parser.parse_args()
    low, _, high = args.turns.partition(",")
    args.turns = (int(low), int(high or low))
    if not 1 <= args.turns[0] <= args.turns[1] or args.calls < 1 or args.duration <= 0:
        parser.error("need --calls ≥ 1, --duration > 0 and --turns min,max with 1 ≤ min ≤ max")
    args.db_pause_at_given = args.db_pause_at is not None
    if args.db_pause_at is None:
        args.db_pause_at = max(0.0, (args.duration - args.db_pause) / 2)
    args.timeout = args.timeout or args.duration + CALL_DEADLINE_S + 180
    # Only warnings from the product code this process runs (seeding), as the app process logs.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    # The standard loop, as bench.bridge_load: the fakes and the simulator stamp events with loop.time().
    sys.exit(asyncio.run(amain(args)))


if __name__ == "__main__":
    main()
