"""Admin API (bearer ADMIN_API_TOKEN only): call records, outbound calls, verification unlocks.

`/metrics` is in api.metrics."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import phonenumbers
from fastapi import APIRouter, Depends, HTTPException, Query
from pymongo.errors import PyMongoError
from twilio.base.exceptions import TwilioRestException

from api.deps import ServicesDep, require_admin
from models.admin import (
    CallDetail,
    CallList,
    CallSummary,
    OutboundCallRequest,
    OutboundCallResponse,
    VerificationUnlockRequest,
    VerificationUnlockResponse,
)
from models.call_record import CallRecord, CallStatus
from services.store.calls import CallFilter
from utils.logger import get_logger
from utils.privacy import mask_phone

log = get_logger(__name__)
router = APIRouter(
    tags=["admin"],
    dependencies=[Depends(require_admin)],
    responses={401: {"description": "Missing or invalid admin token"}},
)


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


def _e164(number: str) -> str | None:
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def outbound_call_refusal(number: str, *, countries: Sequence[str], allowlist: Sequence[str]) -> str | None:
    """Why `number` may not be called (OUTBOUND_CALL_COUNTRIES, OUTBOUND_CALL_ALLOWLIST), or None if it may.

    Checked with libphonenumber: the number must be a valid number of one of `countries`, and when the
    allowlist is not empty, one of its numbers.
    """
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return "not a valid phone number"
    if not phonenumbers.is_valid_number(parsed):
        return "not a valid phone number"
    region = phonenumbers.region_code_for_number(parsed)
    if region not in countries:
        allowed = ", ".join(countries)
        return f"calls to {region or 'this country'} are not allowed; outbound calls go to {allowed} numbers only"
    if allowlist:
        e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        if e164 not in {_e164(entry) for entry in allowlist}:
            return "this number is not on the outbound call allowlist"
    return None


@router.post(
    "/outbound-call",
    status_code=201,
    response_model=OutboundCallResponse,
    responses={
        422: {"description": "Not a valid number, or one outside OUTBOUND_CALL_COUNTRIES / the allowlist"},
        502: {"description": "Twilio refused the call or could not be reached"},
    },
)
async def outbound_call(body: OutboundCallRequest, services: ServicesDep) -> OutboundCallResponse:
    """Place a call; when answered, Twilio fetches `/incoming-call?purpose=…` and the call runs like an
    inbound one, with the assistant opening on the purpose. Only numbers in OUTBOUND_CALL_COUNTRIES
    (and on OUTBOUND_CALL_ALLOWLIST, when set) are called; any other is refused before Twilio is asked."""
    settings = services.settings
    refusal = outbound_call_refusal(
        body.to, countries=settings.outbound_call_countries, allowlist=settings.outbound_call_allowlist
    )
    if refusal is not None:
        log.warning("outbound_call_not_allowed", to=body.to, reason=refusal)
        raise HTTPException(status_code=422, detail=f"Outbound call refused: {refusal}")
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


@router.post(
    "/verification-locks/unlock",
    response_model=VerificationUnlockResponse,
    responses={
        422: {"description": "Neither order_id nor phone, or one malformed"},
        503: {"description": "Database unreachable"},
    },
)
async def unlock_verification(body: VerificationUnlockRequest, services: ServicesDep) -> VerificationUnlockResponse:
    """Staff unlock: clear the verification-failure counters of an order and/or a caller number, so their
    pincode and one-time-code checks work again before VERIFICATION_FAILURE_WINDOW_S has passed."""
    try:
        cleared = await services.db.verification_failures.unlock(order_id=body.order_id, phone=body.phone)
    except PyMongoError as error:
        log.error("verification_unlock_failed", error=type(error).__name__)
        raise HTTPException(status_code=503, detail="Database unavailable, nothing was unlocked") from None
    log.info("verification_unlocked", order_id=body.order_id, phone=mask_phone(body.phone), cleared=cleared)
    return VerificationUnlockResponse(order_id=body.order_id, phone=body.phone, cleared=cleared)
