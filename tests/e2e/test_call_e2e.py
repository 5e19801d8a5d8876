"""End-to-end: signed Twilio calls into the real app (uvicorn, loopback) bridged to the fake Realtime API.

Every client event the app sends is validated by the fake against the openai SDK's own event types
(strictly: unknown keys fail), and every frame the app sends Twilio is checked by the simulator.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from tests.fakes.mulaw import tone
from tests.fakes.realtime_server import Script, Turn
from tests.stack import (
    DEMO_CALLER,
    LiveStack,
    assert_truncated_at_what_was_heard,
    live_stack,
    say_and_time_the_vad,
    wait_for_greeting,
    wait_for_record,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

BYTES_PER_MS = 8


@pytest.fixture(params=[True, False], ids=["preopened", "opened-at-stream"])
async def stack(request, mongo_uri: str, database_name: str):
    # The production default's loop pacing (the stack turns it off elsewhere): these calls run paced.
    async with live_stack(mongo_uri, database_name, openai_preopen=request.param, loop_tick_ms=2) as running:
        yield running


async def start_call(stack: LiveStack, caller: str = DEMO_CALLER):
    call = await stack.sim.place_call(from_=caller)
    await call.connect_stream()
    return call


async def test_full_call_greeting_answer_barge_in_hangup(stack: LiveStack) -> None:
    stack.realtime.script = Script(
        greeting_ms=1200,
        reply_ms=6000,
        turns=[
            Turn(transcript="Mera order kahan hai?", reply_transcript=" ".join(f"word{i}" for i in range(60))),
            Turn(transcript="Ruko ruko", reply_transcript="Ji, boliye.", reply_ms=800),
        ],
    )
    call = await start_call(stack)
    (session,) = await stack.realtime.wait_for_sessions(1)

    # The session is configured for a phone bridge before the greeting.
    await session.wait_for_event("session.updated")
    config = session.state
    assert config["audio"]["input"]["format"]["type"] == "audio/pcmu"
    assert config["audio"]["output"]["format"]["type"] == "audio/pcmu"
    assert config["audio"]["input"]["turn_detection"]["type"] == "server_vad"
    assert config["audio"]["input"]["transcription"]["model"]
    assert config["instructions"].startswith("You are Priya")

    # The assistant speaks first: the whole greeting plays at the phone.
    await call.wait_for(lambda: call.played_ms >= 1200, timeout=10)
    await call.wait_playback_idle(timeout=10)
    greeting_played_bytes = len(call.played_audio)
    assert greeting_played_bytes == 1200 * BYTES_PER_MS
    # Live views read what the call is doing from its record: the greeting is over, it listens.
    await wait_for_record(stack, call.call_sid, lambda r: r["phase"] == "listening")
    # While the call is live the loop wakes on its tick (services/loop_pacer.py), as it would in production.
    assert stack.settings.loop_tick_ms > 0 and stack.services.loop_pacer.running

    # The caller speaks; the assistant answers (a long reply, generated faster than real time).
    await call.say_and_wait(tone(700, 440))
    await call.wait_for(lambda: call.played_ms >= 1200 + 1500, timeout=10)
    assert call.received_media_bytes > len(call.played_audio), "audio should arrive faster than it plays"

    # Barge-in: the caller talks over the reply.
    vad_fired_at = await say_and_time_the_vad(stack.realtime, call, tone(600, 520))
    await session.wait_for(lambda: len(session.truncations) == 1, timeout=5, what="truncate")
    await call.wait_for(lambda: len(call.clears) == 1, timeout=5)
    clear = call.clears[0]
    heard_ms = (clear.played_bytes_total - greeting_played_bytes) / BYTES_PER_MS
    truncation = session.truncations[0]
    reply = next(r for r in session.responses if r["kind"] == "reply")
    assert truncation["item_id"] == reply["item_id"]
    assert_truncated_at_what_was_heard(truncation, heard_ms, clear.time - vad_fired_at)
    assert truncation["audio_end_ms"] < 6000
    assert clear.dropped_bytes > 0
    # Marks echoed because of the clear were not counted as heard: played audio stops at the clear.
    assert any(echo.by_clear for echo in call.marks_echoed)

    # The second answer plays in full, then the caller hangs up.
    await call.wait_for(lambda: len(session.responses) >= 3, timeout=10)
    await call.wait_playback_idle(timeout=10)
    await call.hangup()
    await session.closed.wait()
    await stack.sim.aclose()

    stack.realtime.assert_clean()
    assert call.violations == []
    for event in session.received:
        assert not event["type"].startswith("response.audio"), "beta event names are not allowed"

    # The call record is written off the audio path and finalised at the end.
    record = await wait_for_record(stack, call.call_sid, lambda r: r.get("ended_at") is not None)
    assert record["end_reason"] == "caller_hung_up" and record["phase"] == "ended"
    # No call left: the pacer has stopped and the loop sleeps in its poll again.
    await call.wait_for(lambda: not stack.services.loop_pacer.running, timeout=5)
    assert record["realtime_preopened"] is stack.settings.openai_preopen
    assert record["latencies"]["greeting_ms"] > 0
    assert record["latencies"]["barge_ins"] == 1
    caller_lines = [line["text"] for line in record["transcript"] if line["role"] == "caller"]
    assert "Mera order kahan hai?" in caller_lines
    interrupted = [line for line in record["transcript"] if line.get("interrupted")]
    assert len(interrupted) == 1 and 0 < len(interrupted[0]["text"].split()) < 60


async def test_a_tool_call_runs_unpaced_and_the_pacing_resumes_after_it(stack: LiveStack) -> None:
    stack.realtime.script = Script(
        greeting_ms=600,
        reply_ms=600,
        turns=[Turn(transcript="Mera order kahan hai?", tool_calls=[("lookup_order", "{}")])],
    )
    call = await start_call(stack)
    (session,) = await stack.realtime.wait_for_sessions(1)
    await call.wait_for(lambda: call.played_ms >= 600, timeout=10)
    pacer = stack.services.loop_pacer
    assert pacer.running
    seen: list[bool] = []

    async def sample() -> None:  # the pacer's state at every loop iteration
        while True:
            seen.append(pacer.running)
            await asyncio.sleep(0)

    sampler = asyncio.create_task(sample())
    try:
        await call.say_and_wait(tone(600, 440))
        await session.wait_for(lambda: len(session.function_outputs) == 1, timeout=10, what="the tool's output")
        await call.wait_for(lambda: call.played_ms >= 1200, timeout=10)  # the answer after the tool
    finally:
        sampler.cancel()
    assert False in seen, "the tool's database round trips ran paced"
    assert seen[-1] is True and pacer.running  # paced again once the tool was done
    output = json.loads(next(iter(session.function_outputs.values())))
    # The stack's database is empty: the orders were asked (a query and a write of the phone's list), none found.
    assert output["error"] == "no_orders_for_caller", output
    await call.hangup()
    await session.closed.wait()
    stack.realtime.assert_clean()


async def test_unsigned_or_wrongly_signed_requests_are_refused(stack: LiveStack) -> None:
    params = stack.sim.voice_webhook_params(from_=DEMO_CALLER, to="+918000000000", call_sid="CA" + "f" * 32)
    for signature in (None, "", "bm90LWEtc2lnbmF0dXJl"):
        response = await stack.sim.post_webhook("/incoming-call", params, signature=signature)
        assert response.status_code == 403
    # Signed for another host (the Host header must not be trusted).
    forged = stack.sim.sign("https://attacker.example.com/incoming-call", params)
    assert (await stack.sim.post_webhook("/incoming-call", params, signature=forged)).status_code == 403

    await asyncio.sleep(0.2)
    assert stack.realtime.sessions == [], "no Realtime session for a refused webhook"

    # A signed webhook may pre-open a Realtime session, but a stream that fails the handshake
    # signature or carries another call's token is closed before it can use it.
    call = await stack.sim.place_call(from_=DEMO_CALLER)
    with pytest.raises(InvalidStatus) as refused:
        await call.connect_stream(signature="bm90LWEtc2lnbmF0dXJl")
    assert refused.value.response.status_code == 403
    other = await stack.sim.place_call(from_=DEMO_CALLER)
    await call.connect_stream(tamper_params={"token": other.custom_parameters["token"]})
    assert await call.wait_closed(timeout=5) == 1008
    await other.connect_stream(tamper_params={"token": None})
    assert await other.wait_closed(timeout=5) == 1008
    await asyncio.sleep(0.3)
    assert len(stack.realtime.sessions) <= 2  # at most the two legitimate webhooks' pre-opened sessions
    for session in stack.realtime.sessions:
        assert not [e for e in session.received if e["type"] == "input_audio_buffer.append"]
    assert len(stack.services.live_calls) == 0


async def test_twenty_simultaneous_calls_each_hear_only_their_own_audio(stack: LiveStack) -> None:
    stack.realtime.script = Script(greeting_ms=400, reply_ms=800)
    calls = await asyncio.gather(*(start_call(stack, caller=f"+9198765{i:05d}") for i in range(20)))
    await stack.realtime.wait_for_sessions(20, timeout=15)
    await asyncio.gather(*(c.wait_playback_idle(timeout=15) for c in calls))
    # Each caller speaks a different tone (above the fake's greeting tones, 300-1260 Hz); the fake
    # model's reply echoes what it heard.
    spoken = [tone(500, 1300 + 71 * i) for i in range(20)]
    await asyncio.gather(*(c.say_and_wait(audio) for c, audio in zip(calls, spoken, strict=True)))
    await asyncio.gather(
        *(c.wait_for(lambda c=c: c.received_media_bytes >= (400 + 800) * BYTES_PER_MS, timeout=15) for c in calls)
    )
    for index, call in enumerate(calls):
        received = bytes(call.received_audio)
        own_frame = spoken[index][1600:1760]
        assert own_frame in received, f"call {index} did not get its own reply"
        for other in range(20):
            if other != index:
                assert spoken[other][1600:1760] not in received, f"call {index} heard call {other}"
        assert call.violations == []
    await asyncio.gather(*(c.hangup() for c in calls))
    stack.realtime.assert_clean()


async def test_realtime_unreachable_caller_hears_apology_and_call_ends(stack: LiveStack) -> None:
    stack.realtime.fail_connect = True
    call = await start_call(stack)
    update = await stack.rest.wait_for_call_update(call.call_sid, timeout=10)
    assert "<Say" in update.form["Twiml"] and "<Hangup" in update.form["Twiml"]
    await call.wait_closed(timeout=5)
    record = await wait_for_record(stack, call.call_sid, lambda r: r.get("ended_at") is not None)
    assert record["status"] == "failed"
    assert record["end_reason"] == "realtime_connect_failed", "the stop after our redirect is not a hang-up"


async def test_garbage_on_the_stream_is_dropped_and_the_call_continues(stack: LiveStack) -> None:
    call = await start_call(stack)
    (session,) = await stack.realtime.wait_for_sessions(1)
    await wait_for_greeting(call)
    ws = call.ws  # the simulator's raw socket: send what real Twilio never would
    await ws.send("not json at all")
    await ws.send('{"event": "media", "media": {"payload": 42}}')
    await ws.send('{"event": "mystery"}')
    await ws.send('{"event": "media", "media": {"payload": "' + "A" * 70_000 + '"}}')
    before = len(session.responses)
    await call.say_and_wait(tone(600, 440))
    await session.wait_for(lambda: len(session.responses) > before, timeout=5, what="reply after garbage")
    await call.hangup()
    await session.closed.wait()
    stack.realtime.assert_clean()


async def test_health_reports_database(stack: LiveStack) -> None:
    async with httpx.AsyncClient(base_url=stack.app_url) as client:
        response = await client.get("/health")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"
