"""`create_ticket`: a support ticket with a short id that reads well aloud."""

from __future__ import annotations

from typing import Any

from models.commerce import TicketPriority
from models.tools import CreateTicketArgs, TicketFiled, ToolEffects
from services.tools.registry import ToolContext, ToolReply, failure, success
from utils.hinglish import (
    normalize_order_id,
    normalize_phone,
    speak_digits,
)
from utils.logger import get_logger

log = get_logger(__name__)


# ------------------------------------------------------------------------------------------ tickets

_DEFAULT_PRIORITY: dict[str, TicketPriority] = {
    "damaged_item": "high",
    "wrong_item": "high",
    "payment": "high",
    "refund": "high",
}
_RESPONSE_WITHIN = {"urgent": "4 hours", "high": "24 hours", "medium": "48 hours", "low": "72 hours"}


async def create_ticket(args: CreateTicketArgs, ctx: ToolContext) -> ToolReply:
    order_id = None
    if args.order_id is not None:
        order_id = normalize_order_id(args.order_id)
        if order_id is None:
            return failure("invalid_order_id", "Sorry, I could not catch the order number. Please say it again.")
    phone = ctx.caller_phone
    if args.callback_phone is not None:
        phone = normalize_phone(args.callback_phone)
        if phone is None:
            return failure("invalid_phone", "Sorry, I could not catch that number. Please say the 10 digits again.")
    if args.category == "callback" and phone is None:
        return failure("phone_needed", "Please tell me a mobile number we can call you back on.")

    # The model may retry a call it thinks failed (or ask twice at once): one ticket per issue per call.
    issue = (args.category, order_id)
    async with ctx.ticket_lock:
        ticket = ctx.tickets.get(issue)
        already_existed = ticket is not None
        if ticket is None:
            ticket = await ctx.db.tickets.create(
                category=args.category,
                description=args.description,
                priority=args.priority or _DEFAULT_PRIORITY.get(args.category, "medium"),
                call_sid=ctx.call_sid,
                phone=phone,
                order_id=order_id,
            )
            ctx.tickets[issue] = ticket
            log.info("ticket_created", call_sid=ctx.call_sid, ticket_id=ticket.ticket_id, category=ticket.category)
    out: dict[str, Any] = {
        "ticket_id": ticket.ticket_id,
        "ticket_id_spoken": speak_digits(ticket.ticket_id),
        "response_within": _RESPONSE_WITHIN[ticket.priority],
    }
    if already_existed:
        out["already_existed"] = True
    if args.callback_phone is not None and phone is not None:
        out["callback_number_ends_with"] = speak_digits(phone[-4:])
    if already_existed:
        return success(**out)
    filed = TicketFiled(ticket_id=ticket.ticket_id, response_within=out["response_within"])
    return success(ToolEffects(ticket_filed=filed), **out)
