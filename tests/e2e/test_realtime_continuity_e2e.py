"""The call outlives its OpenAI socket: a drop is recovered on a new session without a second greeting
(caller audio held, not lost), a session past its cap is rotated between turns, and only when every
reconnect fails does the caller hear the apology — with a callback ticket texted to them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from devtools.ferretdb import free_port
from services.call.continuity import RECONNECT_ATTEMPTS
from tests.fakes.mulaw import tone
from tests.fakes.realtime_server import FakeSession, Script, Turn
from tests.stack import DEMO_CALLER, LiveStack, live_stack, metric, wait_for_greeting, wait_for_record

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

GREETING = "Namaste! Main aapki kya madad kar sakti hoon?"


@pytest.fixture
async def stack(seeded: tuple[str, str]) -> AsyncIterator[LiveStack]:
    async with live_stack(*seeded) as running:
        running.realtime.script = Script(greeting_ms=300, reply_ms=400, greeting_transcript=GREETING)
        yield running


def replayed_roles(session: FakeSession) -> list[str]:
    return [
        e["item"]["role"]
        for e in session.received
        if e["type"] == "conversation.item.create" and e["item"].get("type") == "message"
    ]


async def test_a_dropped_socket_is_recovered_without_a_second_greeting(stack: LiveStack) -> None:
    stack.realtime.script.turns = [Turn(transcript="Mera order kab aayega?"), Turn(transcript="Aur refund?")]
    call = await stack.sim.place_call(from_=DEMO_CALLER)
    await call.connect_stream()
    (first,) = await stack.realtime.wait_for_sessions(1)
    await wait_for_greeting(call)
    await call.say_and_wait(tone(500, 440))
    await first.wait_for(lambda: len(first.responses) == 2 and first.responses[-1]["status"] == "completed")
    await call.wait_playback_idle(timeout=10)
    await wait_for_record(
        stack, call.call_sid, lambda r: any(x["role"] == "caller" and x["text"] for x in r["transcript"])
    )

    await first.disconnect(code=1011)  # OpenAI drops the socket mid-call
    (_, second) = await stack.realtime.wait_for_sessions(2, timeout=5)
    await second.wait_for(lambda: "user" in replayed_roles(second), timeout=5, what="history replayed")
    # The new session got the same configuration and the conversation so far, and no greeting.
    assert second.state["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert second.state["instructions"] == first.state["instructions"]
    assert replayed_roles(second)[:3] == ["assistant", "user", "assistant"]
    assert second.responses == [], "nobody speaks until the caller does"

    # The caller's next turn is answered by the new session, and heard.
    await call.say_and_wait(tone(500, 440))
    await second.wait_for(lambda: second.responses and second.responses[-1]["status"] == "completed", timeout=10)
    await call.wait_playback_idle(timeout=10)
    assert second.responses[-1]["kind"] == "reply" and call.connected
    assert second.appended_bytes > 0
    await call.hangup()
    record = await wait_for_record(stack, call.call_sid, lambda r: r.get("ended_at") is not None)
    (moved,) = record["realtime_sessions"]
    assert moved["ok"] and moved["attempts"] == 1 and moved["gap_ms"] < 2000 and "1011" in moved["reason"]
    assert record["end_reason"] == "caller_hung_up" and record["status"] == "completed"
    assert [line["text"] for line in record["transcript"] if line["role"] == "assistant"].count(GREETING) == 1
    stack.realtime.assert_clean()


@pytest.mark.parametrize("listener", ["uvicorn", "stream-port"])
async def test_caller_audio_during_the_gap_reaches_the_new_session(seeded: tuple[str, str], listener: str) -> None:
    """On the stream port the caller's frames are taken in the socket's read callback (`api/frame_tap.py`)
    and written at once: there too, what the link cannot send is held for the new session, in order."""
    overrides = {"stream_port": free_port()} if listener == "stream-port" else {}
    async with live_stack(*seeded, **overrides) as stack:
        stack.realtime.script = Script(greeting_ms=300, reply_ms=400, greeting_transcript=GREETING)
        call = await stack.sim.place_call(from_=DEMO_CALLER)
        await call.connect_stream()
        (first,) = await stack.realtime.wait_for_sessions(1)
        await wait_for_greeting(call)
        stack.realtime.connect_delay_s = 0.4  # the new handshake takes a while: the caller talks meanwhile
        await first.disconnect(code=None)  # TCP drops without a close frame (1006)
        speech = tone(500, 440)
        await call.say_and_wait(speech)
        (_, second) = await stack.realtime.wait_for_sessions(2, timeout=5)
        # What the caller said while the link was down was held and forwarded: the new session heard the
        # turn and answered it.
        await second.wait_for(lambda: len(second.user_turns) >= 1, timeout=5, what="held audio forwarded")
        await second.wait_for(lambda: second.responses and second.responses[-1]["status"] == "completed", timeout=10)
        assert speech[160:4000] in second.user_turns[0].audio, "the held speech arrived whole and in order"
        await call.hangup()
        stack.realtime.assert_clean()


async def test_session_cap_rotates_the_call_between_turns(mongo_uri: str, database_name: str) -> None:
    async with live_stack(mongo_uri, database_name, realtime_session_max_s=5) as stack:
        stack.realtime.script = Script(greeting_ms=300, reply_ms=400, greeting_transcript=GREETING)
        stack.realtime.session_max_s = 12  # the server's own cap, as the real API enforces at 60 min
        call = await stack.sim.place_call(from_=DEMO_CALLER)
        await call.connect_stream()
        await wait_for_greeting(call)
        rotations_before = await metric(stack, "voice_realtime_sessions_moved_total", outcome="rotation")

        def replies() -> list[dict]:
            done = [r for s in stack.realtime.sessions for r in s.responses if r["kind"] == "reply"]
            return [r for r in done if r["status"] == "completed"]

        answered = 0
        for _ in range(4):  # ~2.5 s a turn, pauses included: the call outlives one session age of 5 s
            before = len(replies())
            await call.say_and_wait(tone(500, 440))
            await call.wait_for(lambda before=before: len(replies()) > before, timeout=10)
            await call.wait_playback_idle(timeout=10)
            answered += 1
            await asyncio.sleep(1.0)  # a pause between turns, as callers make: the quiet moment to rotate in
        assert answered == 4 and call.connected
        assert len(stack.realtime.sessions) >= 2, "the call moved to a fresh session before the cap"
        assert not any(getattr(s, "expired", False) for s in stack.realtime.sessions), "no session hit the cap"
        assert await metric(stack, "voice_realtime_sessions_moved_total", outcome="rotation") > rotations_before
        greetings = [r for s in stack.realtime.sessions for r in s.responses if r["kind"] == "greeting"]
        assert len(greetings) == 1, "rotation never greets again"
        await call.hangup()
        record = await wait_for_record(stack, call.call_sid, lambda r: r.get("ended_at") is not None)
        assert {moved["reason"] for moved in record["realtime_sessions"]} == {"rotation"}
        stack.realtime.assert_clean()


async def test_when_every_reconnect_fails_the_caller_hears_an_apology_and_gets_a_callback_ticket(
    stack: LiveStack,
) -> None:
    call = await stack.sim.place_call(from_=DEMO_CALLER)
    await call.connect_stream()
    (first,) = await stack.realtime.wait_for_sessions(1)
    await wait_for_greeting(call)
    stack.realtime.fail_connect = True  # OpenAI is down: every new handshake fails
    await first.disconnect(code=1011)
    update = await stack.rest.wait_for_call_update(call.call_sid, timeout=10)
    assert "<Say" in update.form["Twiml"], "never dead air: Twilio speaks the apology"
    await call.wait_closed(timeout=5)
    assert len(stack.realtime.rejected_handshakes) == RECONNECT_ATTEMPTS
    record = await wait_for_record(stack, call.call_sid, lambda r: r.get("ended_at") is not None)
    assert record["end_reason"] == "realtime_disconnected" and record["status"] == "failed"
    (failed,) = record["realtime_sessions"]
    assert not failed["ok"] and failed["attempts"] == RECONNECT_ATTEMPTS
    (ticket_id,) = record["tickets"]
    ticket = await stack.services.db.tickets.get(ticket_id)
    assert ticket is not None and ticket.category == "callback" and ticket.phone == DEMO_CALLER
    message = await stack.rest.wait_for_message(timeout=5)
    assert message["to"] == DEMO_CALLER and ticket_id in message["body"]


async def test_a_session_the_server_expires_anyway_is_reconnected(stack: LiveStack) -> None:
    stack.realtime.session_max_s = 2.0  # the server's cap comes before our rotation (55 min by default)
    call = await stack.sim.place_call(from_=DEMO_CALLER)
    await call.connect_stream()
    (first,) = await stack.realtime.wait_for_sessions(1)
    await wait_for_greeting(call)
    stack.realtime.session_max_s = None  # the next session lives on
    await first.closed.wait()
    (_, second) = await stack.realtime.wait_for_sessions(2, timeout=5)
    await call.say_and_wait(tone(500, 440))
    await second.wait_for(lambda: second.responses and second.responses[-1]["status"] == "completed", timeout=10)
    assert second.responses[-1]["kind"] == "reply" and call.connected
    await call.hangup()
    record = await wait_for_record(stack, call.call_sid, lambda r: r.get("ended_at") is not None)
    assert any("session_expired" in error for error in record["realtime_errors"])
    (moved,) = record["realtime_sessions"]
    assert moved["ok"] and "1001" in moved["reason"]
