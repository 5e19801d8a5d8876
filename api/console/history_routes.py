"""History (admins): the call list with filters and one call in full. Tickets (staff and admins): the queue,
status changes and notes."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.console.deps import AdminViewer, FormViewer, PageViewer
from api.console.live_routes import _call_or_404
from api.console.render import render
from api.deps import ServicesDep
from models.call_record import CallStatus, utc_now
from models.commerce import TicketStatus
from services.console import views
from services.console.notes import MAX_NOTE_LENGTH
from services.store.calls import CallFilter
from utils.hinglish import normalize_phone
from utils.logger import get_logger

log = get_logger(__name__)
router = APIRouter()

PAGE_SIZE = 25
TICKET_QUEUE_LIMIT = 100
QUEUES: dict[str, list[TicketStatus]] = {
    "open": ["open"],
    "in_progress": ["in_progress"],
    "resolved": ["resolved", "closed"],
}


@router.get("/calls", response_class=HTMLResponse)
async def call_history(
    request: Request,
    viewer: AdminViewer,
    services: ServicesDep,
    status: Annotated[CallStatus | Literal[""], Query()] = "",
    date_from: Annotated[date | None, Query()] = None,
    date_to: Annotated[date | None, Query()] = None,
    transferred: Annotated[Literal["", "yes", "no"], Query()] = "",
    number: Annotated[str, Query(max_length=32)] = "",
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> Response:
    if date_from and date_to and date_from > date_to:
        raise HTTPException(status_code=422, detail="date_from is after date_to")
    phone = normalize_phone(number) if number.strip() else None
    if number.strip() and phone is None:
        raise HTTPException(status_code=422, detail="Not a phone number · number sahi nahi hai")
    filters = CallFilter.for_days(
        zone=ZoneInfo(services.settings.support_timezone),
        status=status or None,
        date_from=date_from,
        date_to=date_to,
        transferred={"yes": True, "no": False}.get(transferred),
    )
    total, documents = await services.db.calls.page(filters, number=phone, limit=PAGE_SIZE, offset=offset)
    rows = [
        {
            **views.live_row(document, viewer),
            "status": document.get("status"),
            "started_at": document.get("started_at"),
            "transfer": (document.get("transfer") or {}).get("status"),
            "tickets": document.get("tickets") or [],
            "cost_inr": (document.get("usage") or {}).get("cost_inr", 0.0),
        }
        for document in documents
    ]
    query = {
        "status": status,
        "date_from": date_from or "",
        "date_to": date_to or "",
        "transferred": transferred,
        "number": number,
    }
    context: dict[str, Any] = {
        "page": "history",
        "rows": rows,
        "total": total,
        "offset": offset,
        "page_size": PAGE_SIZE,
        "query": query,
        "statuses": get_args(CallStatus),
    }
    return render(request, "calls.html", context, viewer)


@router.get("/calls/{call_sid}", response_class=HTMLResponse)
async def call_detail(request: Request, call_sid: str, viewer: AdminViewer, services: ServicesDep) -> Response:
    document = await _call_or_404(services, call_sid)
    tickets = [
        ticket for ticket_id in views.ids_in(document)[1] if (ticket := await services.db.tickets.get(ticket_id))
    ]
    context = {"page": "history", "call": views.call_view(document, viewer), "ticket_rows": tickets}
    return render(request, "call_detail.html", context, viewer)


@router.get("/tickets", response_class=HTMLResponse)
async def ticket_queue(
    request: Request,
    viewer: PageViewer,
    services: ServicesDep,
    queue: Annotated[Literal["open", "in_progress", "resolved"], Query()] = "open",
) -> Response:
    documents = await services.db.tickets.queue(QUEUES[queue], limit=TICKET_QUEUE_LIMIT)
    tickets = [
        {
            "ticket_id": document["_id"],
            "category": document.get("category"),
            "priority": document.get("priority"),
            "status": document.get("status"),
            "description": viewer.text(str(document.get("description", ""))),
            "phone": viewer.number(document.get("phone")),
            "order_id": document.get("order_id"),
            "call_sid": document.get("call_sid"),
            "created_at": document.get("created_at"),
            "notes": views.notes({"staff_notes": document.get("notes")}, viewer),
        }
        for document in documents
    ]
    return render(request, "tickets.html", {"page": "tickets", "queue": queue, "tickets": tickets}, viewer)


@router.post("/tickets/{ticket_id}/status")
async def ticket_status(
    ticket_id: str,
    viewer: FormViewer,
    services: ServicesDep,
    status: Annotated[Literal["open", "in_progress", "resolved"], Form()],
) -> Response:
    if not await services.db.tickets.set_status(ticket_id, status):
        raise HTTPException(status_code=404, detail="No such ticket")
    log.info("console_ticket_status", ticket_id=ticket_id, status=status, username=viewer.username)
    return RedirectResponse(f"/console/tickets?queue={status}", status_code=303)


@router.post("/tickets/{ticket_id}/notes")
async def ticket_note(
    ticket_id: str,
    viewer: FormViewer,
    services: ServicesDep,
    text: Annotated[str, Form(max_length=MAX_NOTE_LENGTH)] = "",
    queue: Annotated[Literal["open", "in_progress", "resolved"], Form()] = "open",
) -> Response:
    if not text.strip():
        raise HTTPException(status_code=422, detail="The note is empty")
    note = {"text": text.strip(), "author": viewer.username, "at": utc_now()}
    if not await services.db.tickets.add_note(ticket_id, note):
        raise HTTPException(status_code=404, detail="No such ticket")
    return RedirectResponse(f"/console/tickets?queue={queue}", status_code=303)
