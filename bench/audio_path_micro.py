"""Per-frame CPU cost of the audio hot path (no sockets): the openai SDK's typed path against ours.

Every row is timed with `timeit` (sync) or an equivalent await loop (async) over many iterations,
repeated; the figure is the median of the repeats in µs per operation. Sockets are replaced by
no-op stubs, so these are the Python costs on top of the WebSocket libraries and the kernel
(bench/bridge_load.py measures the whole process under load).

    .venv/bin/python -m bench.audio_path_micro            # ~30 s
    .venv/bin/python -m bench.audio_path_micro --quick    # fewer iterations, for a smoke test
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import random
import statistics
import time
import timeit
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Union, cast

import openai
import orjson
import pydantic
from openai._utils import async_maybe_transform
from openai.resources.realtime.realtime import AsyncRealtimeConnection
from openai.types.realtime import RealtimeServerEvent
from openai.types.realtime.realtime_client_event_param import RealtimeClientEventParam
from openai.types.realtime.response_create_event_with_references_param import ResponseCreateEventWithReferencesParam
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import OP_TEXT, Frame

from config.agent_config import AgentConfig
from models.twilio_stream import StartMessage, twilio_message_adapter
from services.call.playback import PlaybackLedger, mulaw_b64_duration_ms
from services.call_session import CallDependencies, CallSession
from services.openai_service import build_session_config, start_conversation
from services.tools import build_tool_registry
from services.twilio_service import mark_frame, media_frame
from tests.fakes.mulaw import tone
from tests.stack import make_settings

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


# ----------------------------------------------------------------------------------------- sample data
def mulaw_bytes(n: int, seed: int = 1) -> bytes:
    """Deterministic speech-like μ-law bytes (the content does not matter to any row here)."""
    return bytes((seed * 37 + i * 101) % 251 for i in range(n))


FRAME_B64 = base64.b64encode(mulaw_bytes(160)).decode()  # 20 ms inbound frame: 216 characters
DELTA_B64 = base64.b64encode(mulaw_bytes(800, 2)).decode()  # 100 ms assistant chunk: 1068 characters
APPEND_EVENT = {"type": "input_audio_buffer.append", "audio": FRAME_B64}
TWILIO_MEDIA = json.dumps(
    {
        "event": "media",
        "sequenceNumber": "1234",
        "media": {"track": "inbound", "chunk": "1233", "timestamp": "24640", "payload": FRAME_B64},
        "streamSid": STREAM_SID,
    }
)
TWILIO_MARK = json.dumps({"event": "mark", "sequenceNumber": "1235", "streamSid": STREAM_SID, "mark": {"name": "m1"}})
IDS = {"response_id": "resp_0a1b2c3d4e5f6a7b8c9d", "item_id": "item_0a1b2c3d4e5f6a7b8c9d"}
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


# ----------------------------------------------------------------------------------------- stubs
class NullWebSocket:
    """Stands in for both sockets: the websockets client connection under the SDK and Starlette's socket."""

    async def send(self, data: str | bytes) -> None:
        return None

    async def send_text(self, text: str) -> None:
        return None


def make_connection() -> AsyncRealtimeConnection:
    """A real SDK connection object (send queue, send_raw, parse_event) over a no-op socket."""
    return AsyncRealtimeConnection(cast(Any, NullWebSocket()))


def make_session() -> CallSession:
    """A real CallSession (real __init__, ledger, locks) wired to no-op sockets; no tasks are started."""
    settings = make_settings()
    deps = CallDependencies(
        settings=settings,
        agent=AgentConfig(),
        realtime=cast(Any, None),
        new_record_writer=lambda record: cast(Any, None),
        tools=None,
        new_tool_context=None,
    )
    start = StartMessage.model_validate(
        {
            "event": "start",
            "streamSid": STREAM_SID,
            "start": {"streamSid": STREAM_SID, "accountSid": settings.twilio_account_sid, "callSid": CALL_SID},
        }
    ).start
    session = CallSession(deps, cast(Any, NullWebSocket()), start)
    session.rt = make_connection()
    return session


# ----------------------------------------------------------------------------------------- timing
@dataclass
class Row:
    group: str
    name: str
    us: float  # median of the repeats, µs per operation
    spread: tuple[float, float]  # min and max of the repeats


def time_sync(fn: Callable[[], Any], number: int, repeat: int) -> tuple[float, tuple[float, float]]:
    fn()  # warm caches (pydantic schema, lazy imports)
    runs = [t / number * 1e6 for t in timeit.Timer(fn).repeat(repeat=repeat, number=number)]
    return statistics.median(runs), (min(runs), max(runs))


async def time_async(
    fn: Callable[[], Awaitable[Any]], number: int, repeat: int, setup: Callable[[], Any] | None = None
) -> tuple[float, tuple[float, float]]:
    await fn()
    runs = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        start = time.perf_counter()
        for _ in range(number):
            await fn()
        runs.append((time.perf_counter() - start) / number * 1e6)
    return statistics.median(runs), (min(runs), max(runs))


# ----------------------------------------------------------------------------------------- the rows
async def measure(number: int, repeat: int) -> list[Row]:
    rows: list[Row] = []
    conn = make_connection()
    server_event_adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(RealtimeServerEvent)

    def add(group: str, name: str, result: tuple[float, tuple[float, float]]) -> None:
        rows.append(Row(group, name, *result))
        print(f"  {group:9s} {name:78s} {result[0]:9.2f} µs", flush=True)

    # 1. One input_audio_buffer.append (160-byte μ-law frame) to the Realtime API.
    async def sdk_transform_dump() -> str:
        return json.dumps(await async_maybe_transform(APPEND_EVENT, SDK_SEND_TYPE))

    async def sdk_send() -> None:
        await conn.send(cast(Any, APPEND_EVENT))

    def ours_dump() -> str:
        return orjson.dumps({"type": "input_audio_buffer.append", "audio": FRAME_B64}).decode()

    async def ours_send() -> None:
        await conn.send_raw(orjson.dumps({"type": "input_audio_buffer.append", "audio": FRAME_B64}).decode())

    add(
        "append",
        "SDK typed: async_maybe_transform(event, Union[...]) + json.dumps",
        await time_async(sdk_transform_dump, number // 4, repeat),
    )
    add(
        "append",
        "SDK typed: AsyncRealtimeConnection.send(dict), socket stubbed",
        await time_async(sdk_send, number // 4, repeat),
    )
    add("append", "ours: orjson.dumps({...}).decode()", time_sync(ours_dump, number, repeat))
    add(
        "append",
        "ours: orjson.dumps + AsyncRealtimeConnection.send_raw, socket stubbed",
        await time_async(ours_send, number, repeat),
    )

    # 2. Parsing one response.output_audio.delta (100 ms, 800 bytes as base64).
    def sdk_parse() -> Any:
        return conn.parse_event(AUDIO_DELTA)

    def sdk_validate() -> Any:
        return server_event_adapter.validate_json(AUDIO_DELTA)

    add(
        "delta in",
        "SDK: connection.parse_event(raw) (json.loads + construct_type_unchecked)",
        time_sync(sdk_parse, number, repeat),
    )
    add(
        "delta in",
        "pydantic: TypeAdapter(RealtimeServerEvent).validate_json(raw) (validated)",
        time_sync(sdk_validate, number, repeat),
    )
    add("delta in", "ours: orjson.loads(raw)", time_sync(lambda: orjson.loads(AUDIO_DELTA), number, repeat))

    # 3. Our Twilio-side work per outbound chunk.
    ledger = PlaybackLedger()
    clock = time.monotonic

    def twilio_out() -> None:
        payload = DELTA_B64
        name = ledger.on_audio_sent(IDS["item_id"], mulaw_b64_duration_ms(payload), clock())
        media_frame(STREAM_SID, payload)
        mark_frame(STREAM_SID, name)

    def fresh_ledger() -> None:
        nonlocal ledger
        ledger = PlaybackLedger()

    def twilio_out_timed() -> tuple[float, tuple[float, float]]:
        runs = []
        twilio_out()
        for _ in range(repeat):
            fresh_ledger()  # the pending-mark deque is drained by echoes in a real call
            runs.append(timeit.Timer(twilio_out).timeit(number) / number * 1e6)
        return statistics.median(runs), (min(runs), max(runs))

    add("chunk out", "media_frame + mark_frame + ledger.on_audio_sent + mulaw_b64_duration_ms", twilio_out_timed())
    add(
        "chunk out",
        "  of which mulaw_b64_duration_ms",
        time_sync(lambda: mulaw_b64_duration_ms(DELTA_B64), number, repeat),
    )
    add("chunk out", "  of which media_frame", time_sync(lambda: media_frame(STREAM_SID, DELTA_B64), number, repeat))

    # 4. Our inbound per-frame parse (what _handle_twilio_text does for media) and the typed alternative.
    def ours_inbound_parse() -> str | None:
        message = orjson.loads(TWILIO_MEDIA)
        if message["event"] == "media":
            media = message.get("media")
            payload = media.get("payload") if isinstance(media, dict) else None
            if isinstance(payload, str) and media.get("track", "inbound") == "inbound":
                return payload
        return None

    def typed_inbound_parse() -> str:
        return twilio_message_adapter.validate_python(orjson.loads(TWILIO_MEDIA)).media.payload

    add("frame in", "ours: orjson.loads(media message) + dict access", time_sync(ours_inbound_parse, number, repeat))
    add(
        "frame in",
        "typed: orjson.loads + twilio_message_adapter.validate_python",
        time_sync(typed_inbound_parse, number, repeat),
    )
    add(
        "frame in",
        "typed: twilio_message_adapter.validate_json(text)",
        time_sync(lambda: twilio_message_adapter.validate_json(TWILIO_MEDIA), number, repeat),
    )

    # 5. The real CallSession methods end to end (sockets stubbed): what one frame / chunk costs in the app.
    session = make_session()

    async def inbound_frame() -> bool:
        return await session._handle_twilio_text(TWILIO_MEDIA)

    async def outbound_chunk() -> None:
        await session._on_audio_delta(orjson.loads(AUDIO_DELTA))

    async def outbound_chunk_and_echo() -> None:
        await session._on_audio_delta(orjson.loads(AUDIO_DELTA))
        name = session.ledger.pending[-1].name
        await session._handle_twilio_text(
            '{"event":"mark","sequenceNumber":"9","streamSid":"' + STREAM_SID + '","mark":{"name":"' + name + '"}}'
        )

    async def control_event_as_is() -> None:
        event = orjson.loads(TRANSCRIPT_DELTA)
        await session._on_control_event(event.get("type"), TRANSCRIPT_DELTA)

    def control_event_typed() -> None:
        orjson.loads(TRANSCRIPT_DELTA)
        conn.parse_event(TRANSCRIPT_DELTA)

    def reset_session() -> None:
        session.ledger = PlaybackLedger()

    add(
        "session",
        "CallSession._handle_twilio_text(media): parse + orjson append + send_raw",
        await time_async(inbound_frame, number, repeat),
    )
    add(
        "session",
        "orjson.loads(delta) + CallSession._on_audio_delta: ledger + media + mark",
        await time_async(outbound_chunk, number, repeat, reset_session),
    )
    add(
        "session",
        "  + its mark echo: CallSession._handle_twilio_text(mark) (typed + ledger)",
        await time_async(outbound_chunk_and_echo, number, repeat, reset_session),
    )
    add(
        "session",
        "transcript delta (no handler): orjson.loads + CallSession._on_control_event",
        await time_async(control_event_as_is, number, repeat),
    )
    add(
        "session",
        "transcript delta parsed anyway: orjson.loads + connection.parse_event (the app before ec8fcff)",
        time_sync(control_event_typed, number, repeat),
    )
    # 6. The WebSocket library's own per-message work on the Twilio socket, with and without
    # permessage-deflate (which the app declines since ec8fcff: this shows what it would cost).
    rows_ws = websocket_rows(repeat)
    for name, result in rows_ws:
        add("websocket", name, result)

    # 7. Once per call (not per frame): configuring the session and asking for the greeting, typed.
    tools = build_tool_registry().session_tools()
    session_config = build_session_config(session.settings, session.deps.agent, tools)

    async def call_setup() -> None:
        await start_conversation(conn, session.settings, session.deps.agent, tools, "Greet the caller.")

    add(
        "per call",
        f"start_conversation: typed session.update ({len(orjson.dumps(session_config)):,} B) + response.create",
        await time_async(call_setup, max(number // 200, 20), repeat),
    )
    return rows


def speech_frames(count: int, ms: int) -> list[str]:
    """`count` different base64 μ-law chunks of `ms` ms, speech-like (tones of varying pitch and level)."""
    rng = random.Random(7)
    return [
        base64.b64encode(tone(ms, rng.uniform(200, 1200), amplitude=rng.randint(500, 9000))).decode()
        for _ in range(count)
    ]


def websocket_rows(repeat: int) -> list[tuple[str, tuple[float, tuple[float, float]]]]:
    """The Twilio socket as uvicorn runs it (websockets' protocol code; permessage-deflate with 12-bit
    windows when the peer offers it, as the simulator does). Distinct speech-like messages, because
    the compressor keeps context between messages and a repeated message would flatter it."""
    count = 2000
    media_out = [media_frame(STREAM_SID, payload).encode() for payload in speech_frames(count, 100)]
    marks_out = [mark_frame(STREAM_SID, f"m{i}").encode() for i in range(count)]
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

    def codec() -> PerMessageDeflate:
        return PerMessageDeflate(False, False, 12, 12)  # what uvicorn and the simulator negotiate

    def per_message(run: Callable[[], Any]) -> tuple[float, tuple[float, float]]:
        runs = []
        for _ in range(repeat):
            start = time.perf_counter()
            run()
            runs.append((time.perf_counter() - start) / count * 1e6)
        return statistics.median(runs), (min(runs), max(runs))

    def send(messages: list[bytes], deflate: bool) -> Callable[[], None]:
        def run() -> None:
            extensions = [codec()] if deflate else []
            for message in messages:
                Frame(OP_TEXT, message).serialize(mask=False, extensions=extensions)  # server frames are unmasked

        return run

    encoder = codec()
    compressed_in = [encoder.encode(Frame(OP_TEXT, message)) for message in media_in]
    out_encoder = codec()
    ratio_out = sum(len(out_encoder.encode(Frame(OP_TEXT, m)).data) for m in media_out) / sum(map(len, media_out))

    def receive_deflated() -> None:
        decoder = codec()
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


def report(rows: list[Row], number: int, repeat: int, elapsed: float) -> str:
    lines = [
        f"- {platform.python_version()} on {platform.system()} {platform.machine()}, {os.cpu_count()} cores; "
        f"openai {openai.__version__}, pydantic {pydantic.VERSION}, orjson {orjson.__version__}; "
        f"event loop {'uvloop' if uvloop else 'asyncio'}",
        f"- {number:,} iterations per repeat (SDK typed send rows: {number // 4:,}), {repeat} repeats; "
        f"figure = median of the repeats (min-max in brackets); run took {elapsed:.0f} s",
        "",
        "| path | operation | µs/op (median) | min-max |",
        "|---|---|---:|---:|",
    ]
    for row in rows:
        name = row.name.replace("|", "\\|")
        if name.startswith("  "):
            name = "↳ " + name.strip()
        lines.append(f"| {row.group} | {name} | {row.us:.2f} | {row.spread[0]:.2f}-{row.spread[1]:.2f} |")

    sdk_append = by_name(rows, "SDK typed: AsyncRealtimeConnection.send")
    our_append = by_name(rows, "ours: orjson.dumps + AsyncRealtimeConnection.send_raw")
    sdk_parse = by_name(rows, "SDK: connection.parse_event")
    our_frame = by_name(rows, "CallSession._handle_twilio_text(media)")
    our_chunk = by_name(rows, "  + its mark echo")
    our_chunk_only = by_name(rows, "orjson.loads(delta) + CallSession._on_audio_delta")
    typed_frame = by_name(rows, "typed: orjson.loads + twilio_message_adapter.validate_python")
    control_as_is = by_name(rows, "transcript delta (no handler)")
    control_typed = by_name(rows, "transcript delta parsed anyway")
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
    ours_parse = by_name(rows, "ours: orjson.loads(media message)")
    our_loads = by_name(rows, "ours: orjson.loads(raw)")
    # Hot path per call-second, ours: 50 frames in (parse + append + send_raw), 10 chunks out (delta
    # parse + ledger + media + mark, and the mark echo coming back).
    ours_cs = INBOUND_PER_S * our_frame + OUTBOUND_PER_S * our_chunk
    # The same work through the SDK's typed helpers: typed send per frame, typed parse per chunk, and
    # the typed Twilio model for the inbound frame.
    typed_cs = INBOUND_PER_S * (our_frame - our_append + sdk_append - ours_parse + typed_frame) + OUTBOUND_PER_S * (
        our_chunk - our_loads + sdk_parse
    )
    as_is_cs = ours_cs + TRANSCRIPTS_PER_S * control_as_is
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
        line("ours, audio only (orjson + send_raw, real CallSession methods)", ours_cs),
        line(f"ours + {TRANSCRIPTS_PER_S} transcript deltas/s, not parsed (the app as is)", as_is_cs),
        line(f"ours + {TRANSCRIPTS_PER_S} transcript deltas/s through parse_event (before ec8fcff)", typed_control_cs),
        line("audio through the SDK's typed send/parse + the typed Twilio model", typed_cs),
        line(
            f"(library) permessage-deflate on the Twilio socket if negotiated (before ec8fcff): "
            f"{2 * OUTBOUND_PER_S} messages out, {INBOUND_PER_S + OUTBOUND_PER_S} in per s",
            deflate_cs,
        ),
        "",
        f"(ours = {INBOUND_PER_S} × {our_frame:.1f} + {OUTBOUND_PER_S} × {our_chunk:.1f} µs, of which the outbound "
        f"chunk alone is {our_chunk_only:.1f} µs; typed = the same with the SDK's send ({sdk_append:.1f} µs) instead "
        f"of send_raw ({our_append:.1f} µs), parse_event ({sdk_parse:.1f} µs) instead of orjson.loads "
        f"({our_loads:.1f} µs) and the typed Twilio model ({typed_frame:.1f} µs) instead of dict access "
        f"({ours_parse:.1f} µs).)",
    ]
    return "\n".join(lines)


async def amain(args: argparse.Namespace) -> None:
    number = 2_000 if args.quick else args.number
    repeat = 3 if args.quick else args.repeat
    started = time.perf_counter()
    print(f"timing ({number:,} iterations x {repeat} repeats per row)...", flush=True)
    rows = await measure(number, repeat)
    print()
    print(report(rows, number, repeat, time.perf_counter() - started))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--number", type=int, default=20_000, help="iterations per repeat")
    parser.add_argument("--repeat", type=int, default=7, help="repeats per row (the median is reported)")
    parser.add_argument("--quick", action="store_true", help="2,000 iterations x 3 repeats")
    args = parser.parse_args()
    if uvloop is not None:  # the app runs on uvloop (uvicorn's default when installed)
        uvloop.run(amain(args))
    else:
        asyncio.run(amain(args))


if __name__ == "__main__":
    main()
