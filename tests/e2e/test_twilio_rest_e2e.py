"""Twilio REST robustness over real sockets: idempotent requests are retried, SMS never are, and an
outage opens the circuit breaker so requests fail fast until a trial after the cool-down succeeds.

The live stack's app talks to the fake Twilio REST API; the breaker gets a hand-driven clock so the
cool-down passes without waiting for it.
"""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp
import httpx
import pytest
from twilio.base.exceptions import TwilioRestException

from devtools.ferretdb import free_port
from services.call.action_runner import TRANSFER_FAILED_NOTE
from services.telephony.circuit import CircuitState
from services.telephony.twilio_rest import (
    CIRCUIT_COOLDOWN_S,
    CIRCUIT_FAILURES,
    RETRY_ATTEMPTS,
    TwilioRest,
    TwilioUnavailable,
    twilio_circuit,
)
from tests.fakes.mulaw import tone
from tests.fakes.realtime_server import Script, Turn
from tests.fakes.twilio_rest import FakeTwilioRest
from tests.stack import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    DEMO_CALLER,
    LiveStack,
    live_stack,
    make_settings,
    metric,
    wait_for_record,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TRANSFER_ARGS = '{"reason": "Caller wants a refund for a damaged kurta", "department": "refunds"}'
TICKET_ARGS = '{"category": "delivery", "description": "Parcel not delivered yet", "order_id": "ORD-482913"}'
HANDOFF_LINE = "Main aapko hamari team se connect kar rahi hoon."
# The module's calls share one seeded database and one caller: keep its per-number limits out of the way.
LIMITS = {"repeat_call_limit": 100, "max_sms_per_number_per_day": 100}


class Clock:
    """The breaker's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def __call__(self) -> float:
        return self.now


async def start_call(stack: LiveStack, turns: list[Turn]) -> tuple[Any, Any]:
    stack.realtime.script = Script(greeting_ms=300, reply_ms=400, turns=turns)
    call = await stack.sim.place_call(from_=DEMO_CALLER)
    await call.connect_stream()
    (session,) = await stack.realtime.wait_for_sessions(1)
    await call.wait_for_media(timeout=10, min_bytes=300 * 8)
    await call.wait_playback_idle(timeout=10)
    return call, session


async def speak(call: Any, session: Any, outputs: int) -> None:
    """The caller says something; wait until the model's tool calls for it were answered."""
    await call.say_and_wait(tone(500, 440))
    await session.wait_for(lambda: len(session.function_outputs) >= outputs, timeout=10, what="tool outputs")


async def spoken_follow_up(call: Any, session: Any) -> None:
    await session.wait_for(
        lambda: session.responses[-1]["kind"] == "tool_followup" and session.responses[-1]["status"] == "completed",
        timeout=10,
        what="spoken follow-up",
    )
    await call.wait_playback_idle(timeout=10)


def requests_of(stack: LiveStack, kind: str) -> list[Any]:
    return [r for r in stack.rest.requests if r.kind == kind]


def system_notes(session: Any) -> list[str]:
    return [
        e["item"]["content"][0]["text"]
        for e in session.received
        if e["type"] == "conversation.item.create" and e["item"].get("role") == "system"
    ]


@pytest.mark.parametrize("fault", ["503", "connection_cut"])
async def test_a_redirect_that_fails_once_is_retried_and_the_transfer_proceeds(seeded, fault: str) -> None:
    async with live_stack(*seeded, **LIMITS) as stack:
        retries_before = await metric(stack, "voice_twilio_rest_retries_total", operation="redirect")
        dialing_before = await metric(stack, "voice_transfers_total", outcome="dialing")
        if fault == "503":
            stack.rest.fail_next("call_update", status=503, code=20503, message="Service Unavailable")
        else:
            stack.rest.drop_next("call_update")
        turns = [Turn(tool_calls=[("transfer_to_human", TRANSFER_ARGS)], reply_transcript=HANDOFF_LINE)]
        call, session = await start_call(stack, turns)
        await speak(call, session, 1)

        update = await stack.rest.wait_for_call_update(call.call_sid, timeout=15)
        await call.wait_closed(timeout=5)
        first, second = requests_of(stack, "call_update")
        assert (first.status_code, first.dropped) == ((503, False) if fault == "503" else (0, True))
        assert second is update and second.status_code == 200 and "<Dial" in update.form["Twiml"]
        assert call.stream_stopped_by == "redirect"
        record = await wait_for_record(stack, call.call_sid, lambda r: r.get("ended_at") is not None)
        assert record["end_reason"] == "transferred" and record["transfer"]["status"] == "dialing"
        assert await metric(stack, "voice_twilio_rest_retries_total", operation="redirect") == retries_before + 1
        assert await metric(stack, "voice_transfers_total", outcome="dialing") == dialing_before + 1
        assert stack.services.twilio_rest.circuit.state is CircuitState.CLOSED
        stack.realtime.assert_clean()


@pytest.mark.parametrize("fault", ["503", "reply_lost"])
async def test_an_sms_that_fails_is_sent_once_and_the_call_goes_on(seeded, fault: str) -> None:
    async with live_stack(*seeded, **LIMITS) as stack:
        failed_before = await metric(stack, "voice_sms_total", kind="ticket", outcome="failed")
        if fault == "503":
            stack.rest.fail_next("message", status=503, code=20503, message="Service Unavailable")
        else:  # Twilio accepted the message but the reply never arrived: a retry would text it twice
            stack.rest.drop_next("message", processed=True)
        call, session = await start_call(
            stack, [Turn(tool_calls=[("create_ticket", TICKET_ARGS)]), Turn(transcript="Theek hai, shukriya")]
        )
        await speak(call, session, 1)
        ((_, output),) = [(session.issued_calls[c], json.loads(o)) for c, o in session.function_outputs.items()]
        assert output["ok"] is True and output["ticket_id"].startswith("TKT-")
        await spoken_follow_up(call, session)
        before = len(session.responses)
        await call.say_and_wait(tone(500, 440))
        await session.wait_for(lambda: len(session.responses) > before, timeout=10, what="the call goes on")
        assert call.connected

        (attempt,) = requests_of(stack, "message")  # exactly one request: never retried
        assert attempt.form["To"] == DEMO_CALLER and output["ticket_id"] in attempt.form["Body"]
        assert (attempt.status_code, attempt.dropped) == ((503, False) if fault == "503" else (201, True))
        assert len(stack.rest.messages) == (0 if fault == "503" else 1)
        assert await metric(stack, "voice_sms_total", kind="ticket", outcome="failed") == failed_before + 1
        assert await metric(stack, "voice_twilio_rest_retries_total", operation="send_sms") == 0
        await call.hangup()
        record = await wait_for_record(stack, call.call_sid, lambda r: r.get("ended_at") is not None)
        assert record["tickets"] == [output["ticket_id"]] and record["end_reason"] == "caller_hung_up"
        stack.realtime.assert_clean()


async def test_an_outage_opens_the_circuit_requests_fail_fast_and_a_trial_after_the_cool_down_closes_it(
    seeded,
) -> None:
    async with live_stack(*seeded, **LIMITS) as stack:
        clock = Clock()
        rest = stack.services.twilio_rest  # the app's own client: transfers, apologies and SMS use it
        rest.circuit = twilio_circuit(clock=clock)
        opened_before = await metric(stack, "voice_twilio_circuit_changes_total", state="open")
        closed_before = await metric(stack, "voice_twilio_circuit_changes_total", state="closed")
        rejected_before = await metric(stack, "voice_twilio_rest_rejected_total", operation="redirect")
        known = "CA" + "e" * 32
        stack.rest.register_call(known)

        # Twilio is down: a hang-up uses all its attempts, and the fetch after it opens the circuit on
        # the fifth failure in a row; its last attempt is refused without a request.
        stack.rest.fail_next("*", status=503, code=20503, message="Service Unavailable", count=100)
        with pytest.raises(TwilioRestException) as first:
            await rest.hang_up(known)
        assert first.value.status == 503
        with pytest.raises(TwilioUnavailable) as refused:
            await rest.fetch_call_status(known)
        assert refused.value.retry_after_s == pytest.approx(CIRCUIT_COOLDOWN_S)
        assert len(stack.rest.requests) == CIRCUIT_FAILURES < 2 * RETRY_ATTEMPTS
        assert rest.circuit.state is CircuitState.OPEN
        assert await metric(stack, "voice_twilio_circuit_state") == CircuitState.OPEN
        assert await metric(stack, "voice_twilio_circuit_changes_total", state="open") == opened_before + 1

        # While it is open, a call's transfer fails at once, nothing reaches Twilio, and the call goes on.
        turns = [
            Turn(tool_calls=[("transfer_to_human", TRANSFER_ARGS)], reply_transcript=HANDOFF_LINE),
            Turn(transcript="Theek hai, ticket bana do", tool_calls=[("create_ticket", TICKET_ARGS)]),
        ]
        call, session = await start_call(stack, turns)
        await speak(call, session, 1)
        await session.wait_for(lambda: TRANSFER_FAILED_NOTE in system_notes(session), timeout=10, what="failure note")
        await session.wait_for(
            lambda: session.responses[-1]["kind"] == "greeting" and session.responses[-1]["status"] == "completed",
            timeout=10,
            what="the assistant speaks about the failed transfer",
        )
        await call.wait_playback_idle(timeout=10)
        assert call.connected and len(stack.rest.requests) == CIRCUIT_FAILURES, "failed fast: nothing was sent"
        assert await metric(stack, "voice_twilio_rest_rejected_total", operation="redirect") == rejected_before + 1
        record = await wait_for_record(
            stack, call.call_sid, lambda r: (r.get("transfer") or {}).get("status") == "failed"
        )
        assert record["status"] == "in_progress"
        # An outbound call asked for meanwhile is refused at once with a 502, and not placed.
        async with httpx.AsyncClient(base_url=stack.app_url) as client:
            placed = await client.post(
                "/outbound-call",
                json={"to": "+919812345678", "purpose": "Confirm a delivery"},
                headers=stack.admin_headers(),
            )
        assert placed.status_code == 502 and "reach Twilio" in placed.json()["detail"]
        assert len(stack.rest.requests) == CIRCUIT_FAILURES and stack.rest.created_calls == []

        # Twilio is back and the cool-down has passed: the ticket SMS is the trial, it goes through and
        # closes the circuit.
        stack.rest.clear_faults()
        clock.now += CIRCUIT_COOLDOWN_S
        await speak(call, session, 2)
        message = await stack.rest.wait_for_message(timeout=5)
        assert message["to"] == DEMO_CALLER
        await stack.rest.wait_for(lambda: rest.circuit.state is CircuitState.CLOSED)
        assert await metric(stack, "voice_twilio_circuit_state") == CircuitState.CLOSED
        assert await metric(stack, "voice_twilio_circuit_changes_total", state="closed") == closed_before + 1
        assert await rest.fetch_call_status(call.call_sid) == "in-progress"

        await call.hangup()
        record = await wait_for_record(stack, call.call_sid, lambda r: r.get("ended_at") is not None)
        assert record["end_reason"] == "caller_hung_up" and record["transfer"]["status"] == "failed"
        stack.realtime.assert_clean()


async def test_refused_connections_are_retried_for_updates_only_and_count_towards_the_circuit() -> None:
    """Nothing listens on the port: a real refused connection (no fake needed)."""
    clock = Clock()
    rest = TwilioRest(
        make_settings(twilio_api_base_url=f"http://127.0.0.1:{free_port()}"), circuit=twilio_circuit(clock=clock)
    )
    try:
        with pytest.raises(aiohttp.ClientConnectorError):
            await rest.redirect_call("CA" + "f" * 32, "<Response/>")  # three attempts
        with pytest.raises(aiohttp.ClientConnectorError):
            await rest.send_sms(DEMO_CALLER, "hello")  # one attempt
        assert rest.circuit.state is CircuitState.CLOSED
        with pytest.raises(TwilioUnavailable):
            await rest.hang_up("CA" + "f" * 32)  # the fifth failure opens it; the retry is refused
        with pytest.raises(TwilioUnavailable):
            await rest.create_call(DEMO_CALLER, twiml="<Response/>")
    finally:
        await rest.aclose()


async def test_a_request_that_hangs_is_timed_out_and_retried() -> None:
    async with FakeTwilioRest(ACCOUNT_SID, AUTH_TOKEN) as fake:
        sid = "CA" + "9" * 32
        fake.register_call(sid)
        fake.latency = 0.5
        rest = TwilioRest(make_settings(twilio_api_base_url=fake.base_url), attempt_timeout_s=0.2)
        try:
            with pytest.raises(TimeoutError):
                await rest.fetch_call_status(sid)
            assert len([r for r in fake.requests if r.kind == "call_fetch"]) == RETRY_ATTEMPTS
            fake.latency = 0.0
            assert await rest.fetch_call_status(sid) == "in-progress"
        finally:
            await rest.aclose()
