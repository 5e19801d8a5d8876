"""Per-frame CPU cost of the audio hot path (no sockets): the openai SDK's typed path against ours.

Every row is timed with `timeit` (sync) or an equivalent await loop (async) over many iterations,
repeated; the figure is the median of the repeats in µs per operation. Only the two sockets are
stubbed (Starlette's WebSocket under `TwilioMediaStream`, the websockets connection under the SDK's
`AsyncRealtimeConnection`); everything above them is the app's own code, built by its composition root
(`services.container.build_services`). So these are the Python costs on top of the WebSocket libraries
and the kernel (bench/bridge_load.py measures the whole process under load).

    .venv/bin/python -m bench.audio_path_micro            # ~70 s
    .venv/bin/python -m bench.audio_path_micro --quick    # fewer iterations, for a smoke test
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import io
import json
import os
import platform
import random
import statistics
import time
import timeit
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, Union, cast

import openai
import orjson
import pydantic
from openai._utils import async_maybe_transform
from openai.resources.realtime.realtime import AsyncRealtimeConnection
from openai.types.realtime import RealtimeServerEvent
from openai.types.realtime.realtime_client_event_param import RealtimeClientEventParam
from openai.types.realtime.response_create_event_with_references_param import ResponseCreateEventWithReferencesParam
from starlette.websockets import WebSocketState
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import OP_TEXT, Frame

from models.twilio_stream import twilio_message_adapter
from services.call.playback import PlaybackLedger, mulaw_b64_duration_ms
from services.call.session import CallSession
from services.container import AppServices, build_services
from services.realtime.client_events import client_event_text
from services.realtime.connector import RealtimeConnector
from services.realtime.session_config import build_session_config, greeting_instructions
from services.telephony.events import AudioIn
from services.telephony.twilio_stream import TwilioCodec, TwilioMediaStream, read_start
from tests.fakes.mulaw import tone
from tests.stack import make_settings
from utils.logger import configure_logging, get_logger

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
    uvloop = None  # type: ignore[assignment]

SDK_SEND_TYPE = Union[RealtimeClientEventParam, ResponseCreateEventWithReferencesParam]  # noqa: UP007 (as the SDK)
INBOUND_PER_S = 50  # Twilio sends one 20 ms frame every 20 ms
OUTBOUND_PER_S = 10  # ~100 ms of assistant audio per response.output_audio.delta
TRANSCRIPTS_PER_S = 10  # response.output_audio_transcript.delta while the assistant speaks (the fake: 1 per chunk)
STREAM_SID = "MZ" + "a1b2c3d4" * 4
CALL_SID = "CA" + "0123456789abcdef" * 2
PUMP_TIMEOUT_S = 60.0  # per batch of frames fed to a running pump
GROUPS = ("append", "delta in", "chunk out", "frame in", "session", "pumps", "websocket", "control", "log", "per call")


# ----------------------------------------------------------------------------------------- sample data
def mulaw_bytes(n: int, seed: int = 1) -> bytes:
    """Deterministic speech-like μ-law bytes (the content does not matter to any row here)."""
    return bytes((seed * 37 + i * 101) % 251 for i in range(n))


FRAME_B64 = base64.b64encode(mulaw_bytes(160)).decode()  # 20 ms inbound frame: 216 characters
DELTA_B64 = base64.b64encode(mulaw_bytes(800, 2)).decode()  # 100 ms assistant chunk: 1068 characters
APPEND_EVENT = {"type": "input_audio_buffer.append", "audio": FRAME_B64}
TWILIO_CONNECTED = json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})
TWILIO_START = json.dumps(
    {
        "event": "start",
        "sequenceNumber": "1",
        "streamSid": STREAM_SID,
        "start": {
            "streamSid": STREAM_SID,
            "accountSid": "AC" + "0" * 32,
            "callSid": CALL_SID,
            "tracks": ["inbound"],
            "customParameters": {"caller": "+919876543210", "direction": "inbound"},
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        },
    }
)
TWILIO_MEDIA = json.dumps(
    {
        "event": "media",
        "sequenceNumber": "1234",
        "media": {"track": "inbound", "chunk": "1233", "timestamp": "24640", "payload": FRAME_B64},
        "streamSid": STREAM_SID,
    }
)
IDS = {"response_id": "resp_0a1b2c3d4e5f6a7b8c9d", "item_id": "item_0a1b2c3d4e5f6a7b8c9d"}
RESPONSE_CREATED = json.dumps(
    {
        "event_id": "event_4820",
        "type": "response.created",
        "response": {"id": IDS["response_id"], "object": "realtime.response", "status": "in_progress", "output": []},
    }
).encode()
AUDIO_DELTA = json.dumps(
    {
        "event_id": "event_4821",
        "type": "response.output_audio.delta",
        **IDS,
        "output_index": 0,
        "content_index": 0,
        "delta": DELTA_B64,
    }
).encode()
TRANSCRIPT_DELTA = json.dumps(
    {
        "event_id": "event_4822",
        "type": "response.output_audio_transcript.delta",
        **IDS,
        "output_index": 0,
        "content_index": 0,
        "delta": "aapka order ",
    }
).encode()


def mark_echo(sent_mark: str) -> str:
    """Twilio's echo of a mark we sent: the same message with a sequence number (Twilio Media Streams)."""
    return sent_mark.replace('{"event":"mark",', '{"event":"mark","sequenceNumber":"9",', 1)


# ----------------------------------------------------------------------------------------- stubs
T = TypeVar("T")


class Inbox(Generic[T]):
    """Frames a stub socket hands out. When they run out, the reader blocks (as on a quiet socket) and
    `drained` is set: so a pump runs as a task for the whole bench, as in the app, and never sees its
    socket close (which would start the app's reconnect / end-of-call paths)."""

    def __init__(self) -> None:
        self.frames: deque[T] = deque()
        self.drained = asyncio.Event()
        self._more = asyncio.Event()

    def feed(self, frames: list[T]) -> None:
        self.frames.extend(frames)
        self.drained.clear()
        self._more.set()

    async def next(self) -> T:
        while not self.frames:
            self.drained.set()
            self._more.clear()
            await self._more.wait()
        return self.frames.popleft()


class StubTwilioSocket:
    """Stands in for Starlette's WebSocket under `TwilioMediaStream` / `read_start`: receive() hands out the
    fed text frames; send_text() keeps the last frame sent (the bench echoes marks from it, as Twilio
    does), nothing else."""

    client_state = WebSocketState.CONNECTED

    def __init__(self) -> None:
        self.scope: dict[str, Any] = {}  # no server socket of its own: `frame_socket` wraps this one
        self.inbox: Inbox[str] = Inbox()
        self.last_sent = ""

    async def receive_text(self) -> str:
        return await self.inbox.next()

    async def receive(self) -> dict[str, Any]:
        return {"type": "websocket.receive", "text": await self.inbox.next()}

    async def send_text(self, text: str) -> None:
        self.last_sent = text

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        return None


class StubSdkSocket:
    """Stands in for the websockets client connection under the SDK's `AsyncRealtimeConnection`: sends
    are dropped; recv() hands out the fed server frames."""

    def __init__(self) -> None:
        self.inbox: Inbox[bytes] = Inbox()

    async def send(self, data: str | bytes) -> None:
        return None

    def send_now(self, text: str) -> bool:  # as the app's aiohttp socket writes an append
        return True

    async def recv(self, decode: bool | None = None) -> bytes:
        return await self.inbox.next()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        return None


def make_connection(socket: StubSdkSocket | None = None) -> AsyncRealtimeConnection:
    """A real SDK connection object (send queue, send_raw, recv_bytes, parse_event) over a stub socket."""
    return AsyncRealtimeConnection(cast(Any, socket or StubSdkSocket()))


class StubSocketConnector(RealtimeConnector):
    """The app's connector, but `open()` (the SDK's network connect) hands out one connection over a stub
    socket; `open_conversation()` (session config, typed session.update, response.create) is the app's."""

    def __init__(self, services: AppServices) -> None:
        super().__init__(services.settings, services.agent, services.tools.session_tools())
        self.socket = StubSdkSocket()
        self.connection = make_connection(self.socket)

    async def open(self) -> AsyncRealtimeConnection:
        return self.connection


@dataclass
class Bench:
    """One call as the app builds it (`api/twilio_webhooks.media_stream`), over stub sockets."""

    services: AppServices
    connector: StubSocketConnector
    twilio: StubTwilioSocket
    stream: TwilioMediaStream
    session: CallSession
    pumps: list[asyncio.Task[None]]

    @property
    def realtime(self) -> StubSdkSocket:
        return self.connector.socket

    async def aclose(self) -> None:
        for task in self.pumps:
            task.cancel()
        await asyncio.gather(*self.pumps, return_exceptions=True)
        await self.services.aclose()


async def run_until_drained(inbox: Inbox[Any], frames: list[Any]) -> None:
    """Hand a running pump these frames and wait until it has handled them all and asks for more (bounded:
    a pump that died would never ask)."""
    inbox.feed(frames)
    try:
        await asyncio.wait_for(inbox.drained.wait(), timeout=PUMP_TIMEOUT_S)
    except TimeoutError:
        raise RuntimeError(f"a pump did not take {len(frames)} frames within {PUMP_TIMEOUT_S:.0f} s") from None


async def make_bench() -> Bench:
    """The app's composition root with the Realtime connect stubbed; a real TwilioMediaStream and CallSession
    with its RealtimeLink opened through `open_conversation`, the session's two pumps running as tasks
    (`CallSession.run` would also start the watchdogs and the record writer: not here), and one response
    in flight. The rows feed the pumps through the stub sockets, or call the session's methods directly."""
    services = build_services(make_settings())
    connector = StubSocketConnector(services)
    deps = dataclasses.replace(services.call_deps, connector=connector, preopened=None)
    twilio = StubTwilioSocket()
    twilio.inbox.feed([TWILIO_CONNECTED, TWILIO_START])
    start = await read_start(cast(Any, twilio))
    assert start is not None
    stream = TwilioMediaStream(cast(Any, twilio), start, services.settings.max_stream_message_bytes)
    session = CallSession(deps, stream)
    # A mark after every chunk, as the rows below time it (the app sends one per MARK_EVERY_MS of audio).
    session.playout.ledger.mark_every_ms = 0.0
    greeting = greeting_instructions(deps.agent, "inbound", None)

    async def greet() -> str:
        return greeting

    await session.link.open(CALL_SID, greet)
    pumps = [asyncio.create_task(session._pump_carrier()), asyncio.create_task(session._pump_realtime())]
    await run_until_drained(connector.socket.inbox, [RESPONSE_CREATED])  # the response whose audio is played
    await run_until_drained(twilio.inbox, [])
    return Bench(services, connector, twilio, stream, session, pumps)


# ----------------------------------------------------------------------------------------- timing
@dataclass
class Row:
    group: str
    name: str
    us: float  # median of the repeats, µs per operation
    spread: tuple[float, float]  # min and max of the repeats


Timing = tuple[float, tuple[float, float]]


def summary(runs: list[float]) -> Timing:
    return statistics.median(runs), (min(runs), max(runs))


def time_sync(fn: Callable[[], Any], number: int, repeat: int) -> Timing:
    fn()  # warm caches (pydantic schema, lazy imports)
    return summary([t / number * 1e6 for t in timeit.Timer(fn).repeat(repeat=repeat, number=number)])


async def time_async(
    fn: Callable[[], Awaitable[Any]], number: int, repeat: int, setup: Callable[[], Awaitable[Any]] | None = None
) -> Timing:
    await fn()
    runs = []
    for _ in range(repeat):
        if setup is not None:
            await setup()
        start = time.perf_counter()
        for _ in range(number):
            await fn()
        runs.append((time.perf_counter() - start) / number * 1e6)
    return summary(runs)


async def time_pump(
    inbox: Inbox[Any], frames: Callable[[int], Awaitable[list[Any]]], number: int, repeat: int
) -> Timing:
    """One of the session's running pumps over `number` frames fed to its stub socket, per frame."""
    await run_until_drained(inbox, await frames(min(number, 100)))
    runs = []
    for _ in range(repeat):
        batch = await frames(number)
        start = time.perf_counter()
        await run_until_drained(inbox, batch)
        runs.append((time.perf_counter() - start) / number * 1e6)
    return summary(runs)


# ----------------------------------------------------------------------------------------- the rows
async def measure(number: int, repeat: int, groups: set[str] | None = None) -> list[Row]:
    rows: list[Row] = []
    conn = make_connection()
    server_event_adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(RealtimeServerEvent)
    bench = await make_bench()
    session, twilio, codec = bench.session, bench.twilio, bench.stream.codec

    async def add(group: str, name: str, timing: Callable[[], Timing | Awaitable[Timing]]) -> None:
        if groups is not None and group not in groups:
            return
        result = timing()
        if not isinstance(result, tuple):
            result = await result
        rows.append(Row(group, name, *result))
        print(f"  {group:9s} {name:86s} {result[0]:9.2f} µs", flush=True)

    # 1. One input_audio_buffer.append (160-byte μ-law frame) to the Realtime API.
    async def sdk_transform_dump() -> str:
        return json.dumps(await async_maybe_transform(APPEND_EVENT, SDK_SEND_TYPE))

    async def sdk_send() -> None:
        await conn.send(cast(Any, APPEND_EVENT))

    def dict_dump() -> str:
        return orjson.dumps({"type": "input_audio_buffer.append", "audio": FRAME_B64}).decode()

    def head_dump() -> str:
        return '{"type":"input_audio_buffer.append","audio":' + orjson.dumps(FRAME_B64).decode() + "}"

    async def dict_send() -> None:
        await conn.send_raw(orjson.dumps({"type": "input_audio_buffer.append", "audio": FRAME_B64}).decode())

    async def link_append() -> None:
        session.link.append_audio(FRAME_B64)

    await add(
        "append",
        "SDK typed: async_maybe_transform(event, Union[...]) + json.dumps",
        lambda: time_async(sdk_transform_dump, number // 4, repeat),
    )
    await add(
        "append",
        "SDK typed: AsyncRealtimeConnection.send(dict), socket stubbed",
        lambda: time_async(sdk_send, number // 4, repeat),
    )
    await add(
        "append", "orjson.dumps({...}).decode() (the app before be96b51)", lambda: time_sync(dict_dump, number, repeat)
    )
    await add(
        "append",
        "ours: pre-serialised head + orjson.dumps(payload) (RealtimeLink)",
        lambda: time_sync(head_dump, number, repeat),
    )
    await add(
        "append",
        "orjson.dumps({...}) + AsyncRealtimeConnection.send_raw, socket stubbed",
        lambda: time_async(dict_send, number, repeat),
    )
    await add(
        "append",
        "ours: RealtimeLink.append_audio (frame + send_now), socket stubbed",
        lambda: time_async(link_append, number, repeat),
    )

    # 2. Parsing one response.output_audio.delta (100 ms, 800 bytes as base64).
    def sdk_parse() -> Any:
        return conn.parse_event(AUDIO_DELTA)

    def sdk_validate() -> Any:
        return server_event_adapter.validate_json(AUDIO_DELTA)

    await add(
        "delta in",
        "SDK: connection.parse_event(raw) (json.loads + construct_type_unchecked)",
        lambda: time_sync(sdk_parse, number, repeat),
    )
    await add(
        "delta in",
        "pydantic: TypeAdapter(RealtimeServerEvent).validate_json(raw) (validated)",
        lambda: time_sync(sdk_validate, number, repeat),
    )
    await add(
        "delta in", "ours: orjson.loads(raw)", lambda: time_sync(lambda: orjson.loads(AUDIO_DELTA), number, repeat)
    )

    # 3. Our Twilio-side work per outbound chunk, without the session.
    ledger = PlaybackLedger(mark_every_ms=0)  # the worst case: a mark after every chunk
    clock = time.monotonic
    chunk_codec = TwilioCodec(STREAM_SID)

    def twilio_out() -> None:
        payload = DELTA_B64
        name = ledger.on_audio_sent(IDS["response_id"], IDS["item_id"], mulaw_b64_duration_ms(payload), clock())
        chunk_codec.media(payload)
        if name is not None:
            chunk_codec.mark(name)

    def twilio_out_timed() -> Timing:
        nonlocal ledger
        runs = []
        twilio_out()
        for _ in range(repeat):
            ledger = PlaybackLedger(mark_every_ms=0)  # the pending-mark deque is drained by echoes in a real call
            runs.append(timeit.Timer(twilio_out).timeit(number) / number * 1e6)
        return summary(runs)

    def dict_media_frame() -> str:
        return orjson.dumps({"event": "media", "streamSid": STREAM_SID, "media": {"payload": DELTA_B64}}).decode()

    await add(
        "chunk out",
        "TwilioCodec.media + .mark + ledger.on_audio_sent + mulaw_b64_duration_ms",
        twilio_out_timed,
    )
    await add(
        "chunk out",
        "  of which mulaw_b64_duration_ms",
        lambda: time_sync(lambda: mulaw_b64_duration_ms(DELTA_B64), number, repeat),
    )
    await add(
        "chunk out",
        "  of which TwilioCodec.media (pre-serialised head)",
        lambda: time_sync(lambda: chunk_codec.media(DELTA_B64), number, repeat),
    )
    await add(
        "chunk out",
        "  media frame as orjson.dumps({...}) (the app before be96b51)",
        lambda: time_sync(dict_media_frame, number, repeat),
    )

    # 4. Our inbound per-frame parse and the typed alternative.
    def inline_parse() -> str | None:
        message = orjson.loads(TWILIO_MEDIA)
        if message["event"] == "media":
            media = message.get("media")
            payload = media.get("payload") if isinstance(media, dict) else None
            if isinstance(payload, str) and media.get("track", "inbound") == "inbound":
                return payload
        return None

    def typed_inbound_parse() -> str:
        return twilio_message_adapter.validate_python(orjson.loads(TWILIO_MEDIA)).media.payload

    await add(
        "frame in",
        "ours: TwilioCodec.decode(media message) -> AudioIn",
        lambda: time_sync(lambda: codec.decode(TWILIO_MEDIA), number, repeat),
    )
    await add(
        "frame in",
        "  orjson.loads + dict access inline, no event object (the app before be96b51)",
        lambda: time_sync(inline_parse, number, repeat),
    )
    await add(
        "frame in",
        "typed: orjson.loads + twilio_message_adapter.validate_python",
        lambda: time_sync(typed_inbound_parse, number, repeat),
    )
    await add(
        "frame in",
        "typed: twilio_message_adapter.validate_json(text)",
        lambda: time_sync(lambda: twilio_message_adapter.validate_json(TWILIO_MEDIA), number, repeat),
    )

    # 5. The real session's methods (sockets stubbed): what one frame / chunk costs in the app. Same
    # scope as the rows of the app before be96b51 (its CallSession._handle_twilio_text per message).
    async def inbound_frame() -> None:
        event = codec.decode(TWILIO_MEDIA)
        assert isinstance(event, AudioIn)
        session.link.append_audio(event.payload)

    async def outbound_chunk() -> None:
        await session._on_audio_delta(orjson.loads(AUDIO_DELTA))

    async def outbound_chunk_and_echo() -> None:
        await session._on_audio_delta(orjson.loads(AUDIO_DELTA))
        echo = codec.decode(mark_echo(twilio.last_sent))
        session._on_mark_echo(echo.name)  # type: ignore[union-attr]

    def drain_marks() -> None:
        """What Twilio's echo of the last mark does in a call: every pending mark has played."""
        if twilio.last_sent.startswith('{"event":"mark"'):
            session._on_mark_echo(codec.decode(mark_echo(twilio.last_sent)).name)  # type: ignore[union-attr]

    async def drained() -> None:
        drain_marks()

    handlers = CallSession._control_handlers

    def control_event_as_is() -> Any:
        event = orjson.loads(TRANSCRIPT_DELTA)
        return handlers.get(str(event.get("type", "")))

    def control_event_typed() -> Any:
        orjson.loads(TRANSCRIPT_DELTA)
        return session.link._connection().parse_event(TRANSCRIPT_DELTA)  # what RealtimeLink.parse was

    await add(
        "session",
        "TwilioCodec.decode(media) + RealtimeLink.append_audio: parse + append + send_raw",
        lambda: time_async(inbound_frame, number, repeat),
    )
    await add(
        "session",
        "orjson.loads(delta) + CallSession._on_audio_delta: ledger + media + mark",
        lambda: time_async(outbound_chunk, number, repeat, drained),
    )
    await add(
        "session",
        "  + its mark echo: TwilioCodec.decode(mark) (typed) + CallSession._on_mark_echo",
        lambda: time_async(outbound_chunk_and_echo, number, repeat, drained),
    )
    await add(
        "session",
        "transcript delta (no handler): orjson.loads + CallSession._control_handlers lookup",
        lambda: time_sync(control_event_as_is, number, repeat),
    )
    await add(
        "session",
        "transcript delta parsed anyway: orjson.loads + the SDK's parse_event (the app before ec8fcff)",
        lambda: time_sync(control_event_typed, number, repeat),
    )

    # 6. The session's two pumps (running tasks) end to end, per message, over the stub sockets:
    # TwilioMediaStream.receive (socket receive, size check, decode), RealtimeLink.events (SDK
    # recv_bytes, orjson) and the session's dispatch.
    async def media_frames(count: int) -> list[str]:
        return [TWILIO_MEDIA] * count

    async def echoes(count: int) -> list[str]:
        drain_marks()
        frames = []
        for _ in range(count):  # each echo must name a mark really sent (and still pending)
            await session._on_audio_delta(orjson.loads(AUDIO_DELTA))
            frames.append(mark_echo(twilio.last_sent))
        return frames

    async def audio_deltas(count: int) -> list[bytes]:
        drain_marks()
        return [AUDIO_DELTA] * count

    async def transcript_deltas(count: int) -> list[bytes]:
        return [TRANSCRIPT_DELTA] * count

    await add(
        "pumps",
        "CallSession._pump_carrier, per media frame: receive + decode + append_audio",
        lambda: time_pump(twilio.inbox, media_frames, number, repeat),
    )
    await add(
        "pumps",
        "CallSession._pump_realtime, per audio delta: recv_bytes + orjson + _on_audio_delta",
        lambda: time_pump(bench.realtime.inbox, audio_deltas, number, repeat),
    )
    await add(
        "pumps",
        "CallSession._pump_carrier, per mark echo: receive + typed decode + _on_mark_echo",
        lambda: time_pump(twilio.inbox, echoes, number, repeat),
    )
    await add(
        "pumps",
        "CallSession._pump_realtime, per transcript delta (no handler)",
        lambda: time_pump(bench.realtime.inbox, transcript_deltas, number, repeat),
    )

    # 7. The WebSocket library's own per-message work on the Twilio socket, with and without
    # permessage-deflate (which the app declines since ec8fcff: this shows what it would cost).
    if groups is None or "websocket" in groups:
        for name, result in websocket_rows(repeat):
            await add("websocket", name, lambda result=result: result)

    # 8. Once per call (not per frame): configuring the session and asking for the greeting, typed.
    settings, agent = bench.services.settings, bench.services.agent
    session_config = build_session_config(settings, agent, bench.services.tools.session_tools())
    greeting = greeting_instructions(agent, "inbound", None)

    # 9. A control event (the greeting's response.create; a few dozen per call: notes, truncations, tool
    # outputs, the summary request), and one log line, both written on the event loop.
    greeting_event = {"type": "response.create", "response": {"instructions": greeting}}

    async def sdk_control_send() -> None:
        await conn.send(cast(Any, greeting_event))  # the SDK's typed send (async_maybe_transform)

    async def our_control_send() -> None:
        await conn.send_raw(client_event_text(greeting_event))

    await add(
        "control",
        "greeting response.create: SDK typed send (async_maybe_transform + json.dumps), socket stubbed",
        lambda: time_async(sdk_control_send, max(number // 20, 200), repeat),
    )
    await add(
        "control",
        "ours: client_event_text (the SDK's RealtimeClientEvent models) + send_raw, socket stubbed",
        lambda: time_async(our_control_send, max(number // 4, 500), repeat),
    )

    async def call_setup() -> None:
        await bench.connector.open_conversation(greeting)

    await add(
        "per call",
        f"RealtimeConnector.open_conversation: typed session.update ({len(orjson.dumps(session_config)):,} B) + "
        "response.create",
        lambda: time_async(call_setup, max(number // 200, 20), repeat),
    )
    # Last: from here on the app's loggers write (at INFO) to a buffer, as `app.serve` configures them.
    log_lines = io.StringIO()
    configure_logging(json_output=True, level="INFO", stream=log_lines)
    call_log = get_logger("bench").bind(call_sid="CA" + "0" * 32)

    def info_line() -> None:
        call_log.info("incoming_call", caller="+919876543210")

    def warning_line() -> None:
        call_log.warning("stream_claim_local_only", error="TimeoutError")

    await add(
        "log",
        "one INFO line with a phone number (structlog, privacy processor, JSON, queued to the writer thread)",
        lambda: time_sync(info_line, number // 4, repeat),
    )
    await add("log", "one WARNING line (event + an error name)", lambda: time_sync(warning_line, number // 4, repeat))
    await bench.aclose()
    return rows


def speech_frames(count: int, ms: int) -> list[str]:
    """`count` different base64 μ-law chunks of `ms` ms, speech-like (tones of varying pitch and level)."""
    rng = random.Random(7)
    return [
        base64.b64encode(tone(ms, rng.uniform(200, 1200), amplitude=rng.randint(500, 9000))).decode()
        for _ in range(count)
    ]


def websocket_rows(repeat: int) -> list[tuple[str, Timing]]:
    """The Twilio socket as uvicorn runs it (websockets' protocol code; permessage-deflate with 12-bit
    windows when the peer offers it, as the simulator does). Distinct speech-like messages, because
    the compressor keeps context between messages and a repeated message would flatter it."""
    count = 2000
    codec = TwilioCodec(STREAM_SID)
    media_out = [codec.media(payload).encode() for payload in speech_frames(count, 100)]
    marks_out = [codec.mark(f"m{i}").encode() for i in range(count)]
    media_in = [
        orjson.dumps(
            {
                "event": "media",
                "sequenceNumber": str(i),
                "media": {"track": "inbound", "chunk": str(i), "timestamp": str(20 * i), "payload": payload},
                "streamSid": STREAM_SID,
            }
        )
        for i, payload in enumerate(speech_frames(count, 20))
    ]

    def deflate() -> PerMessageDeflate:
        return PerMessageDeflate(False, False, 12, 12)  # what uvicorn and the simulator negotiate

    def per_message(run: Callable[[], Any]) -> Timing:
        runs = []
        for _ in range(repeat):
            start = time.perf_counter()
            run()
            runs.append((time.perf_counter() - start) / count * 1e6)
        return summary(runs)

    def send(messages: list[bytes], compress: bool) -> Callable[[], None]:
        def run() -> None:
            extensions = [deflate()] if compress else []
            for message in messages:
                Frame(OP_TEXT, message).serialize(mask=False, extensions=extensions)  # server frames are unmasked

        return run

    encoder = deflate()
    compressed_in = [encoder.encode(Frame(OP_TEXT, message)) for message in media_in]
    out_encoder = deflate()
    ratio_out = sum(len(out_encoder.encode(Frame(OP_TEXT, m)).data) for m in media_out) / sum(map(len, media_out))

    def receive_deflated() -> None:
        decoder = deflate()
        for frame in compressed_in:
            decoder.decode(frame)

    return [
        (f"Twilio out: one media message ({len(media_out[0])} B), framing only", per_message(send(media_out, False))),
        (f"  same with permessage-deflate (to ~{ratio_out:.0%} of the size)", per_message(send(media_out, True))),
        (f"Twilio out: one mark message ({len(marks_out[0])} B), framing only", per_message(send(marks_out, False))),
        ("  same with permessage-deflate", per_message(send(marks_out, True))),
        (f"Twilio in: inflate one deflated media message ({len(media_in[0])} B)", per_message(receive_deflated)),
    ]


# ----------------------------------------------------------------------------------------- report
def by_name(rows: list[Row], prefix: str) -> float:
    return next(r.us for r in rows if r.name.startswith(prefix))


def table(rows: list[Row]) -> str:
    lines = ["| path | operation | µs/op (median) | min-max |", "|---|---|---:|---:|"]
    for row in rows:
        name = row.name.replace("|", "\\|")
        if name.startswith("  "):
            name = "↳ " + name.strip()
        lines.append(f"| {row.group} | {name} | {row.us:.2f} | {row.spread[0]:.2f}-{row.spread[1]:.2f} |")
    return "\n".join(lines)


def report(rows: list[Row], number: int, repeat: int, elapsed: float) -> str:
    lines = [
        f"- {platform.python_version()} on {platform.system()} {platform.machine()}, {os.cpu_count()} cores; "
        f"openai {openai.__version__}, pydantic {pydantic.VERSION}, orjson {orjson.__version__}; "
        f"event loop {'uvloop' if uvloop else 'asyncio'}",
        f"- {number:,} iterations per repeat (SDK typed send rows: {number // 4:,}), {repeat} repeats; "
        f"figure = median of the repeats (min-max in brackets); run took {elapsed:.0f} s",
        "",
        table(rows),
    ]

    sdk_append = by_name(rows, "SDK typed: AsyncRealtimeConnection.send")
    our_append = by_name(rows, "ours: RealtimeLink.append_audio")
    sdk_parse = by_name(rows, "SDK: connection.parse_event")
    our_frame = by_name(rows, "TwilioCodec.decode(media) + RealtimeLink.append_audio")
    our_chunk = by_name(rows, "  + its mark echo")
    our_chunk_only = by_name(rows, "orjson.loads(delta) + CallSession._on_audio_delta")
    typed_frame = by_name(rows, "typed: orjson.loads + twilio_message_adapter.validate_python")
    control_as_is = by_name(rows, "transcript delta (no handler)")
    control_typed = by_name(rows, "transcript delta parsed anyway")
    pump_frame = by_name(rows, "CallSession._pump_carrier, per media frame")
    pump_delta = by_name(rows, "CallSession._pump_realtime, per audio delta")
    pump_echo = by_name(rows, "CallSession._pump_carrier, per mark echo")
    pump_transcript = by_name(rows, "CallSession._pump_realtime, per transcript delta")
    media_plain = by_name(rows, "Twilio out: one media message")
    media_deflate = by_name(rows, "  same with permessage-deflate (to")
    mark_plain = by_name(rows, "Twilio out: one mark message")
    mark_deflate = by_name(rows, "  same with permessage-deflate")
    inflate = by_name(rows, "Twilio in: inflate")
    # Twilio socket per call-second: media + mark out per chunk; inbound frames and mark echoes in.
    deflate_cs = (
        OUTBOUND_PER_S * (media_deflate - media_plain + mark_deflate - mark_plain)
        + (INBOUND_PER_S + OUTBOUND_PER_S) * inflate
    )
    ours_parse = by_name(rows, "ours: TwilioCodec.decode(media message)")
    our_loads = by_name(rows, "ours: orjson.loads(raw)")
    # Hot path per call-second, ours: 50 frames in (parse + append + send_raw), 10 chunks out (delta
    # parse + ledger + media + mark, and the mark echo coming back).
    ours_cs = INBOUND_PER_S * our_frame + OUTBOUND_PER_S * our_chunk
    # The same through the session's pumps (socket receive, size check, event dispatch included).
    pumps_cs = INBOUND_PER_S * pump_frame + OUTBOUND_PER_S * (pump_delta + pump_echo)
    # The same work through the SDK's typed helpers: typed send per frame, typed parse per chunk, and
    # the typed Twilio model for the inbound frame.
    typed_cs = INBOUND_PER_S * (our_frame - our_append + sdk_append - ours_parse + typed_frame) + OUTBOUND_PER_S * (
        our_chunk - our_loads + sdk_parse
    )
    as_is_cs = ours_cs + TRANSCRIPTS_PER_S * control_as_is
    pumps_as_is_cs = pumps_cs + TRANSCRIPTS_PER_S * pump_transcript
    typed_control_cs = ours_cs + TRANSCRIPTS_PER_S * control_typed

    def line(name: str, us: float) -> str:
        return f"| {name} | {us:,.0f} µs ({us / 1e4:.2f} %) | {1e6 / us:,.0f} |"

    lines += [
        "",
        f"Hot path per call-second ({INBOUND_PER_S} inbound frames + {OUTBOUND_PER_S} outbound chunks with their "
        f"mark echoes; while the assistant speaks also ~{TRANSCRIPTS_PER_S} transcript deltas/s), sockets excluded:",
        "",
        "| path | CPU per call-second (% of a core) | calls per core (hot path only) |",
        "|---|---:|---:|",
        line("ours, audio only (codec + RealtimeLink + real CallSession methods)", ours_cs),
        line(f"ours + {TRANSCRIPTS_PER_S} transcript deltas/s, not parsed (the app as is)", as_is_cs),
        line("ours through the session's pumps (socket receive + dispatch included), audio only", pumps_cs),
        line(f"ours through the pumps + {TRANSCRIPTS_PER_S} transcript deltas/s", pumps_as_is_cs),
        line(f"ours + {TRANSCRIPTS_PER_S} transcript deltas/s through parse_event (before ec8fcff)", typed_control_cs),
        line("audio through the SDK's typed send/parse + the typed Twilio model", typed_cs),
        line(
            f"(library) permessage-deflate on the Twilio socket if negotiated (before ec8fcff): "
            f"{2 * OUTBOUND_PER_S} messages out, {INBOUND_PER_S + OUTBOUND_PER_S} in per s",
            deflate_cs,
        ),
        "",
        f"(ours = {INBOUND_PER_S} × {our_frame:.1f} + {OUTBOUND_PER_S} × {our_chunk:.1f} µs, of which the outbound "
        f"chunk alone is {our_chunk_only:.1f} µs; pumps = {INBOUND_PER_S} × {pump_frame:.1f} + {OUTBOUND_PER_S} × "
        f"({pump_delta:.1f} + {pump_echo:.1f}) µs; typed = the same with the SDK's send ({sdk_append:.1f} µs) instead "
        f"of append_audio ({our_append:.1f} µs), parse_event ({sdk_parse:.1f} µs) instead of orjson.loads "
        f"({our_loads:.1f} µs) and the typed Twilio model ({typed_frame:.1f} µs) instead of the codec "
        f"({ours_parse:.1f} µs).)",
    ]
    return "\n".join(lines)


async def amain(args: argparse.Namespace) -> None:
    number = 2_000 if args.quick else args.number
    repeat = 3 if args.quick else args.repeat
    started = time.perf_counter()
    print(f"timing ({number:,} iterations x {repeat} repeats per row)...", flush=True)
    groups = set(args.groups.split(",")) if args.groups else None
    rows = await measure(number, repeat, groups)
    print()
    if groups is None:
        print(report(rows, number, repeat, time.perf_counter() - started))
    else:  # the per-call-second summary needs every row
        print(table(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--number", type=int, default=20_000, help="iterations per repeat")
    parser.add_argument("--repeat", type=int, default=7, help="repeats per row (the median is reported)")
    parser.add_argument("--quick", action="store_true", help="2,000 iterations x 3 repeats")
    parser.add_argument(
        "--groups",
        help=f"only these row groups, comma-separated ({', '.join(GROUPS)}), e.g. session,pumps to compare the "
        "hot path alone; prints the rows without the per-call-second summary",
    )
    args = parser.parse_args()
    unknown = set(filter(None, (args.groups or "").split(","))) - set(GROUPS)
    if unknown:
        parser.error(f"unknown --groups {sorted(unknown)}; choose from {', '.join(GROUPS)}")
    if uvloop is not None:  # the app runs on uvloop (uvicorn's default when installed)
        uvloop.run(amain(args))
    else:
        asyncio.run(amain(args))


if __name__ == "__main__":
    main()
