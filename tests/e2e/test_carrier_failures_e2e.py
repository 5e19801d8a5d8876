"""Failure paths of the Plivo and Exotel edges, over real sockets: bad input gets a clear 4xx, a transfer
the carrier refuses returns the caller to the assistant, a lost assistant gets the carrier's apology,
and callbacks complete the record of a call that has no live session."""

from __future__ import annotations

import asyncio
import base64
import uuid

import httpx
import pytest

from tests.carrier_stack import PLIVO_AUTH_ID, carrier_stack
from tests.fakes.mulaw import tone
from tests.fakes.realtime_server import Script, Turn
from tests.stack import DEMO_CALLER, wait_for_greeting, wait_for_record

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def test_plivo_bad_answers_and_callbacks(mongo_uri: str, database_name: str) -> None:
    async with carrier_stack("plivo", mongo_uri, database_name) as stack:
        sim = stack.carrier
        bad = sim.answer_params("not-a-uuid", DEMO_CALLER, "+918045678900")
        assert (await sim.post("/plivo/answer", bad)).status_code == 400
        call = await sim.place_call()
        await call.connect_stream()
        await wait_for_greeting(call)
        # A second answer for a call whose stream is live is a replay.
        replay = sim.answer_params(call.call_sid, DEMO_CALLER, "+918045678900")
        assert (await sim.post("/plivo/answer", replay)).status_code == 409
        # Its stream URL cannot be used twice either (the token is single-use).
        again = type(call)(sim, call_sid=call.call_sid, from_=call.from_, to=call.to, twiml=call.twiml)
        await again.connect_stream()
        assert await again.wait_closed(timeout=5) == 1008
        await call.hangup()
        await wait_for_record(stack.live, call.call_sid, lambda r: r.get("ended_at") is not None)
        assert stack.rest.hangups(call.call_sid) == []  # the caller hung up: nothing for us to end

        # A hang-up callback for a call that never streamed here is accepted and changes nothing else.
        stray = sim.answer_params(str(uuid.uuid4()), DEMO_CALLER, "+918045678900", status="completed")
        assert (await sim.post("/plivo/hangup", {**stray, "HangupCause": "NORMAL_CLEARING"})).status_code == 204
        assert (await sim.post("/plivo/stream-status", {**stray, "Event": "StopStream"})).status_code == 204
        assert (await sim.post("/plivo/hangup", {**stray, "CallUUID": "x"})).status_code == 400

        # The REST double insists on Basic auth, like Plivo.
        async with httpx.AsyncClient() as client:
            url = f"{stack.rest.base_url}/v1/Account/{PLIVO_AUTH_ID}/Call/{call.call_sid}/"
            assert (await client.delete(url, auth=(PLIVO_AUTH_ID, "wrong"))).status_code == 401


async def test_plivo_refused_transfer_returns_the_caller_to_the_assistant(mongo_uri: str, database_name: str) -> None:
    async with carrier_stack("plivo", mongo_uri, database_name) as stack:
        stack.rest.fail_transfers = True
        stack.live.realtime.script = Script(
            greeting_ms=300, reply_ms=400, turns=[Turn(tool_calls=[("transfer_to_human", '{"reason": "asked"}')])]
        )
        call = await stack.place_call()
        (session,) = await stack.live.realtime.wait_for_sessions(1)
        await wait_for_greeting(call)
        await call.say_and_wait(tone(500, 440))
        record = await wait_for_record(
            stack.live, call.call_sid, lambda r: (r.get("transfer") or {}).get("status") == "failed", timeout=15
        )
        assert record["status"] == "in_progress" and record["carrier"] == "plivo"
        notes = lambda: [e for e in session.received if e["type"] == "conversation.item.create"]  # noqa: E731
        await session.wait_for(lambda: notes(), timeout=10, what="the model is told the transfer failed")
        assert call.connected and not call.ended  # the conversation goes on
        await call.hangup()


async def test_plivo_caller_hears_the_apology_when_the_assistant_is_unreachable(
    mongo_uri: str, database_name: str
) -> None:
    async with carrier_stack("plivo", mongo_uri, database_name) as stack:
        stack.live.realtime.fail_connect = True
        call = await stack.place_call()
        await call.wait_for(lambda: call.transfer_xml is not None, timeout=15)
        assert "<Speak" in call.transfer_xml and "<Hangup" in call.transfer_xml
        await call.wait_closed(timeout=5)
        record = await wait_for_record(stack.live, call.call_sid, lambda r: r.get("ended_at") is not None)
        assert record["status"] == "failed" and record["end_reason"] == "realtime_connect_failed"


async def test_exotel_bad_requests_are_refused_clearly(mongo_uri: str, database_name: str) -> None:
    async with carrier_stack("exotel", mongo_uri, database_name) as stack:
        sim = stack.carrier
        assert (
            await sim.get("/exotel/voicebot", sim.applet_params("bad sid!", DEMO_CALLER, "+91804"))
        ).status_code == 400
        assert (await sim.get("/exotel/passthru", {"CallSid": "x"})).status_code == 400
        # A Passthru for a call we never carried: hang up (302), after a short wait for its record.
        assert (await sim.get("/exotel/passthru", {"CallSid": "f" * 32})).status_code == 302
        # A stream that asks for another sample rate than the 8 kHz our URL named is closed.
        call = await sim.place_call()
        call.start_rate = "16000"
        await call.connect_stream()
        assert await call.wait_closed(timeout=5) == 1008
        await asyncio.sleep(0.2)
        assert len(stack.live.services.live_calls) == 0
        # Garbage media is dropped; the call goes on.
        call = await sim.place_call()
        await call.connect_stream()
        await wait_for_greeting(call)
        # The dynamic URL asked again for a call whose stream is live: refused, and it holds no slot.
        slots = stack.live.services.admission.in_use()
        again = await sim.get("/exotel/voicebot", sim.applet_params(call.call_sid, DEMO_CALLER, "+918045678900"))
        assert again.status_code == 409
        assert stack.live.services.admission.in_use() == slots
        half_sample = base64.b64encode(b"\x00").decode()
        await call.send_raw('{"event": "media", "media": {"payload": "' + half_sample + '"}}')
        await call.send_raw('{"event": "media", "media": {"payload": "%%%"}}')
        session = stack.live.realtime.sessions[-1]  # this call's (the refused call's pre-opened one is idle)
        before = len(session.responses)
        await call.say_and_wait(tone(600, 440))
        await session.wait_for(lambda: len(session.responses) > before, timeout=10, what="reply after garbage")
        await call.hangup()
