"""Hostile input at the running app: hypothesis throws malformed, oversized, binary, out-of-order and
duplicated Twilio stream messages, and malformed webhooks, at the real app under uvicorn
(`tests.stack.live_stack`: the fakes on real sockets). Checked after every example:

* the fuzzed call either goes on — it still answers: what the caller says next is heard and replied
  to — or, when the input ends it (a `stop`, a frame past the transport limit, a text frame that is
  not UTF-8), the app closes it cleanly and its record is saved with `ended_at`;
* a second call running alongside is untouched: it keeps answering and hears only its own audio;
* nothing malformed reaches OpenAI (`FakeRealtimeServer.assert_clean`) or Twilio (`call.violations`);
* `/health` stays 200 and nothing crashes (no ASGI exception, no task dying unseen);
* a stream that sends anything but `connected` before `start` is refused without using up its
  call's token, so the genuine stream still starts;
* every malformed webhook, with or without a signature, is answered 4xx, never 5xx.

Stream examples are whole calls (a second or two each), so they are few, with many frames each, and
not shrunk: a failure prints the frames drawn. The bugs they found (now fixed) are the tests at
the end of the file, each with its cause and a proposed fix.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import gc
import itertools
import json
import logging
import random
import string
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, Phase, event, example, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app import WS_TRANSPORT_MAX_BYTES
from services.telephony.events import AudioIn, StreamClosed
from services.telephony.twilio_stream import TwilioCodec
from tests.fakes.mulaw import tone
from tests.fakes.realtime_server import FakeSession, Script
from tests.fakes.twilio_sim import SimulatedCall, new_call_sid, new_stream_sid
from tests.stack import ACCOUNT_SID, LiveStack, live_stack, wait_for_greeting, wait_for_record

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

STREAM_MESSAGE_MAX = 64 * 1024  # Settings.max_stream_message_bytes (default): larger text frames are dropped
FUZZED_TONE = tone(300, 1900)  # what the fuzzed caller says to prove the call still answers
BYSTANDER_TONE = tone(300, 1500)  # ... and the untouched caller beside it (greeting tones are 300-1260 Hz)
_callers = itertools.count(random.randrange(10**6, 10**7) * 10)


def next_caller() -> str:
    """A fresh caller number per call (the repeat-caller limit counts calls per number)."""
    return f"+9197{next(_callers) % 10**8:08d}"


# ------------------------------------------------------------------------------------------ the stack


UVICORN_BAD_UTF8 = "Invalid UTF-8 sequence received from client."


class AppErrors(logging.Handler):
    """ERROR records of uvicorn (an exception in the ASGI app) and asyncio (a task that died unseen)."""

    LOGGERS = ("uvicorn.error", "asyncio")

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "uvicorn.error" and record.getMessage() == UVICORN_BAD_UTF8:
            return  # uvicorn's own handling of a text frame that is not UTF-8: logged, then closed with 1007
        self.records.append(record)

    @classmethod
    def attach(cls) -> AppErrors:
        # After the server started: uvicorn's logging dictConfig drops handlers added before it.
        handler = cls()
        for name in cls.LOGGERS:
            logging.getLogger(name).addHandler(handler)
        return handler

    def detach(self) -> None:
        for name in self.LOGGERS:
            logging.getLogger(name).removeHandler(self)

    async def wait_for_any(self, timeout: float) -> None:
        """Give a task that just died time to be collected and reported."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not self.records and asyncio.get_running_loop().time() < deadline:
            gc.collect()
            await asyncio.sleep(0.05)

    def assert_none(self, *, collect: bool = True) -> None:
        if collect:
            gc.collect()  # "Task exception was never retrieved" is logged when the task is collected
        shown = [f"{r.name}: {r.getMessage()} {self.format(r) if r.exc_info else ''}"[:2000] for r in self.records]
        assert not self.records, "the app crashed:\n" + "\n".join(shown)


@pytest.fixture
async def stack(mongo_uri: str, database_name: str) -> AsyncIterator[LiveStack]:
    async with live_stack(mongo_uri, database_name) as running:
        running.realtime.script = Script(greeting_ms=300, reply_ms=1200)
        yield running


@pytest.fixture
def app_errors(stack: LiveStack) -> Iterator[AppErrors]:
    handler = AppErrors.attach()
    yield handler
    handler.detach()


@pytest.fixture
async def bystander(stack: LiveStack) -> AsyncIterator[SimulatedCall]:
    """An untouched call that lives through every example of a test."""
    call, session = await start_fuzzed_call(stack)
    await wait_for_greeting(call)
    yield call
    assert call.connected and call.violations == [], "the bystander's call was disturbed"
    await generation_done(session)
    await call.hangup()
    record = await wait_for_record(stack, call.call_sid, lambda r: r.get("ended_at") is not None)
    assert record["end_reason"] == "caller_hung_up"


@pytest.fixture(scope="module")
async def webhook_stack(mongo_uri: str) -> AsyncIterator[LiveStack]:
    """One stack for the webhook tests: signed fuzzed voice webhooks reserve capacity and count per
    caller, so neither limit may refuse the genuine call at the end; no Realtime pre-opening."""
    overrides = {"max_concurrent_calls": 10_000, "repeat_call_limit": 1000, "openai_preopen": False}
    async with live_stack(mongo_uri, f"test_{uuid.uuid4().hex[:12]}", **overrides) as running:
        running.realtime.script = Script(greeting_ms=300, reply_ms=600)
        yield running


@pytest.fixture
def webhook_errors(webhook_stack: LiveStack) -> Iterator[AppErrors]:
    handler = AppErrors.attach()
    yield handler
    handler.detach()
    handler.assert_none()  # what a collected task reported after the last example


async def assert_healthy(stack: LiveStack) -> None:
    async with httpx.AsyncClient(base_url=stack.app_url) as client:
        assert (await client.get("/health")).status_code == 200


# ------------------------------------------------------------------------------------ frame specs
# A frame is drawn without knowing the call, and rendered when it is sent: placeholders stand for this
# call's streamSid, its own `start` message and the marks the app has sent on it so far.


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()  # as a value: the key is left out


@dataclass(frozen=True)
class OwnSid:
    def __repr__(self) -> str:
        return "OWN_SID"


@dataclass(frozen=True)
class SentMark:
    """The name of a mark the app sent on this call (the index-th, wrapping): echoed again, or early."""

    index: int


@dataclass(frozen=True)
class OwnStart:
    """This call's own `start` message, with fields of its `start` payload replaced (or removed)."""

    overrides: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Json:
    """A JSON text frame (`binary`: the same JSON in a binary frame; `fragments`: one message in parts)."""

    message: Any
    fragments: int = 1
    binary: bool = False

    def __repr__(self) -> str:
        return f"Json({_shortened(self.message)!r}, fragments={self.fragments}, binary={self.binary})"


def _shortened(value: Any) -> Any:
    """For a readable falsifying example: long strings (base64 audio) shown by their length and start."""
    if isinstance(value, str) and len(value) > 120:
        return f"<{len(value)} chars: {value[:40]}...>"
    if isinstance(value, dict):
        return {key: _shortened(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shortened(item) for item in value]
    return value


@dataclass(frozen=True)
class Text:
    text: str

    def __repr__(self) -> str:
        return f"Text({self.text[:80]!r}{'...' if len(self.text) > 80 else ''} len={len(self.text)})"


@dataclass(frozen=True)
class Binary:
    data: bytes


@dataclass(frozen=True)
class NotUtf8:
    """A text frame whose bytes are not UTF-8: the WebSocket layer closes the stream (1007)."""

    data: bytes


@dataclass(frozen=True)
class Oversized:
    """A media frame of `size` characters: past the message limit it is dropped; past the transport
    limit (`WS_TRANSPORT_MAX_BYTES`) the WebSocket layer closes the stream (1009)."""

    size: int


Frame = Json | Text | Binary | NotUtf8 | Oversized


@dataclass
class StreamContext:
    stream_sid: str
    start_message: dict[str, Any]
    call: SimulatedCall | None = None

    def sent_marks(self) -> list[str]:
        return [name for name, _ in self.call.marks_received] if self.call else []


def render(value: Any, ctx: StreamContext) -> Any:
    if isinstance(value, OwnSid):
        return ctx.stream_sid
    if isinstance(value, SentMark):
        names = ctx.sent_marks()
        return names[value.index % len(names)] if names else "m1"
    if isinstance(value, OwnStart):
        message = json.loads(json.dumps(ctx.start_message))
        for key, replacement in value.overrides:
            if replacement is MISSING:
                message["start"].pop(key, None)
            else:
                message["start"][key] = render(replacement, ctx)
        return message
    if isinstance(value, dict):
        return {key: render(item, ctx) for key, item in value.items() if item is not MISSING}
    if isinstance(value, list):
        return [render(item, ctx) for item in value]
    return value


def wire(frame: Frame, ctx: StreamContext) -> tuple[str | bytes | tuple[str, ...], bool | None]:
    """What `SimulatedCall.send_raw` writes for `frame`: (data, text)."""
    if isinstance(frame, Json):
        text = json.dumps(render(frame.message, ctx))
        if frame.binary:
            return text.encode(), None
        if frame.fragments > 1:
            cut = [len(text) * i // frame.fragments for i in range(frame.fragments + 1)]
            return tuple(text[a:b] for a, b in itertools.pairwise(cut)), None
        return text, None
    if isinstance(frame, Text):
        return frame.text, None
    if isinstance(frame, Binary):
        return frame.data, None
    if isinstance(frame, NotUtf8):
        return frame.data, True
    head = '{"event":"media","streamSid":' + json.dumps(ctx.stream_sid) + ',"media":{"payload":"'
    return head + "A" * max(frame.size - len(head) - 3, 0) + '"}}', None


def _no_constants(name: str) -> Any:
    raise ValueError(name)


def ends_stream(frame: Frame, ctx: StreamContext) -> bool:
    """Whether the app must end the call on this frame: a text `stop` carrying a streamSid (any), or
    a frame the WebSocket layer refuses. Decided with the stdlib's JSON parser, not the app's."""
    if isinstance(frame, NotUtf8):
        return True
    if isinstance(frame, Oversized):
        return frame.size > WS_TRANSPORT_MAX_BYTES
    if not isinstance(frame, Json) or frame.binary:
        return False
    try:
        message = json.loads(json.dumps(render(frame.message, ctx)), parse_constant=_no_constants)
    except ValueError:
        return False
    return isinstance(message, dict) and message.get("event") == "stop" and isinstance(message.get("streamSid"), str)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def noise(size: int, seed: int) -> bytes:
    """Loud, distinctive audio (never produced by a tone): the fake's VAD hears it as speech."""
    return bytes((i * 37 + seed * 101 + (i >> 7)) % 256 for i in range(size))


# -------------------------------------------------------------------------------------- strategies

SAFE_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=16),
)
# JSON values of the wrong type for any field; NaN/Infinity make the whole frame invalid JSON.
WEIRD = st.recursive(
    st.one_of(SAFE_SCALARS, st.floats()),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=6,
)
NON_STR = WEIRD.filter(lambda value: not isinstance(value, str))
NUMBERISH = st.one_of(
    st.integers(-(2**63), 2**64).map(str),
    st.integers(-(2**70), 2**70),
    st.sampled_from(["", "-1", "1e309", "0x10", "007", " 3 ", "٣", "²"]),
    WEIRD,
)
OWN = st.just(OwnSid())
SIDS = st.one_of(OWN, OWN, OWN, st.builds(new_stream_sid), st.just(""), st.text(max_size=40), WEIRD, st.just(MISSING))
TRACKS = st.one_of(
    st.just("inbound"),
    st.just("inbound"),
    st.just(MISSING),
    st.sampled_from(["outbound", "inbound_track", "both_tracks", "INBOUND", ""]),
    WEIRD,
)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(strategy, st.just(MISSING))


SHORT_AUDIO = st.binary(max_size=480).map(b64)  # up to 60 ms per frame, any content (random bytes are loud)
LONG_AUDIO = st.builds(noise, st.integers(1_000, 40_000), st.integers(0, 99)).map(b64)  # up to 5 s in one frame
INVALID_BASE64 = st.text(min_size=1, max_size=120).filter(lambda text: not is_base64(text))
# Payloads the app forwards, and ones it must drop (not base64: OpenAI would reject the append).
PAYLOADS = st.one_of(SHORT_AUDIO, SHORT_AUDIO, SHORT_AUDIO, st.just(""), LONG_AUDIO, INVALID_BASE64, NON_STR)


def media_messages(payloads: st.SearchStrategy[Any] = PAYLOADS) -> st.SearchStrategy[dict[str, Any]]:
    inner = st.fixed_dictionaries(
        {"track": TRACKS, "chunk": maybe(NUMBERISH), "timestamp": maybe(NUMBERISH), "payload": maybe(payloads)}
    )
    return st.fixed_dictionaries(
        {
            "event": st.just("media"),
            "sequenceNumber": maybe(NUMBERISH),
            "media": st.one_of(inner, inner, inner, WEIRD, st.just(MISSING)),
            "streamSid": SIDS,
        }
    )


MARK_NAMES = st.one_of(
    st.builds(SentMark, st.integers(0, 60)),
    st.builds(SentMark, st.integers(0, 60)),
    st.from_regex(r"m[0-9]{1,4}", fullmatch=True),
    st.text(max_size=40),
    st.just(""),
    WEIRD,
)
MARKS = st.fixed_dictionaries(
    {
        "event": st.just("mark"),
        "sequenceNumber": maybe(NUMBERISH),
        "streamSid": SIDS,
        "mark": st.one_of(st.fixed_dictionaries({"name": maybe(MARK_NAMES)}), WEIRD),
    }
)
DTMFS = st.fixed_dictionaries(
    {
        "event": st.just("dtmf"),
        "sequenceNumber": maybe(NUMBERISH),
        "streamSid": SIDS,
        "dtmf": st.one_of(
            st.fixed_dictionaries({"track": maybe(TRACKS), "digit": maybe(st.one_of(st.text(max_size=3), WEIRD))}),
            WEIRD,
        ),
    }
)
START_FIELDS = ["streamSid", "accountSid", "callSid", "tracks", "customParameters", "mediaFormat"]
SECOND_STARTS = st.one_of(
    st.just(OwnStart()),  # the very same start again
    st.builds(
        OwnStart,
        st.lists(
            st.tuples(st.sampled_from(START_FIELDS), st.one_of(WEIRD, st.builds(new_call_sid), st.just(MISSING))),
            min_size=1,
            max_size=3,
        ).map(tuple),
    ),
)
CONNECTED = {"event": "connected", "protocol": "Call", "version": "1.0.0"}
CONNECTEDS = st.fixed_dictionaries(
    {"event": st.just("connected"), "protocol": maybe(st.one_of(st.just("Call"), WEIRD)), "version": maybe(WEIRD)}
)
KNOWN_EVENTS = {"connected", "start", "media", "mark", "dtmf", "stop"}
UNKNOWN_EVENTS = st.fixed_dictionaries(
    {"event": st.text(max_size=20).filter(lambda name: name not in KNOWN_EVENTS)},
    optional={"streamSid": SIDS, "media": WEIRD, "sequenceNumber": NUMBERISH},
)
NO_EVENT = st.one_of(
    st.fixed_dictionaries({"event": NON_STR}, optional={"streamSid": SIDS, "media": WEIRD}),
    st.dictionaries(st.text(max_size=8).filter(lambda key: key != "event"), WEIRD, max_size=4),
    st.one_of(st.lists(WEIRD, max_size=4), SAFE_SCALARS, st.floats()),  # JSON arrays and scalars
)
DEEP = st.integers(600, 3_000).flatmap(
    lambda depth: st.sampled_from(["[" * depth + "]" * depth, '{"event":"media","media":' * depth + "1" + "}" * depth])
)
NOT_JSON = st.one_of(st.text(max_size=200), DEEP, st.sampled_from(["", "{", '{"event": "media"', "null", "\x00"]))
STOPS = st.fixed_dictionaries(
    {
        "event": st.just("stop"),
        "sequenceNumber": maybe(st.integers(-5, 2**40).map(str)),
        "streamSid": st.one_of(OWN, OWN, st.builds(new_stream_sid), st.just(MISSING), st.integers()),
        "stop": maybe(st.fixed_dictionaries({"accountSid": st.just(ACCOUNT_SID), "callSid": st.builds(new_call_sid)})),
    }
)

IN_CALL_FRAMES: st.SearchStrategy[Frame] = st.one_of(
    st.builds(Json, media_messages()),
    st.builds(Json, media_messages()),
    st.builds(Json, media_messages()),
    st.builds(Json, MARKS),
    st.builds(Json, MARKS),
    st.builds(Json, DTMFS),
    st.builds(Json, SECOND_STARTS),
    st.builds(Json, CONNECTEDS),
    st.builds(Json, UNKNOWN_EVENTS),
    st.builds(Json, NO_EVENT),
    st.builds(Text, NOT_JSON),
    st.builds(Binary, st.binary(max_size=1024)),
    st.builds(Json, media_messages(), binary=st.just(True)),  # valid-looking media in a binary frame
    st.builds(Json, media_messages(), fragments=st.integers(2, 4)),
    st.builds(Oversized, st.integers(STREAM_MESSAGE_MAX + 1, 300_000)),
)
ENDING_FRAMES: st.SearchStrategy[Frame] = st.one_of(
    st.builds(Json, STOPS),
    st.builds(Json, STOPS, fragments=st.integers(1, 3)),
    st.builds(Oversized, st.integers(WS_TRANSPORT_MAX_BYTES + 1, WS_TRANSPORT_MAX_BYTES + 20_000)),
    st.builds(NotUtf8, st.binary(max_size=60).map(lambda tail: b'{"event":"media\xff' + tail)),
)


@st.composite
def frame_sequences(draw: st.DrawFn) -> list[Frame]:
    """10 to 40 frames; about one sequence in four has a frame that ends the stream, in its second half
    (with more frames after it)."""
    frames = draw(st.lists(IN_CALL_FRAMES, min_size=10, max_size=40))
    if draw(st.booleans()) and draw(st.booleans()):
        frames.insert(draw(st.integers(len(frames) // 2, len(frames))), draw(ENDING_FRAMES))
    return frames


KITCHEN_SINK: list[Frame] = [
    Json(OwnStart()),  # a second start, the same again
    Json(OwnStart((("callSid", "CA" + "e" * 32), ("customParameters", {})))),  # ... and another call's
    Json(CONNECTED),
    Json(
        {"event": "media", "streamSid": "MZ" + "0" * 32, "media": {"track": "inbound", "payload": b64(b"\x10" * 160)}}
    ),
    Json({"event": "media", "streamSid": OwnSid(), "media": {"track": "outbound", "payload": b64(noise(800, 1))}}),
    Json({"event": "media", "sequenceNumber": "-7", "streamSid": OwnSid(), "media": {"chunk": 2**80, "payload": ""}}),
    Json({"event": "mark", "streamSid": OwnSid(), "mark": {"name": "never-sent"}}),
    Json({"event": "mark", "streamSid": OwnSid(), "mark": {"name": SentMark(0)}}),  # a duplicate echo
    Json({"event": "mark", "streamSid": OwnSid(), "mark": {"name": SentMark(0)}}),
    Json({"event": "dtmf", "streamSid": OwnSid(), "dtmf": {"digit": "★"}}),
    Json({"event": "mystery", "streamSid": OwnSid()}),
    Json([1, 2, 3]),
    Json("just a string"),
    Text("{not json"),
    Binary(b"\x00\x01binary"),
    Oversized(STREAM_MESSAGE_MAX + 1),
]
STOP_THEN_MORE: list[Frame] = [
    Json({"event": "media", "streamSid": OwnSid(), "media": {"track": "inbound", "payload": b64(noise(320, 2))}}),
    Json({"event": "stop", "sequenceNumber": "9", "streamSid": OwnSid(), "stop": {"accountSid": ACCOUNT_SID}}),
    Json({"event": "media", "streamSid": OwnSid(), "media": {"track": "inbound", "payload": b64(noise(160, 3))}}),
    Json({"event": "stop", "streamSid": OwnSid()}),
    Json(OwnStart()),
]
PAST_THE_TRANSPORT_LIMIT: list[Frame] = [
    Json({"event": "media", "streamSid": OwnSid(), "media": {"track": "inbound", "payload": b64(noise(480, 5))}}),
    Oversized(WS_TRANSPORT_MAX_BYTES + 1),
    Json({"event": "mark", "streamSid": OwnSid(), "mark": {"name": SentMark(1)}}),
]

# Whole calls per example: few examples, no shrinking (a failure prints the frames drawn).
CALL_FUZZ = settings(
    max_examples=8,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
HTTP_FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# ------------------------------------------------------------------------------------- call helpers


async def start_fuzzed_call(stack: LiveStack) -> tuple[SimulatedCall, FakeSession]:
    known = len(stack.realtime.sessions)
    call = await stack.sim.place_call(from_=next_caller())
    await call.connect_stream()
    sessions = await stack.realtime.wait_for_sessions(known + 1, timeout=10)
    return call, sessions[known]


async def send_frames(call: SimulatedCall, frames: list[Frame]) -> tuple[Frame | None, list[bytes]]:
    """Send `frames` on the call's stream. Returns the first that ends the stream (None: none does),
    and a marker (first 20 ms) of each distinctive audio frame sent, to check it reaches no other call."""
    assert call.stream_sid is not None and call.start_message is not None
    ctx = StreamContext(call.stream_sid, call.start_message, call)
    ended: Frame | None = None
    markers: list[bytes] = []
    for frame in frames:
        event(frame_kind(frame))
        data, text = wire(frame, ctx)
        if ended is None and ends_stream(frame, ctx):
            ended = frame
        if isinstance(data, str) and '"payload"' in data and len(data) <= STREAM_MESSAGE_MAX:
            markers += _audio_markers(data)
        try:
            await call.send_raw(data, text=text)
        except ConnectionClosed:
            break
    event(f"stream ended by: {frame_kind(ended) if ended else 'nothing'}")
    return ended, markers


def frame_kind(frame: Frame) -> str:
    if isinstance(frame, Json):
        name = frame.message.get("event") if isinstance(frame.message, dict) else None
        kind = name if isinstance(name, str) and name in KNOWN_EVENTS else "other JSON"
        return f"{kind} ({'binary' if frame.binary else f'{frame.fragments} fragment(s)'})"
    return type(frame).__name__


def _audio_markers(text: str) -> list[bytes]:
    try:
        media = json.loads(text).get("media")
        audio = base64.b64decode(media["payload"], validate=True)
    except (ValueError, AttributeError, TypeError, KeyError):
        return []
    return [audio[:160]] if len(audio) >= 160 and len(set(audio[:160])) >= 16 else []


async def settle(session: FakeSession) -> None:
    """Let speech the fuzzed audio started end (the simulator streams silence after it)."""
    await asyncio.sleep(0.1)
    await session.wait_for(
        lambda: (
            len(session.events("input_audio_buffer.speech_started"))
            == len(session.events("input_audio_buffer.speech_stopped"))
        ),
        timeout=10,
        what="caller speech from fuzzed audio to end",
    )


async def answers(call: SimulatedCall, spoken: bytes, timeout: float = 10.0) -> None:
    """The caller says `spoken`; the fake model's reply echoes what it heard: it must reach this phone."""
    marker, offset = spoken[1600:1760], len(call.received_audio)
    await call.say_and_wait(spoken)
    await call.wait_for(lambda: call.received_audio.find(marker, offset) >= 0, timeout=timeout)


async def generation_done(session: FakeSession) -> None:
    """No reply is still streaming when the caller hangs up, so each example ends the same way (that race
    has its own test, `test_audio_for_a_stream_that_just_closed_does_not_crash_the_call`)."""
    await session.wait_for(
        lambda: all(r["status"] != "in_progress" for r in session.responses), timeout=10, what="replies generated"
    )


async def wait_ended(stack: LiveStack, call: SimulatedCall, session: FakeSession) -> dict[str, Any]:
    record = await wait_for_record(stack, call.call_sid, lambda r: r.get("ended_at") is not None)
    await call.wait_for(lambda: stack.services.live_calls.get(call.call_sid) is None, timeout=5)
    await asyncio.wait_for(session.closed.wait(), 5)  # and its OpenAI socket is closed too
    return record


# ------------------------------------------------------------------------------- stream properties


@CALL_FUZZ
@given(frames=frame_sequences())
@example(frames=KITCHEN_SINK)
@example(frames=STOP_THEN_MORE)
@example(frames=PAST_THE_TRANSPORT_LIMIT)
async def test_fuzzed_frames_leave_the_call_answering_or_cleanly_ended(
    stack: LiveStack, bystander: SimulatedCall, app_errors: AppErrors, frames: list[Frame]
) -> None:
    call, session = await start_fuzzed_call(stack)
    try:
        await call.wait_for_media(timeout=5)  # the greeting is playing: its marks are echoed out of order
        ended, markers = await send_frames(call, frames)
        if ended is not None:
            # A stop: the app closes (1000). A frame the WebSocket layer refuses: uvicorn closes (1007, 1009),
            # and as it drops the frames still arriving, the kernel may reset the connection (1006).
            by_uvicorn = isinstance(ended, NotUtf8 | Oversized)
            expected = {1007 if isinstance(ended, NotUtf8) else 1009, 1006} if by_uvicorn else {1000}
            assert await call.wait_closed(timeout=5) in expected, (call.close_code, call.close_reason)
            assert call.closed_by_app
            await answers(bystander, BYSTANDER_TONE)
            record = await wait_ended(stack, call, session)
            assert record["end_reason"] == ("stream_closed" if by_uvicorn else "caller_hung_up")
        else:
            await asyncio.sleep(0.05)
            assert call.connected, "a frame that is not a stop ended the call"
            await settle(session)
            await asyncio.gather(answers(call, FUZZED_TONE), answers(bystander, BYSTANDER_TONE))
            await generation_done(session)
            await call.hangup()
            record = await wait_ended(stack, call, session)
            assert record["end_reason"] == "caller_hung_up"
        assert record["stream_sid"] == call.stream_sid and record["duration_s"] is not None

        # The bystander hears only its own audio; the fuzzed call none of the bystander's.
        heard = bytes(bystander.received_audio)
        assert FUZZED_TONE[1600:1760] not in heard
        assert not any(marker in heard for marker in markers), "fuzzed audio reached another call"
        assert BYSTANDER_TONE[1600:1760] not in bytes(call.received_audio)
        assert bystander.connected
        assert call.violations == [] and bystander.violations == [], "the app sent Twilio a malformed frame"
        stack.realtime.assert_clean()  # malformed caller input never became a malformed client event
        await assert_healthy(stack)
        app_errors.assert_none()
    finally:
        await call.aclose()


def start_message(call: SimulatedCall, stream_sid: str) -> dict[str, Any]:
    start = {
        "accountSid": ACCOUNT_SID,
        "streamSid": stream_sid,
        "callSid": call.call_sid,
        "tracks": ["inbound"],
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        "customParameters": dict(call.custom_parameters),
    }
    return {"event": "start", "sequenceNumber": "1", "start": start, "streamSid": stream_sid}


async def open_raw_stream(stack: LiveStack) -> ClientConnection:
    """A WebSocket with a valid Twilio handshake signature (the same for every call)."""
    url = stack.settings.media_stream_url
    headers = {"X-Twilio-Signature": stack.sim.sign(url, {})}
    return await connect(stack.sim.local_url(url), additional_headers=headers, proxy=None, ping_interval=None)


# A start that can never be admitted, even with the call's own token.
BROKEN_STARTS = st.builds(
    OwnStart,
    st.sampled_from(
        [
            (("callSid", "CA" + "e" * 32),),
            (("accountSid", "AC" + "9" * 32),),
            (("customParameters", {}),),
            (("streamSid", 42),),
            (("callSid", MISSING),),
        ]
    ).map(tuple),
)
PRE_START_FRAMES: st.SearchStrategy[Frame] = st.one_of(
    st.just(Json(CONNECTED)),
    st.just(Json(CONNECTED)),
    st.just(Json(CONNECTED)),
    st.builds(Json, media_messages()),
    st.builds(Json, MARKS),
    st.builds(Json, DTMFS),
    st.builds(Json, STOPS),
    st.builds(Json, BROKEN_STARTS),
    st.builds(Json, UNKNOWN_EVENTS),
    st.builds(Json, NO_EVENT),
    st.builds(Text, NOT_JSON),
    st.builds(Binary, st.binary(max_size=256)),
    st.builds(Json, st.just(CONNECTED), binary=st.just(True)),
    st.builds(lambda pad: Json({**CONNECTED, "pad": "x" * pad}), st.integers(16_400, 40_000)),  # over start's cap
)


def admitted_after(prefix: list[Frame]) -> bool:
    """Twilio sends `connected` then `start`: a start after at most two `connected` frames is accepted."""
    return len(prefix) <= 2 and all(
        isinstance(frame, Json) and not frame.binary and frame.message == CONNECTED for frame in prefix
    )


@settings(CALL_FUZZ, max_examples=6)
@given(prefix=st.lists(PRE_START_FRAMES, max_size=4))
@example(prefix=[Json({"event": "media", "streamSid": OwnSid(), "media": {"payload": b64(noise(160, 4))}})])
@example(prefix=[Json(OwnStart((("callSid", "CA" + "e" * 32),)))])  # a second start: another call's first
@example(prefix=[Json(CONNECTED), Json(CONNECTED)])
async def test_anything_before_start_refuses_the_stream_and_keeps_the_token(
    stack: LiveStack, app_errors: AppErrors, prefix: list[Frame]
) -> None:
    call = await stack.sim.place_call(from_=next_caller())
    stream_sid = new_stream_sid()
    ctx = StreamContext(stream_sid, start_message(call, stream_sid))
    appends_before = _appends(stack)
    ws = await open_raw_stream(stack)
    try:
        answer: str | bytes | None = None
        try:
            for frame in [*prefix, Json(OwnStart())]:
                data, text = wire(frame, ctx)
                await ws.send(list(data) if isinstance(data, tuple) else data, text=text)
            answer = await asyncio.wait_for(ws.recv(), 5)
        except ConnectionClosed:
            pass
        event("admitted" if admitted_after(prefix) else "refused")
        if admitted_after(prefix):
            assert answer is not None and json.loads(answer)["streamSid"] == stream_sid, "the call did not start"
            await generation_done(stack.realtime.sessions[-1])  # the greeting: the call's session is the newest
            await ws.close()
            record = await wait_for_record(stack, call.call_sid, lambda r: r.get("ended_at") is not None)
            assert record["stream_sid"] == stream_sid
        else:
            assert answer is None and ws.close_code == 1008, f"not refused: {answer!r:.200}"
            await asyncio.sleep(0.05)
            assert stack.services.live_calls.get(call.call_sid) is None and _appends(stack) == appends_before
            # Nothing before the start used up the token: the genuine stream starts and talks.
            await call.connect_stream()
            await wait_for_greeting(call)
            await call.hangup()
            record = await wait_for_record(stack, call.call_sid, lambda r: r.get("ended_at") is not None)
            assert record["end_reason"] == "caller_hung_up"
        stack.realtime.assert_clean()
        await assert_healthy(stack)
        app_errors.assert_none()
    finally:
        await ws.close()
        await call.aclose()


def _appends(stack: LiveStack) -> int:
    return sum(1 for s in stack.realtime.sessions for e in s.received if e.get("type") == "input_audio_buffer.append")


@settings(max_examples=400, deadline=None)
@given(frame=st.one_of(IN_CALL_FRAMES, ENDING_FRAMES), sid=st.builds(new_stream_sid))
def test_codec_never_raises_and_only_inbound_media_is_audio(frame: Frame, sid: str) -> None:
    """The same frames in process, many more of them: decoding never raises, and only a media frame
    on the inbound track (or with none) becomes caller audio."""
    start = {"event": "start", "streamSid": sid, "start": {"streamSid": sid, "callSid": new_call_sid()}}
    data, _ = wire(frame, StreamContext(sid, start))
    if isinstance(data, tuple):
        data = "".join(data)
    decoded = TwilioCodec.decode(data)
    if isinstance(decoded, AudioIn):
        message = json.loads(data)
        assert message["event"] == "media" and message["media"].get("track", "inbound") == "inbound"
        assert decoded.payload == message["media"]["payload"]


# ------------------------------------------------------------------------------ webhook properties

WEBHOOK_PATHS = ["/incoming-call", "/call-status", "/transfer-result", "/whisper"]
ASCII_TEXT = st.text(alphabet=string.ascii_letters + string.digits + string.punctuation + " ", max_size=40)
ANY_TEXT = st.text(max_size=40)
HEADER_TEXT = st.text(alphabet=string.ascii_letters + string.digits + string.punctuation, min_size=1, max_size=40)
FORM_CONTENT = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class RawRequest:
    method: str
    path: str  # with the query string
    headers: tuple[tuple[str, str | bytes], ...]
    body: bytes
    chunked: bool = False

    def __repr__(self) -> str:
        body = self.body[:120] + (b"..." if len(self.body) > 120 else b"")
        return f"RawRequest({self.method} {self.path[:120]!r} {self.headers!r:.300} body={body!r} len={len(self.body)})"


def _form(fields: dict[str, str]) -> bytes:
    return urlencode(fields).encode()


BODIES = st.one_of(
    st.binary(max_size=2048),
    st.binary(max_size=64).map(lambda tail: b"CallSid=CA%20&From=" + b"\xff\xfe" + tail),  # not UTF-8
    st.integers(201, 3_000).map(lambda n: "&".join(f"f{i}={i}" for i in range(n)).encode()),  # too many fields
    st.dictionaries(ANY_TEXT, ANY_TEXT, max_size=30).map(_form),
    st.text(max_size=200).map(str.encode),
    WEIRD.map(lambda value: json.dumps(value).encode()),
    st.integers(64 * 1024 + 1, 120_000).map(lambda n: b"Body=" + b"x" * n),  # past the body limit
    st.just(b""),
)
CONTENT_TYPES = st.one_of(
    st.just(FORM_CONTENT),
    st.just(FORM_CONTENT),
    st.sampled_from(
        [
            FORM_CONTENT + "; charset=utf-8",
            "application/json",
            "text/plain",
            "multipart/form-data; boundary=xyz",
            "text/xml",
            "",
            "APPLICATION/X-WWW-FORM-URLENCODED",
        ]
    ),
    HEADER_TEXT,
    st.just(MISSING),
)


@st.composite
def garbage_requests(draw: st.DrawFn) -> RawRequest:
    path = draw(st.sampled_from(WEBHOOK_PATHS))
    query = draw(st.one_of(st.just({}), st.dictionaries(ANY_TEXT, ANY_TEXT, max_size=4)))
    if query:
        path += "?" + urlencode(query)
    headers: list[tuple[str, str | bytes]] = []
    content_type = draw(CONTENT_TYPES)
    if content_type is not MISSING:
        headers.append(("content-type", content_type))
    signature = draw(
        st.one_of(
            st.just(MISSING),
            st.just(""),
            HEADER_TEXT,
            st.lists(st.integers(0x21, 0xFF).filter(lambda b: b != 0x7F), min_size=1, max_size=40).map(bytes),
            st.just("SIGNED-ELSEWHERE"),  # a real signature, but for another URL and body
        )
    )
    if signature is not MISSING:
        headers.append(("x-twilio-signature", signature))
    method = draw(
        st.one_of(st.just("POST"), st.just("POST"), st.just("POST"), st.sampled_from(["GET", "PUT", "DELETE"]))
    )
    return RawRequest(method, path, tuple(headers), draw(BODIES), chunked=draw(st.booleans()))


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 16 * 1024):
        yield body[start : start + 16 * 1024]


@pytest.fixture
async def http(webhook_stack: LiveStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=webhook_stack.app_url, timeout=10) as client:
        yield client


@HTTP_FUZZ
@given(request=garbage_requests())
async def test_malformed_webhooks_are_refused_with_4xx(
    webhook_stack: LiveStack, webhook_errors: AppErrors, http: httpx.AsyncClient, request: RawRequest
) -> None:
    headers = dict(request.headers)
    if headers.get("x-twilio-signature") == "SIGNED-ELSEWHERE":
        sim = webhook_stack.sim
        headers["x-twilio-signature"] = sim.sign(sim.public_url("/elsewhere"), {"CallSid": new_call_sid()})
    content: bytes | AsyncIterator[bytes] = _chunks(request.body) if request.chunked else request.body
    response = await http.request(request.method, request.path, content=content, headers=headers)
    event(f"HTTP {response.status_code}")
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    webhook_errors.assert_none(collect=False)


# XML 1.0 characters only: a control character in a signed field is `test_signed_..._control_characters`.
XML_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cs", "Cn"]), max_size=40)
ASCII_NUMBERS = st.one_of(st.integers(-(10**18), 10**18).map(str), ASCII_TEXT)
TWILIO_STATUSES = ["queued", "ringing", "in-progress", "completed", "busy", "failed", "no-answer", "canceled"]


@st.composite
def signed_webhooks(draw: st.DrawFn) -> tuple[str, dict[str, str]]:
    """Correctly signed webhooks (only Twilio can send these) with every field fuzzed."""
    path = draw(st.sampled_from(WEBHOOK_PATHS))
    call_sid = draw(st.one_of(st.builds(new_call_sid), st.builds(new_call_sid), XML_TEXT, st.just("")))
    fields = {
        "AccountSid": draw(st.one_of(st.just(ACCOUNT_SID), st.just(ACCOUNT_SID), XML_TEXT)),
        "CallSid": call_sid,
        "CallStatus": draw(st.one_of(st.sampled_from(TWILIO_STATUSES), XML_TEXT)),
        "SequenceNumber": draw(ASCII_NUMBERS),
        "CallDuration": draw(ASCII_NUMBERS),
        "Timestamp": draw(st.one_of(st.just("Tue, 21 May 2024 10:00:00 +0000"), ASCII_TEXT)),
        "From": draw(st.one_of(st.just("+919876543210"), XML_TEXT)),
        "To": draw(st.one_of(st.just("+918000000000"), XML_TEXT)),
        "Direction": draw(st.one_of(st.sampled_from(["inbound", "outbound-api", "outbound-dial"]), XML_TEXT)),
        "DialCallStatus": draw(st.one_of(st.sampled_from(["completed", "answered", "busy", "no-answer"]), XML_TEXT)),
        "StirVerstat": draw(XML_TEXT),
    }
    dropped = draw(st.sets(st.sampled_from(sorted(fields)), max_size=3))
    fields = {key: value for key, value in fields.items() if key not in dropped}
    fields.update(draw(st.dictionaries(XML_TEXT, XML_TEXT, max_size=5)))
    query: dict[str, str] = {}
    if path in ("/whisper", "/transfer-result"):
        query = draw(
            st.fixed_dictionaries({}, optional={"call_sid": st.one_of(st.just(call_sid), XML_TEXT), "token": XML_TEXT})
        )
    elif path == "/incoming-call":
        query = draw(st.fixed_dictionaries({}, optional={"purpose": XML_TEXT}))
    return path + ("?" + urlencode(query) if query else ""), fields


@settings(HTTP_FUZZ, max_examples=80)
@given(webhook=signed_webhooks())
async def test_signed_webhooks_with_fuzzed_fields_never_fail_with_5xx(
    webhook_stack: LiveStack, webhook_errors: AppErrors, webhook: tuple[str, dict[str, str]]
) -> None:
    path, fields = webhook
    response = await webhook_stack.sim.post_webhook(path, fields)
    event(f"{path.split('?')[0]} HTTP {response.status_code}")
    assert response.status_code < 500, (response.status_code, response.text[:300])
    if response.status_code == 200:
        assert "xml" in response.headers["content-type"]
        assert ET.fromstring(response.text).tag == "Response"
    webhook_errors.assert_none(collect=False)


async def test_after_the_webhook_fuzz_the_service_still_takes_calls(
    webhook_stack: LiveStack, webhook_errors: AppErrors
) -> None:
    """Runs after the webhook properties (file order): health and a whole genuine call."""
    await assert_healthy(webhook_stack)
    call = await webhook_stack.sim.place_call(from_=next_caller())
    await call.connect_stream()
    await wait_for_greeting(call)
    await answers(call, FUZZED_TONE)
    await generation_done(webhook_stack.realtime.sessions[-1])
    await call.hangup()
    record = await wait_for_record(webhook_stack, call.call_sid, lambda r: r.get("ended_at") is not None)
    assert record["end_reason"] == "caller_hung_up"
    webhook_stack.realtime.assert_clean()
    webhook_errors.assert_none()


# ------------------------------------------------------------------------- bugs these tests found (fixed)


async def eventually(predicate: Any, timeout: float) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


@settings(CALL_FUZZ, max_examples=2)
@given(payloads=st.lists(INVALID_BASE64, min_size=1, max_size=20))
@example(payloads=["AAA", "!!!!", "AA==AAAA", "-_-_", "AAAA\nAAAA", "ÿÿÿÿ", "===="])
async def test_media_whose_payload_is_not_base64_never_reaches_openai(
    stack: LiveStack, app_errors: AppErrors, payloads: list[str]
) -> None:
    call, session = await start_fuzzed_call(stack)
    try:
        await wait_for_greeting(call)
        for payload in payloads:
            media = {"track": "inbound", "chunk": "1", "timestamp": "0", "payload": payload}
            await call.send_raw(json.dumps({"event": "media", "streamSid": call.stream_sid, "media": media}))
        await settle(session)
        await answers(call, FUZZED_TONE)  # the call goes on (this part holds)
        await generation_done(session)
        await call.hangup()
        record = await wait_ended(stack, call, session)
        app_errors.assert_none()
        await assert_healthy(stack)
        sent = [e["audio"] for e in session.received if e.get("type") == "input_audio_buffer.append"]
        assert [audio[:40] for audio in sent if not is_base64(audio)] == [], "appends OpenAI cannot decode"
        assert record["realtime_errors"] == []
        stack.realtime.assert_clean()
    finally:
        await call.aclose()


@pytest.mark.parametrize("stray", ["none", pytest.param("never-sent"), pytest.param("repeated")])
async def test_a_stray_mark_echo_does_not_hide_audio_still_playing(
    stack: LiveStack, app_errors: AppErrors, stray: str
) -> None:
    stack.realtime.script = Script(greeting_ms=300, reply_ms=3000)
    call, session = await start_fuzzed_call(stack)
    try:
        await wait_for_greeting(call)
        greeting_marks = [echo.name for echo in call.marks_echoed]
        await call.say_and_wait(FUZZED_TONE)
        await call.wait_for(lambda: call.played_ms >= 300 + 300, timeout=10)  # the 3 s reply is playing
        assert call.pending_marks, "the reply's marks are still pending at the phone"
        if stray != "none":
            name = greeting_marks[0] if stray == "repeated" else "never-sent"
            mark = {"event": "mark", "sequenceNumber": "999", "streamSid": call.stream_sid, "mark": {"name": name}}
            await call.send_raw(json.dumps(mark))
            await asyncio.sleep(0.2)
        await call.say(BYSTANDER_TONE)  # the caller talks over the reply
        assert await eventually(lambda: len(call.clears) == 1 and len(session.truncations) == 1, timeout=1.0), (
            f"barge-in after a {stray} mark echo: no clear or truncate, the caller hears the rest of the reply"
        )
        assert call.clears[0].dropped_bytes > 0
        await generation_done(session)
        await call.hangup()
        await wait_ended(stack, call, session)
        stack.realtime.assert_clean()
        app_errors.assert_none()
    finally:
        await call.aclose()


def _status_params(stack: LiveStack, **fields: str) -> dict[str, str]:
    params = stack.sim.voice_webhook_params(new_call_sid(), "+919876543210", "+918000000000", call_status="completed")
    params.update(
        {"SequenceNumber": "1", "CallDuration": "5", "Timestamp": "Tue, 21 May 2024 10:00:00 +0000", **fields}
    )
    return params


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"SequenceNumber": "²"}, id="superscript-sequence-number"),
        pytest.param({"CallDuration": "³"}, id="superscript-duration"),
        pytest.param({"SequenceNumber": str(2**63)}, id="sequence-number-past-int64"),
        pytest.param({"CallDuration": str(2**64)}, id="duration-past-int64"),
        pytest.param({"Timestamp": "Fri, 31 Dec 9999 23:59:59 -1400"}, id="timestamp-overflow"),
        pytest.param({"SequenceNumber": str(2**63 - 1), "CallDuration": "٣"}, id="in-range"),
    ],
)
async def test_signed_status_callback_with_numbers_out_of_range_is_not_a_5xx(
    webhook_stack: LiveStack, fields: dict[str, str]
) -> None:
    response = await webhook_stack.sim.post_webhook("/call-status", _status_params(webhook_stack, **fields))
    assert response.status_code < 500, (response.status_code, response.text[:200])
    await assert_healthy(webhook_stack)


@pytest.mark.parametrize("field", ["From", "StirVerstat"])
async def test_signed_voice_webhook_with_control_characters_answers_well_formed_twiml(
    webhook_stack: LiveStack, field: str
) -> None:
    sim = webhook_stack.sim
    params = sim.voice_webhook_params(new_call_sid(), next_caller(), "+918000000000")
    params[field] = params[field][:6] + "\x01\x1b" + params[field][6:]
    response = await sim.post_webhook("/incoming-call", params)
    assert response.status_code < 500
    if response.status_code == 200:
        try:
            ET.fromstring(response.text)
        except ET.ParseError as error:
            raise AssertionError(f"malformed TwiML ({error}): {response.text[:300]!r}") from error


@pytest.mark.parametrize("closing", ["not-utf8", "caller-closes"])  # uvicorn closes it / the caller does
async def test_audio_for_a_stream_that_just_closed_does_not_crash_the_call(
    stack: LiveStack, app_errors: AppErrors, closing: str
) -> None:
    stack.realtime.script = Script(greeting_ms=300, reply_ms=8_000)  # the reply streams for about 0.8 s
    call, session = await start_fuzzed_call(stack)
    try:
        await wait_for_greeting(call)
        live: Any = stack.services.live_calls.get(call.call_sid)
        receive = live.stream.receive

        async def busy_receive() -> Any:
            # The carrier pump is still working through frames queued before the close: in production
            # that takes microseconds to milliseconds; here 200 ms, so the race is won every time.
            received = await receive()
            if isinstance(received, StreamClosed):
                await asyncio.sleep(0.2)
            return received

        live.stream.receive = busy_receive
        before = call.received_media_bytes
        await call.say_and_wait(FUZZED_TONE)
        await call.wait_for(lambda: call.received_media_bytes > before + 4000, timeout=10)  # the reply streams
        if closing == "caller-closes":
            assert call.ws is not None
            await call.ws.close()  # no stop first: a dropped leg, or a hostile client
        else:
            await call.send_raw(b'{"event":"media\xff', text=True)  # uvicorn closes it (1007); so would 1009
        await call.wait_closed(timeout=5)
        await app_errors.wait_for_any(timeout=1.0)
        app_errors.assert_none()
        record = await wait_for_record(stack, call.call_sid, lambda r: r.get("ended_at") is not None)
        assert record["end_reason"] == "stream_closed"
        # A pump that died would stop reading OpenAI's socket, and closing that one would then wait for
        # websockets' close_timeout (10 s): the session closes promptly.
        await asyncio.wait_for(session.closed.wait(), 5)
    finally:
        await call.aclose()
        if not session.closed.is_set():
            await session.disconnect(code=None)  # the lingering OpenAI socket would hold the stack's stop for 10 s
