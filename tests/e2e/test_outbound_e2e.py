"""End-to-end outbound calls: the admin asks for a call, Twilio (fake REST) creates it, and when it is
answered the simulator fetches the voice webhook URL we gave Twilio, so the call runs the normal flow
with the assistant opening on the purpose."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.stack import PUBLIC_BASE_URL, LiveStack, live_stack, wait_for_record

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TWILIO_NUMBER = "+918000000000"
CUSTOMER = "+919812345678"
PURPOSE = "Confirm delivery of order ORD-731205 & ask if Saturday 10 am works"


@pytest.fixture
async def stack(mongo_uri: str, database_name: str):
    async with live_stack(mongo_uri, database_name) as running:
        yield running


async def place(stack: LiveStack, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=stack.app_url) as client:
        return await client.post("/outbound-call", json=body, headers=stack.admin_headers())


async def get_call(stack: LiveStack, call_sid: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=stack.app_url) as client:
        response = await client.get(f"/call/{call_sid}", headers=stack.admin_headers())
    assert response.status_code == 200, response.text
    return response.json()


async def test_outbound_call_is_created_answered_and_greets_with_its_purpose(stack: LiveStack) -> None:
    response = await place(stack, {"to": "98123 45678", "purpose": PURPOSE})
    assert response.status_code == 201, response.text
    placed = response.json()
    assert placed["status"] == "queued" and placed["call_sid"].startswith("CA")
    call_sid = placed["call_sid"]

    # Twilio was asked to call the customer from our number and to fetch our voice webhook on answer.
    (created,) = stack.rest.created_calls
    assert created["sid"] == call_sid
    (request,) = [r for r in stack.rest.requests if r.kind == "call_create"]
    assert request.form["To"] == CUSTOMER and request.form["From"] == TWILIO_NUMBER
    url = request.form["Url"]
    assert url.startswith(f"{PUBLIC_BASE_URL}/incoming-call?")
    assert parse_qs(urlsplit(url).query) == {"purpose": [PURPOSE]}
    assert "Twiml" not in request.form
    assert request.form["StatusCallback"] == f"{PUBLIC_BASE_URL}/call-status"
    assert request.form_multi["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]

    # Before it is answered the record already exists.
    queued = await get_call(stack, call_sid)
    assert queued["status"] == "queued" and queued["direction"] == "outbound" and queued["purpose"] == PURPOSE
    assert queued["to_number"] == CUSTOMER

    # Twilio reports progress, then the customer answers: Twilio POSTs the Url we gave it (signed).
    status = await stack.sim.post_webhook(
        "/call-status",
        {
            **stack.sim.voice_webhook_params(call_sid, TWILIO_NUMBER, CUSTOMER, call_status="ringing"),
            "Direction": "outbound-api",
            "CallbackSource": "call-progress-events",
            "SequenceNumber": "1",
        },
    )
    assert status.status_code == 204
    call = await stack.sim.place_call(
        from_=TWILIO_NUMBER, to=CUSTOMER, call_sid=call_sid, path=url, extra_params={"Direction": "outbound-api"}
    )
    assert call.custom_parameters["purpose"] == PURPOSE and call.custom_parameters["direction"] == "outbound"
    # On a call we placed, the customer is `To`: tools must act for them, not for our own number.
    assert call.custom_parameters["caller"] == CUSTOMER and call.custom_parameters["called"] == TWILIO_NUMBER
    await call.connect_stream()
    (session,) = await stack.realtime.wait_for_sessions(1)
    await session.wait_for(lambda: len(session.responses) >= 1, timeout=10, what="greeting")
    greeting = session.responses[0]
    assert greeting["kind"] == "greeting"
    assert PURPOSE in greeting["instructions"] and "outbound" in greeting["instructions"]
    await call.wait_for_media(timeout=10, min_bytes=1500 * 8)
    await call.wait_playback_idle(timeout=10)
    await call.hangup()

    record = await wait_for_record(stack, call_sid, lambda r: r.get("ended_at") is not None)
    assert record["direction"] == "outbound" and record["purpose"] == PURPOSE
    assert record["from_number"] == CUSTOMER and record["call_sid"] == call_sid
    assert record["status"] == "completed" and record["end_reason"] == "caller_hung_up"
    shown = await get_call(stack, call_sid)
    assert shown["direction"] == "outbound" and shown["purpose"] == PURPOSE and shown["twilio_status"] == "ringing"
    assert shown["latencies"]["greeting_ms"] > 0
    stack.realtime.assert_clean()
    assert call.violations == []


async def test_unanswered_outbound_call_is_recorded_as_failed(stack: LiveStack) -> None:
    placed = (await place(stack, {"to": CUSTOMER, "purpose": "Payment reminder"})).json()
    params = {
        **stack.sim.voice_webhook_params(placed["call_sid"], TWILIO_NUMBER, CUSTOMER, call_status="no-answer"),
        "Direction": "outbound-api",
        "CallbackSource": "call-progress-events",
        "SequenceNumber": "2",
        "CallDuration": "0",
    }
    assert (await stack.sim.post_webhook("/call-status", params)).status_code == 204
    shown = await get_call(stack, placed["call_sid"])
    assert shown["status"] == "failed" and shown["twilio_status"] == "no-answer" and shown["ended_at"] is not None
    assert shown["purpose"] == "Payment reminder" and shown["direction"] == "outbound"


@pytest.mark.parametrize(
    "body",
    [
        {"to": "12345", "purpose": "x"},
        {"to": "+91 12345 67890", "purpose": "Indian numbers must be mobiles"},
        {"to": "not a number", "purpose": "x"},
        {"to": CUSTOMER, "purpose": ""},
        {"to": CUSTOMER, "purpose": "   "},
        {"to": CUSTOMER, "purpose": "x" * 301},
        {"to": CUSTOMER},
        {"purpose": "x"},
    ],
)
async def test_invalid_outbound_request_is_422_and_places_nothing(stack: LiveStack, body: dict[str, Any]) -> None:
    response = await place(stack, body)
    assert response.status_code == 422, response.text
    assert stack.rest.created_calls == []


async def test_twilio_refusal_is_502_with_a_clear_message(stack: LiveStack) -> None:
    stack.rest.fail_next("call_create", status=400, code=21215, message="Geo permission not enabled for +91")
    response = await place(stack, {"to": CUSTOMER, "purpose": "Delivery update"})
    assert response.status_code == 502
    assert "Twilio refused the call" in response.json()["detail"]
    assert "Geo permission" in response.json()["detail"]
    assert await stack.services.db.calls.count() == 0


# ------------------------------------------------------------------------------------------ who may be called


def call_creates(stack: LiveStack) -> list[Any]:
    return [r for r in stack.rest.requests if r.kind == "call_create"]


@pytest.mark.parametrize(
    ("to", "region"),
    [("+14155550100", "US"), ("+1 415 555 0100", "US"), ("+447911123456", "GG"), ("+442071838750", "GB")],
)
async def test_a_number_outside_the_allowed_countries_is_refused_before_twilio(
    stack: LiveStack, to: str, region: str
) -> None:
    response = await place(stack, {"to": to, "purpose": "Delivery update"})
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail.startswith("Outbound call refused") and region in detail and "IN" in detail
    assert call_creates(stack) == [] and stack.rest.created_calls == []
    assert await stack.services.db.calls.count() == 0


async def test_an_invalid_international_number_is_422(stack: LiveStack) -> None:
    # Well-formed E.164, but no such number range in the UK: libphonenumber refuses it.
    response = await place(stack, {"to": "+4411", "purpose": "x"})
    assert response.status_code == 422
    response = await place(stack, {"to": "+44 0000 000000", "purpose": "x"})
    assert response.status_code == 422
    assert call_creates(stack) == []


async def test_other_countries_can_be_enabled(mongo_uri: str, database_name: str) -> None:
    async with live_stack(mongo_uri, database_name, outbound_call_countries=["IN", "GB"]) as stack:
        assert (await place(stack, {"to": "+442071838750", "purpose": "x"})).status_code == 201
        assert (await place(stack, {"to": "+14155550100", "purpose": "x"})).status_code == 422
        assert (await place(stack, {"to": CUSTOMER, "purpose": "x"})).status_code == 201
        assert [r.form["To"] for r in call_creates(stack)] == ["+442071838750", CUSTOMER]


async def test_the_allowlist_refuses_every_other_number(mongo_uri: str, database_name: str) -> None:
    allowed = "+919876543210"
    async with live_stack(mongo_uri, database_name, outbound_call_allowlist=[allowed]) as stack:
        for other in (CUSTOMER, "98123 45679", "+14155550100"):
            response = await place(stack, {"to": other, "purpose": "Delivery update"})
            assert response.status_code == 422, (other, response.text)
            assert response.json()["detail"].startswith("Outbound call refused")
        assert call_creates(stack) == []
        assert "allowlist" in (await place(stack, {"to": CUSTOMER, "purpose": "x"})).json()["detail"]

        response = await place(stack, {"to": "98765 43210", "purpose": "Delivery update"})  # written nationally
        assert response.status_code == 201, response.text
        (request,) = call_creates(stack)
        assert request.form["To"] == allowed
