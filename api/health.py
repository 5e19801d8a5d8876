"""Liveness and readiness (open, no token): the service is up, and the database answers a ping."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(services: ServicesDep) -> JSONResponse:
    database_ok = await services.db.ping()
    body = {
        "status": "ok" if database_ok else "degraded",
        "live": True,
        "ready": database_ok,
        "database": "ok" if database_ok else "unreachable",
        "active_calls": len(services.live_calls),
    }
    return JSONResponse(body, status_code=200 if database_ok else 503)
