"""The same end-to-end scenarios on every carrier: Twilio, Plivo and Exotel, each through its own
protocol-faithful double (`tests.carrier_stack`), against the real app and the fake Realtime API.

Greeting, relay integrity, barge-in truncation within 60 ms of what played, a tool answered from the
database, a transfer, a hang-up by the assistant, and forged requests refused before any Realtime
session. What differs by carrier is only how the double says it (signatures, transfer evidence).
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from devtools.ferretdb import free_port
from tests.carrier_stack import CARRIERS, CarrierStack, carrier_stack
from tests.e2e.test_tools_e2e import OWN_ORDER, outputs_by_name, tool_turn
from tests.fakes.exotel_sim import basic
from tests.fakes.mulaw import tone
from tests.fakes.realtime_server import Script, Turn
from tests.fakes.twilio_sim import AUTO
from tests.stack import (
    AGENT_NUMBER,
    DEMO_CALLER,
    assert_truncated_at_what_was_heard,
    metric,
    say_and_time_the_vad,
    wait_for_greeting,
    wait_for_record,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

BYTES_PER_MS = 8  # the doubles' phones play μ-law (Exotel's PCM is companded on the way)


@pytest.fixture(
    params=[(carrier, listener) for listener in ("uvicorn", "stream-port") for carrier in CARRIERS],
    ids=lambda param: "-".join(param),
)
async def stack(request: Any, seeded: tuple[str, str]):
    """Each carrier with its streams on the main port (uvicorn) and on STREAM_PORT (aiohttp)."""
    carrier, listener = request.param
    overrides = {"stream_port": free_port()} if listener == "stream-port" else {}
    async with carrier_stack(carrier, *seeded, **overrides) as running:
        yield running


async def ended_record(stack: CarrierStack, call: Any) -> dict[str, Any]:
    return await wait_for_record(stack.live, call.call_sid, lambda r: r.get("ended_at") is not None)


@pytest.mark.parametrize("echoes_on_clear", [False, True], ids=["clear-drops-marks", "clear-echoes-marks"])
async def test_greeting_barge_in_truncation_and_caller_hang_up(stack: CarrierStack, echoes_on_clear: bool) -> None:
    if echoes_on_clear != (stack.name == "twilio") and stack.name != "exotel":
        pytest.skip("Twilio always echoes pending marks on clear, Plivo never does; Exotel: either")
    if stack.name == "exotel":
        stack.carrier.echo_marks_on_clear = echoes_on_clear
    realtime = stack.live.realtime
    realtime.script = Script(
        greeting_ms=1200,
        reply_ms=6000,
        turns=[
            Turn(transcript="Mera order kahan hai?", reply_transcript=" ".join(f"word{i}" for i in range(60))),
            Turn(transcript="Ruko ruko", reply_transcript="Ji, boliye.", reply_ms=800),
        ],
    )
    completed_before = await metric(stack.live, "voice_calls_total", outcome="completed", carrier=stack.name)
    call = await stack.place_call()
    (session,) = await realtime.wait_for_sessions(1)
    await session.wait_for_event("session.updated")
    assert session.state["audio"]["output"]["format"]["type"] == "audio/pcmu"

    # The greeting plays in full at the phone.
    await call.wait_for(lambda: call.played_ms >= 1200, timeout=10)
    await call.wait_playback_idle(timeout=10)
    greeting_bytes = len(call.played_audio)
    assert greeting_bytes == 1200 * BYTES_PER_MS

    # The caller asks; the long reply arrives faster than it plays; the caller talks over it.
    await call.say_and_wait(tone(700, 440))
    await call.wait_for(lambda: call.played_ms >= 1200 + 1500, timeout=10)
    vad_fired_at = await say_and_time_the_vad(realtime, call, tone(600, 520))
    await session.wait_for(lambda: len(session.truncations) == 1, timeout=5, what="truncate")
    await call.wait_for(lambda: len(call.clears) == 1, timeout=5)
    clear, truncation = call.clears[0], session.truncations[0]
    heard_ms = (clear.played_bytes_total - greeting_bytes) / BYTES_PER_MS
    reply = next(r for r in session.responses if r["kind"] == "reply")
    assert truncation["item_id"] == reply["item_id"]
    assert_truncated_at_what_was_heard(truncation, heard_ms, clear.time - vad_fired_at)
    assert clear.dropped_bytes > 0 and clear.marks_flushed
    # Marks the clear dropped are never counted as heard, whether the carrier echoes them or not.
    assert any(echo.by_clear for echo in call.marks_echoed) is (stack.name == "twilio" or echoes_on_clear)

    # The answer after the barge-in plays in full; then the caller hangs up.
    await call.wait_for(lambda: len(session.responses) >= 3, timeout=10)
    await call.wait_playback_idle(timeout=10)
    await call.hangup()
    await session.closed.wait()
    realtime.assert_clean()
    assert call.violations == []

    record = await ended_record(stack, call)
    assert record["carrier"] == stack.name
    assert record["end_reason"] == "caller_hung_up" and record["latencies"]["barge_ins"] == 1
    interrupted = [line for line in record["transcript"] if line.get("interrupted")]
    assert len(interrupted) == 1 and 0 < len(interrupted[0]["text"].split()) < 60
    after = await metric(stack.live, "voice_calls_total", outcome="completed", carrier=stack.name)
    assert after == completed_before + 1


async def test_simultaneous_calls_each_hear_only_their_own_audio(stack: CarrierStack) -> None:
    stack.live.realtime.script = Script(greeting_ms=400, reply_ms=800)
    count = 6
    calls = await asyncio.gather(*(stack.place_call(caller=f"+9198765{i:05d}") for i in range(count)))
    await stack.live.realtime.wait_for_sessions(count, timeout=15)
    await asyncio.gather(*(wait_for_greeting(call, timeout=15) for call in calls))
    voices = [tone(500, 1300 + 97 * i) for i in range(count)]  # the fake model's reply echoes what it heard
    await asyncio.gather(*(call.say_and_wait(voice) for call, voice in zip(calls, voices, strict=True)))
    expected = (400 + 800) * BYTES_PER_MS
    await asyncio.gather(
        *(call.wait_for(lambda c=call: c.received_media_bytes >= expected, timeout=15) for call in calls)
    )
    for index, call in enumerate(calls):
        heard = bytes(call.received_audio)
        assert voices[index][1600:1760] in heard, f"call {index} did not get its own reply, byte for byte"
        assert not [other for other in range(count) if other != index and voices[other][1600:1760] in heard]
        assert call.violations == []
    await asyncio.gather(*(call.hangup() for call in calls))
    stack.live.realtime.assert_clean()


async def test_a_tool_answers_from_the_database_then_the_caller_is_transferred(stack: CarrierStack) -> None:
    stack.live.realtime.script = Script(
        greeting_ms=300,
        reply_ms=400,
        turns=[
            Turn(transcript="Mera order kahan hai?", tool_calls=[("lookup_order", '{"order_id": "ORD 482913"}')]),
            Turn(transcript="Kisi insaan se baat karni hai", tool_calls=[("transfer_to_human", '{"reason": "asked"}')]),
        ],
    )
    call = await stack.place_call()
    (session,) = await stack.live.realtime.wait_for_sessions(1)
    await wait_for_greeting(call)
    await tool_turn(call, session, 1)
    ((name, output),) = outputs_by_name(session)
    stored = await stack.live.services.db.orders.get(OWN_ORDER)
    assert name == "lookup_order" and output["ok"] is True and output["order"]["status"] == stored.status

    await call.say_and_wait(tone(500, 440))
    dialled = await stack.dialled_for_transfer(call)
    assert dialled == ("connect" if stack.name == "exotel" else AGENT_NUMBER)
    await call.wait_closed(timeout=10)
    record = await ended_record(stack, call)
    assert record["status"] == "transferred" and record["end_reason"] == "transferred"
    assert record["transfer"]["status"] == "dialing" and record["carrier"] == stack.name
    assert [tool["name"] for tool in record["tool_calls"]] == ["lookup_order", "transfer_to_human"]
    assert call.violations == []


async def test_the_assistant_ends_the_call_after_its_goodbye(stack: CarrierStack) -> None:
    stack.live.realtime.script = Script(
        greeting_ms=300,
        reply_ms=400,
        turns=[
            Turn(transcript="Bas, dhanyavaad", tool_calls=[("end_call", '{"reason": "bye"}')], speaks_before_tools=True)
        ],
    )
    call = await stack.place_call()
    await stack.live.realtime.wait_for_sessions(1)
    await wait_for_greeting(call)
    await call.say_and_wait(tone(500, 440))
    await stack.ended_by_us(call)
    assert call.clears == [] and len(call.played_audio) >= (300 + 400) * BYTES_PER_MS  # the goodbye played
    record = await ended_record(stack, call)
    assert record["end_reason"] == "assistant_ended" and record["status"] == "completed"


async def test_forged_requests_are_refused_before_any_realtime_session(stack: CarrierStack) -> None:
    await FORGERIES[stack.name](stack)
    await asyncio.sleep(0.3)
    for session in stack.live.realtime.sessions:  # only signed answers may pre-open one; none hears audio
        assert not [e for e in session.received if e["type"] == "input_audio_buffer.append"]
    assert len(stack.live.services.live_calls) == 0


async def _forge_twilio(stack: CarrierStack) -> None:
    sim = stack.live.sim
    params = sim.voice_webhook_params(from_=DEMO_CALLER, to="+918000000000", call_sid="CA" + "f" * 32)
    for signature in (None, "", "bm90LWEtc2lnbmF0dXJl"):
        assert (await sim.post_webhook("/incoming-call", params, signature=signature)).status_code == 403
    assert stack.live.realtime.sessions == []
    call = await sim.place_call(from_=DEMO_CALLER)
    await call.connect_stream(tamper_params={"token": None})
    assert await call.wait_closed(timeout=5) == 1008


async def _forge_plivo(stack: CarrierStack) -> None:
    sim = stack.carrier
    params = sim.answer_params("6a1c3e9e-1b9b-4a35-9d8e-6a2f3c4b5d6e", DEMO_CALLER, "+918045678900")
    for signature in (None, "", "bm90LWEtc2lnbmF0dXJl"):
        assert (await sim.post("/plivo/answer", params, signature=signature)).status_code == 403
    forged = (
        base64.b64encode(b"x" * 32).decode() + "," + sim.sign("https://attacker.example.com/plivo/answer", params, "1")
    )
    assert (await sim.post("/plivo/answer", params, signature=forged, nonce="1")).status_code == 403
    for path in ("/plivo/hangup", "/plivo/transfer", "/plivo/apology"):
        assert (await sim.post(path, params, signature="bm90")).status_code == 403
    assert stack.live.realtime.sessions == []
    # A signed answer's stream URL, with its token removed, swapped for another call's, or for another call.
    call, other = await sim.place_call(), await sim.place_call()
    for tamper in ({"t": None}, {"t": other.stream_query["t"]}, {"call_sid": other.call_sid}):
        with pytest.raises(InvalidStatus) as refused:
            await call.connect_stream(tamper_query=tamper)
        assert refused.value.response.status_code == 403
    await call.connect_stream(call_id=other.call_sid)  # a start for another call than the URL's
    assert await call.wait_closed(timeout=5) == 1008


async def _forge_exotel(stack: CarrierStack) -> None:
    sim = stack.carrier
    params = sim.applet_params("0123456789abcdef", DEMO_CALLER, "+918047491899")
    for authorization in (None, basic(sim.user, "wrong-secret"), basic("someone", sim.secret), "Basic !!!"):
        for path in ("/exotel/voicebot", "/exotel/passthru"):
            assert (await sim.get(path, params, authorization=authorization)).status_code == 401
    assert stack.live.realtime.sessions == []
    call = await sim.place_call()
    for authorization, tamper in ((None, {}), (basic(sim.user, "wrong"), {}), (AUTO, {"t": "forged"})):
        with pytest.raises(InvalidStatus) as refused:
            await call.connect_stream(authorization=authorization, tamper_query=tamper)
        assert refused.value.response.status_code == 403
    async with httpx.AsyncClient() as client:  # an allowlist, when set, is checked too (loopback is not on it)
        stack.live.settings.exotel_allowed_ips.append("203.0.113.7")
        try:
            headers = {"Authorization": basic(sim.user, sim.secret)}
            answer = await client.get(stack.live.app_url + "/exotel/voicebot", params=params, headers=headers)
        finally:
            stack.live.settings.exotel_allowed_ips.clear()
    assert answer.status_code == 401


FORGERIES = {"twilio": _forge_twilio, "plivo": _forge_plivo, "exotel": _forge_exotel}
