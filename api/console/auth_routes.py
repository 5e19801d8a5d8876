"""Log in (form → signed session cookie) and log out."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.console.deps import FormViewer, _viewer
from api.console.render import SECURITY_HEADERS, render
from api.deps import ServicesDep
from models.call_record import utc_now
from services.console.sessions import LOGIN_CSRF_COOKIE, SESSION_COOKIE, SessionCodec
from services.console.views import Viewer

router = APIRouter()


def _safe_next(next_path: str | None) -> str:
    # Only our own pages: "//evil.example" or "https://…" would make the login an open redirect.
    if next_path and next_path.startswith("/console") and not next_path.startswith("//"):
        return next_path
    return "/console"


def _login_page(
    request: Request, codec: SessionCodec, *, next_path: str, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    token, cookie = codec.new_login_token()
    response = render(
        request, "login.html", {"login_token": token, "next": next_path, "error": error}, status_code=status_code
    )
    response.set_cookie(LOGIN_CSRF_COOKIE, cookie, **codec.cookie_options(3600))
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_form(
    request: Request,
    services: ServicesDep,
    viewer: Annotated[Viewer | None, Depends(_viewer)],
    next: str | None = None,
) -> Response:
    if viewer is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_page(request, services.console.sessions, next_path=_safe_next(next))


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    services: ServicesDep,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=512)] = "/console",
) -> Response:
    console = services.console
    next_path = _safe_next(next)
    if not console.sessions.login_token_valid(request.cookies.get(LOGIN_CSRF_COOKIE), csrf_token):
        return _login_page(
            request,
            console.sessions,
            next_path=next_path,
            error="The form expired · page purana ho gaya, please try again.",
            status_code=403,
        )
    result = await console.accounts.login(username, password)
    if result.locked_until is not None:
        minutes = max(1, math.ceil((result.locked_until - utc_now()).total_seconds() / 60))
        error = (
            f"Too many failed logins: this account is locked for {minutes} more minute(s) · thodi der baad try karein."
        )
        return _login_page(request, console.sessions, next_path=next_path, error=error, status_code=429)
    if result.user is None:
        error = "Wrong user name or password · galat naam ya password."
        return _login_page(request, console.sessions, next_path=next_path, error=error, status_code=401)
    _, cookie = console.sessions.new_session(result.user.username, result.user.session_epoch)
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(SESSION_COOKIE, cookie, **console.sessions.cookie_options(console.sessions.max_age_s))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/console")
    response.headers.update(SECURITY_HEADERS)
    return response


@router.post("/logout")
async def logout(viewer: FormViewer, services: ServicesDep) -> Response:
    await services.console.accounts.end_sessions(viewer.username)
    response = RedirectResponse("/console/login", status_code=303)
    codec = services.console.sessions
    response.delete_cookie(SESSION_COOKIE, path="/console", secure=codec.secure, httponly=True, samesite="lax")
    return response
