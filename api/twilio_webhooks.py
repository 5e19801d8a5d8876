"""Twilio-facing endpoints: the voice webhook and the media stream. Every request is signature-checked."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response, WebSocket

from api.deps import ServicesDep, get_services_ws, require_twilio_signature
from services import metrics
from services.call.session import CallSession
from services.realtime.session_config import greeting_instructions
from services.telephony.twilio_stream import TwilioMediaStream, read_start
from services.telephony.twilio_voice import TWIML_MEDIA_TYPE, connect_stream_twiml
from utils.logger import get_logger

log = get_logger(__name__)
router = APIRouter(tags=["twilio"])


@router.post("/incoming-call", response_class=Response, responses={200: {"content": {TWIML_MEDIA_TYPE: {}}}})
async def incoming_call(request: Request, services: ServicesDep) -> Response:
    """Twilio voice webhook: answer with `<Connect><Stream>` bound to this call by a short-lived token."""
    form = await require_twilio_signature(request, services)
    call_sid = form.get("CallSid", "")
    if not call_sid.startswith("CA"):
        raise HTTPException(status_code=400, detail="CallSid missing")
    outbound = form.get("Direction", "").startswith("outbound")
    # The customer is whoever is not us: `To` on a call we placed, `From` on one we received.
    customer = form.get("To", "") if outbound else form.get("From", "")
    our_number = form.get("From", "") if outbound else form.get("To", "")
    parameters = {
        "call_sid": call_sid,
        "caller": customer,
        "called": our_number,
        "direction": "outbound" if outbound else "inbound",
        "token": services.stream_tokens.issue(call_sid),
    }
    purpose = request.query_params.get("purpose")
    if purpose:
        parameters["purpose"] = purpose[:300]
    log.info("incoming_call", call_sid=call_sid, caller=parameters["caller"])
    if services.preopened is not None:
        greeting = greeting_instructions(services.agent, parameters["direction"], parameters.get("purpose"))
        services.preopened.start(call_sid, lambda: services.connector.open_conversation(greeting))
    twiml = connect_stream_twiml(services.settings.media_stream_url, parameters)
    return Response(content=twiml, media_type=TWIML_MEDIA_TYPE)


@router.websocket("/media-stream")
async def media_stream(websocket: WebSocket) -> None:
    services = get_services_ws(websocket)
    # Refuse before accepting: an unaccepted close is an HTTP 403 on the handshake, and no
    # Realtime connection is ever opened for it.
    if not services.signatures.stream_handshake_is_valid(websocket.headers.get("x-twilio-signature")):
        metrics.STREAMS_REJECTED.labels(reason="bad_signature").inc()
        log.warning("stream_rejected", reason="bad_signature")
        await websocket.close(code=1008)
        return
    await websocket.accept()
    start = await read_start(websocket)
    token = start.custom_parameters.get("token", "") if start else ""
    bound_call = start.custom_parameters.get("call_sid") if start else None
    if start is None or bound_call != start.call_sid or not services.stream_tokens.verify(start.call_sid, token):
        metrics.STREAMS_REJECTED.labels(reason="bad_token" if start else "no_start").inc()
        log.warning("stream_rejected", reason="bad_token" if start else "no_start")
        await websocket.close(code=1008)
        return
    stream = TwilioMediaStream(websocket, start, services.settings.max_stream_message_bytes)
    session = CallSession(services.call_deps, stream)
    services.live_calls.add(session)
    try:
        await session.run()
    finally:
        services.live_calls.remove(session)
