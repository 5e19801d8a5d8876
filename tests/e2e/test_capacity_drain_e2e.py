"""Overload and deploys: the call past MAX_CONCURRENT_CALLS (or past the repeat-call limit) hears a polite
message and opens no Realtime session; an extra stream is refused; and SIGTERM drains the node — readiness
off at once, live calls finish (or are ended with a callback ticket at DRAIN_TIMEOUT_S), then exit 0.

The SIGTERM tests run the app as its own process (`tests.nodes`: `python -m bench.app_server`, i.e.
`app.serve()`, the function `python app.py` runs) and send it a real signal."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from models.call_record import utc_now
from services.admission import repeat_key
from services.store.database import Database
from services.telephony.twilio_voice import connect_stream_twiml
from tests.fakes.mulaw import tone
from tests.fakes.realtime_server import FakeRealtimeServer, Script
from tests.fakes.twilio_rest import FakeTwilioRest
from tests.fakes.twilio_sim import SimulatedCall, TwilioSimulator, new_call_sid
from tests.nodes import AppNode, app_node
from tests.stack import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    DEMO_CALLER,
    PUBLIC_BASE_URL,
    LiveStack,
    live_stack,
    metric,
    wait_for_greeting,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def busy_reply(response: httpx.Response) -> str:
    """The polite refusal: 200, `<Say language="hi-IN">` then `<Hangup/>`, no stream. Returns what is said."""
    assert response.status_code == 200, response.text
    assert "xml" in response.headers["content-type"]
    root = ET.fromstring(response.text)
    assert [child.tag for child in root] == ["Say", "Hangup"], response.text
    say = root[0]
    assert say.get("language") == "hi-IN"
    assert "busy" in (say.text or "") and "Dhanyavaad" in (say.text or "")
    return say.text or ""


async def ring(stack: LiveStack, caller: str, call_sid: str | None = None) -> httpx.Response:
    """A signed voice webhook, whatever the answer (`sim.place_call` insists on `<Connect><Stream>`)."""
    params = stack.sim.voice_webhook_params(call_sid or new_call_sid(), caller, "+918000000000")
    return await stack.sim.post_webhook("/incoming-call", params)


async def callback_tickets(db: Database, call_sid: str) -> list[dict[str, Any]]:
    return await db.tickets.collection.find({"call_sid": call_sid, "category": "callback"}).to_list()


# ----------------------------------------------------------------------------- overload


async def test_the_call_past_the_limit_hears_a_polite_message_and_opens_no_session(
    mongo_uri: str, database_name: str
) -> None:
    async with live_stack(mongo_uri, database_name, max_concurrent_calls=2) as stack:
        stack.realtime.script = Script(greeting_ms=300)
        # A burst of five webhooks at once: two get a stream (each reserves its slot before any stream
        # connects), three hear the busy message.
        callers = [f"+91981234{i:04d}" for i in range(5)]
        sids = [new_call_sid() for _ in callers]
        replies = await asyncio.gather(*(ring(stack, caller, sid) for caller, sid in zip(callers, sids, strict=True)))
        admitted = [i for i, r in enumerate(replies) if "<Connect>" in r.text]
        refused = [i for i, r in enumerate(replies) if "<Connect>" not in r.text]
        assert len(admitted) == 2 and len(refused) == 3
        for index in refused:
            assert "call back" in busy_reply(replies[index])  # an inbound caller gets a callback ticket
        # Pre-opened sessions exist for the two admitted calls only.
        await stack.realtime.wait_for_sessions(2)
        await asyncio.sleep(0.3)
        assert len(stack.realtime.sessions) == 2
        assert stack.services.admission.in_use() == 2

        # Each refused caller has a callback ticket, texted to them.
        db = stack.services.db
        tickets = [await callback_tickets(db, sids[index]) for index in refused]
        assert [len(found) for found in tickets] == [1, 1, 1]
        await stack.rest.wait_for_message(count=3)
        texted = {(m["to"], m["body"]) for m in stack.rest.messages}
        for index, found in zip(refused, tickets, strict=True):
            assert any(to == callers[index] and found[0]["ticket_id"] in body for to, body in texted)
        assert await metric(stack, "voice_streams_rejected_total", reason="over_capacity") >= 3

        # The admitted calls stream; when one ends, its slot is free for the next caller.
        calls = []
        for index in admitted:
            call = SimulatedCall(
                stack.sim, call_sid=sids[index], from_=callers[index], to="+918000000000", twiml=replies[index].text
            )
            stack.rest.register_call(sids[index], from_=callers[index], to="+918000000000")
            stack.sim.calls.append(call)
            await call.connect_stream()
            calls.append(call)
        await asyncio.gather(*(wait_for_greeting(call) for call in calls))
        assert busy_reply(await ring(stack, DEMO_CALLER))
        await calls[0].hangup()
        await calls[0].wait_for(lambda: len(stack.services.live_calls) == 1, timeout=5)
        after = await stack.sim.place_call(from_=DEMO_CALLER)  # <Connect><Stream> again
        await after.connect_stream()
        await wait_for_greeting(after)
        assert len(stack.services.live_calls) == 2
        assert len(stack.realtime.sessions) == 3
        stack.realtime.assert_clean()


async def test_an_extra_stream_is_refused_before_any_realtime_session(mongo_uri: str, database_name: str) -> None:
    async with live_stack(mongo_uri, database_name, max_concurrent_calls=1, openai_preopen=False) as stack:
        stack.realtime.script = Script(greeting_ms=300)
        first = await stack.sim.place_call(from_=DEMO_CALLER)
        await first.connect_stream()
        await wait_for_greeting(first)

        # Another node answered this call's webhook (same secret, so a valid token), and Twilio sends its
        # stream here, where the one slot is taken.
        call_sid, caller = new_call_sid(), "+919812340000"
        parameters = {
            "call_sid": call_sid,
            "caller": caller,
            "called": "+918000000000",
            "direction": "inbound",
            "carrier": "twilio",
            "attestation": "",
        }
        token = stack.services.stream_gate.issue(call_sid, parameters)
        twiml = connect_stream_twiml(stack.settings.media_stream_url, {**parameters, "token": token})
        extra = SimulatedCall(stack.sim, call_sid=call_sid, from_=caller, to="+918000000000", twiml=twiml)
        stack.sim.calls.append(extra)
        stack.rest.register_call(call_sid, from_=caller, to="+918000000000")
        await extra.connect_stream()
        await extra.wait_closed(timeout=10)

        # Twilio was asked to say the busy message instead (the redirect stopped the stream), and the
        # stream was refused: no Realtime session, no live call, no audio.
        update = await stack.rest.wait_for_call_update(call_sid)
        said = ET.fromstring(update.form["Twiml"])
        assert [child.tag for child in said] == ["Say", "Hangup"] and said[0].get("language") == "hi-IN"
        assert extra.received_media_bytes == 0
        assert await metric(stack, "voice_streams_rejected_total", reason="over_capacity") >= 1
        await asyncio.sleep(0.3)
        assert len(stack.realtime.sessions) == 1
        assert len(stack.services.live_calls) == 1 and first.connected
        assert len(await callback_tickets(stack.services.db, call_sid)) == 1

        # A raw stream refused for capacity is closed with 1008 when Twilio has not closed it first.
        stack.rest.end_call(call_sid)
        other_sid = new_call_sid()
        other = {**parameters, "call_sid": other_sid}
        other_twiml = connect_stream_twiml(
            stack.settings.media_stream_url, {**other, "token": stack.services.stream_gate.issue(other_sid, other)}
        )
        raw = SimulatedCall(stack.sim, call_sid=other_sid, from_=caller, to="+918000000000", twiml=other_twiml)
        stack.sim.calls.append(raw)
        await raw.connect_stream()  # unknown to the REST fake: the redirect gets 404
        assert await raw.wait_closed(timeout=10) == 1008
        assert len(stack.realtime.sessions) == 1

        await first.hangup()
        stack.realtime.assert_clean()


async def test_a_caller_over_the_repeat_limit_is_answered_politely(mongo_uri: str, database_name: str) -> None:
    async with live_stack(mongo_uri, database_name, repeat_call_limit=2, repeat_call_window_s=86_400) as stack:
        for _ in range(2):
            await stack.sim.place_call(from_=DEMO_CALLER)
        sessions = len(await stack.realtime.wait_for_sessions(2))
        reply = await ring(stack, DEMO_CALLER)
        said = busy_reply(reply)
        assert "call back" not in said  # no ticket and no SMS for a number calling too often
        call_sid = stack.sim.webhook_log[-1][1]["CallSid"]
        assert await callback_tickets(stack.services.db, call_sid) == []
        assert stack.rest.messages == []
        await asyncio.sleep(0.3)
        assert len(stack.realtime.sessions) == sessions
        assert await metric(stack, "voice_streams_rejected_total", reason="repeat_caller") >= 1

        # Another number is not affected; the count lives in MongoDB (shared by every node).
        await stack.sim.place_call(from_="+919812345678")
        counters, window = stack.services.db.call_counters, timedelta(days=1)  # (no boundary mid-test)
        assert await counters.count(repeat_key(DEMO_CALLER), 2, window) == 2  # the refused call took no slot
        assert await counters.count(repeat_key("+919812345678"), 2, window) == 1

        # In the next window the number may call again.
        later = utc_now() + window
        assert await counters.take(repeat_key(DEMO_CALLER), 2, window, now=later)

        # Calls racing on any node are each counted once, with no transactions: exactly `limit` get in.
        for attempt in range(3):
            key = repeat_key(f"+91980000000{attempt}")
            taken = await asyncio.gather(*(counters.take(key, 5, window) for _ in range(12)))
            assert sum(taken) == 5
            assert await counters.count(key, 5, window) == 5


async def test_a_retried_webhook_is_the_same_call_not_a_repeat_one(mongo_uri: str, database_name: str) -> None:
    """Twilio retries a voice webhook it got no answer to in time; behind a load balancer the retry may
    reach another node. However often (and however concurrently) one CallSid rings, it is one call."""
    async with live_stack(mongo_uri, database_name, repeat_call_limit=2, repeat_call_window_s=86_400) as stack:
        call_sid = new_call_sid()
        replies = await asyncio.gather(*(ring(stack, DEMO_CALLER, call_sid) for _ in range(4)))
        for reply in replies:
            assert reply.status_code == 200 and "<Stream" in reply.text, reply.text
        counters, window = stack.services.db.call_counters, timedelta(days=1)
        key = repeat_key(DEMO_CALLER)
        assert await counters.count(key, 2, window) == 1
        # The retry that reaches another node: the count is the database's, keyed by the call.
        assert await counters.take(key, 2, window, call_id=call_sid)
        assert await counters.count(key, 2, window) == 1

        await stack.sim.place_call(from_=DEMO_CALLER)  # the caller's second call: counted, let in
        assert await counters.count(key, 2, window) == 2
        said = busy_reply(await ring(stack, DEMO_CALLER))  # a third one is over the limit
        assert "Dhanyavaad" in said
        # ... while the first call's webhook, retried once more, is still that call's.
        again = await ring(stack, DEMO_CALLER, call_sid)
        assert again.status_code == 200 and "<Stream" in again.text, again.text
        assert await counters.count(key, 2, window) == 2


# ----------------------------------------------------------------------------- SIGTERM


@dataclass
class AppProcess(AppNode):
    """One node (`tests.nodes`) with its own fakes."""

    sim: TwilioSimulator
    realtime: FakeRealtimeServer
    rest: FakeTwilioRest


@contextlib.asynccontextmanager
async def app_process(mongo_uri: str, database: str, workdir: Path, **settings: Any) -> AsyncIterator[AppProcess]:
    realtime = FakeRealtimeServer()
    await realtime.start()
    realtime.script = Script(greeting_ms=400, reply_ms=800)
    rest = FakeTwilioRest(ACCOUNT_SID, AUTH_TOKEN)
    await rest.start()
    try:
        async with app_node(
            workdir,
            mongo_uri=mongo_uri,
            database=database,
            realtime_url=realtime.url,
            twilio_api_url=rest.base_url,
            **settings,
        ) as node:
            sim = TwilioSimulator(
                app_base_url=node.url, public_base_url=PUBLIC_BASE_URL, account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN
            )
            rest.attach(sim)
            try:
                yield AppProcess(node.name, node.process, node.url, node.log_path, sim, realtime, rest)
            finally:
                await sim.aclose()
    finally:
        await rest.stop()
        await realtime.stop()


async def caller_turn_is_answered(call: SimulatedCall) -> None:
    before = call.played_ms
    await call.say_and_wait(tone(600, 440))
    await call.wait_for(lambda: call.played_ms >= before + 800, timeout=10)
    await call.wait_playback_idle(timeout=10)


async def test_sigterm_lets_live_calls_finish_then_the_process_exits_0(
    mongo_uri: str, database_name: str, mongo_client: Any, tmp_path: Path
) -> None:
    async with app_process(mongo_uri, database_name, tmp_path, drain_timeout_s=60) as app:
        call = await app.sim.place_call(from_=DEMO_CALLER)
        await call.connect_stream()
        await wait_for_greeting(call)

        signalled = asyncio.get_running_loop().time()
        app.process.send_signal(signal.SIGTERM)
        while (health := await app.health()).status_code != 503:  # readiness off at once
            assert asyncio.get_running_loop().time() - signalled < 1.0, health.text
            await asyncio.sleep(0.02)
        assert health.json()["status"] == "draining" and health.json()["active_calls"] == 1

        # The call goes on: the caller speaks and is answered, over the same stream.
        await caller_turn_is_answered(call)
        assert call.connected and not call.closed_by_app

        # A webhook that still reaches this node is answered normally (there is capacity); its call works.
        late = await app.sim.place_call(from_="+919812345678")
        await late.connect_stream()
        await wait_for_greeting(late)
        await caller_turn_is_answered(late)
        await late.hangup()

        await asyncio.sleep(0.5)
        assert app.process.returncode is None, "a call is still live: the process must wait for it"
        assert (await app.health()).status_code == 503
        await call.hangup()
        assert await app.exit_code(timeout=5) == 0, app.log_tail()
        assert call.violations == [] and late.violations == []
        app.realtime.assert_clean()

    calls = Database(mongo_client, database_name).calls
    for ended in (call, late):
        record = await calls.get(ended.call_sid)
        assert record is not None and record["end_reason"] == "caller_hung_up", record
        assert record["ended_at"] is not None


async def test_at_the_drain_timeout_calls_end_with_a_callback_ticket_then_exit_0(
    mongo_uri: str, database_name: str, mongo_client: Any, tmp_path: Path
) -> None:
    async with app_process(mongo_uri, database_name, tmp_path, drain_timeout_s=2) as app:
        call = await app.sim.place_call(from_=DEMO_CALLER)
        await call.connect_stream()
        await wait_for_greeting(call)
        await caller_turn_is_answered(call)

        loop = asyncio.get_running_loop()
        signalled = loop.time()
        app.process.send_signal(signal.SIGTERM)
        await call.wait_closed(timeout=15)
        assert call.closed_by_app
        assert loop.time() - signalled >= 1.8, "the call had until DRAIN_TIMEOUT_S"
        assert await app.exit_code(timeout=10) == 0, app.log_tail()
        texts = [m for m in app.rest.messages if m["to"] == DEMO_CALLER]

    db = Database(mongo_client, database_name)
    record = await db.calls.get(call.call_sid)
    assert record is not None and record["end_reason"] == "drain_timeout", record
    (ticket,) = await callback_tickets(db, call.call_sid)
    assert ticket["phone"] == DEMO_CALLER and ticket["priority"] == "high"
    assert "drain timeout" in ticket["description"] and "caller:" in ticket["description"]
    assert record["tickets"] == [ticket["ticket_id"]]
    assert len(texts) == 1 and ticket["ticket_id"] in texts[0]["body"]
