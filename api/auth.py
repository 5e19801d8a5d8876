"""Bearer tokens for the read-only endpoints: GET /metrics takes METRICS_API_TOKEN or ADMIN_API_TOKEN.

The admin endpoints (`/call/<sid>`, `/calls`, `/outbound-call`) take ADMIN_API_TOKEN only
(`api.deps.require_admin`), so a Prometheus scraper's token cannot read transcripts or place calls.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from api.deps import get_services

_metrics_bearer = HTTPBearer(
    auto_error=False, scheme_name="MetricsBearer", description="METRICS_API_TOKEN (read-only) or ADMIN_API_TOKEN"
)


def token_matches(supplied: str, expected: SecretStr | None) -> bool:
    """Constant-time comparison; an unset token matches nothing (not even an empty bearer)."""
    if expected is None:
        hmac.compare_digest(supplied.encode(), supplied.encode())  # same work either way
        return False
    return hmac.compare_digest(supplied.encode(), expected.get_secret_value().encode())


def require_metrics_reader(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_metrics_bearer)]
) -> None:
    """Bearer METRICS_API_TOKEN or ADMIN_API_TOKEN, both compared in constant time; 401 otherwise."""
    settings = get_services(request).settings
    supplied = credentials.credentials if credentials else ""
    # `|`, not `or`: both comparisons always run, so timing does not tell which token was tried.
    allowed = token_matches(supplied, settings.metrics_api_token) | token_matches(supplied, settings.admin_api_token)
    if not supplied or not allowed:
        raise HTTPException(
            status_code=401, detail="Missing or invalid metrics token", headers={"WWW-Authenticate": "Bearer"}
        )
