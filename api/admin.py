"""Admin API (bearer ADMIN_API_TOKEN): call records, live metrics, outbound calls."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pymongo.errors import PyMongoError
from twilio.base.exceptions import TwilioRestException

from api.deps import ServicesDep, require_admin
from models.admin import CallDetail, CallList, CallSummary, OutboundCallRequest, OutboundCallResponse
from models.call_record import CallRecord, CallStatus
from services.metrics import REGISTRY
from services.store.calls import CallFilter
from utils.logger import get_logger

log = get_logger(__name__)
router = APIRouter(
    tags=["admin"],
    dependencies=[Depends(require_admin)],
    responses={401: {"description": "Missing or invalid admin token"}},
)


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
async def prometheus_metrics() -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


@router.get("/call/{call_sid}", response_model=CallDetail, responses={404: {"description": "Unknown call"}})
async def get_call(call_sid: str, services: ServicesDep) -> CallDetail:
    document = await services.db.calls.get(call_sid)
    if document is None:
        raise HTTPException(status_code=404, detail="Call not found")
    return CallDetail.model_validate(document)


@router.get("/calls", response_model=CallList)
async def list_calls(
    services: ServicesDep,
    status: Annotated[CallStatus | None, Query(description="Our call status")] = None,
    date_from: Annotated[
        date | None, Query(description="YYYY-MM-DD, first day (support timezone) of `started_at`")
    ] = None,
    date_to: Annotated[date | None, Query(description="YYYY-MM-DD, last day (inclusive)")] = None,
    transferred: Annotated[
        bool | None, Query(description="Only calls with (true) / without (false) a transfer attempt")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> CallList:
    if date_from and date_to and date_from > date_to:
        raise HTTPException(status_code=422, detail="date_from is after date_to")
    filters = CallFilter.for_days(
        zone=ZoneInfo(services.settings.support_timezone),
        status=status,
        date_from=date_from,
        date_to=date_to,
        transferred=transferred,
    )
    total, documents = await services.db.calls.page(filters, limit=limit, offset=offset)
    calls = [CallSummary.from_document(document) for document in documents]
    return CallList(total=total, limit=limit, offset=offset, calls=calls)


@router.post(
    "/outbound-call",
    status_code=201,
    response_model=OutboundCallResponse,
    responses={502: {"description": "Twilio refused the call or could not be reached"}},
)
async def outbound_call(body: OutboundCallRequest, services: ServicesDep) -> OutboundCallResponse:
    """Place a call; when answered, Twilio fetches `/incoming-call?purpose=…` and the call runs like an
    inbound one, with the assistant opening on the purpose."""
    settings = services.settings
    url = settings.public_url("/incoming-call?" + urlencode({"purpose": body.purpose}))
    try:
        call_sid, twilio_status = await services.twilio_rest.create_call(
            body.to, url=url, status_callback=settings.public_url("/call-status")
        )
    except TwilioRestException as error:
        log.warning("outbound_call_refused", to=body.to, code=error.code, status=error.status)
        raise HTTPException(status_code=502, detail=f"Twilio refused the call: {error.msg}") from None
    except Exception as error:
        log.error("outbound_call_failed", to=body.to, error=repr(error))
        raise HTTPException(status_code=502, detail="Could not reach Twilio to place the call") from None
    # Inserted only if absent: once answered, the live session writes the same record, and may already
    # have done so if the stream connected before Twilio's reply reached us.
    record = CallRecord(
        call_sid=call_sid,
        from_number=settings.twilio_phone_number,
        to_number=body.to,
        direction="outbound",
        purpose=body.purpose,
        status="queued",
        twilio_status=twilio_status,
    )
    try:
        await services.db.calls.insert_if_absent(record)
    except PyMongoError as error:  # the call is placed anyway; the session writes its record when answered
        log.error("outbound_call_record_failed", call_sid=call_sid, error=type(error).__name__)
    log.info("outbound_call_placed", call_sid=call_sid, to=body.to)
    return OutboundCallResponse(call_sid=call_sid, status=twilio_status)
