"""Live calls: the board, following one call, taking a transfer and pushing a note (staff and admins).

The pages open an event stream (SSE, htmx's sse extension) whose events carry ready-made HTML fragments,
rendered per viewer (masking) from the shared feed's snapshots (`services.console.live_feed`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pymongo.errors import PyMongoError
from sse_starlette.sse import EventSourceResponse

from api.console.deps import ActionViewer, FormViewer, PageViewer
from api.console.render import render, render_fragment
from api.deps import ServicesDep
from models.call_record import utc_now
from services.console import views
from services.console.live_feed import BOARD, LiveFeed
from services.console.notes import MAX_NOTE_LENGTH, StaffNote
from services.console.views import Viewer
from services.store.calls import CallRepository
from utils.logger import get_logger

log = get_logger(__name__)
router = APIRouter()

SSE_PING_S = 15


@router.get("", response_class=HTMLResponse)
async def live_board(request: Request, viewer: PageViewer) -> Response:
    return render(request, "live.html", {"page": "live"}, viewer)


def _events(feed: LiveFeed, topic: str, event: str, fragment: Any) -> AsyncIterator[dict[str, str]]:
    async def stream() -> AsyncIterator[dict[str, str]]:
        async with feed.subscribe(topic) as queue:
            while True:
                snapshot = await queue.get()
                yield {"event": event, "data": fragment(snapshot)}

    return stream()


@router.get("/live/stream")
async def board_stream(request: Request, viewer: ActionViewer, services: ServicesDep) -> EventSourceResponse:
    zone = services.settings.support_timezone

    def fragment(documents: list[dict[str, Any]]) -> str:
        return render_fragment("_board.html", {"viewer": viewer, "zone": zone, **views.board(documents, viewer)})

    return EventSourceResponse(_events(services.console.feed, BOARD, "board", fragment), ping=SSE_PING_S)


async def _call_or_404(services: ServicesDep, call_sid: str) -> dict[str, Any]:
    try:
        document = await services.db.calls.get(call_sid)
    except PyMongoError:
        raise HTTPException(status_code=503, detail="Database unavailable") from None
    if document is None:
        raise HTTPException(status_code=404, detail="No such call · yeh call nahi mili")
    return document


@router.get("/live/{call_sid}", response_class=HTMLResponse)
async def follow_call(request: Request, call_sid: str, viewer: PageViewer, services: ServicesDep) -> Response:
    document = await _call_or_404(services, call_sid)
    return render(request, "call_live.html", {"page": "live", "call": views.call_view(document, viewer)}, viewer)


@router.get("/live/{call_sid}/stream")
async def call_stream(call_sid: str, viewer: ActionViewer, services: ServicesDep) -> EventSourceResponse:
    await _call_or_404(services, call_sid)
    zone = services.settings.support_timezone

    def fragment(document: dict[str, Any] | None) -> str:
        call = views.call_view(document, viewer) if document is not None else None
        return render_fragment("_call_live.html", {"viewer": viewer, "zone": zone, "call": call})

    feed = services.console.feed
    return EventSourceResponse(_events(feed, feed.call_topic(call_sid), "call", fragment), ping=SSE_PING_S)


def _back_to(request: Request, call_sid: str) -> str:
    referer = request.headers.get("referer", "")
    return "/console" if referer.rstrip("/").endswith("/console") else f"/console/live/{call_sid}"


@router.post("/calls/{call_sid}/take")
async def take_transfer(request: Request, call_sid: str, viewer: FormViewer, services: ServicesDep) -> Response:
    document = await _call_or_404(services, call_sid)
    if not document.get("transfer"):
        raise HTTPException(status_code=409, detail="This call has no transfer to take")
    taken = await services.db.calls.take_transfer(call_sid, viewer.username, utc_now())
    if not taken:
        holder = (document.get("transfer_taken_by") or {}).get("username", "someone else")
        raise HTTPException(status_code=409, detail=f"Already taken by {holder}")
    log.info("console_transfer_taken", call_sid=call_sid, username=viewer.username)
    return RedirectResponse(_back_to(request, call_sid), status_code=303)


@router.post("/calls/{call_sid}/notes")
async def push_note(
    call_sid: str,
    viewer: FormViewer,
    services: ServicesDep,
    text: Annotated[str, Form(max_length=MAX_NOTE_LENGTH)] = "",
) -> Response:
    text = text.strip()
    if not text:
        raise HTTPException(status_code=422, detail="The note is empty")
    note = await store_note(services.db.calls, call_sid, text, viewer)
    if note is None:
        raise HTTPException(status_code=404, detail="No such call · yeh call nahi mili")
    await services.console.note_delivery.deliver_note(call_sid, note)
    return RedirectResponse(f"/console/live/{call_sid}", status_code=303)


async def store_note(calls: CallRepository, call_sid: str, text: str, viewer: Viewer) -> StaffNote | None:
    note = StaffNote(text=text, author=viewer.username)
    if not await calls.add_staff_note(call_sid, note):
        return None
    log.info("console_note_stored", call_sid=call_sid, author=viewer.username, length=len(text))
    return note
