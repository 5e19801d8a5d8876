"""Liveness and readiness (open, no token): the service is up, not draining, and the database answers a ping.

`GET /health` is the readiness probe: 503 when the database is unreachable, and from the moment the
process got SIGTERM (draining: live calls go on, a load balancer should send new ones elsewhere).
`GET /health/live` is the liveness probe: 200 while the process serves, draining or not (a liveness
probe on `/health` would have the orchestrator kill a draining node's calls).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(services: ServicesDep) -> JSONResponse:
    database_ok = await services.db.ping()
    draining = services.admission.draining
    ready = database_ok and not draining
    body = {
        "status": "draining" if draining else "ok" if database_ok else "degraded",
        "live": True,
        "ready": ready,
        "draining": draining,
        "database": "ok" if database_ok else "unreachable",
        "active_calls": len(services.live_calls),
        "node": services.settings.node_id,
    }
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/health/live")
async def live(services: ServicesDep) -> JSONResponse:
    return JSONResponse({"live": True, "draining": services.admission.draining, "node": services.settings.node_id})
