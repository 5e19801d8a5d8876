"""End-to-end keypad (DTMF): typed digits reach the model as one caller input, `*` starts over, `0`
alone asks for a human agent through the normal transfer tool, and a key press interrupts the assistant.

The simulator sends Twilio `dtmf` messages; the fake Realtime server scripts how the model answers a
text item (`Script.text_turns`)."""

from __future__ import annotations

import json

import pytest

from tests.fakes.realtime_server import FakeSession, Script, Turn
from tests.stack import DEMO_CALLER, LiveStack, live_stack, wait_for_greeting, wait_for_record

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def texts(session: FakeSession, role: str) -> list[str]:
    found = []
    for event in session.received:
        item = event.get("item") or {}
        if event["type"] == "conversation.item.create" and item.get("role") == role:
            found += [part["text"] for part in item["content"] if part.get("type") == "input_text"]
    return found


async def start(stack: LiveStack, script: Script):
    stack.realtime.script = script
    call = await stack.sim.place_call(from_=DEMO_CALLER)
    await call.connect_stream()
    (session,) = await stack.realtime.wait_for_sessions(1)
    await wait_for_greeting(call)
    return call, session


async def type_keys(call, keys: str) -> None:
    for key in keys:
        await call.send_dtmf(key)


async def test_digits_typed_then_hash_are_one_caller_input_and_the_lookup_with_them_succeeds(
    seeded: tuple[str, str],
) -> None:
    lookup = Turn(transcript="", tool_calls=[("lookup_order", json.dumps({"order_id": "482913"}))])
    async with live_stack(*seeded, keypad_pause_s=5.0) as stack:
        call, session = await start(stack, Script(greeting_ms=300, reply_ms=300, text_turns=[lookup]))
        await type_keys(call, "77*482913#")  # a slip, `*` to start over, the order number, `#`
        await session.wait_for(lambda: session.function_outputs, timeout=10, what="lookup output")
        assert texts(session, "user") == ["Caller typed on the keypad: 482913"]
        (output,) = session.function_outputs.values()
        assert json.loads(output)["ok"] is True and "ORD-482913" in output
        record = await wait_for_record(stack, call.call_sid, lambda r: r["tool_calls"])
        assert record["tool_calls"][0]["name"] == "lookup_order" and record["tool_calls"][0]["ok"]
        assert "Caller typed on the keypad: 482913" in [line["text"] for line in record["transcript"]]
        await call.hangup()


async def test_an_entry_ends_after_a_pause_without_hash(mongo_uri: str, database_name: str) -> None:
    async with live_stack(mongo_uri, database_name, keypad_pause_s=0.3) as stack:
        call, session = await start(stack, Script(greeting_ms=300, reply_ms=300, text_turns=[Turn()]))
        await type_keys(call, "560001")
        await session.wait_for(lambda: texts(session, "user"), timeout=5, what="typed pincode")
        assert texts(session, "user") == ["Caller typed on the keypad: 560001"]
        await session.wait_for(lambda: len(session.responses) >= 2, timeout=5, what="a reply to it")
        await call.hangup()


async def test_zero_alone_asks_for_a_human_through_the_transfer_tool(mongo_uri: str, database_name: str) -> None:
    transfer = Turn(transcript="", tool_calls=[("transfer_to_human", json.dumps({"reason": "caller pressed 0"}))])
    async with live_stack(mongo_uri, database_name, keypad_pause_s=0.3) as stack:
        call, session = await start(stack, Script(greeting_ms=300, reply_ms=300, text_turns=[transfer]))
        await type_keys(call, "0")
        await session.wait_for(lambda: session.function_outputs, timeout=5, what="transfer tool output")
        assert any("pressed 0" in text and "transfer_to_human" in text for text in texts(session, "system"))
        assert texts(session, "user") == [], "a shortcut is not typed input"
        record = await wait_for_record(stack, call.call_sid, lambda r: r.get("transfer") is not None, timeout=10)
        assert record["tool_calls"][0]["name"] == "transfer_to_human"
        await call.hangup()


async def test_a_key_pressed_while_the_assistant_speaks_interrupts_it(mongo_uri: str, database_name: str) -> None:
    async with live_stack(mongo_uri, database_name, keypad_pause_s=5.0) as stack:
        stack.realtime.script = Script(greeting_ms=8000, reply_ms=300)
        call = await stack.sim.place_call(from_=DEMO_CALLER)
        await call.connect_stream()
        (session,) = await stack.realtime.wait_for_sessions(1)
        await call.wait_for(lambda: call.played_ms >= 500, timeout=10)
        await call.send_dtmf("4")
        await call.wait_for(lambda: len(call.clears) == 1, timeout=5)
        await session.wait_for(lambda: len(session.truncations) == 1, timeout=5, what="truncate")
        assert session.truncations[0]["audio_end_ms"] < 8000
        record = await wait_for_record(stack, call.call_sid, lambda r: r["latencies"]["barge_ins"] == 1)
        assert record["latencies"]["barge_ins"] == 1
        await call.hangup()
