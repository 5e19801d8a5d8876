"""Jinja2 templates of the console (web/templates, autoescaped) and the headers every console page gets."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from services.console.sessions import CSRF_FIELD
from services.console.views import Viewer, format_duration

WEB_ROOT = Path(__file__).resolve().parents[2] / "web"
templates = Jinja2Templates(directory=WEB_ROOT / "templates")

# Scripts and styles only from our own origin (htmx is vendored); nothing may frame the console.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _local_time(value: datetime | None, zone: str = "Asia/Kolkata", fmt: str = "%d %b %H:%M:%S") -> str:
    if not isinstance(value, datetime):
        return "–"
    return value.astimezone(ZoneInfo(zone)).strftime(fmt)


def _number(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


templates.env.filters["local_time"] = _local_time
templates.env.filters["duration"] = format_duration
templates.env.filters["num"] = _number


def render(
    request: Request, name: str, context: dict[str, Any], viewer: Viewer | None = None, status_code: int = 200
) -> HTMLResponse:
    zone = request.app.state.services.settings.support_timezone
    full = {"viewer": viewer, "csrf_field": CSRF_FIELD, "zone": zone, **context}
    response = templates.TemplateResponse(request, name, full, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    return response


def render_fragment(name: str, context: dict[str, Any]) -> str:
    """A template as a string (an SSE event's data)."""
    return templates.get_template(name).render({"csrf_field": CSRF_FIELD, **context})
