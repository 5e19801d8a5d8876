"""Ending a call: the goodbye plays to the end, then the stream closes (our TwiML has nothing after
<Connect>, so Twilio hangs up); a silent caller gets one prompt, then a polite goodbye and hang-up."""

from __future__ import annotations

import pytest

from tests.fakes.mulaw import tone
from tests.fakes.realtime_server import Script, Turn
from tests.stack import LiveStack, live_stack, wait_for_greeting, wait_for_record

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

BYTES_PER_MS = 8


@pytest.fixture
async def stack(mongo_uri: str, database_name: str):
    async with live_stack(mongo_uri, database_name) as running:
        yield running


async def test_end_call_hangs_up_after_the_goodbye_has_played(stack: LiveStack) -> None:
    stack.realtime.script = Script(
        greeting_ms=300,
        turns=[Turn(transcript="Bas, dhanyavaad", tool_calls=[("end_call", '{"reason": "caller said bye"}')])],
    )
    call = await stack.sim.place_call()
    await call.connect_stream()
    (session,) = await stack.realtime.wait_for_sessions(1)
    await wait_for_greeting(call)
    await call.say_and_wait(tone(500, 440))
    await call.wait_closed(timeout=10)
    assert call.closed_by_app
    # No follow-up response after end_call, and nothing queued was cut off: every byte sent was played.
    assert [r["kind"] for r in session.responses] == ["greeting", "reply"]
    assert call.clears == [] and len(call.played_audio) == call.received_media_bytes
    record = await wait_for_record(stack, call.call_sid, lambda r: r.get("ended_at") is not None)
    assert record["end_reason"] == "assistant_ended" and record["status"] == "completed"
    assert [t["name"] for t in record["tool_calls"]] == ["end_call"]
    stack.realtime.assert_clean()


async def test_silent_caller_is_prompted_then_politely_hung_up_on(stack: LiveStack) -> None:
    stack.realtime.script = Script(greeting_ms=300)  # every response here lasts 300 ms
    agent = stack.services.agent  # this app's own copy of the agent config
    agent.silence_prompt_after_s = 1.0
    call = await stack.sim.place_call()
    await call.connect_stream()
    (session,) = await stack.realtime.wait_for_sessions(1)
    await wait_for_greeting(call)
    # The caller says nothing at all.
    await call.wait_closed(timeout=15)
    assert call.closed_by_app
    notes = [
        e["item"]["content"][0]["text"]
        for e in session.received
        if e["type"] == "conversation.item.create" and e["item"].get("role") == "system"
    ]
    assert notes == [agent.silence_prompt_instruction, agent.silence_goodbye_instruction]
    # Greeting, the "are you there?" prompt and the goodbye all played in full before the hang-up.
    assert len(session.responses) == 3
    assert len(call.played_audio) == call.received_media_bytes == 3 * 300 * BYTES_PER_MS
    record = await wait_for_record(stack, call.call_sid, lambda r: r.get("ended_at") is not None)
    assert record["end_reason"] == "caller_silent"
    stack.realtime.assert_clean()
