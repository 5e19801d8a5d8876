"""Plivo-facing endpoints: the answer webhook, the media stream, the XML a transfer fetches, and the hang-up
and stream-status callbacks. Every HTTP request is X-Plivo-Signature-V3 checked (403 otherwise); the
stream is admitted by the single-use per-call token our signed answer put in its URL, never by Plivo's
own handshake signature (its two SDKs rebuild the signed URL differently)."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request, Response, WebSocket
from pymongo.errors import PyMongoError

from api.carrier_streams import call_info, claim, from_query, run_call, stream_parameters, url_fields
from api.deps import ServicesDep, admit_answer, get_services_ws, read_form
from services import metrics
from services.carriers import PlivoCarrier
from services.container import AppServices
from services.realtime.session_config import greeting_instructions
from services.telephony.plivo_stream import CALL_UUID, PlivoMediaStream, read_start
from services.telephony.plivo_voice import (
    PLIVO_XML_MEDIA_TYPE,
    dial_xml,
    hangup_xml,
    speak_and_hangup_xml,
    stream_xml,
)
from utils.logger import get_logger

log = get_logger(__name__)
router = APIRouter(prefix="/plivo", tags=["plivo"])
CARRIER = PlivoMediaStream.carrier


def _plivo(services: AppServices) -> PlivoCarrier:
    if services.carriers.plivo is None:
        raise HTTPException(status_code=404, detail="Plivo is not configured")
    return services.carriers.plivo


async def require_plivo_signature(request: Request, services: AppServices) -> dict[str, str]:
    """X-Plivo-Signature-V3 over PUBLIC_BASE_URL + path (never the Host header) and the form; 403 otherwise."""
    plivo = _plivo(services)
    signature = request.headers.get("x-plivo-signature-v3", "")
    nonce = request.headers.get("x-plivo-signature-v3-nonce", "")
    if not signature or not nonce:
        _refused(request.url.path, "no_webhook_signature")
    form = await read_form(request, services.settings.max_webhook_body_bytes)
    if not plivo.signatures.is_valid(request.url.path, request.url.query, form, signature, nonce):
        _refused(request.url.path, "bad_webhook_signature")
    return form


def _refused(path: str, reason: str) -> None:
    metrics.STREAMS_REJECTED.labels(reason=reason).inc()
    log.warning("webhook_rejected", path=path, reason=reason, carrier=CARRIER)
    raise HTTPException(status_code=403, detail="Invalid Plivo signature")


def e164(number: str) -> str:
    """Plivo writes numbers as digits ("919876543210"); the rest of the product speaks E.164."""
    digits = "".join(ch for ch in number if ch.isdigit())[:15]
    return f"+{digits}" if digits else ""


@router.post("/answer", response_class=Response, responses={200: {"content": {PLIVO_XML_MEDIA_TYPE: {}}}})
async def answer(request: Request, services: ServicesDep) -> Response:
    """Plivo's answer_url: a bidirectional μ-law `<Stream>` whose URL carries a token for this call only."""
    form = await require_plivo_signature(request, services)
    call_uuid = form.get("CallUUID", "")
    if not CALL_UUID.fullmatch(call_uuid):
        raise HTTPException(status_code=400, detail="CallUUID missing or malformed")
    outbound = form.get("Direction", "") == "outbound"
    customer = e164(form.get("To", "") if outbound else form.get("From", ""))
    ours = e164(form.get("From", "") if outbound else form.get("To", ""))
    refusal = await admit_answer(services, call_uuid, customer, inbound=not outbound)
    if refusal is not None:  # no stream, no Realtime session
        return Response(content=hangup_xml("busy"), media_type=PLIVO_XML_MEDIA_TYPE)
    parameters = stream_parameters(call_uuid, customer, ours, "outbound" if outbound else "inbound", CARRIER)
    token = services.stream_gate.issue(call_uuid, parameters)
    if services.preopened is not None:
        greeting = greeting_instructions(services.agent, parameters["direction"], None)
        services.preopened.start(call_uuid, lambda: services.connector.open_conversation(greeting))
    query = urlencode(url_fields(parameters, token))
    url = f"wss://{services.settings.public_host}/plivo/stream?{query}"
    log.info("incoming_call", call_sid=call_uuid, carrier=CARRIER)
    return Response(content=stream_xml(url), media_type=PLIVO_XML_MEDIA_TYPE)


@router.websocket("/stream")
async def stream(websocket: WebSocket) -> None:
    services = get_services_ws(websocket)
    plivo = services.carriers.plivo
    parameters, token, direction = from_query(websocket.query_params, CARRIER)
    call_uuid = parameters["call_sid"]
    # Refused before the handshake completes (HTTP 403): no Realtime session is opened for it.
    valid = CALL_UUID.fullmatch(call_uuid) and services.stream_tokens.verify(call_uuid, token, parameters)
    if plivo is None or not valid:
        _reject("bad_token", None)
        await websocket.close(code=1008)
        return
    await websocket.accept()
    start = await read_start(websocket)
    reason = "no_start" if start is None or start.call_uuid != call_uuid else None
    if start is not None and reason is None and start.account_id not in ("", services.settings.plivo_auth_id):
        reason = "wrong_account"
    if start is not None and reason is None:
        reason = await claim(services, parameters, token, CALL_UUID)
    if start is None or reason is not None:
        _reject(reason or "no_start", call_uuid)
        await websocket.close(code=1008)
        return
    info = call_info(parameters, start.stream_id, direction)
    media = PlivoMediaStream(websocket, info, services.settings.max_stream_message_bytes, plivo.rest)
    await run_call(services, plivo.call_deps, media)


@router.post("/transfer", response_class=Response, responses={200: {"content": {PLIVO_XML_MEDIA_TYPE: {}}}})
async def transfer_xml(request: Request, services: ServicesDep) -> Response:
    """What Plivo runs on the caller's leg after our REST transfer: a `<Dial>` to the human agent."""
    form = await require_plivo_signature(request, services)
    number = services.settings.human_agent_number
    if not number:
        return Response(content=hangup_xml("rejected"), media_type=PLIVO_XML_MEDIA_TYPE)
    # The agent sees our number (the one the caller dialled), an Indian one as media anchoring wants.
    caller_id = e164(form.get("To", "")).lstrip("+") or None
    return Response(content=dial_xml(number.lstrip("+"), caller_id), media_type=PLIVO_XML_MEDIA_TYPE)


@router.post("/apology", response_class=Response, responses={200: {"content": {PLIVO_XML_MEDIA_TYPE: {}}}})
async def apology_xml(request: Request, services: ServicesDep) -> Response:
    await require_plivo_signature(request, services)
    agent = services.agent
    return Response(
        content=speak_and_hangup_xml(agent.apology_text, agent.apology_language), media_type=PLIVO_XML_MEDIA_TYPE
    )


@router.post("/hangup", status_code=204, response_class=Response)
async def hangup_callback(request: Request, services: ServicesDep) -> Response:
    """Plivo's hangup_url: a call that ended without a live session here still gets its record completed."""
    form = await require_plivo_signature(request, services)
    call_uuid = form.get("CallUUID", "")
    if not CALL_UUID.fullmatch(call_uuid):
        raise HTTPException(status_code=400, detail="CallUUID missing or malformed")
    cause = "".join(ch for ch in form.get("HangupCause", "") if ch.isalnum() or ch in "_-")[:64] or "completed"
    if services.live_calls.get(call_uuid) is None:
        try:
            await services.db.calls.complete_ended_call(
                call_uuid, ended_at=datetime.now(UTC), status="completed", end_reason=cause
            )
        except PyMongoError:
            metrics.DB_ERRORS.labels(operation="call_status").inc()
            raise HTTPException(status_code=503, detail="Database unavailable") from None
    log.info("call_status", call_sid=call_uuid, carrier=CARRIER, hangup_cause=cause)
    return Response(status_code=204)


@router.post("/stream-status", status_code=204, response_class=Response)
async def stream_status(request: Request, services: ServicesDep) -> Response:
    form = await require_plivo_signature(request, services)
    event = "".join(ch for ch in form.get("Event", "") if ch.isalnum())[:32]
    log.info("stream_status", call_sid=form.get("CallUUID", "")[:64], carrier=CARRIER, stream_event=event)
    return Response(status_code=204)


def _reject(reason: str, call_sid: str | None) -> None:
    metrics.STREAMS_REJECTED.labels(reason=reason).inc()
    log.warning("stream_rejected", reason=reason, call_sid=call_sid, carrier=CARRIER)
