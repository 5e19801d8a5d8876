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


@pytest.mark.parametrize("goodbye_first", [True, False], ids=["goodbye-then-end_call", "end_call-alone"])
async def test_end_call_hangs_up_after_the_goodbye_has_played(stack: LiveStack, goodbye_first: bool) -> None:
    """The goodbye said before `end_call` (same response) ends the call once played, with nothing after it.
    An `end_call` with nothing said gets exactly one follow-up (the goodbye), and the call ends after that."""
    stack.realtime.script = Script(
        greeting_ms=300,
        reply_ms=400,
        turns=[
            Turn(
                transcript="Bas, dhanyavaad",
                reply_transcript="Dhanyavaad, alvida!",
                tool_calls=[("end_call", '{"reason": "caller said bye"}')],
                speaks_before_tools=goodbye_first,
            )
        ],
    )
    call = await stack.sim.place_call()
    await call.connect_stream()
    (session,) = await stack.realtime.wait_for_sessions(1)
    await wait_for_greeting(call)
    await call.say_and_wait(tone(500, 440))
    await call.wait_closed(timeout=10)
    assert call.closed_by_app
    kinds = [r["kind"] for r in session.responses]
    assert kinds == (["greeting", "reply"] if goodbye_first else ["greeting", "reply", "tool_followup"])
    goodbye = session.responses[-1]
    assert goodbye["transcript"] == "Dhanyavaad, alvida!" and goodbye["audio_ms"] == 400
    # Nothing queued was cut off: every byte sent was played, greeting and goodbye.
    assert call.clears == [] and len(call.played_audio) == call.received_media_bytes == (300 + 400) * BYTES_PER_MS
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
