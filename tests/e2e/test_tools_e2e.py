"""End-to-end tool calls: the fake model asks for a function, the app runs it on the real database and
answers with `function_call_output` + `response.create`, while audio keeps flowing."""

from __future__ import annotations

import asyncio
import io
import json
import re
from collections import Counter

import pytest

from tests.fakes.mulaw import tone
from tests.fakes.realtime_server import Script, Turn
from tests.stack import AUTH_TOKEN, DEMO_CALLER, LiveStack, live_stack, metric, wait_for_greeting, wait_for_record
from utils.logger import configure_logging, flush_logging

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

OWN_ORDER = "ORD-482913"  # belongs to the demo caller (+919876543210), shipped
OTHER_ORDER = "ORD-731205"  # belongs to +919812345678


@pytest.fixture
async def stack(seeded: tuple[str, str]):
    async with live_stack(*seeded, tool_timeout_s=2.0) as running:
        yield running


async def start(stack: LiveStack, turns: list[Turn], caller: str = DEMO_CALLER):
    stack.realtime.script = Script(greeting_ms=300, reply_ms=400, turns=turns)
    call = await stack.sim.place_call(from_=caller)
    await call.connect_stream()
    (session,) = await stack.realtime.wait_for_sessions(1)
    await wait_for_greeting(call)
    return call, session


async def tool_turn(call, session, tool_calls: int) -> None:
    """The caller speaks; the model's `tool_calls` calls are answered and the follow-up has played."""
    expected = len(session.function_outputs) + tool_calls
    await call.say_and_wait(tone(500, 440))
    await session.wait_for(lambda: len(session.function_outputs) >= expected, timeout=10, what="outputs")
    await session.wait_for(
        lambda: session.responses[-1]["kind"] == "tool_followup" and session.responses[-1]["status"] != "in_progress",
        timeout=10,
        what="spoken follow-up",
    )
    await call.wait_playback_idle(timeout=10)


async def run_turns(stack: LiveStack, turns: list[Turn], caller: str = DEMO_CALLER):
    counts = [len(turn.tool_calls) for turn in turns]
    call, session = await start(stack, turns, caller)
    for count in counts:
        await tool_turn(call, session, count)
    return call, session


def outputs_by_name(session) -> list[tuple[str, dict]]:
    return [(session.issued_calls[cid], json.loads(out)) for cid, out in session.function_outputs.items()]


async def test_lookup_order_output_matches_the_database(stack: LiveStack) -> None:
    call, session = await run_turns(
        stack, [Turn(transcript="Mera order kahan hai?", tool_calls=[("lookup_order", '{"order_id": "ORD 482913"}')])]
    )
    ((name, output),) = outputs_by_name(session)
    assert name == "lookup_order" and output["ok"] is True
    stored = await stack.services.db.orders.get(OWN_ORDER)
    assert output["order"]["order_id"] == stored.order_id
    assert output["order"]["status"] == stored.status == "shipped"
    # Caller ID alone: the status and delivery date, not the tracking or the amount.
    assert "expected_delivery" in output["order"]
    assert "tracking_id" not in output["order"] and "total" not in output["order"]
    # The model was asked to speak after the output, and the caller heard that follow-up.
    assert session.responses[-1]["kind"] == "tool_followup"
    await call.hangup()
    stack.realtime.assert_clean()

    record = await wait_for_record(stack, call.call_sid, lambda r: r.get("ended_at") is not None)
    (tool_call,) = record["tool_calls"]
    assert tool_call["name"] == "lookup_order" and tool_call["ok"] is True and tool_call["duration_ms"] >= 0
    # The tool turn's latency runs from the end of the caller's speech to the spoken follow-up.
    (turn,) = record["latencies"]["turns"]
    assert turn["response_id"] == session.responses[-1]["response_id"]
    assert turn["speech_end_to_audio_ms"] > 0


async def test_someone_elses_order_reveals_nothing_until_verified(stack: LiveStack) -> None:
    spoken_forms = ['{"order_id": "saat teen ek do shunya paanch"}', '{"order_id": "ORD-७३१२०५"}']
    turns = [Turn(tool_calls=[("lookup_order", args)]) for args in spoken_forms]
    turns.append(Turn(tool_calls=[("lookup_order", '{"order_id": "ORD-731205", "verification": "5678"}')]))
    turns.append(Turn(tool_calls=[("lookup_order", '{"order_id": "ORD-731205", "verification": "560034"}')]))
    call, session = await run_turns(stack, turns)
    outputs = [output for _, output in outputs_by_name(session)]
    stranger_text = json.dumps(outputs[:2], ensure_ascii=False)
    for output in outputs[:2]:
        assert output["ok"] is False and output["error"] == "verification_required"
    for secret in ("731205", "9812345678", "returned", "5678"):
        assert secret not in stranger_text
    # The last four digits of the owner's phone are no proof; the delivery pincode unlocks the status only.
    assert outputs[2]["ok"] is False and outputs[2]["error"] == "verification_unclear"
    assert outputs[3]["ok"] is True and outputs[3]["order"]["order_id"] == OTHER_ORDER
    assert outputs[3]["order"]["status"] == "returned" and "refund" not in outputs[3]["order"]
    await call.hangup()
    stack.realtime.assert_clean()


async def test_parallel_tools_and_bad_calls_never_end_the_call(stack: LiveStack) -> None:
    turns = [
        Turn(
            tool_calls=[
                ("lookup_order", '{"order_id": "ORD-482914"}'),
                (
                    "check_product_availability",
                    '{"product_name": "pressure cooker", "pincode": "paanch chhe shunya shunya shunya ek"}',
                ),
                ("lookup_order", '{"order_id": 12'),  # malformed JSON from the model
            ]
        ),
    ]
    call, session = await run_turns(stack, turns)
    outputs = outputs_by_name(session)
    assert len(outputs) == 3, "every call in one response is answered"
    bad = [output for name, output in outputs if not output.get("ok")]
    assert len(bad) == 1 and bad[0]["error"] == "invalid_arguments"
    # The call is alive: the caller speaks again and still gets an answer.
    before = len(session.responses)
    await call.say_and_wait(tone(500, 440))
    await session.wait_for(lambda: len(session.responses) > before, timeout=10, what="answer after tools")
    await call.hangup()
    stack.realtime.assert_clean()


async def test_database_outage_gives_a_spoken_error_not_a_dead_call() -> None:
    # The app runs against a database nobody listens on (the Realtime side keeps working).
    async with live_stack("mongodb://127.0.0.1:1/", "nowhere") as stack:
        call, session = await run_turns(stack, [Turn(tool_calls=[("lookup_order", '{"order_id": "ORD-482913"}')])])
        ((_, output),) = outputs_by_name(session)
        assert output["ok"] is False and output["error"] in {"database_error", "timeout"}
        assert output["message_for_caller"]
        # The model spoke about it and the call is still up: no dead air, no dropped call.
        assert session.responses[-1]["kind"] == "tool_followup" and call.connected
        await call.hangup()
        await call.wait_closed(timeout=5)
        stack.realtime.assert_clean()


async def test_call_logs_carry_the_call_sid_and_never_a_raw_number(stack: LiveStack) -> None:
    stream = io.StringIO()
    configure_logging(json_output=True, stream=stream)
    try:
        call, _ = await run_turns(
            stack,
            [Turn(tool_calls=[("lookup_order", '{"order_id": "ORD-731205", "verification": "560034"}')])],
        )
        await call.hangup()
        await call.wait_closed(timeout=5)
        await asyncio.sleep(0.3)
        flush_logging()
    finally:
        configure_logging(json_output=False)
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    call_lines = [line for line in lines if line.get("event") in {"call_started", "tool_done", "verification_passed"}]
    assert {line["event"] for line in call_lines} == {"call_started", "tool_done", "verification_passed"}
    assert all(line.get("call_sid") == call.call_sid for line in call_lines)
    text = stream.getvalue()
    for raw in ("9876543210", "9812345678", "sk-test-key", AUTH_TOKEN):
        assert raw not in text


# ------------------------------------------------------------------------------------------ abuse and limits

FIFTEEN_TICKETS = [
    *(
        {"category": category, "description": f"Caller's {category} issue"}
        for category in (
            "delivery",
            "refund",
            "return",
            "payment",
            "damaged_item",
            "wrong_item",
            "product_query",
            "other",
            "callback",
        )
    ),
    *({"category": "delivery", "description": "Late parcel", "order_id": f"ORD-48291{n}"} for n in range(3, 8)),
    {"category": "return", "description": "Return the earbuds", "order_id": OWN_ORDER},
]


async def test_fifteen_ticket_requests_in_one_response_file_and_text_at_most_the_cap(stack: LiveStack) -> None:
    await stack.services.db.sms_quota.collection.delete_many({"phone": DEMO_CALLER})  # the module shares a db
    assert len(FIFTEEN_TICKETS) == 15
    calls = [("create_ticket", json.dumps(args)) for args in FIFTEEN_TICKETS]
    call, session = await run_turns(stack, [Turn(tool_calls=calls)])
    outputs = [output for _, output in outputs_by_name(session)]
    assert len(outputs) == 15, "every call is answered"
    filed = [output["ticket_id"] for output in outputs if output["ok"]]
    assert len(filed) == stack.settings.max_tickets_per_call == 3
    refused = [output for output in outputs if not output["ok"]]
    assert {output["error"] for output in refused} == {"ticket_limit_reached"}
    assert all(output["message_for_caller"] for output in refused)

    await stack.rest.wait_for_message(timeout=5, count=3)
    await asyncio.sleep(0.5)  # anything more would be here by now
    assert [message["to"] for message in stack.rest.messages] == [DEMO_CALLER] * 3
    assert sorted(re.search(r"TKT-\d{6}", m["body"]).group(0) for m in stack.rest.messages) == sorted(filed)
    await call.hangup()
    record = await wait_for_record(stack, call.call_sid, lambda r: r.get("ended_at") is not None)
    assert sorted(record["tickets"]) == sorted(filed) and len(record["tool_calls"]) == 15
    assert await stack.services.db.tickets.collection.count_documents({"call_sid": call.call_sid}) == 3
    stack.realtime.assert_clean()


async def test_no_sms_to_a_number_outside_the_allowed_countries(stack: LiveStack) -> None:
    refused_before = await metric(stack, "voice_sms_total", kind="ticket", outcome="number_not_allowed")
    ticket = ("create_ticket", '{"category": "delivery", "description": "My parcel is late"}')
    callback = (
        "create_ticket",
        '{"category": "callback", "description": "Call me back", "callback_phone": "+44 20 7183 8750"}',
    )
    call, session = await run_turns(stack, [Turn(tool_calls=[ticket, callback])], caller="+14155550100")
    outputs = {output.get("error"): output for _, output in outputs_by_name(session)}
    assert set(outputs) == {None, "unsupported_phone"}
    stored = await stack.services.db.tickets.get(outputs[None]["ticket_id"])
    assert stored.phone == "+14155550100"  # the ticket is filed; only the SMS is refused
    await asyncio.sleep(0.5)
    assert [r for r in stack.rest.requests if r.kind == "message"] == [], "never even attempted"
    assert await metric(stack, "voice_sms_total", kind="ticket", outcome="number_not_allowed") == refused_before + 1
    await call.hangup()
    stack.realtime.assert_clean()


async def test_huge_numbers_give_a_clear_error_and_the_record_is_complete(stack: LiveStack) -> None:
    twenty = "12345678901234567890"
    calls = [
        ("check_product_availability", '{"product_name": "atta", "quantity": "' + twenty + '"}'),
        ("check_product_availability", '{"product_name": "atta", "quantity": ' + twenty + "}"),
        ("lookup_order", '{"order_id": ' + "9" * 400 + "}"),
    ]
    call, session = await run_turns(stack, [Turn(tool_calls=calls)])
    outputs = [output for _, output in outputs_by_name(session)]
    assert Counter(output["error"] for output in outputs) == {"invalid_quantity": 2, "invalid_arguments": 1}
    assert all(output["ok"] is False and output["message_for_caller"] for output in outputs)
    # The call goes on, and its record is written to the end.
    before = len(session.responses)
    await call.say_and_wait(tone(500, 440))
    await session.wait_for(lambda: len(session.responses) > before, timeout=10, what="the call goes on")
    await call.hangup()
    record = await wait_for_record(
        stack, call.call_sid, lambda r: r.get("ended_at") is not None and r.get("status") != "in_progress"
    )
    recorded = record["tool_calls"]
    assert len(recorded) == 3 and not any(tool["ok"] for tool in recorded)
    (huge,) = [tool for tool in recorded if tool["name"] == "lookup_order"]
    assert isinstance(huge["arguments"]["order_id"], str) and huge["error"] == "invalid_arguments"
    assert record["transcript"], "the rest of the record is there too"
    stack.realtime.assert_clean()


@pytest.mark.parametrize("caller", ["sip:alice@example.com", "client:alice"])
async def test_a_sip_or_client_caller_can_file_a_ticket(stack: LiveStack, caller: str) -> None:
    ticket = ("create_ticket", '{"category": "product_query", "description": "Question about a fan"}')
    call, session = await run_turns(stack, [Turn(tool_calls=[ticket])], caller=caller)
    ((_, output),) = outputs_by_name(session)
    assert output["ok"] is True, output
    stored = await stack.services.db.tickets.get(output["ticket_id"])
    assert stored.phone is None and stored.call_sid == call.call_sid
    await asyncio.sleep(0.3)
    assert stack.rest.messages == []
    await call.hangup()
    record = await wait_for_record(stack, call.call_sid, lambda r: r.get("ended_at") is not None)
    assert record["tickets"] == [output["ticket_id"]]
    stack.realtime.assert_clean()


async def test_a_code_texted_to_the_caller_unlocks_tracking(stack: LiveStack) -> None:
    await stack.services.db.sms_quota.collection.delete_many({"phone": DEMO_CALLER})
    turns = [
        Turn(tool_calls=[("lookup_order", '{"order_id": "ORD 482913"}')]),
        Turn(tool_calls=[("send_verification_code", '{"order_id": "ORD 482913"}')]),
        Turn(tool_calls=[]),  # filled in once the SMS has arrived
    ]
    call, session = await start(stack, turns)
    await tool_turn(call, session, 1)
    await tool_turn(call, session, 1)
    message = await stack.rest.wait_for_message(timeout=5)
    assert message["to"] == DEMO_CALLER
    code = re.search(r"\b(\d{6})\b", message["body"]).group(1)
    arguments = json.dumps({"order_id": OWN_ORDER, "verification_code": " ".join(code)})
    session.script.turns[0].tool_calls = [("lookup_order", arguments)]
    await tool_turn(call, session, 1)

    basic, sent, detailed = (output for _, output in outputs_by_name(session))
    assert basic["ok"] and "tracking_id" not in basic["order"]
    assert sent["ok"] and sent["code_sent"] is True
    stored = await stack.services.db.orders.get(OWN_ORDER)
    assert detailed["ok"] and detailed["order"]["tracking_id"] == stored.tracking_id
    assert detailed["order"]["total"].startswith("₹")
    await call.hangup()
    record = await wait_for_record(stack, call.call_sid, lambda r: r.get("ended_at") is not None)
    assert code not in json.dumps([tool["output"] for tool in record["tool_calls"]])
    stack.realtime.assert_clean()
