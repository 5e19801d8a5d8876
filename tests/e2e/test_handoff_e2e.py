"""End-to-end human handoff: the fake model asks for a transfer, the handoff line plays to the end, the
call is redirected to `<Dial>` the agent, and Twilio's whisper / `<Dial action>` callbacks finish it.

Order and content only; timings belong in benchmarks.
"""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
from typing import Any

import httpx
import pytest

from tests.fakes.mulaw import tone
from tests.fakes.realtime_server import Script, Turn
from tests.fakes.twilio_sim import SimulatedCall
from tests.stack import AGENT_NUMBER, DEMO_CALLER, PUBLIC_BASE_URL, LiveStack, live_stack, metric, wait_for_record
from utils.hinglish import speak_digits

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TWILIO_NUMBER = "+918000000000"
OWN_ORDER = "ORD-482913"  # seeded, belongs to DEMO_CALLER
TRANSFER_ARGS = '{"reason": "Caller wants to complain about a delayed order", "department": "orders"}'
HANDOFF_LINE = "Main aapko hamari support team se connect kar rahi hoon. Kripya line par bane rahiye."


# ------------------------------------------------------------------------------------------ helpers


async def admin_get(stack: LiveStack, path: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=stack.app_url) as client:
        return await client.get(path, headers=stack.admin_headers())


async def start_call(stack: LiveStack, turns: list[Turn]):
    stack.realtime.script = Script(greeting_ms=300, reply_ms=400, turns=turns)
    call = await stack.sim.place_call(from_=DEMO_CALLER, to=TWILIO_NUMBER)
    await call.connect_stream()
    (session,) = await stack.realtime.wait_for_sessions(1)
    await call.wait_for_media(timeout=10, min_bytes=300 * 8)  # the whole greeting, before the caller talks
    await call.wait_playback_idle(timeout=10)
    return call, session


async def speak(call, session, outputs: int) -> None:
    """The caller says something; wait until the model's tool calls for it were answered."""
    await call.say_and_wait(tone(500, 440))
    await session.wait_for(lambda: len(session.function_outputs) >= outputs, timeout=10, what="tool outputs")


def outputs_of(session) -> list[tuple[str, dict[str, Any]]]:
    return [(session.issued_calls[cid], json.loads(out)) for cid, out in session.function_outputs.items()]


def dial_of(twiml: str) -> tuple[ET.Element, ET.Element]:
    root = ET.fromstring(twiml)
    assert root.tag == "Response"
    (dial,) = list(root)
    assert dial.tag == "Dial"
    (number,) = list(dial)
    assert number.tag == "Number"
    return dial, number


def child_leg_params(stack: LiveStack, call) -> dict[str, str]:
    """What Twilio posts to `<Number url>` (the whisper): the agent's leg, with its parent."""
    params = stack.sim.voice_webhook_params(
        "CA" + "1" * 32, from_=TWILIO_NUMBER, to=AGENT_NUMBER, call_status="in-progress", direction="outbound-dial"
    )
    params["ParentCallSid"] = call.call_sid
    return params


def dial_result_params(stack: LiveStack, call, dial_status: str) -> dict[str, str]:
    """What Twilio posts to `<Dial action>`: the parent call's parameters plus the dial outcome."""
    params = stack.sim.voice_webhook_params(
        call.call_sid, from_=DEMO_CALLER, to=TWILIO_NUMBER, call_status="in-progress"
    )
    params.update({"DialCallStatus": dial_status, "DialCallSid": "CA" + "1" * 32})
    if dial_status == "completed":
        params.update({"DialCallDuration": "35", "DialBridged": "true"})
    return params


async def transfer_and_wait_for_redirect(stack: LiveStack, turns: list[Turn]):
    call, session = await start_call(stack, turns)
    for expected in range(1, len(turns) + 1):
        await speak(call, session, expected)
        if expected < len(turns):
            await session.wait_for(
                lambda: (
                    session.responses[-1]["kind"] == "tool_followup" and session.responses[-1]["status"] == "completed"
                ),
                timeout=10,
                what="spoken follow-up",
            )
            await call.wait_playback_idle(timeout=10)
    update = await stack.rest.wait_for_call_update(call.call_sid, timeout=15)
    await call.wait_closed(timeout=5)
    return call, session, update


# ------------------------------------------------------------------------------------------ tests


async def test_handoff_line_plays_in_full_then_agent_is_dialled_whispered_and_connected(seeded) -> None:
    async with live_stack(*seeded) as stack:
        dialing_before = await metric(stack, "voice_transfers_total", outcome="dialing")
        connected_before = await metric(stack, "voice_transfers_total", outcome="connected")
        turns = [
            Turn(
                transcript="Mera order ORD 482913 kahan hai?",
                tool_calls=[("lookup_order", '{"order_id": "ORD 482913"}')],
            ),
            Turn(
                transcript="Mujhe kisi insaan se baat karni hai",
                tool_calls=[("transfer_to_human", TRANSFER_ARGS)],
                reply_transcript=HANDOFF_LINE,
                reply_ms=1500,
            ),
        ]
        call, session, update = await transfer_and_wait_for_redirect(stack, turns)

        # The handoff line (the tool follow-up) was generated in full...
        handoff = session.responses[-1]
        assert handoff["kind"] == "tool_followup" and handoff["status"] == "completed"
        assert handoff["audio_ms"] == 1500 and handoff["transcript"] == HANDOFF_LINE
        # ...and the phone had played every byte of it before the REST update: the last mark (sent after
        # the last chunk) was echoed as played, nothing was cleared, and nothing arrived afterwards.
        assert call.clears == [] and not any(echo.by_clear for echo in call.marks_echoed)
        assert call.marks_echoed[-1].name == call.marks_received[-1][0]
        assert call.marks_echoed[-1].time <= update.time
        assert max(call.received_times) <= update.time
        assert len(call.played_audio) == call.received_media_bytes == (300 + 400 + 1500) * 8

        # The TwiML dials the agent with our number as caller id; the whisper URL carries a scoped token.
        dial, number = dial_of(update.form["Twiml"])
        assert number.text == AGENT_NUMBER
        assert dial.get("callerId") == TWILIO_NUMBER and dial.get("answerOnBridge") == "true"
        assert dial.get("action") == f"{PUBLIC_BASE_URL}/transfer-result?call_sid={call.call_sid}"
        whisper_url = number.get("url")
        assert whisper_url.startswith(f"{PUBLIC_BASE_URL}/whisper?call_sid={call.call_sid}&token=")
        token = whisper_url.split("token=", 1)[1]
        assert stack.services.stream_tokens.verify(call.call_sid, token) is None, "not usable as a stream token"
        assert stack.services.handoff.whisper_tokens.verify(call.call_sid, token) is not None

        # The stream's `stop` after the redirect is a transfer, not a hang-up.
        assert call.stream_stopped_by == "redirect"
        record = await wait_for_record(stack, call.call_sid, lambda r: r.get("ended_at") is not None)
        assert record["end_reason"] == "transferred" and record["status"] == "transferred"
        assert record["transfer"]["status"] == "dialing"

        # The agent answers: the whisper is one English sentence with the reason and the order, then bridge.
        whisper = await stack.sim.post_webhook(whisper_url, child_leg_params(stack, call))
        assert whisper.status_code == 200 and "xml" in whisper.headers["content-type"]
        (say,) = list(ET.fromstring(whisper.text))
        assert say.tag == "Say" and say.get("language") == "en-IN"
        assert "delayed order" in say.text and speak_digits(OWN_ORDER) in say.text and "orders team" in say.text

        result = await stack.sim.post_webhook(dial.get("action"), dial_result_params(stack, call, "completed"))
        assert result.status_code == 200 and list(ET.fromstring(result.text)) == []
        transfer = await stack.services.db.transfers.get(call.call_sid)
        assert transfer.status == "connected"

        # Twilio's final status callback completes the record without touching the session's fields.
        assert (await stack.sim.post_status_callback(call, "completed", duration=95)).status_code == 204

        response = await admin_get(stack, f"/call/{call.call_sid}")
        assert response.status_code == 200
        shown = response.json()
        assert shown["call_sid"] == call.call_sid and shown["status"] == "transferred"
        assert shown["transfer"]["status"] == "connected" and shown["transfer"]["dial_call_status"] == "completed"
        assert shown["transfer"]["reason"] == "Caller wants to complain about a delayed order"
        assert shown["twilio_status"] == "completed" and shown["twilio_duration_s"] == 95
        assert shown["end_reason"] == "transferred" and shown["ended_at"] is not None
        assert [tool["name"] for tool in shown["tool_calls"]] == ["lookup_order", "transfer_to_human"]
        assert all(tool["ok"] for tool in shown["tool_calls"])
        caller_lines = [line["text"] for line in shown["transcript"] if line["role"] == "caller"]
        assert caller_lines == ["Mera order ORD 482913 kahan hai?", "Mujhe kisi insaan se baat karni hai"]
        assert HANDOFF_LINE in [line["text"] for line in shown["transcript"] if line["role"] == "assistant"]
        assert shown["latencies"]["greeting_ms"] > 0
        assert shown["tickets"] == []

        assert await metric(stack, "voice_transfers_total", outcome="dialing") == dialing_before + 1
        assert await metric(stack, "voice_transfers_total", outcome="connected") == connected_before + 1
        stack.realtime.assert_clean()
        assert call.violations == []


async def test_no_answer_files_a_callback_ticket_and_the_caller_comes_back_to_the_assistant(seeded) -> None:
    async with live_stack(*seeded) as stack:
        failed_before = await metric(stack, "voice_transfers_total", outcome="failed")
        turns = [
            Turn(tool_calls=[("transfer_to_human", TRANSFER_ARGS)], reply_transcript=HANDOFF_LINE),
            Turn(transcript="Nahi, bas itna hi. Shukriya.", reply_transcript="Dhanyavaad!"),
        ]
        call, first_session, update = await transfer_and_wait_for_redirect(stack, turns[:1])
        dial, _ = dial_of(update.form["Twiml"])
        await wait_for_record(stack, call.call_sid, lambda r: r.get("ended_at") is not None)
        stack.realtime.script = Script(greeting_ms=300, reply_ms=400, turns=turns[1:])

        # Nobody answered: the caller is sent back to the assistant on a new stream of the same call.
        result = await stack.sim.post_webhook(dial.get("action"), dial_result_params(stack, call, "no-answer"))
        assert result.status_code == 200
        (connect,) = list(ET.fromstring(result.text))
        assert connect.tag == "Connect"

        (ticket,) = [t async for t in stack.services.db.tickets.collection.find({"call_sid": call.call_sid})]
        assert ticket["category"] == "callback" and ticket["phone"] == DEMO_CALLER and ticket["status"] == "open"
        assert "no-answer" in ticket["description"]
        message = await stack.rest.wait_for_message(timeout=5)
        assert message["to"] == DEMO_CALLER and message["from"] == TWILIO_NUMBER
        assert ticket["ticket_id"] in message["body"]

        back = SimulatedCall(stack.sim, call_sid=call.call_sid, from_=DEMO_CALLER, to=TWILIO_NUMBER, twiml=result.text)
        await back.connect_stream()
        (_, session) = await stack.realtime.wait_for_sessions(2, timeout=10)
        # The new session has the conversation so far, is told why the caller is back (with the ticket),
        # and speaks first — but does not greet again.
        await session.wait_for(lambda: session.responses, timeout=10, what="the assistant speaks")
        notes = [
            e["item"]["content"][0]["text"]
            for e in session.received
            if e["type"] == "conversation.item.create" and e["item"].get("role") == "system"
        ]
        assert any("did not answer" in note and ticket["ticket_id"] in note for note in notes)
        roles = [e["item"]["role"] for e in session.received if e["type"] == "conversation.item.create"]
        assert "user" in roles and "assistant" in roles, "the conversation so far was restored"
        await back.wait_for_media(timeout=10)
        await back.wait_playback_idle(timeout=10)
        # The caller can go on talking to the assistant.
        await back.say_and_wait(tone(500, 440))
        await session.wait_for(lambda: any(r["kind"] == "reply" for r in session.responses), timeout=10)
        await back.hangup()

        record = await wait_for_record(
            stack, call.call_sid, lambda r: r.get("ended_at") is not None and r["end_reason"] == "caller_hung_up"
        )
        assert record["transfer"]["status"] == "failed" and record["transfer"]["dial_call_status"] == "no-answer"
        assert record["tickets"] == [ticket["ticket_id"]]
        assert HANDOFF_LINE in [line["text"] for line in record["transcript"]], "the first leg is kept"
        assert (await stack.services.db.transfers.get(call.call_sid)).status == "failed"

        # Twilio retrying the action request does not file a second ticket or send a second SMS.
        again = await stack.sim.post_webhook(dial.get("action"), dial_result_params(stack, call, "no-answer"))
        assert again.status_code == 200
        assert await stack.services.db.tickets.collection.count_documents({"call_sid": call.call_sid}) == 1
        await asyncio.sleep(0.3)
        assert len(stack.rest.messages) == 1
        assert await metric(stack, "voice_transfers_total", outcome="failed") == failed_before + 1
        stack.realtime.assert_clean()
        assert first_session is not session


async def test_caller_saying_hello_during_the_handoff_does_not_transfer_twice(seeded) -> None:
    async with live_stack(*seeded) as stack:
        dialing_before = await metric(stack, "voice_transfers_total", outcome="dialing")
        turns = [
            Turn(
                transcript="Agent se baat karao",
                tool_calls=[("transfer_to_human", TRANSFER_ARGS)],
                reply_transcript=HANDOFF_LINE,
                reply_ms=4000,
            ),
            # The caller talks over the handoff line; the model, unsure, asks for the transfer again.
            Turn(transcript="hello?", tool_calls=[("transfer_to_human", '{"reason": "Caller said hello again"}')]),
        ]
        call, session = await start_call(stack, turns)
        await speak(call, session, 1)
        await session.wait_for(lambda: session.responses[-1]["kind"] == "tool_followup", timeout=10, what="handoff")
        played_before = call.played_ms
        await call.wait_for(lambda: call.played_ms >= played_before + 500, timeout=10)
        assert stack.rest.call_updates(call.call_sid) == [], "still announcing: no transfer yet"

        await speak(call, session, 2)  # "hello?"
        update = await stack.rest.wait_for_call_update(call.call_sid, timeout=15)
        await call.wait_closed(timeout=5)
        await asyncio.sleep(0.5)  # anything late would show up now

        assert len(call.clears) == 1, "the caller's 'hello?' interrupted the handoff line"
        assert [r.form.get("Twiml", "")[:60] for r in stack.rest.call_updates(call.call_sid)] == [
            update.form["Twiml"][:60]
        ]
        (first, first_output), (second, second_output) = outputs_of(session)
        assert first == second == "transfer_to_human"
        assert first_output["ok"] is True and "already_requested" not in first_output
        assert second_output["ok"] is True and second_output["already_requested"] is True
        assert await stack.services.db.transfers.collection.count_documents({"call_sid": call.call_sid}) == 1
        record = await wait_for_record(stack, call.call_sid, lambda r: r.get("ended_at") is not None)
        assert record["end_reason"] == "transferred" and record["transfer"]["status"] == "dialing"
        assert record["transfer"]["reason"] == "Caller wants to complain about a delayed order"
        assert await metric(stack, "voice_transfers_total", outcome="dialing") == dialing_before + 1
        stack.realtime.assert_clean()


@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        ({"human_agent_number": None}, "no_agent_available"),
        ({"support_hours_start": "00:00", "support_hours_end": "00:00"}, "outside_support_hours"),
    ],
)
async def test_without_an_agent_the_caller_is_offered_a_callback_ticket(
    seeded, overrides: dict[str, Any], why: str
) -> None:
    async with live_stack(*seeded, **overrides) as stack:
        turns = [
            Turn(tool_calls=[("transfer_to_human", TRANSFER_ARGS)]),
            Turn(
                transcript="Haan, call back kar dena",
                tool_calls=[("create_ticket", '{"category": "callback", "description": "Caller wants a call back"}')],
            ),
        ]
        call, session = await start_call(stack, turns)
        await speak(call, session, 1)
        await session.wait_for(
            lambda: session.responses[-1]["kind"] == "tool_followup" and session.responses[-1]["status"] == "completed",
            timeout=10,
            what="callback offer",
        )
        await call.wait_playback_idle(timeout=10)
        ((name, offer),) = outputs_of(session)
        assert name == "transfer_to_human" and offer["ok"] is False
        assert offer["error"] == "transfer_unavailable" and offer["why"] == why
        assert "callback" in offer["next_step"]

        await speak(call, session, 2)
        ticket_output = outputs_of(session)[1][1]
        assert ticket_output["ok"] is True
        message = await stack.rest.wait_for_message(timeout=5)
        assert message["to"] == DEMO_CALLER and ticket_output["ticket_id"] in message["body"]

        await call.wait_playback_idle(timeout=10)
        assert call.connected, "the call goes on with the assistant"
        assert stack.rest.call_updates(call.call_sid) == []
        await call.hangup()
        record = await wait_for_record(stack, call.call_sid, lambda r: r.get("ended_at") is not None)
        assert record["end_reason"] == "caller_hung_up" and record["transfer"] is None
        assert record["tickets"] == [ticket_output["ticket_id"]]
        ticket = await stack.services.db.tickets.get(ticket_output["ticket_id"])
        assert ticket.category == "callback" and ticket.phone == DEMO_CALLER
        stack.realtime.assert_clean()


@pytest.mark.parametrize("sms", ["twilio_fails", "disabled"])
async def test_ticket_sms_failure_or_opt_out_never_disturbs_the_call(seeded, sms: str) -> None:
    overrides = {"sms_on_ticket": False} if sms == "disabled" else {}
    async with live_stack(*seeded, **overrides) as stack:
        if sms == "twilio_fails":
            stack.rest.fail_next("message", status=400, code=21610, message="Attempt to send to unsubscribed recipient")
        ticket_args = '{"category": "delivery", "description": "Parcel not delivered yet", "order_id": "ORD-482913"}'
        turns = [Turn(tool_calls=[("create_ticket", ticket_args)]), Turn(transcript="Theek hai, shukriya")]
        call, session = await start_call(stack, turns)
        await speak(call, session, 1)
        ((_, output),) = outputs_of(session)
        assert output["ok"] is True and output["ticket_id"].startswith("TKT-")
        await session.wait_for(
            lambda: session.responses[-1]["kind"] == "tool_followup" and session.responses[-1]["status"] == "completed",
            timeout=10,
            what="ticket read out",
        )
        await call.wait_playback_idle(timeout=10)
        before = len(session.responses)
        await call.say_and_wait(tone(500, 440))
        await session.wait_for(lambda: len(session.responses) > before, timeout=10, what="the call goes on")
        assert call.connected
        attempts = [r for r in stack.rest.requests if r.kind == "message"]
        assert len(attempts) == (1 if sms == "twilio_fails" else 0) and stack.rest.messages == []
        await call.hangup()
        record = await wait_for_record(stack, call.call_sid, lambda r: r.get("ended_at") is not None)
        assert record["tickets"] == [output["ticket_id"]] and record["end_reason"] == "caller_hung_up"
        stack.realtime.assert_clean()
