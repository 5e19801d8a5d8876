"""The staff console under /console: thin routers over `services.console`, templates and static files in web/."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.console import auth_routes, history_routes, live_routes
from api.console.deps import AdminViewer, ConsoleLoginRequired, login_url
from api.console.render import WEB_ROOT, render
from api.deps import ServicesDep
from services.console.stats import at_a_glance

stats_router = APIRouter()


@stats_router.get("/stats", response_class=HTMLResponse)
async def numbers_at_a_glance(request: Request, viewer: AdminViewer, services: ServicesDep) -> Response:
    glance = await at_a_glance(services.db, services.settings.support_timezone)
    return render(request, "stats.html", {"page": "stats", "glance": glance}, viewer)


# Every console route, all under /console (the tests walk this to check each one refuses strangers).
CONSOLE_ROUTERS = (auth_routes.router, live_routes.router, history_routes.router, stats_router)


def install_console(app: FastAPI) -> None:
    """Mount the console on the app: its routes, its static files, and the login redirect for pages."""
    for router in CONSOLE_ROUTERS:
        app.include_router(router, prefix="/console", tags=["console"], include_in_schema=False)
    # Public on purpose: the vendored htmx and the stylesheet, which the login page needs too.
    app.mount("/console/static", StaticFiles(directory=WEB_ROOT / "static"), name="console-static")

    async def to_login(request: Request, error: Exception) -> Response:
        assert isinstance(error, ConsoleLoginRequired)
        return RedirectResponse(login_url(error.next_path), status_code=303)

    async def console_error_page(request: Request, error: Exception) -> Response:
        # A browser on a console page gets a page it can read; everything else keeps FastAPI's JSON errors.
        assert isinstance(error, StarletteHTTPException)
        if request.url.path.startswith("/console") and "text/html" in request.headers.get("accept", ""):
            context = {"status": error.status_code, "detail": error.detail}
            return render(request, "error.html", context, status_code=error.status_code)
        return await http_exception_handler(request, error)

    app.add_exception_handler(ConsoleLoginRequired, to_login)
    app.add_exception_handler(StarletteHTTPException, console_error_page)
