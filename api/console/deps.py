"""Who is asking: the console session behind a request, its role, and its CSRF token.

Pages answer a missing session with a redirect to the login form; actions and event streams with 401.
A staff user asking for an admin page gets 403. State-changing forms must carry the session's CSRF token
(403 otherwise), checked before anything else is read from the form.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request

from api.deps import ServicesDep
from services.console.sessions import CSRF_FIELD, SESSION_COOKIE, tokens_match
from services.console.views import Viewer


class ConsoleLoginRequired(Exception):
    """A page was asked for without a session: answered with a redirect to the login form."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def login_url(next_path: str) -> str:
    return "/console/login?next=" + quote(next_path, safe="/")


async def _viewer(request: Request, services: ServicesDep) -> Viewer | None:
    console = services.console
    session = console.sessions.read_session(request.cookies.get(SESSION_COOKIE))
    if session is None:
        return None
    user = await console.accounts.current_user(session.username)
    if user is None or user.session_epoch != session.epoch:
        return None
    return Viewer(username=user.username, role=user.role, csrf_token=session.csrf_token)


async def page_viewer(request: Request, viewer: Annotated[Viewer | None, Depends(_viewer)]) -> Viewer:
    if viewer is None:
        raise ConsoleLoginRequired(request.url.path)
    return viewer


async def admin_page_viewer(viewer: Annotated[Viewer, Depends(page_viewer)]) -> Viewer:
    if not viewer.is_admin:
        raise HTTPException(status_code=403, detail="Admins only · yeh page sirf admin ke liye hai")
    return viewer


async def action_viewer(viewer: Annotated[Viewer | None, Depends(_viewer)]) -> Viewer:
    """Event streams and form posts: 401 without a session (no redirect for a machine to follow)."""
    if viewer is None:
        raise HTTPException(status_code=401, detail="Log in to the console first")
    return viewer


async def form_viewer(request: Request, viewer: Annotated[Viewer, Depends(action_viewer)]) -> Viewer:
    """A state-changing form: a session and its CSRF token, or 403."""
    form = await request.form()
    supplied = form.get(CSRF_FIELD)
    if not tokens_match(supplied if isinstance(supplied, str) else None, viewer.csrf_token):
        raise HTTPException(
            status_code=403, detail="Invalid or missing CSRF token · page reload karke dobara try karein"
        )
    return viewer


PageViewer = Annotated[Viewer, Depends(page_viewer)]
AdminViewer = Annotated[Viewer, Depends(admin_page_viewer)]
ActionViewer = Annotated[Viewer, Depends(action_viewer)]
FormViewer = Annotated[Viewer, Depends(form_viewer)]
