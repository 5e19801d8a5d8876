"""Admin API and Twilio callbacks on the live app: bearer token, call records, filters, pagination,
metrics, and signature checks on every Twilio callback."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from models.call_record import CallRecord, TranscriptLine, TransferInfo
from tests.stack import ADMIN_TOKEN, DEMO_CALLER, LiveStack, live_stack, wait_for_record

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TWILIO_NUMBER = "+918000000000"
UNKNOWN_SID = "CA" + "e" * 32
ADMIN_ROUTES = [
    ("GET", "/metrics", None),
    ("GET", f"/call/{UNKNOWN_SID}", None),
    ("GET", "/calls", None),
    ("POST", "/outbound-call", {"to": "+919876543210", "purpose": "Delivery confirmation"}),
    ("POST", "/verification-locks/unlock", {"order_id": "ORD-482913"}),
]


@pytest.fixture
async def stack(mongo_uri: str, database_name: str):
    async with live_stack(mongo_uri, database_name) as running:
        yield running


@pytest.fixture
async def client(stack: LiveStack):
    async with httpx.AsyncClient(base_url=stack.app_url) as http:
        yield http


def auth(token: str = ADMIN_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def metric_value(client: httpx.AsyncClient, name: str, **labels: str) -> float:
    response = await client.get("/metrics", headers=auth())
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def status_params(stack: LiveStack, call_sid: str, status: str, seq: int, **extra: str) -> dict[str, str]:
    """A call-progress status callback as Twilio posts it (§2.8)."""
    params = stack.sim.voice_webhook_params(call_sid, from_=TWILIO_NUMBER, to=DEMO_CALLER, call_status=status)
    params.pop("CallToken")
    params.update(
        {
            "Direction": "outbound-api",
            "CallbackSource": "call-progress-events",
            "SequenceNumber": str(seq),
            "Timestamp": "Sun, 22 Nov 2026 06:00:00 +0000",
            **extra,
        }
    )
    return params


# ------------------------------------------------------------------------------------------ auth


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
async def test_every_admin_route_refuses_a_missing_or_wrong_token(
    client: httpx.AsyncClient, method: str, path: str, body: dict[str, str] | None
) -> None:
    for headers in ({}, auth("wrong-token-0123456789"), auth(ADMIN_TOKEN + "x"), {"Authorization": ADMIN_TOKEN}):
        response = await client.request(method, path, json=body, headers=headers)
        assert response.status_code == 401, (headers, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
    accepted = await client.request(method, path, json=body, headers=auth())
    assert accepted.status_code in (200, 201, 404), accepted.text  # 404: the unknown call sid


async def test_unknown_call_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/call/{UNKNOWN_SID}", headers=auth())
    assert response.status_code == 404 and response.json()["detail"] == "Call not found"


# ------------------------------------------------------------------------------------------ /calls


def stored(call_sid: str, started_at: datetime, **fields: Any) -> CallRecord:
    transcript = [TranscriptLine(role="caller", text="private words", at=started_at)]
    return CallRecord(
        call_sid=call_sid, started_at=started_at, from_number=DEMO_CALLER, transcript=transcript, **fields
    )


@pytest.fixture
async def history(stack: LiveStack) -> list[CallRecord]:
    """Six finished calls over three days (IST), newest last."""
    records = [
        stored("CA" + "01" * 16, datetime(2026, 3, 1, 5, 0, tzinfo=UTC), status="completed"),
        stored("CA" + "02" * 16, datetime(2026, 3, 1, 9, 0, tzinfo=UTC), status="failed"),
        # 20:00 UTC on 1 March is 01:30 on 2 March in India: it belongs to the 2nd.
        stored(
            "CA" + "03" * 16,
            datetime(2026, 3, 1, 20, 0, tzinfo=UTC),
            status="transferred",
            transfer=TransferInfo(status="connected", reason="refund"),
        ),
        stored("CA" + "04" * 16, datetime(2026, 3, 2, 12, 0, tzinfo=UTC), status="completed"),
        stored(
            "CA" + "05" * 16,
            datetime(2026, 3, 3, 6, 0, tzinfo=UTC),
            status="transferred",
            transfer=TransferInfo(status="failed", reason="billing"),
            tickets=["TKT-123456"],
        ),
        stored("CA" + "06" * 16, datetime(2026, 3, 3, 7, 0, tzinfo=UTC), status="completed", direction="outbound"),
    ]
    for record in records:
        assert await stack.services.db.calls.save(record)
    return records


async def list_calls(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/calls", params=params, headers=auth())
    assert response.status_code == 200, response.text
    return response.json()


def sids(page: dict[str, Any]) -> list[str]:
    return [call["call_sid"][2:4] for call in page["calls"]]


async def test_calls_are_listed_newest_first_without_transcripts(client: httpx.AsyncClient, history) -> None:
    page = await list_calls(client)
    assert page["total"] == 6 and page["limit"] == 20 and page["offset"] == 0
    assert sids(page) == ["06", "05", "04", "03", "02", "01"]
    assert all("transcript" not in call for call in page["calls"])
    fifth = page["calls"][1]
    assert fifth["transfer"]["status"] == "failed" and fifth["tickets"] == ["TKT-123456"]
    assert page["calls"][0]["direction"] == "outbound"


async def test_calls_filters(client: httpx.AsyncClient, history) -> None:
    assert sids(await list_calls(client, status="completed")) == ["06", "04", "01"]
    assert sids(await list_calls(client, transferred="true")) == ["05", "03"]
    assert sids(await list_calls(client, transferred="false")) == ["06", "04", "02", "01"]
    # Days are India days: the 20:00 UTC call of 1 March counts on 2 March.
    assert sids(await list_calls(client, date_from="2026-03-02", date_to="2026-03-02")) == ["04", "03"]
    assert sids(await list_calls(client, date_from="2026-03-03")) == ["06", "05"]
    assert sids(await list_calls(client, date_to="2026-03-01")) == ["02", "01"]
    combined = await list_calls(client, status="transferred", date_from="2026-03-02", transferred="true")
    assert sids(combined) == ["05", "03"] and combined["total"] == 2
    assert (await list_calls(client, date_from="2027-01-01"))["total"] == 0


async def test_calls_pagination(client: httpx.AsyncClient, history) -> None:
    pages = [await list_calls(client, limit=4, offset=offset) for offset in (0, 4, 8)]
    assert [sids(page) for page in pages] == [["06", "05", "04", "03"], ["02", "01"], []]
    assert all(page["total"] == 6 and page["limit"] == 4 for page in pages)
    assert sids(await list_calls(client, status="completed", limit=1, offset=1)) == ["04"]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 101},
        {"limit": "many"},
        {"offset": -1},
        {"status": "exploded"},
        {"date_from": "2026-13-01"},
        {"date_to": "01/03/2026"},
        {"transferred": "maybe"},
        {"date_from": "2026-03-03", "date_to": "2026-03-01"},
    ],
)
async def test_bad_calls_query_is_422(client: httpx.AsyncClient, params: dict[str, Any]) -> None:
    response = await client.get("/calls", params=params, headers=auth())
    assert response.status_code == 422, response.text


async def test_call_detail_is_the_full_record(client: httpx.AsyncClient, history) -> None:
    response = await client.get(f"/call/CA{'05' * 16}", headers=auth())
    assert response.status_code == 200
    record = response.json()
    assert record["transcript"][0]["text"] == "private words"
    assert record["transfer"]["reason"] == "billing" and record["status"] == "transferred"


# ------------------------------------------------------------------------------------------ /metrics


async def test_metrics_parse_and_move_with_calls(stack: LiveStack, client: httpx.AsyncClient) -> None:
    calls_before = await metric_value(client, "voice_calls_total", outcome="completed")
    greetings_before = await metric_value(client, "voice_greeting_latency_seconds_count")
    call = await stack.sim.place_call(from_=DEMO_CALLER)
    await call.connect_stream()
    await call.wait_for_media(timeout=10)
    await call.wait_playback_idle(timeout=10)
    assert await metric_value(client, "voice_active_calls") >= 1
    await call.hangup()
    await wait_for_record(stack, call.call_sid, lambda r: r.get("ended_at") is not None)
    assert await metric_value(client, "voice_calls_total", outcome="completed") == calls_before + 1
    assert await metric_value(client, "voice_greeting_latency_seconds_count") == greetings_before + 1

    listed = await list_calls(client)
    assert [call_row["call_sid"] for call_row in listed["calls"]] == [call.call_sid]
    assert listed["calls"][0]["end_reason"] == "caller_hung_up" and listed["calls"][0]["greeting_ms"] > 0


METRICS_TOKEN = "metrics-test-token-0123456789"


async def test_the_metrics_token_reads_metrics_and_nothing_else(mongo_uri: str, database_name: str) -> None:
    async with (
        live_stack(mongo_uri, database_name, metrics_api_token=METRICS_TOKEN) as stack,
        httpx.AsyncClient(base_url=stack.app_url) as client,
    ):
        for token in (METRICS_TOKEN, ADMIN_TOKEN):  # a scraper's token, and an admin's
            response = await client.get("/metrics", headers=auth(token))
            assert response.status_code == 200 and "voice_active_calls" in response.text
        for headers in ({}, auth(METRICS_TOKEN + "x"), auth(METRICS_TOKEN[:-1]), {"Authorization": METRICS_TOKEN}):
            response = await client.get("/metrics", headers=headers)
            assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"

        # Read-only: it opens no call record, lists nothing and places no call.
        for method, path, body in ADMIN_ROUTES:
            if path == "/metrics":
                continue
            response = await client.request(method, path, json=body, headers=auth(METRICS_TOKEN))
            assert response.status_code == 401, (path, response.text)
            assert response.headers["www-authenticate"] == "Bearer"
        assert [r for r in stack.rest.requests if r.kind == "call_create"] == []


async def test_without_a_metrics_token_an_empty_bearer_reads_nothing(client: httpx.AsyncClient) -> None:
    # METRICS_API_TOKEN unset (the default): only the admin token reads /metrics.
    for headers in ({"Authorization": "Bearer"}, {"Authorization": "Basic e30="}, auth(METRICS_TOKEN)):
        assert (await client.get("/metrics", headers=headers)).status_code == 401


# ------------------------------------------------------------------------------------------ Twilio callbacks


@pytest.mark.parametrize(
    "path",
    ["/call-status", f"/whisper?call_sid={UNKNOWN_SID}&token=1.abc", f"/transfer-result?call_sid={UNKNOWN_SID}"],
)
async def test_twilio_callbacks_refuse_unsigned_requests(stack: LiveStack, path: str) -> None:
    params = status_params(stack, UNKNOWN_SID, "completed", 0, DialCallStatus="completed")
    for signature in (None, "", "bm90LWEtc2lnbmF0dXJl"):
        response = await stack.sim.post_webhook(path, params, signature=signature)
        assert response.status_code == 403
    # Signed for another host: the Host header is never trusted.
    forged = stack.sim.sign("https://attacker.example.com" + path, params)
    assert (await stack.sim.post_webhook(path, params, signature=forged)).status_code == 403
    assert await stack.services.db.calls.get(UNKNOWN_SID) is None


async def test_whisper_needs_a_valid_token_even_when_signed(stack: LiveStack) -> None:
    params = stack.sim.voice_webhook_params("CA" + "1" * 32, from_=TWILIO_NUMBER, to="+918000012345")
    stream_token = stack.services.stream_tokens.issue(UNKNOWN_SID)  # a stream token is not a whisper token
    for query in (
        f"call_sid={UNKNOWN_SID}",
        f"call_sid={UNKNOWN_SID}&token=1.abc",
        f"call_sid={UNKNOWN_SID}&token={stream_token}",
    ):
        response = await stack.sim.post_webhook(f"/whisper?{query}", params)
        assert response.status_code == 403


async def test_status_callbacks_complete_the_record_in_sequence_order(stack: LiveStack, client) -> None:
    call = await stack.sim.place_call(from_=DEMO_CALLER)
    await call.connect_stream()
    await call.wait_for_media(timeout=10)
    await call.wait_playback_idle(timeout=10)
    await call.hangup()
    record = await wait_for_record(stack, call.call_sid, lambda r: r.get("ended_at") is not None)
    session_ended_at = record["ended_at"]

    # `completed` (seq 1) arrives before the delayed `in-progress` (seq 0): the older one is ignored.
    completed = await stack.sim.post_status_callback(
        call, "completed", duration=42, extra_params={"SequenceNumber": "1"}
    )
    assert completed.status_code == 204
    late = await stack.sim.post_status_callback(call, "in-progress", extra_params={"SequenceNumber": "0"})
    assert late.status_code == 204

    shown = (await client.get(f"/call/{call.call_sid}", headers=auth())).json()
    assert shown["twilio_status"] == "completed" and shown["twilio_duration_s"] == 42
    assert shown["status"] == "completed" and shown["end_reason"] == "caller_hung_up"
    record = await stack.services.db.calls.get(call.call_sid)
    assert record["ended_at"] == session_ended_at, "the session's own end time is kept"


async def test_status_callback_for_an_unknown_call_creates_a_minimal_record(stack: LiveStack, client) -> None:
    sid = "CA" + "7" * 32
    for seq, status in enumerate(("initiated", "ringing")):
        response = await stack.sim.post_webhook("/call-status", status_params(stack, sid, status, seq))
        assert response.status_code == 204
    shown = (await client.get(f"/call/{sid}", headers=auth())).json()
    assert shown["twilio_status"] == "ringing" and shown["status"] == "queued" and shown["ended_at"] is None
    assert shown["direction"] == "outbound" and shown["to_number"] == DEMO_CALLER

    final = status_params(stack, sid, "no-answer", 2, CallDuration="0")
    assert (await stack.sim.post_webhook("/call-status", final)).status_code == 204
    shown = (await client.get(f"/call/{sid}", headers=auth())).json()
    assert shown["twilio_status"] == "no-answer" and shown["twilio_duration_s"] == 0
    assert shown["status"] == "failed" and shown["end_reason"] == "no-answer"
    assert shown["ended_at"].startswith("2026-11-22T06:00:00")

    # A terminal callback for a call we never heard of at all.
    other = "CA" + "8" * 32
    params = status_params(stack, other, "busy", 3, CallDuration="0")
    assert (await stack.sim.post_webhook("/call-status", params)).status_code == 204
    shown = (await client.get(f"/call/{other}", headers=auth())).json()
    assert shown["status"] == "failed" and shown["twilio_status"] == "busy" and shown["ended_at"] is not None


async def test_status_callback_without_call_sid_is_400(stack: LiveStack) -> None:
    params = status_params(stack, UNKNOWN_SID, "completed", 0)
    params.pop("CallSid")
    assert (await stack.sim.post_webhook("/call-status", params)).status_code == 400
