"""Tests of the fake OpenAI Realtime server, driven by the real openai SDK as the peer.

If these pass, end-to-end tests can trust the fake: it speaks the GA protocol the SDK understands,
rejects what the real API rejects, and its VAD/echo/barge-in behaviour is deterministic.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from openai import AsyncOpenAI
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, InvalidStatus

from tests.fakes.mulaw import frame_energy, mulaw_decode, mulaw_encode, silence, tone
from tests.fakes.realtime_server import FakeRealtimeServer, FakeServerBug, FakeSession, Script, Turn

MODEL = "gpt-realtime"
TOOLS = [
    {
        "type": "function",
        "name": "lookup_order",
        "description": "Fetch an order by number.",
        "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]},
    }
]


def pcmu_session(**vad: Any) -> dict[str, Any]:
    """The session.update payload a phone bridge sends (PROTOCOLS.md §1.2)."""
    return {
        "type": "realtime",
        "model": MODEL,
        "output_modalities": ["audio"],
        "instructions": "You are a concise phone agent.",
        "audio": {
            "input": {
                "format": {"type": "audio/pcmu"},
                "transcription": {"model": "gpt-transcribe", "language": "en"},
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.5,
                    "prefix_padding_ms": 300,
                    "silence_duration_ms": 500,
                    "create_response": True,
                    "interrupt_response": True,
                    **vad,
                },
            },
            "output": {"format": {"type": "audio/pcmu"}, "voice": "marin"},
        },
        "tools": TOOLS,
        "tool_choice": "auto",
    }


@pytest.fixture
async def server() -> AsyncIterator[FakeRealtimeServer]:
    async with FakeRealtimeServer() as srv:
        yield srv
    assert srv.internal_errors == []


def client(server: FakeRealtimeServer) -> AsyncOpenAI:
    return AsyncOpenAI(api_key="test", websocket_base_url=server.url)


async def recv_until(rt: Any, event_type: str, seen: list[Any] | None = None, timeout: float = 5.0) -> Any:
    """Receive events until one of ``event_type``; everything received is appended to ``seen``."""
    async with asyncio.timeout(timeout):
        while True:
            event = await rt.recv()
            if seen is not None:
                seen.append(event)
            if event.type == event_type:
                return event


async def append(rt: Any, audio: bytes) -> None:
    """Append like a Twilio bridge: one 20 ms μ-law frame per event."""
    for i in range(0, len(audio), 160):
        await rt.input_audio_buffer.append(audio=base64.b64encode(audio[i : i + 160]).decode())


async def configured(rt: Any, **vad: Any) -> None:
    await recv_until(rt, "conversation.created")
    await rt.session.update(session=pcmu_session(**vad))
    await recv_until(rt, "session.updated")


def audio_of(events: list[Any], response_id: str) -> bytes:
    return b"".join(
        base64.b64decode(e.delta)
        for e in events
        if e.type == "response.output_audio.delta" and e.response_id == response_id
    )


# ------------------------------------------------------------------------------------------ mulaw
def test_mulaw_helpers() -> None:
    assert mulaw_encode(0) == 0xFF and mulaw_decode(0xFF) == 0
    for sample in (-32768, -12345, -100, 0, 100, 999, 12345, 32767):
        assert abs(mulaw_decode(mulaw_encode(sample)) - sample) <= max(16, abs(sample) // 16)
    assert len(tone(20, 440)) == 160 and silence(20) == b"\xff" * 160
    assert frame_energy(silence(20)) == 0.0 and frame_energy(b"") == 0.0
    assert 4500 < frame_energy(tone(20, 440)) < 5500  # 2A/π for A = 8000
    assert frame_energy(tone(20, 440, amplitude=500)) < 1000  # low noise is not speech


# ------------------------------------------------------------------------------- session & validation
async def test_session_created_and_update(server: FakeRealtimeServer) -> None:
    async with client(server).realtime.connect(model=MODEL) as rt:
        created = await recv_until(rt, "session.created")
        assert created.session.type == "realtime" and created.session.model == MODEL
        assert created.session.audio.input.format.type == "audio/pcm"  # server default until updated
        await recv_until(rt, "conversation.created")
        await rt.session.update(session=pcmu_session(silence_duration_ms=400))
        updated = await recv_until(rt, "session.updated")
    assert updated.session.audio.input.format.type == "audio/pcmu"
    assert updated.session.audio.output.format.type == "audio/pcmu"
    assert updated.session.audio.input.turn_detection.silence_duration_ms == 400
    assert updated.session.tools[0].name == "lookup_order"
    session = server.sessions[0]
    assert session.model == MODEL
    assert session.state["instructions"] == "You are a concise phone agent."
    assert session.turn_detection is not None and session.turn_detection["interrupt_response"] is True
    assert session.received[0]["type"] == "session.update"
    assert server.violations == [] and session.violations == []
    await asyncio.wait_for(session.closed.wait(), 5)


async def test_unknown_field_is_rejected_and_connection_stays_open(server: FakeRealtimeServer) -> None:
    async with client(server).realtime.connect(model=MODEL) as rt:
        await recv_until(rt, "conversation.created")
        bad = pcmu_session()
        bad["audio"]["input"]["turn_detection"]["temperature"] = 0.8
        await rt.send({"type": "session.update", "event_id": "evt_bad", "session": bad})
        error = await recv_until(rt, "error")
        assert error.error.type == "invalid_request_error"
        assert error.error.code == "unknown_parameter"
        assert error.error.param == "session.audio.input.turn_detection.temperature"
        assert error.error.event_id == "evt_bad"
        await rt.session.update(session=pcmu_session())  # still open, state unchanged by the bad event
        await recv_until(rt, "session.updated")
    session = server.sessions[0]
    assert len(session.violations) == 1 and "temperature" in session.violations[0]
    assert server.violations == [f"[session 0] {session.violations[0]}"]


@pytest.mark.parametrize(
    ("event", "code"),
    [
        ({"type": "response.audio.delta", "delta": ""}, "invalid_value"),  # beta-era name
        ({"type": "session.update", "session": {"type": "realtime", "input_audio_format": "g711_ulaw"}}, None),
        ({"type": "session.update", "session": {"type": "realtime", "temperature": 0.7}}, "unknown_parameter"),
        ({"type": "session.update", "session": {"modalities": ["audio"]}}, "invalid_value"),  # no type
        ({"type": "conversation.item.truncate", "item_id": "x", "content_index": 0, "audio_end_ms": 1.5}, None),
        ({"type": "input_audio_buffer.append", "audio": "not base64!"}, "invalid_value"),
        ({"type": "output_audio_buffer.clear"}, "invalid_value"),  # WebRTC/SIP only
    ],
)
async def test_protocol_violations(server: FakeRealtimeServer, event: dict[str, Any], code: str | None) -> None:
    async with client(server).realtime.connect(model=MODEL) as rt:
        await recv_until(rt, "conversation.created")
        await rt.send_raw(json.dumps({**event, "event_id": "evt_1"}))
        error = await recv_until(rt, "error")
        assert error.error.event_id == "evt_1"
        if code is not None:
            assert error.error.code == code
    assert len(server.sessions[0].violations) == 1, server.sessions[0].violations


async def test_non_pcmu_format_is_a_violation(server: FakeRealtimeServer) -> None:
    session_update = pcmu_session()
    session_update["audio"]["output"]["format"] = {"type": "audio/pcm", "rate": 24000}
    async with client(server).realtime.connect(model=MODEL) as rt:
        await recv_until(rt, "conversation.created")
        await rt.session.update(session=session_update)
        await recv_until(rt, "session.updated")  # the real API accepts it; only our bridge must not
    assert server.violations and "audio.output.format" in server.violations[0]


# ------------------------------------------------------------------------------------- VAD & echo
async def test_vad_turn_echoes_the_callers_audio(server: FakeRealtimeServer) -> None:
    server.script.turns = [Turn(transcript="where is my order", reply_transcript="Let me check.")]
    speech = tone(1000, 523.25)
    async with client(server).realtime.connect(model=MODEL) as rt:
        await configured(rt)
        await append(rt, silence(400) + speech + silence(600))
        seen: list[Any] = []
        started = await recv_until(rt, "input_audio_buffer.speech_started", seen)
        stopped = await recv_until(rt, "input_audio_buffer.speech_stopped", seen)
        committed = await recv_until(rt, "input_audio_buffer.committed", seen)
        done = await recv_until(rt, "response.done", seen)
        transcript = next((e for e in seen if e.type.endswith("transcription.completed")), None)
        transcript = transcript or await recv_until(rt, "conversation.item.input_audio_transcription.completed")

    assert started.audio_start_ms == 400 - 300  # onset minus prefix_padding_ms
    assert stopped.audio_end_ms == 400 + 1000 + 500  # includes the silence window
    assert started.item_id == stopped.item_id == committed.item_id == transcript.item_id
    assert transcript.transcript == "where is my order"
    user_item = next(e for e in seen if e.type == "conversation.item.added" and e.item.role == "user")
    assert user_item.item.id == committed.item_id

    types = [e.type for e in seen if e.type.startswith("response.") and not e.type.endswith("delta")]
    assert types == [
        "response.created",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_audio.done",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.done",
    ]
    assert done.response.status == "completed"
    usage = done.response.usage
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert usage.input_token_details.cached_tokens is not None and usage.output_token_details.audio_tokens > 0
    assert audio_of(seen, done.response.id) == (speech * 2)[: 2000 * 8]  # echo, repeated to reply_ms
    deltas = "".join(e.delta for e in seen if e.type == "response.output_audio_transcript.delta")
    assert deltas == "Let me check."

    session = server.sessions[0]
    (record,) = session.responses
    assert record["kind"] == "reply" and record["status"] == "completed" and record["audio_ms"] == 2000
    assert session.item_audio_ms[record["item_id"]] == 2000
    assert session.user_turns[0].audio == speech
    assert session.appended_ms == 2000
    assert server.violations == []


async def test_greeting_uses_a_per_session_tone(server: FakeRealtimeServer) -> None:
    async with client(server).realtime.connect(model=MODEL) as rt:
        await configured(rt)
        await rt.response.create(response={"instructions": "Greet the caller."})
        seen: list[Any] = []
        done = await recv_until(rt, "response.done", seen)
        changed_voice = pcmu_session()
        changed_voice["audio"]["output"]["voice"] = "cedar"
        await rt.session.update(session=changed_voice)  # voice is frozen once the model has spoken
        assert (await recv_until(rt, "error")).error.param == "session.audio.output.voice"
    session = server.sessions[0]
    assert audio_of(seen, done.response.id) == tone(1500, session.tone_hz)
    assert session.responses[0]["kind"] == "greeting" and session.responses[0]["instructions"] == "Greet the caller."


async def test_barge_in_cancels_and_truncate_is_checked() -> None:
    async with FakeRealtimeServer(reply_ms=10_000, audio_speedup=10) as server:
        async with client(server).realtime.connect(model=MODEL) as rt:
            await configured(rt)
            await append(rt, tone(400, 440) + silence(500))
            created = await recv_until(rt, "response.created")
            await recv_until(rt, "response.output_audio.delta")
            await append(rt, tone(200, 660))  # the caller talks over the assistant
            seen: list[Any] = []
            done = await recv_until(rt, "response.done", seen)
            # The first turn's transcription is asynchronous (as in the API): it may land anywhere here.
            types = [e.type for e in seen if not e.type.endswith("delta") and "input_audio_transcription" not in e.type]
            assert types[0] == "input_audio_buffer.speech_started"
            assert types[1:] == [
                "response.output_audio.done",
                "response.output_audio_transcript.done",
                "response.content_part.done",
                "response.output_item.done",
                "conversation.item.done",
                "response.done",
            ]
            assert done.response.id == created.response.id and done.response.status == "cancelled"
            assert done.response.status_details.reason == "turn_detected"
            item_done = next(e for e in seen if e.type == "response.output_item.done")
            assert item_done.item.status == "incomplete"

            session = server.sessions[0]
            item_id = session.responses[0]["item_id"]
            produced = session.item_audio_ms[item_id]
            assert 0 < produced < 10_000
            assert session.cancelled_responses == [
                {
                    "response_id": created.response.id,
                    "item_id": item_id,
                    "reason": "turn_detected",
                    "audio_ms": produced,
                }
            ]

            await rt.conversation.item.truncate(item_id=item_id, content_index=0, audio_end_ms=produced + 100)
            error = await recv_until(rt, "error")
            assert error.error.code == "invalid_value" and error.error.param == "audio_end_ms"
            await rt.conversation.item.truncate(item_id=item_id, content_index=0, audio_end_ms=produced - 50)
            truncated = await recv_until(rt, "conversation.item.truncated")
            assert truncated.item_id == item_id and truncated.audio_end_ms == produced - 50
        assert [e["audio_end_ms"] for e in session.truncate_errors] == [produced + 100]
        assert [t["audio_end_ms"] for t in session.truncations] == [produced - 50]
        assert session.violations == []  # truncate errors are tracked separately
        with pytest.raises(AssertionError, match="truncate error"):
            server.assert_clean()


async def test_truncating_a_user_item_is_an_error(server: FakeRealtimeServer) -> None:
    async with client(server).realtime.connect(model=MODEL) as rt:
        await configured(rt, create_response=False)
        await append(rt, tone(300, 440) + silence(500))
        committed = await recv_until(rt, "input_audio_buffer.committed")
        await rt.conversation.item.truncate(item_id=committed.item_id, content_index=0, audio_end_ms=0)
        assert (await recv_until(rt, "error")).error.code == "invalid_value"
    assert len(server.sessions[0].truncate_errors) == 1 and server.sessions[0].responses == []


async def test_manual_commit_without_vad(server: FakeRealtimeServer) -> None:
    speech = tone(500, 700)
    session_update = pcmu_session()
    session_update["audio"]["input"]["turn_detection"] = None
    async with client(server).realtime.connect(model=MODEL) as rt:
        await recv_until(rt, "conversation.created")
        await rt.session.update(session=session_update)
        await recv_until(rt, "session.updated")
        await append(rt, silence(40))
        await rt.input_audio_buffer.commit()
        assert (await recv_until(rt, "error")).error.code == "input_audio_buffer_commit_empty"
        await rt.input_audio_buffer.clear()
        await recv_until(rt, "input_audio_buffer.cleared")
        await append(rt, silence(200) + speech + silence(200))
        await rt.input_audio_buffer.commit()
        committed = await recv_until(rt, "input_audio_buffer.committed")
        await rt.response.create()
        seen: list[Any] = []
        done = await recv_until(rt, "response.done", seen)
    session = server.sessions[0]
    assert not session.events("input_audio_buffer.speech_started")  # VAD is off
    assert session.user_turns[0].item_id == committed.item_id and session.user_turns[0].audio == speech
    assert audio_of(seen, done.response.id) == (speech * 4)[: 2000 * 8]
    assert session.responses[0]["kind"] == "reply" and server.violations == []


async def test_on_session_scripts_each_call(server: FakeRealtimeServer) -> None:
    async def per_call(session: FakeSession) -> None:
        session.script.greeting_ms = 300 + 100 * session.index
        session.script.tone_hz = 1000 + session.index

    server.on_session = per_call  # may also be a plain function
    for index in range(2):
        async with client(server).realtime.connect(model=MODEL) as rt:
            await configured(rt)
            await rt.response.create()
            seen: list[Any] = []
            done = await recv_until(rt, "response.done", seen)
            assert audio_of(seen, done.response.id) == tone(300 + 100 * index, 1000 + index)
    assert [s.responses[0]["audio_ms"] for s in server.sessions] == [300, 400]
    assert server.script.greeting_ms == 1500  # the server-wide default is untouched


async def test_on_client_event_sees_every_client_event() -> None:
    seen: list[tuple[FakeSession, Any, float]] = []
    loop = asyncio.get_running_loop()
    async with FakeRealtimeServer(on_client_event=lambda s, e, at: seen.append((s, e, at))) as server:
        before = loop.time()
        async with client(server).realtime.connect(model=MODEL) as rt:
            await configured(rt)
            await append(rt, silence(60))
            await rt.send_raw(json.dumps({"type": "response.audio.delta", "delta": ""}))  # invalid: observed too
            await recv_until(rt, "error")
        after = loop.time()
    session = server.sessions[0]
    assert [e for _, e, _ in seen] == session.received
    assert [e["type"] for _, e, _ in seen] == ["session.update"] + ["input_audio_buffer.append"] * 3 + [
        "response.audio.delta"
    ]
    assert all(s is session for s, _, _ in seen)
    times = [at for _, _, at in seen]
    assert before <= times[0] and times == sorted(times) and times[-1] <= after


async def test_on_server_event_sees_every_server_event_as_sent() -> None:
    seen: list[tuple[FakeSession, dict[str, Any], float]] = []
    loop = asyncio.get_running_loop()
    script = Script(greeting_ms=300, chunk_ms=100)
    async with FakeRealtimeServer(script, on_server_event=lambda s, e, at: seen.append((s, e, at))) as server:
        before = loop.time()
        async with client(server).realtime.connect(model=MODEL) as rt:
            await configured(rt)
            await rt.response.create()
            received: list[Any] = []
            done = await recv_until(rt, "response.done", received)
        after = loop.time()
    session = server.sessions[0]
    assert [e for _, e, _ in seen] == session.sent  # every event, in wire order, as logged
    assert all(s is session for s, _, _ in seen)
    deltas = [e for _, e, _ in seen if e["type"] == "response.output_audio.delta"]
    assert b"".join(base64.b64decode(e["delta"]) for e in deltas) == audio_of(received, done.response.id)
    assert len(deltas) == 3
    times = [at for _, _, at in seen]
    assert before <= times[0] and times == sorted(times) and times[-1] <= after


async def test_ws_extensions_shows_what_the_handshake_agreed() -> None:
    async with FakeRealtimeServer() as server:
        url = f"{server.url}/realtime?model={MODEL}"
        headers = {"Authorization": "Bearer test"}
        async with connect(url, additional_headers=headers) as ws:  # websockets offers permessage-deflate
            await ws.recv()
        async with connect(url, additional_headers=headers, compression=None) as ws:
            await ws.recv()
    offered, plain = server.sessions
    assert offered.ws_extensions is not None and offered.ws_extensions.startswith("permessage-deflate")
    assert plain.ws_extensions is None


async def test_validate_incoming_can_skip_the_schema_check() -> None:
    asked: list[str] = []

    def strict_except_appends(session: FakeSession, event: dict[str, Any]) -> bool:
        asked.append(event["type"])
        return event["type"] != "input_audio_buffer.append"

    sloppy_append = {"type": "input_audio_buffer.append", "audio": base64.b64encode(silence(20)).decode(), "x": 1}
    sloppy_clear = {"type": "input_audio_buffer.clear", "x": 1}
    async with FakeRealtimeServer(validate_incoming=strict_except_appends) as server:
        async with client(server).realtime.connect(model=MODEL) as rt:
            await configured(rt)
            await rt.send_raw(json.dumps(sloppy_append))  # schema check skipped: accepted
            await rt.send_raw(json.dumps({"type": "response.audio.delta", "delta": ""}))  # unknown type: rejected
            assert (await recv_until(rt, "error")).error.code == "invalid_value"
            await rt.send_raw(json.dumps(sloppy_clear))  # checked: rejected
            assert (await recv_until(rt, "error")).error.code == "unknown_parameter"
    session = server.sessions[0]
    assert asked == ["session.update", "input_audio_buffer.append", "input_audio_buffer.clear"]
    assert session.appended_bytes == 160
    assert [v.split(":")[0] for v in session.violations] == ["response.audio.delta", "input_audio_buffer.clear"]

    async with FakeRealtimeServer(validate_incoming=False) as server:
        async with client(server).realtime.connect(model=MODEL) as rt:
            await configured(rt)
            await rt.send_raw(json.dumps(sloppy_append))
            await rt.send_raw(json.dumps(sloppy_clear))
            await recv_until(rt, "input_audio_buffer.cleared")
    assert server.violations == []


async def test_frame_energy_and_tone_are_replaceable() -> None:
    frames: list[bytes] = []
    tones: list[tuple[int, float]] = []

    def energy(frame: bytes) -> float:
        frames.append(frame)
        return frame_energy(frame)

    def synth(ms: int, hz: float) -> bytes:
        tones.append((ms, hz))
        return silence(ms)

    speech = tone(200, 440)
    async with FakeRealtimeServer(frame_energy=energy, tone=synth, greeting_ms=300) as server:
        async with client(server).realtime.connect(model=MODEL) as rt:
            await configured(rt)
            await rt.response.create()
            seen: list[Any] = []
            done = await recv_until(rt, "response.done", seen)
            await append(rt, speech + silence(600))
            await recv_until(rt, "input_audio_buffer.speech_stopped")
            session = server.sessions[0]
            await session.wait_for(lambda: session.appended_ms == 800, what="all audio appended")
    assert tones == [(300, session.tone_hz)] and audio_of(seen, done.response.id) == silence(300)
    assert len(frames) == 40 and frames[:10] == [speech[i : i + 160] for i in range(0, 1600, 160)]


async def test_one_response_at_a_time(server: FakeRealtimeServer) -> None:
    async with client(server).realtime.connect(model=MODEL) as rt:
        await configured(rt)
        await rt.response.cancel()
        assert (await recv_until(rt, "error")).error.code == "response_cancel_not_active"
        await rt.response.create()
        await rt.response.create()
        created = await recv_until(rt, "response.created")
        assert (await recv_until(rt, "error")).error.code == "conversation_already_has_active_response"
        await rt.response.cancel()
        done = await recv_until(rt, "response.done")
        assert done.response.id == created.response.id and done.response.status == "cancelled"
        assert done.response.status_details.reason == "client_cancelled"
    session = server.sessions[0]
    assert [r["status"] for r in session.responses] == ["cancelled"]
    assert session.violations == [] and len(session.errors_sent) == 2


async def test_out_of_band_text_response_runs_beside_the_conversation(server: FakeRealtimeServer) -> None:
    async with client(server).realtime.connect(model=MODEL) as rt:
        await configured(rt)
        await rt.response.create()
        await rt.response.create(
            response={"conversation": "none", "output_modalities": ["text"], "metadata": {"purpose": "summary"}}
        )
        done: list[Any] = []
        while len(done) < 2:
            done.append(await recv_until(rt, "response.done"))
    out_of_band = next(d.response for d in done if d.response.conversation_id is None)
    assert out_of_band.metadata == {"purpose": "summary"} and out_of_band.output[0].content[0].type == "output_text"
    session = server.sessions[0]
    assert [r["kind"] for r in session.responses] == ["greeting"]
    assert [r["kind"] for r in session.out_of_band_responses] == ["out_of_band"]
    assert server.violations == []


# -------------------------------------------------------------------------------------- tools
async def test_tool_call_round_trip(server: FakeRealtimeServer) -> None:
    server.script.turns = [Turn(tool_calls=[("lookup_order", '{"order_id": "42"}')], reply_transcript="Shipped.")]
    speech = tone(600, 350)
    async with client(server).realtime.connect(model=MODEL) as rt:
        await configured(rt)
        await append(rt, speech + silence(500))
        call = await recv_until(rt, "response.function_call_arguments.done")
        assert call.name == "lookup_order" and json.loads(call.arguments) == {"order_id": "42"}
        first = await recv_until(rt, "response.done")
        assert first.response.status == "completed" and first.response.output[0].type == "function_call"

        await rt.conversation.item.create(item={"type": "function_call_output", "call_id": "call_bogus", "output": "x"})
        assert (await recv_until(rt, "error")).error.param == "item.call_id"
        output = {"type": "function_call_output", "call_id": call.call_id, "output": '{"status": "shipped"}'}
        await rt.conversation.item.create(item=output)
        await recv_until(rt, "conversation.item.done")
        await rt.response.create()
        seen: list[Any] = []
        followup = await recv_until(rt, "response.done", seen)
    assert followup.response.status == "completed"
    assert audio_of(seen, followup.response.id) == (speech * 4)[: 2000 * 8]
    session = server.sessions[0]
    assert [r["kind"] for r in session.responses] == ["reply", "tool_followup"]
    assert session.responses[0]["tool_calls"][0]["call_id"] == call.call_id
    assert session.function_outputs == {call.call_id: '{"status": "shipped"}'}
    assert len(session.violations) == 1 and "call_bogus" in session.violations[0]


# ---------------------------------------------------------------------------- handshake & injections
async def test_handshake_checks(server: FakeRealtimeServer) -> None:
    url = server.url + "/realtime?model=" + MODEL
    with pytest.raises(InvalidStatus) as missing_auth:
        async with connect(url):
            pass
    assert missing_auth.value.response.status_code == 401
    with pytest.raises(InvalidStatus) as beta:
        async with client(server).realtime.connect(model=MODEL, extra_headers={"OpenAI-Beta": "realtime=v1"}):
            pass
    assert beta.value.response.status_code == 400
    server.fail_connect = True
    with pytest.raises(InvalidStatus) as failed:
        async with client(server).realtime.connect(model=MODEL):
            pass
    assert failed.value.response.status_code == 500
    assert [r["status"] for r in server.rejected_handshakes] == [401, 400, 500]
    assert len(server.violations) == 2 and server.sessions == []  # injected failures are not violations
    server.fail_connect, server.connect_delay_s = False, 0.3
    started = asyncio.get_running_loop().time()
    async with client(server).realtime.connect(model=MODEL) as rt:
        await recv_until(rt, "session.created")
    assert asyncio.get_running_loop().time() - started >= 0.3


async def test_injected_error_and_disconnect(server: FakeRealtimeServer) -> None:
    async with client(server).realtime.connect(model=MODEL) as rt:
        await configured(rt)
        session = server.sessions[0]
        await session.send_error("server_error", "The server had an error while processing your request.")
        error = await recv_until(rt, "error")
        assert error.error.type == "server_error" and error.error.event_id is None
        await session.disconnect(code=1011)
        with pytest.raises(ConnectionClosedError) as closed:
            async for _ in rt:
                pass
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
    await asyncio.wait_for(session.closed.wait(), 5)


async def test_outgoing_events_are_validated(server: FakeRealtimeServer) -> None:
    async with client(server).realtime.connect(model=MODEL) as rt:
        await configured(rt)
        with pytest.raises(FakeServerBug):
            await server.sessions[0].send_event({"type": "response.output_audio.delta", "delta": "AAAA"})
        with pytest.raises(FakeServerBug, match="undeclared"):
            await server.sessions[0].send_event({"type": "input_audio_buffer.cleared", "surprise": 1})
        with pytest.raises(FakeServerBug):
            await server.sessions[0].send_event({"type": "response.audio.delta", "delta": "AAAA"})  # beta name


async def test_concurrent_sessions_get_their_own_audio(server: FakeRealtimeServer) -> None:
    async def call(freq: float) -> tuple[bytes, bytes]:
        speech = tone(400, freq)
        async with client(server).realtime.connect(model=MODEL) as rt:
            await configured(rt)
            await append(rt, speech + silence(500))
            seen: list[Any] = []
            done = await recv_until(rt, "response.done", seen, timeout=15)
            return speech, audio_of(seen, done.response.id)

    results = await asyncio.gather(*(call(300 + 50 * i) for i in range(12)))
    for speech, echoed in results:
        assert echoed == (speech * 5)[: 2000 * 8]
    assert len(server.sessions) == 12 and server.violations == []


async def test_stop_cancels_in_flight_work() -> None:
    server = FakeRealtimeServer(Script(greeting_ms=60_000, audio_speedup=1))
    await server.start()
    before = asyncio.all_tasks()
    rt = await client(server).realtime.connect(model=MODEL).enter()
    await configured(rt)
    await rt.response.create()
    await recv_until(rt, "response.output_audio.delta")
    await server.stop()
    session = server.sessions[0]
    assert session.closed.is_set() and session.responses[0]["status"] == "in_progress"
    async with asyncio.timeout(5):  # server closed with 1001 (going away): iteration just ends
        async for _ in rt:
            pass
    await rt.close()
    await asyncio.sleep(0)
    leftover = [t for t in asyncio.all_tasks() - before if not t.done() and t is not asyncio.current_task()]
    assert leftover == []


async def test_session_cap_sends_session_expired_then_closes_with_1001(server: FakeRealtimeServer) -> None:
    """As the API does at 60 minutes: an `error` with code `session_expired`, then a 1001 close."""
    server.session_max_s = 0.3
    async with client(server).realtime.connect(model=MODEL) as rt:
        await configured(rt)
        error = await recv_until(rt, "error", timeout=3)
        assert error.error.code == "session_expired" and error.error.type == "invalid_request_error"
        assert "maximum duration" in error.error.message
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(rt.recv(), 3)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    assert server.sessions[0].expired is True
