"""Admin API (bearer ADMIN_API_TOKEN): call records and live metrics."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import require_admin
from services.metrics import REGISTRY

router = APIRouter(tags=["admin"], dependencies=[Depends(require_admin)])


@router.get("/metrics", response_class=Response)
async def prometheus_metrics() -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
