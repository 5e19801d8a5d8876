"""`create_ticket`: a support ticket with a short id that reads well aloud.

At most `max_tickets_per_call` new tickets per call (each one texts the caller), only orders the caller
may see, callbacks only to numbers we may call, and a caller without an E.164 number (SIP, client)
files with no phone.
"""

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
from utils.phone import may_call_back

log = get_logger(__name__)


# ------------------------------------------------------------------------------------------ tickets

_DEFAULT_PRIORITY: dict[str, TicketPriority] = {
    "damaged_item": "high",
    "wrong_item": "high",
    "payment": "high",
    "refund": "high",
}
_RESPONSE_WITHIN = {"urgent": "4 hours", "high": "24 hours", "medium": "48 hours", "low": "72 hours"}


_NO_SUCH_ORDER = (
    "Sorry, I could not find that order for you. Please check the order number, or I can raise the ticket without it."
)


async def _linked_order(args: CreateTicketArgs, ctx: ToolContext) -> str | ToolReply | None:
    """The order the ticket may cite: one the caller may see; cancelling needs a one-time code.

    Someone else's order and a missing one get the same failure: a ticket (and the agent's whisper,
    which reads the call's order to staff) never cites an order the caller could not have heard.
    """
    if args.order_id is None:
        if args.category == "cancellation":
            return failure("order_needed", "Please tell me the order number you want to cancel.")
        return None
    order_id = normalize_order_id(args.order_id)
    if order_id is None:
        return failure("invalid_order_id", "Sorry, I could not catch the order number. Please say it again.")
    order = await ctx.db.orders.get(order_id)
    if order is None or not ctx.may_see_order(order):
        return failure("order_not_found", _NO_SUCH_ORDER)
    if args.category == "cancellation" and not ctx.may_see_details(order.customer_phone):
        return failure(
            "verification_required",
            "To cancel an order I first need to verify it is you: I can send a one-time code by SMS to the "
            "mobile number registered on the order.",
            next_step="Offer send_verification_code for this order; after lookup_order accepts the code, "
            "call create_ticket again.",
        )
    return order_id


def _callback_number(args: CreateTicketArgs, ctx: ToolContext) -> str | ToolReply | None:
    if args.callback_phone is None:
        return ctx.caller_phone
    phone = normalize_phone(args.callback_phone)
    if phone is None:
        return failure("invalid_phone", "Sorry, I could not catch that number. Please say the 10 digits again.")
    if not may_call_back(phone, ctx.settings.outbound_call_countries):
        return failure(
            "unsupported_phone",
            "Sorry, we cannot call back on that number. Please tell me a mobile number in India.",
        )
    return phone


async def create_ticket(args: CreateTicketArgs, ctx: ToolContext) -> ToolReply:
    linked = await _linked_order(args, ctx)
    if isinstance(linked, ToolReply):
        return linked
    order_id = linked
    phone = _callback_number(args, ctx)
    if isinstance(phone, ToolReply):
        return phone
    if args.category == "callback" and phone is None:
        return failure("phone_needed", "Please tell me a mobile number we can call you back on.")

    # The model may retry a call it thinks failed (or ask twice at once): one ticket per issue per call.
    issue = (args.category, order_id)
    cap = ctx.settings.max_tickets_per_call
    async with ctx.ticket_lock:
        ticket = ctx.tickets.get(issue)
        already_existed = ticket is not None
        if ticket is None:
            if len(ctx.tickets) >= cap:
                log.warning("ticket_limit_reached", call_sid=ctx.call_sid, limit=cap)
                return failure(
                    "ticket_limit_reached",
                    f"I have already raised {cap} tickets on this call, which is the most I can raise on one call. "
                    "Our team will look at all of them. If you need more help, I can connect you to our team.",
                )
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
