"""Exotel-facing endpoints: the Voicebot applet's dynamic URL, the media stream, and the Passthru applet
that follows it in the flow. Exotel signs nothing (no HMAC): every request must carry HTTP Basic auth
with our per-deployment secret (EXOTEL_STREAM_USER / EXOTEL_STREAM_SECRET, compared in constant time),
optionally come from EXOTEL_ALLOWED_IPS, and the stream must also present the single-use per-call token
the dynamic URL put in it. Refusals happen before the socket is accepted: no Realtime session for them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
from urllib.parse import quote, urlencode

from fastapi import APIRouter, HTTPException, Request, Response, WebSocket
from pymongo.errors import PyMongoError
from starlette.datastructures import Headers

from api.carrier_streams import call_info, claim, from_query, run_call, stream_parameters, url_fields
from api.deps import ServicesDep, admit_answer, get_services_ws
from config.settings import Settings
from services import metrics
from services.container import AppServices
from services.realtime.session_config import greeting_instructions
from services.telephony.exotel_stream import CALL_SID, SAMPLE_RATE, ExotelMediaStream, read_start
from utils.logger import get_logger

log = get_logger(__name__)
router = APIRouter(prefix="/exotel", tags=["exotel"])
CARRIER = ExotelMediaStream.carrier
PASSTHRU_WAIT_S = 3.0  # the session's final record write, after it closed the stream


def authorised(settings: Settings, headers: Headers, client_host: str | None) -> bool:
    """Basic auth with our secret (constant time), and the address in the allowlist when there is one."""
    if settings.exotel_allowed_ips and client_host not in settings.exotel_allowed_ips:
        return False
    scheme, _, encoded = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or settings.exotel_stream_secret is None:
        return False
    try:
        user, _, secret = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return False
    expected = f"{settings.exotel_stream_user}:{settings.exotel_stream_secret.get_secret_value()}"
    return hmac.compare_digest(f"{user}:{secret}".encode(), expected.encode())


def _require(request: Request, services: AppServices) -> None:
    host = request.client.host if request.client else None
    if services.carriers.exotel is None or not authorised(services.settings, request.headers, host):
        metrics.STREAMS_REJECTED.labels(reason="bad_webhook_auth").inc()
        log.warning("webhook_rejected", path=request.url.path, carrier=CARRIER)
        raise HTTPException(status_code=401, detail="Authentication required", headers={"WWW-Authenticate": "Basic"})


def _number(value: str) -> str:
    """Exotel writes numbers as "09876543210" or "+919876543210": E.164 for the rest of the product."""
    digits = "".join(ch for ch in value if ch.isdigit())[:15]
    if len(digits) == 11 and digits.startswith("0"):
        digits = "91" + digits[1:]
    elif len(digits) == 10:
        digits = "91" + digits
    return f"+{digits}" if digits else ""


@router.get("/voicebot")
async def voicebot_url(request: Request, services: ServicesDep) -> dict[str, str]:
    """The Voicebot applet's dynamic URL: `{"url": "wss://…"}` for this call only."""
    _require(request, services)
    query = request.query_params
    call_sid = query.get("CallSid", "")
    if not CALL_SID.fullmatch(call_sid):
        raise HTTPException(status_code=400, detail="CallSid missing or malformed")
    outbound = query.get("Direction", "incoming") not in ("incoming", "inbound")
    caller, called = (
        _number(query.get("CallFrom") or query.get("From", "")),
        _number(query.get("CallTo") or query.get("To", "")),
    )
    customer = called if outbound else caller
    if await admit_answer(services, call_sid, customer, inbound=not outbound) is not None:
        raise HTTPException(status_code=503, detail="No line free")  # the flow moves on to its next applet
    parameters = stream_parameters(call_sid, caller, called, "outbound" if outbound else "inbound", CARRIER)
    token = services.stream_gate.issue(call_sid, parameters)
    if services.preopened is not None:
        greeting = greeting_instructions(services.agent, parameters["direction"], None)
        services.preopened.start(call_sid, lambda: services.connector.open_conversation(greeting))
    settings = services.settings
    secret = settings.exotel_stream_secret.get_secret_value() if settings.exotel_stream_secret else ""
    userinfo = f"{quote(settings.exotel_stream_user, safe='')}:{quote(secret, safe='')}@"
    fields = {"sample-rate": SAMPLE_RATE, **url_fields(parameters, token)}
    log.info("incoming_call", call_sid=call_sid, carrier=CARRIER)
    return {"url": f"wss://{userinfo}{settings.public_host}/exotel/stream?{urlencode(fields)}"}


@router.websocket("/stream")
async def stream(websocket: WebSocket) -> None:
    services = get_services_ws(websocket)
    exotel = services.carriers.exotel
    parameters, token, direction = from_query(websocket.query_params, CARRIER)
    call_sid = parameters["call_sid"]
    host = websocket.client.host if websocket.client else None
    allowed = exotel is not None and authorised(services.settings, websocket.headers, host)
    valid = CALL_SID.fullmatch(call_sid) and services.stream_tokens.verify(call_sid, token, parameters)
    if exotel is None or not allowed or not valid:
        _reject("bad_auth" if not allowed else "bad_token", None)
        await websocket.close(code=1008)  # before accept: HTTP 403 on the handshake
        return
    await websocket.accept()
    start = await read_start(websocket)
    reason = None if start is not None and start.call_sid == call_sid else "no_start"
    if start is not None and reason is None and start.account_sid != services.settings.exotel_account_sid:
        reason = "wrong_account"
    if start is not None and reason is None and start.sample_rate != SAMPLE_RATE:
        reason = "sample_rate"
    if start is not None and reason is None:
        reason = await claim(services, parameters, token, CALL_SID)
    if start is None or reason is not None:
        _reject(reason or "no_start", call_sid)
        await websocket.close(code=1008)
        return
    info = call_info(parameters, start.stream_sid, direction)
    media = ExotelMediaStream(websocket, info, services.settings.max_stream_message_bytes)
    await run_call(services, exotel.call_deps, media)


@router.get("/passthru", status_code=200, response_class=Response)
async def passthru(request: Request, services: ServicesDep) -> Response:
    """The Passthru applet after the Voicebot: 200 (the flow's Connect branch) when the call asked for a
    human, 302 (its Hangup branch) otherwise. Waits briefly for the session's final record write."""
    _require(request, services)
    call_sid = request.query_params.get("CallSid", "")
    if not CALL_SID.fullmatch(call_sid):
        raise HTTPException(status_code=400, detail="CallSid missing or malformed")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PASSTHRU_WAIT_S
    record = None
    try:
        while loop.time() < deadline:
            record = await services.db.calls.get(call_sid, with_transcript=False)
            if record is not None and record.get("ended_at") is not None:
                break
            await asyncio.sleep(0.05)
    except PyMongoError:
        metrics.DB_ERRORS.labels(operation="exotel_passthru").inc()
        raise HTTPException(status_code=503, detail="Database unavailable") from None
    wanted = record is not None and record.get("status") == "transferred"
    log.info("exotel_passthru", call_sid=call_sid, transfer=wanted)
    return Response(status_code=200 if wanted else 302)


def _reject(reason: str, call_sid: str | None) -> None:
    metrics.STREAMS_REJECTED.labels(reason=reason).inc()
    log.warning("stream_rejected", reason=reason, call_sid=call_sid, carrier=CARRIER)
