"""GET /metrics: Prometheus text format, for a scraper holding the read-only METRICS_API_TOKEN (or an admin)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.auth import require_metrics_reader
from services.metrics import REGISTRY

router = APIRouter(
    tags=["metrics"],
    dependencies=[Depends(require_metrics_reader)],
    responses={401: {"description": "Missing or invalid metrics or admin token"}},
)


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
async def prometheus_metrics() -> Response:
    """Active calls, outcomes, greeting/turn latency, barge-ins, tools, transfers, errors, tokens, cost."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
