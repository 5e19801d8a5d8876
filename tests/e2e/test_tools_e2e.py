"""End-to-end tool calls: the fake model asks for a function, the app runs it on the real database and
answers with `function_call_output` + `response.create`, while audio keeps flowing."""

from __future__ import annotations

import asyncio
import io
import json

import pytest

from tests.fakes.mulaw import tone
from tests.fakes.realtime_server import Script, Turn
from tests.stack import AUTH_TOKEN, DEMO_CALLER, LiveStack, live_stack, wait_for_greeting, wait_for_record
from utils.logger import configure_logging, flush_logging

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

OWN_ORDER = "ORD-482913"  # belongs to the demo caller (+919876543210), shipped
OTHER_ORDER = "ORD-731205"  # belongs to +919812345678


@pytest.fixture
async def stack(seeded: tuple[str, str]):
    async with live_stack(*seeded, tool_timeout_s=2.0) as running:
        yield running


async def run_turns(stack: LiveStack, turns: list[Turn], caller: str = DEMO_CALLER):
    stack.realtime.script = Script(greeting_ms=300, reply_ms=400, turns=turns)
    call = await stack.sim.place_call(from_=caller)
    await call.connect_stream()
    (session,) = await stack.realtime.wait_for_sessions(1)
    await wait_for_greeting(call)
    for _ in turns:
        calls_before = len(session.function_outputs)
        expected = calls_before + len(turns[len(session.user_turns)].tool_calls)
        await call.say_and_wait(tone(500, 440))
        await session.wait_for(lambda e=expected: len(session.function_outputs) >= e, timeout=10, what="outputs")
        await session.wait_for(
            lambda: (
                session.responses[-1]["kind"] == "tool_followup" and session.responses[-1]["status"] != "in_progress"
            ),
            timeout=10,
            what="spoken follow-up",
        )
        await call.wait_playback_idle(timeout=10)
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
    assert output["order"]["tracking_id"] == stored.tracking_id
    assert output["order"]["total"].startswith("₹")
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
    call, session = await run_turns(stack, turns)
    outputs = [output for _, output in outputs_by_name(session)]
    stranger_text = json.dumps(outputs[:2], ensure_ascii=False)
    for output in outputs[:2]:
        assert output["ok"] is False and output["error"] == "verification_required"
    for secret in ("731205", "9812345678", "returned", "5678"):
        assert secret not in stranger_text
    assert outputs[2]["ok"] is True and outputs[2]["order"]["order_id"] == OTHER_ORDER
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
