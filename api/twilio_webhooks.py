"""Twilio-facing endpoints: the voice webhook and the media stream. Every request is signature-checked."""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, HTTPException, Request, Response, WebSocket
from openai.resources.realtime.realtime import AsyncRealtimeConnection
from pymongo.errors import PyMongoError

from api.deps import ServicesDep, admit_answer, get_services_ws, require_twilio_signature
from models.call_record import CallRecord
from models.twilio_stream import StartPayload
from services import metrics
from services.call.continuity import ResumedLeg
from services.call.session import CallSession
from services.container import AppServices
from services.realtime.session_config import greeting_instructions
from services.stream_gate import CALL_SID
from services.telephony.twilio_stream import TwilioMediaStream, read_start
from services.telephony.twilio_voice import TWIML_MEDIA_TYPE, connect_stream_twiml
from utils.logger import get_logger

log = get_logger(__name__)
router = APIRouter(tags=["twilio"])

TRANSFER_MISSED_NOTE = (
    "The caller is back with you: the human agent did not answer the transfer. Do not greet again. Tell "
    "the caller briefly, in their language, that nobody from the team was free, read out the callback "
    "ticket number if there is one, and ask if there is anything else you can help with."
)


@router.post(
    "/incoming-call",
    response_class=Response,
    responses={200: {"content": {TWIML_MEDIA_TYPE: {}}}, 409: {"description": "The call's stream already started"}},
)
async def incoming_call(request: Request, services: ServicesDep) -> Response:
    """Twilio voice webhook: answer with `<Connect><Stream>` bound to this call by a single-use token."""
    form = await require_twilio_signature(request, services)
    call_sid = form.get("CallSid", "")
    if not CALL_SID.fullmatch(call_sid):
        raise HTTPException(status_code=400, detail="CallSid missing or malformed")
    outbound = form.get("Direction", "").startswith("outbound")
    # The customer is whoever is not us: `To` on a call we placed, `From` on one we received.
    customer = form.get("To", "") if outbound else form.get("From", "")
    our_number = form.get("From", "") if outbound else form.get("To", "")
    refusal = await admit_answer(services, call_sid, customer[:64], inbound=not outbound)
    if refusal is not None:  # over capacity or a repeat caller: polite TwiML, no stream, no Realtime session
        twiml = await services.admission.busy_twiml(call_sid, customer[:64], refusal, inbound=not outbound)
        return Response(content=twiml, media_type=TWIML_MEDIA_TYPE)
    parameters = {
        "call_sid": call_sid,
        "caller": _printable(customer)[:64],
        "called": _printable(our_number)[:64],
        "direction": "outbound" if outbound else "inbound",
        "carrier": TwilioMediaStream.carrier,
        # STIR/SHAKEN attestation of the caller id ("TN-Validation-Passed-A", ...), when Twilio has one.
        "attestation": _printable(form.get("StirVerstat", ""))[:64],
    }
    purpose = request.query_params.get("purpose")
    if purpose:
        parameters["purpose"] = _printable(purpose)[:300]
    token = services.stream_gate.issue(call_sid, parameters)
    log.info("incoming_call", call_sid=call_sid, caller=parameters["caller"])
    if services.preopened is not None:
        direction, purpose = parameters["direction"], parameters.get("purpose")

        async def open_greeting() -> AsyncRealtimeConnection:
            # In the background, beside the TwiML answer: one bounded _id read that never raises.
            language = await services.db.customers.preferred_language(customer)
            return await services.connector.open_conversation(
                greeting_instructions(services.agent, direction, purpose, language)
            )

        services.preopened.start(call_sid, open_greeting)
    twiml = connect_stream_twiml(services.settings.media_stream_url, {**parameters, "token": token})
    return Response(content=twiml, media_type=TWIML_MEDIA_TYPE)


@router.websocket("/media-stream")
async def media_stream(websocket: WebSocket) -> None:
    services = get_services_ws(websocket)
    # Refuse before accepting: an unaccepted close is an HTTP 403 on the handshake, and no
    # Realtime connection is ever opened for it.
    if not services.signatures.stream_handshake_is_valid(websocket.headers.get("x-twilio-signature")):
        _reject("bad_signature")
        await websocket.close(code=1008)
        return
    await websocket.accept()
    start = await read_start(websocket)
    # The set-up's database round trips, while the caller waits: no tick per hop (services/loop_pacer.py).
    with services.loop_pacer.unpaced():
        reason = await _admission(services, start)
        if start is None or reason is not None:
            _reject(reason or "no_start", start.call_sid if start else None)
            await websocket.close(code=1008)
            return
        if not services.admission.admit_stream(start.call_sid):  # synchronous: the session is added just below
            _reject("over_capacity", start.call_sid)
            trusted = dict(start.custom_parameters)  # bound to the call by the token just checked
            inbound = trusted.get("direction") == "inbound"
            await services.admission.turn_away_stream(start.call_sid, trusted.get("caller", ""), inbound=inbound)
            with contextlib.suppress(Exception):  # Twilio may have closed it already, on the redirect
                await websocket.close(code=1008)
            return
        resumed = await _resumed_leg(services, start)
    stream = TwilioMediaStream(websocket, start, services.settings.max_stream_message_bytes)
    session = CallSession(services.call_deps, stream, resumed)
    services.live_calls.add(session)
    try:
        await session.run()
    finally:
        services.live_calls.remove(session)


async def _admission(services: AppServices, start: StartPayload | None) -> str | None:
    """Why this stream may not start (None: it may): our account, our parameters, a fresh token."""
    if start is None:
        return "no_start"
    if start.account_sid != services.settings.twilio_account_sid:
        return "wrong_account"
    parameters = dict(start.custom_parameters)
    token = parameters.pop("token", "")
    if parameters.get("call_sid") != start.call_sid or parameters.get("carrier") != TwilioMediaStream.carrier:
        return "bad_token"
    return await services.stream_gate.admit(start.call_sid, parameters, token, TwilioMediaStream.carrier)


async def _resumed_leg(services: AppServices, start: StartPayload) -> ResumedLeg | None:
    """A stream bringing the caller back after a failed transfer continues the call's stored record."""
    parameters = start.custom_parameters  # bound to the call by the token already checked
    if parameters.get("resume") != "transfer_failed":
        return None
    try:
        document = await asyncio.wait_for(services.db.calls.get(start.call_sid), 2)
    except (PyMongoError, TimeoutError):
        document = None
    if document is None:
        return None  # nothing to restore: the call starts over with a greeting rather than fail
    record = CallRecord.model_validate(document)
    ticket = parameters.get("ticket")
    told = f" A callback ticket was filed: {ticket} (it was also sent by SMS)." if ticket else ""
    return ResumedLeg(record=record, note=TRANSFER_MISSED_NOTE + told)


def _printable(text: str) -> str:
    """Without control characters: XML 1.0 forbids most of them, and they belong in no phone field."""
    return "".join(ch for ch in text if ch.isprintable())


def _reject(reason: str, call_sid: str | None = None) -> None:
    metrics.STREAMS_REJECTED.labels(reason=reason).inc()
    log.warning("stream_rejected", reason=reason, call_sid=call_sid)
