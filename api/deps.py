"""FastAPI dependencies: the process services, Twilio signature checks, the admin bearer token."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, WebSocket
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services import metrics
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


async def require_twilio_signature(request: Request, services: AppServices) -> dict[str, str]:
    """Validate `X-Twilio-Signature` over PUBLIC_BASE_URL + path (never the Host header); 403 otherwise.

    Returns the form parameters as a plain dict.
    """
    form = await request.form()
    params = {key: str(value) for key, value in form.multi_items()}
    valid = services.signatures.webhook_is_valid(
        request.url.path, request.url.query, params, request.headers.get("x-twilio-signature")
    )
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
