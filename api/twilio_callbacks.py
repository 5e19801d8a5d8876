"""Twilio callbacks after the media stream: the transfer whisper and result, and call status updates.

Every request is signature-checked (403 otherwise) before anything else is read.
"""

from __future__ import annotations

import asyncio
import email.utils
import secrets
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from pymongo.errors import PyMongoError
from twilio.twiml.voice_response import VoiceResponse

from api.deps import ServicesDep, require_twilio_signature
from models.call_record import CallRecord, CallStatus, utc_now
from services import metrics
from services.container import AppServices
from services.stream_gate import CALL_SID
from services.telephony.twilio_voice import TWIML_MEDIA_TYPE, connect_stream_twiml
from utils.hinglish import speak_digits
from utils.logger import get_logger

log = get_logger(__name__)
router = APIRouter(tags=["twilio"])

_TWIML: dict[int | str, dict[str, Any]] = {
    200: {"content": {TWIML_MEDIA_TYPE: {}}},
    403: {"description": "Invalid Twilio signature"},
}
TERMINAL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
# Said to the caller (Twilio TTS, hi-IN) when no agent took the transfer.
NO_AGENT_WITH_TICKET = (
    "Maaf kijiye, abhi hamari team mein koi bhi available nahi hai. Aapka callback ticket number hai {ticket}. "
    "Phir se: {ticket}. Hamari team jald hi aapko call karegi. Dhanyavaad."
)
NO_AGENT_NO_TICKET = (
    "Maaf kijiye, abhi hamari team mein koi bhi available nahi hai. Kripya thodi der baad dobara call karein. "
    "Dhanyavaad."
)


def _twiml(response: VoiceResponse) -> Response:
    return Response(content=str(response), media_type=TWIML_MEDIA_TYPE)


def _call_sid_param(request: Request, form: dict[str, str]) -> str:
    """The call sid from our signed URL; the form's CallSid (the parent call) must agree."""
    call_sid = request.query_params.get("call_sid") or form.get("CallSid", "")
    if not CALL_SID.fullmatch(call_sid) or form.get("CallSid", call_sid) != call_sid:
        raise HTTPException(status_code=400, detail="call_sid missing or inconsistent")
    return call_sid


@router.post("/whisper", response_class=Response, responses=_TWIML)
async def whisper(request: Request, services: ServicesDep) -> Response:
    """`<Number url>`: runs on the agent's leg once answered, before bridging. Says who is waiting and why."""
    await require_twilio_signature(request, services)
    call_sid = request.query_params.get("call_sid", "")
    token = request.query_params.get("token", "")
    if not CALL_SID.fullmatch(call_sid) or services.handoff.whisper_tokens.verify(call_sid, token) is None:
        metrics.STREAMS_REJECTED.labels(reason="bad_whisper_token").inc()
        log.warning("whisper_rejected", call_sid=call_sid[:34])
        raise HTTPException(status_code=403, detail="Invalid or expired token")
    response = VoiceResponse()
    response.say(await services.transfer_callbacks.whisper_text(call_sid), language="en-IN")
    return _twiml(response)  # nothing after the <Say>: Twilio bridges the two legs


@router.post("/transfer-result", response_class=Response, responses=_TWIML)
async def transfer_result(request: Request, services: ServicesDep) -> Response:
    """`<Dial action>`: the agent answered (connected) or not (callback ticket, told to the caller)."""
    form = await require_twilio_signature(request, services)
    call_sid = _call_sid_param(request, form)
    dial_status = form.get("DialCallStatus", "failed")[:32]
    outcome = await services.transfer_callbacks.finish_transfer(call_sid, dial_status)
    response = VoiceResponse()
    if outcome.connected:
        return _twiml(response)  # the agent talked to the caller; nothing left to do
    back = await _back_to_the_assistant(services, call_sid, outcome.ticket_id)
    if back is not None:
        return Response(content=back, media_type=TWIML_MEDIA_TYPE)
    if outcome.ticket_id:  # the assistant cannot take the call back: a spoken goodbye instead
        text = NO_AGENT_WITH_TICKET.format(ticket=speak_digits(outcome.ticket_id))
    else:
        text = NO_AGENT_NO_TICKET
    response.say(text, language="hi-IN")
    response.hangup()
    return _twiml(response)


async def _back_to_the_assistant(services: AppServices, call_sid: str, ticket_id: str | None) -> str | None:
    """TwiML that returns the caller to the assistant on a new stream (their conversation restored, and
    told about the callback ticket); None when that cannot be done (no record, at capacity)."""
    try:
        record = await asyncio.wait_for(services.db.calls.get(call_sid, with_transcript=False), 2)
    except (PyMongoError, TimeoutError):
        record = None
    # The return leg takes a slot like a new call (not counted as a repeat call: it is the same one).
    if record is None or await services.admission.admit_call(call_sid, "", inbound=False) is not None:
        return None
    parameters = {
        "call_sid": call_sid,
        "caller": str(record.get("from_number") or "")[:64],
        "called": str(record.get("to_number") or "")[:64],
        "direction": "outbound" if record.get("direction") == "outbound" else "inbound",
        "carrier": "twilio",
        "attestation": str(record.get("caller_attestation") or "")[:64],
        "leg": f"return-{len(record.get('realtime_sessions') or []) + 1}-{secrets.token_hex(4)}",
        "resume": "transfer_failed",
        "ticket": ticket_id or "",
    }
    token = services.stream_gate.issue(call_sid, parameters)
    return connect_stream_twiml(services.settings.media_stream_url, {**parameters, "token": token})


# ------------------------------------------------------------------------------------------ call status


def _int_param(value: str | None) -> int | None:
    """A small non-negative integer field, or None: ASCII digits only ("²" is a digit to `isdigit`), and
    short enough for BSON's 64-bit integers."""
    text = (value or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def _timestamp(value: str | None) -> datetime:
    """Twilio's RFC 2822 `Timestamp`; now if absent or malformed."""
    if value:
        try:
            return email.utils.parsedate_to_datetime(value).astimezone(UTC)
        except (TypeError, ValueError, OverflowError):  # OverflowError: a date at the end of datetime's range
            pass
    return utc_now()


def _status_for_new_record(twilio_status: str) -> CallStatus:
    if twilio_status in ("busy", "failed", "no-answer", "canceled"):
        return "failed"
    if twilio_status == "completed":
        return "completed"
    return "in_progress" if twilio_status == "in-progress" else "queued"


def _minimal_record(form: dict[str, str], at: datetime) -> CallRecord:
    """A call we never saw a stream for, e.g. an outbound call that was not answered."""
    twilio_status = form["CallStatus"]
    return CallRecord(
        call_sid=form["CallSid"],
        from_number=form.get("From") or None,
        to_number=form.get("To") or None,
        direction="outbound" if form.get("Direction", "").startswith("outbound") else "inbound",
        status=_status_for_new_record(twilio_status),
        started_at=at,
        ended_at=at if twilio_status in TERMINAL_STATUSES else None,
        end_reason=twilio_status if twilio_status in TERMINAL_STATUSES else None,
    )


@router.post("/call-status", status_code=204, response_class=Response, responses={403: _TWIML[403]})
async def call_status(request: Request, services: ServicesDep) -> Response:
    """Status callback (`StatusCallback` of outbound calls, or the number's "call status changes")."""
    form = await require_twilio_signature(request, services)
    call_sid, twilio_status = form.get("CallSid", ""), form.get("CallStatus", "")
    if not CALL_SID.fullmatch(call_sid) or not twilio_status:
        raise HTTPException(status_code=400, detail="CallSid and CallStatus are required")
    seq = _int_param(form.get("SequenceNumber"))
    at = _timestamp(form.get("Timestamp"))
    calls = services.db.calls
    try:
        applied = await calls.apply_status(
            call_sid,
            twilio_status[:32],
            seq=seq,
            duration_s=_int_param(form.get("CallDuration")),
            new_record=_minimal_record(form, at),
        )
        live = services.live_calls.get(call_sid) is not None
        if applied and twilio_status in TERMINAL_STATUSES and not live:
            # No live session to finish the record: make sure it shows the call as ended.
            await calls.complete_ended_call(
                call_sid, ended_at=at, status=_status_for_new_record(twilio_status), end_reason=twilio_status
            )
    except PyMongoError as error:
        metrics.DB_ERRORS.labels(operation="call_status").inc()
        log.warning("call_status_write_failed", call_sid=call_sid, error=type(error).__name__)
        raise HTTPException(status_code=503, detail="Database unavailable") from None
    log.info("call_status", call_sid=call_sid, twilio_status=twilio_status, seq=seq, applied=applied)
    return Response(status_code=204)
