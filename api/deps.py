"""FastAPI dependencies: the process services, Twilio signature checks, the admin bearer token, and the
admission every carrier's answer webhook goes through."""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, HTTPException, Request, WebSocket
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services import metrics
from services.admission import Refusal
from services.container import AppServices
from utils.logger import get_logger

log = get_logger(__name__)


def get_services(request: Request) -> AppServices:
    services: AppServices = request.app.state.services  # set by app.py's lifespan
    return services


def get_services_ws(websocket: WebSocket) -> AppServices:
    services: AppServices = websocket.app.state.services  # set by app.py's lifespan
    return services


ServicesDep = Annotated[AppServices, Depends(get_services)]


async def admit_answer(services: AppServices, call_sid: str, customer: str, *, inbound: bool) -> Refusal | None:
    """An answer webhook's admission (`CallAdmission.admit_webhook`), the same for every carrier: None, or
    why the call is turned away; a call whose stream has already started (a late or replayed webhook) is
    refused here with 409."""
    refusal = await services.admission.admit_webhook(
        call_sid, customer, inbound=inbound, stream_started=services.stream_gate.already_started(call_sid)
    )
    if refusal == "stream_started":
        # Carriers retry a webhook only before it is answered; a late one for a live call is a replay.
        metrics.STREAMS_REJECTED.labels(reason="webhook_after_stream").inc()
        log.warning("incoming_call_rejected", call_sid=call_sid, reason="stream_already_started")
        raise HTTPException(status_code=409, detail="This call's stream has already started")
    return refusal


MAX_FORM_FIELDS = 200  # Twilio's webhooks carry a few dozen


async def read_form(request: Request, max_bytes: int) -> dict[str, str]:
    """A carrier webhook's urlencoded form, read as it arrives and never past `max_bytes` (413)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise HTTPException(status_code=415, detail="Expected application/x-www-form-urlencoded")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise HTTPException(status_code=413, detail="Request body too large")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise HTTPException(status_code=400, detail="Malformed form body") from None
    return dict(pairs)


async def require_twilio_signature(request: Request, services: AppServices) -> dict[str, str]:
    """Validate `X-Twilio-Signature` over PUBLIC_BASE_URL + path (never the Host header); 403 otherwise.

    Without the header the request is refused before its body is read; the body itself is bounded.
    Returns the form parameters as a plain dict.
    """
    signature = request.headers.get("x-twilio-signature")
    if not signature:
        metrics.STREAMS_REJECTED.labels(reason="no_webhook_signature").inc()
        log.warning("webhook_rejected", path=request.url.path, reason="no_signature")
        raise HTTPException(status_code=403, detail="Invalid Twilio signature")
    params = await read_form(request, services.settings.max_webhook_body_bytes)
    valid = services.signatures.webhook_is_valid(request.url.path, request.url.query, params, signature)
    if valid and params.get("AccountSid", services.settings.twilio_account_sid) != services.settings.twilio_account_sid:
        valid = False  # signed with our token, but for another account: not ours to answer
    if not valid:
        metrics.STREAMS_REJECTED.labels(reason="bad_webhook_signature").inc()
        log.warning("webhook_rejected", path=request.url.path)
        raise HTTPException(status_code=403, detail="Invalid Twilio signature")
    return params


_bearer = HTTPBearer(auto_error=False, description="ADMIN_API_TOKEN")


def require_admin(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """Bearer ADMIN_API_TOKEN, compared in constant time; 401 otherwise."""
    expected = get_services(request).settings.admin_api_token.get_secret_value()
    supplied = credentials.credentials if credentials else ""
    if not hmac.compare_digest(supplied.encode(), expected.encode()):
        raise HTTPException(
            status_code=401, detail="Missing or invalid admin token", headers={"WWW-Authenticate": "Bearer"}
        )
