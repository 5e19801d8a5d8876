"""The assistant's tools: one registry (schemas + dispatch) and the five tools behind it.

`ToolRegistry.execute` is the only entry point the call bridge uses. It never raises (except
`CancelledError`): bad JSON, invalid arguments, unknown tools, database errors and timeouts all come
back as a short structured result the assistant can speak about. Tool outputs are read aloud, so
they are short, in Indian formats (₹1,23,456, "5 March 2026"), and never carry another customer's
data: an order is shown only to the phone it belongs to, or after the caller passes verification.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as clock_time
from typing import Any, Literal
from zoneinfo import ZoneInfo

import structlog
from pydantic import BaseModel, Field, ValidationError
from pymongo.errors import PyMongoError

from config.settings import Settings
from models.commerce import Customer, Order, Product, Ticket, TicketPriority, Transfer, utc_now
from models.tools import (
    CheckProductAvailabilityArgs,
    CreateTicketArgs,
    EndCallArgs,
    LookupOrderArgs,
    TransferToHumanArgs,
)
from services.database_service import Database
from utils.hinglish import (
    format_date_indian,
    format_inr,
    mask_phone,
    normalize_digits,
    normalize_order_id,
    normalize_phone,
    normalize_pincode,
    parse_quantity,
    speak_digits,
)

log = structlog.get_logger(__name__)

Action = Literal["transfer", "end_call"]


# ------------------------------------------------------------------------------------------ context


@dataclass
class ToolContext:
    """Everything a tool may know about the call it runs in; one per call, owned by the call session."""

    call_sid: str
    caller_phone: str | None  # E.164 from Twilio "From"
    db: Database
    settings: Settings
    conversation_summary: Callable[[], str]
    verified_phones: set[str] = field(default_factory=set)  # owners whose orders this caller may hear
    failed_verifications: int = 0
    clock: Callable[[], datetime] = utc_now  # injectable so support hours can be tested
    # Tickets filed in this call by (category, order id): a retried tool call must not file twice.
    tickets: dict[tuple[str, str | None], Ticket] = field(default_factory=dict)
    ticket_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def verification_locked(self) -> bool:
        return self.failed_verifications >= self.settings.max_verification_attempts

    def may_see(self, owner_phone: str) -> bool:
        return owner_phone == self.caller_phone or owner_phone in self.verified_phones

    def local_now(self) -> datetime:
        return self.clock().astimezone(ZoneInfo(self.settings.support_timezone))


# ------------------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class ToolReply:
    """What a tool function returns: the output for the model, an error code, an action for the bridge."""

    output: dict[str, Any]
    error: str | None = None
    action: Action | None = None


def success(action: Action | None = None, **fields: Any) -> ToolReply:
    return ToolReply(output={"ok": True, **fields}, action=action)


def failure(error: str, message_for_caller: str, **fields: Any) -> ToolReply:
    return ToolReply(
        output={"ok": False, "error": error, "message_for_caller": message_for_caller, **fields}, error=error
    )


class ToolResult(BaseModel):
    call_id: str
    name: str
    arguments: dict[str, Any]
    ok: bool
    output: dict[str, Any]  # function_call_output for the model (the bridge JSON-dumps it)
    error: str | None = None
    duration_ms: float
    action: Action | None = None  # the bridge acts on it after the spoken line
    started_at: datetime = Field(default_factory=utc_now)


ToolFunc = Callable[[Any, ToolContext], Awaitable[ToolReply | dict[str, Any]]]

_SORRY_REPEAT = "Sorry, I did not get that clearly. Could you please say it again?"
_SORRY_SYSTEM = "Sorry, our system is not responding right now. Please try again in a few minutes."
_SORRY_SLOW = "Sorry, our system is taking too long right now. Shall I try once more?"
_SORRY_CANNOT = "Sorry, I cannot do that on this call."


# ------------------------------------------------------------------------------------------ registry


def compact_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Pydantic's JSON schema minus what only costs tokens: titles, `null` branches, `default: null`,
    string length limits (still enforced when arguments are validated).

    An optional argument becomes its plain type and is simply not `required`, which is how the
    Realtime model is used to seeing optional parameters.
    """

    def clean(node: Any) -> Any:
        if isinstance(node, list):
            return [clean(item) for item in node]
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "title":
                continue
            if key == "properties":  # keys here are argument names, which may be "title"
                out[key] = {name: clean(prop) for name, prop in value.items()}
            else:
                out[key] = clean(value)
        for key in ("minLength", "maxLength"):
            out.pop(key, None)
        branches = out.get("anyOf")
        if isinstance(branches, list) and {"type": "null"} in branches and len(branches) == 2:
            (inner,) = [branch for branch in branches if branch != {"type": "null"}]
            del out["anyOf"]
            out = {**inner, **out}
        if "default" in out and out["default"] is None:
            del out["default"]
        return out

    cleaned = clean(schema)
    cleaned["additionalProperties"] = False
    cleaned.setdefault("properties", {})
    return cleaned


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    args_model: type[BaseModel]
    func: ToolFunc
    schema: dict[str, Any]


class ToolRegistry:
    def __init__(self) -> None:
        self._tools: dict[str, ToolSpec] = {}

    def register(self, name: str, description: str, args_model: type[BaseModel], func: ToolFunc) -> None:
        if name in self._tools:
            raise ValueError(f"tool {name!r} is already registered")
        schema = compact_schema(args_model.model_json_schema())
        self._tools[name] = ToolSpec(name, description, args_model, func, schema)

    def tool(self, name: str, description: str, args_model: type[BaseModel]) -> Callable[[ToolFunc], ToolFunc]:
        """Decorator form of `register`."""

        def decorator(func: ToolFunc) -> ToolFunc:
            self.register(name, description, args_model, func)
            return func

        return decorator

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def session_tools(self) -> list[dict[str, Any]]:
        """The `tools` of the Realtime `session.update`."""
        return [
            {"type": "function", "name": spec.name, "description": spec.description, "parameters": spec.schema}
            for spec in self._tools.values()
        ]

    async def execute(
        self, call_id: str, name: str, arguments_json: str, ctx: ToolContext, timeout_s: float
    ) -> ToolResult:
        """Validate, run with a timeout, and turn every failure into a structured result. Never raises
        (except `CancelledError`, so the call session can still cancel its tool tasks)."""
        started_at = utc_now()
        start = time.perf_counter()
        arguments: dict[str, Any] = {}
        try:
            arguments = _parse_arguments(arguments_json)
            reply = await self._run(name, arguments, ctx, timeout_s)
        except asyncio.CancelledError:
            raise
        except _BadArguments as error:
            arguments = {"_raw": (arguments_json or "")[:200]}
            reply = failure("invalid_arguments", _SORRY_REPEAT, detail=str(error))
        except ValidationError as error:
            reply = failure("invalid_arguments", _SORRY_REPEAT, detail=_validation_detail(error))
        except PyMongoError as error:
            log.warning("tool_database_error", tool=name, call_sid=ctx.call_sid, error=type(error).__name__)
            reply = failure("database_error", _SORRY_SYSTEM)
        except TimeoutError:
            log.warning("tool_timeout", tool=name, call_sid=ctx.call_sid, timeout_s=timeout_s)
            reply = failure("timeout", _SORRY_SLOW)
        except Exception:
            log.exception("tool_crashed", tool=name, call_sid=ctx.call_sid)
            reply = failure("internal_error", _SORRY_SYSTEM)
        return ToolResult(
            call_id=call_id,
            name=name,
            arguments=arguments,
            ok=reply.error is None,
            output=reply.output,
            error=reply.error,
            duration_ms=(time.perf_counter() - start) * 1000,
            action=reply.action,
            started_at=started_at,
        )

    async def _run(self, name: str, arguments: dict[str, Any], ctx: ToolContext, timeout_s: float) -> ToolReply:
        spec = self._tools.get(name)
        if spec is None:
            return failure("unknown_tool", _SORRY_CANNOT, detail=f"available tools: {', '.join(self._tools)}")
        args = spec.args_model.model_validate(arguments)
        async with asyncio.timeout(timeout_s):
            reply = await spec.func(args, ctx)
        return reply if isinstance(reply, ToolReply) else success(**reply)


class _BadArguments(ValueError):
    pass


def _parse_arguments(arguments_json: str | None) -> dict[str, Any]:
    if arguments_json is None or not arguments_json.strip():
        return {}  # a tool without arguments may arrive as ""
    try:
        value = json.loads(arguments_json)
    except ValueError as error:
        raise _BadArguments("arguments are not valid JSON") from error
    if not isinstance(value, dict):
        raise _BadArguments("arguments must be a JSON object")
    return value


def _validation_detail(error: ValidationError) -> str:
    parts = [f"{'.'.join(map(str, item['loc'])) or 'arguments'}: {item['msg']}" for item in error.errors()]
    return "; ".join(parts)[:300]


# ------------------------------------------------------------------------------------------ speaking orders

_STATUS_TEXT = {
    "placed": "Order placed, it will be packed soon",
    "packed": "Packed, waiting for courier pickup",
    "shipped": "Shipped, on the way",
    "out_for_delivery": "Out for delivery",
    "delivered": "Delivered",
    "cancelled": "Cancelled",
    "returned": "Returned",
}
_PAYMENT_TEXT = {"COD": "Cash on Delivery", "UPI": "UPI", "card": "card"}
_REFUND_TEXT = {
    "pending": "Refund of {amount} is in process, it usually reaches in 5 to 7 working days",
    "processed": "Refund of {amount} is done",
    "failed": "Refund of {amount} failed, it needs a ticket",
}
_IN_TRANSIT = ("placed", "packed", "shipped", "out_for_delivery")
_MAX_ITEMS_SPOKEN = 3


def _items_text(order: Order) -> str:
    parts = [f"{item.name} x {item.qty}" for item in order.items[:_MAX_ITEMS_SPOKEN]]
    extra = len(order.items) - _MAX_ITEMS_SPOKEN
    return "; ".join(parts) + (f"; and {extra} more" if extra > 0 else "")


def order_view(order: Order, ctx: ToolContext, brief: bool = False) -> dict[str, Any]:
    """An order as the assistant should say it. `brief` drops courier details for lists."""
    now = ctx.local_now()
    total = format_inr(order.total_inr)
    view: dict[str, Any] = {
        "order_id": order.order_id,
        "order_id_spoken": speak_digits(order.order_id),
        "status": order.status,
        "status_text": _STATUS_TEXT[order.status],
        "items": _items_text(order),
        "total": total,
        "payment": _PAYMENT_TEXT[order.payment_method],
        "placed_on": format_date_indian(order.placed_at.astimezone(now.tzinfo)),
    }
    if order.status in _IN_TRANSIT and order.expected_delivery:
        view["expected_delivery"] = format_date_indian(order.expected_delivery)
        if order.expected_delivery < now.date():
            view["delayed"] = True
    if order.delivered_on:
        view["delivered_on"] = format_date_indian(order.delivered_on)
    if order.courier and not brief and order.status not in ("placed", "cancelled"):
        view["courier"] = order.courier
        if order.tracking_id:
            view["tracking_id"] = order.tracking_id
    if order.refund_status in _REFUND_TEXT:
        view["refund"] = _REFUND_TEXT[order.refund_status].format(amount=total)
    return view


# ------------------------------------------------------------------------------------------ lookup_order

_ASK_VERIFICATION = (
    "For your safety, please tell me the delivery pincode, or the last four digits of the phone number on this order."
)
_VERIFICATION_LOCKED = (
    "Sorry, I cannot share order details on this call. Please call from your registered number, "
    "or I can raise a ticket for you."
)


def _verification_matches(answer: str, order: Order, customer: Customer | None) -> bool:
    """The order's delivery pincode or the owner's registered pincode (6 digits), the last four digits
    of the owner's number, or the whole number."""
    digits = normalize_digits(answer) or ""
    if len(digits) == 6:
        pincodes = {order.shipping_pincode} | ({customer.pincode} if customer else set())
        return digits in pincodes
    if len(digits) == 4:
        return digits == order.customer_phone[-4:]
    return normalize_phone(answer) == order.customer_phone


async def lookup_order(args: LookupOrderArgs, ctx: ToolContext) -> ToolReply:
    if args.order_id is None:
        return await _recent_orders(ctx)
    order_id = normalize_order_id(args.order_id)
    if order_id is None:
        return failure(
            "invalid_order_id",
            "Sorry, I could not catch the order number. It starts with O R D and has six digits. "
            "Please say it again slowly.",
        )
    order = await ctx.db.orders.get(order_id)
    if order is not None and ctx.may_see(order.customer_phone):
        return success(order=order_view(order, ctx))
    # From here on, "no such order" and "someone else's order" must look exactly the same,
    # so a caller learns neither whether the order exists nor whose it is.
    if ctx.verification_locked:
        return failure("verification_locked", _VERIFICATION_LOCKED)
    if args.verification is None:
        return failure("verification_required", _ASK_VERIFICATION)
    if normalize_digits(args.verification) is None:  # no number in it at all: not an attempt
        return failure("verification_unclear", "Sorry, I did not catch that. " + _ASK_VERIFICATION)
    customer = await ctx.db.customers.get(order.customer_phone) if order is not None else None
    # Re-checked after the await: a parallel lookup in the same call may have used the last attempt.
    if ctx.verification_locked:
        return failure("verification_locked", _VERIFICATION_LOCKED)
    if order is not None and _verification_matches(args.verification, order, customer):
        ctx.verified_phones.add(order.customer_phone)
        log.info("verification_passed", call_sid=ctx.call_sid, caller=mask_phone(ctx.caller_phone or ""))
        return success(order=order_view(order, ctx))
    ctx.failed_verifications += 1
    log.info("verification_failed", call_sid=ctx.call_sid, attempts=ctx.failed_verifications)
    if ctx.verification_locked:
        return failure("verification_locked", _VERIFICATION_LOCKED)
    return failure(
        "verification_failed",
        "Sorry, those details do not match. Please check the order number and the details, and try again.",
        attempts_left=ctx.settings.max_verification_attempts - ctx.failed_verifications,
    )


async def _recent_orders(ctx: ToolContext) -> ToolReply:
    if ctx.caller_phone is None:
        return failure(
            "caller_number_unknown", "I cannot see your phone number on this call. Please tell me your order number."
        )
    orders = await ctx.db.orders.recent_for_phone(ctx.caller_phone, limit=3)
    if not orders:
        return failure(
            "no_orders_for_caller",
            "I could not find any orders on this phone number. Please tell me the order number.",
        )
    return success(
        orders=[order_view(order, ctx, brief=True) for order in orders],
        next_step="If there is more than one order, ask which one the caller means.",
    )


# ------------------------------------------------------------------------------------------ products

_MAX_ALTERNATIVES = 2


def _delivery_date(ctx: ToolContext, days: int) -> str:
    return format_date_indian(ctx.local_now().date() + timedelta(days=days))


async def _alternatives(ctx: ToolContext, product: Product, pincode: str | None, quantity: int) -> list[dict[str, Any]]:
    """Products of the same type, available for this quantity (and pincode, if known), closest in price."""
    options = []
    for candidate in await ctx.db.products.alternatives_to(product):
        quote = candidate.delivery_quote(pincode, quantity)
        if quote.in_stock and quote.deliverable is not False:
            options.append((abs(candidate.price_inr - product.price_inr), candidate.sku, candidate, quote))
    options.sort(key=lambda option: option[:2])
    result = []
    for *_, candidate, quote in options[:_MAX_ALTERNATIVES]:
        entry: dict[str, Any] = {"product": candidate.name, "price": format_inr(candidate.price_inr)}
        if quote.delivery_days is not None:
            entry["delivery_by"] = _delivery_date(ctx, quote.delivery_days)
        result.append(entry)
    return result


async def check_product_availability(args: CheckProductAvailabilityArgs, ctx: ToolContext) -> ToolReply:
    quantity = 1
    if args.quantity is not None:
        parsed = parse_quantity(args.quantity)
        if parsed is None or parsed < 1:
            return failure("invalid_quantity", "Sorry, how many pieces do you need?")
        quantity = parsed
    pincode: str | None = None
    registered = False
    if args.pincode is not None:
        pincode = normalize_pincode(args.pincode)
        if pincode is None:
            return failure("invalid_pincode", "Sorry, I could not catch the pincode. Please say the six digits again.")
    elif ctx.caller_phone is not None:
        customer = await ctx.db.customers.get(ctx.caller_phone)
        if customer is not None:
            pincode, registered = customer.pincode, True

    matches = await ctx.db.products.search(args.product_name)
    product = await ctx.db.products.get(matches[0].sku) if matches else None
    if product is None:
        return failure(
            "product_not_found",
            "Sorry, I could not find that product. Could you tell me the brand, or describe it another way?",
        )
    quote = product.delivery_quote(pincode, quantity)
    out: dict[str, Any] = {"product": product.name, "price": format_inr(product.price_inr), "in_stock": quote.in_stock}
    if quantity > 1:
        out["quantity"] = quantity
        if not quote.in_stock and product.total_stock > 0:
            out["only_available"] = product.total_stock
    if pincode is None:
        out["next_step"] = "Ask the caller's pincode to tell the delivery date."
    else:
        out["pincode"] = pincode
        if registered:
            out["pincode_is_callers_registered"] = True
        out["delivers_to_pincode"] = quote.deliverable
        if quote.delivery_days is not None:
            out["delivery_by"] = _delivery_date(ctx, quote.delivery_days)
    if quote.delivery_days is None:
        out["alternatives"] = await _alternatives(ctx, product, pincode, quantity)
    close = [match.name for match in matches[1:] if match.score >= matches[0].score - 5]
    if close:
        out["also_matched"] = close
    return success(**out)


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
    return success(**out)


# ------------------------------------------------------------------------------------------ transfer

_SUMMARY_MAX_CHARS = 400


def _parse_hhmm(value: str) -> clock_time:
    hours, minutes = (int(part) for part in value.split(":"))
    return clock_time.max if (hours, minutes) == (24, 0) else clock_time(hours, minutes)


def _speak_time(value: clock_time) -> str:
    if value == clock_time.max:
        return "midnight"
    hour = value.hour % 12 or 12
    suffix = "AM" if value.hour < 12 else "PM"
    return f"{hour} {suffix}" if value.minute == 0 else f"{hour}:{value.minute:02d} {suffix}"


def within_support_hours(now_local: datetime, settings: Settings) -> bool:
    start, end = _parse_hhmm(settings.support_hours_start), _parse_hhmm(settings.support_hours_end)
    current = now_local.time().replace(tzinfo=None)
    if start <= end:
        return start <= current < end
    return current >= start or current < end  # window across midnight, e.g. 21:00-06:00


def support_hours_text(settings: Settings) -> str:
    start, end = _parse_hhmm(settings.support_hours_start), _parse_hhmm(settings.support_hours_end)
    return f"{_speak_time(start)} to {_speak_time(end)}"


def _call_summary(ctx: ToolContext) -> str:
    try:
        summary = ctx.conversation_summary() or ""
    except Exception:  # the summary is a nicety; the transfer must not fail because of it
        log.exception("conversation_summary_failed", call_sid=ctx.call_sid)
        summary = ""
    summary = " ".join(summary.split())
    return summary if len(summary) <= _SUMMARY_MAX_CHARS else summary[: _SUMMARY_MAX_CHARS - 1] + "…"


_OFFER_CALLBACK = "Offer a callback ticket: create_ticket with category 'callback'."


async def transfer_to_human(args: TransferToHumanArgs, ctx: ToolContext) -> ToolReply:
    settings = ctx.settings
    if settings.human_agent_number is None:
        return failure(
            "transfer_unavailable",
            "Our support team is not available on call right now, but I can arrange a call back.",
            why="no_agent_available",
            next_step=_OFFER_CALLBACK,
        )
    if not within_support_hours(ctx.local_now(), settings):
        hours = support_hours_text(settings)
        return failure(
            "transfer_unavailable",
            f"Our support team is available from {hours}. I can arrange a call back in those hours.",
            why="outside_support_hours",
            support_hours=hours,
            next_step=_OFFER_CALLBACK,
        )
    summary = _call_summary(ctx)
    recorded = True
    try:
        transfer, created = await ctx.db.transfers.request(
            call_sid=ctx.call_sid,
            phone=ctx.caller_phone,
            reason=args.reason,
            department=args.department,
            summary=summary,
        )
    except PyMongoError as error:
        # A person can still help when our records are down: move the call, flag the missing record.
        log.warning("transfer_record_failed", call_sid=ctx.call_sid, error=type(error).__name__)
        transfer = Transfer(call_sid=ctx.call_sid, reason=args.reason, department=args.department, summary=summary)
        created, recorded = True, False
    if transfer.status in ("failed", "unavailable"):
        return failure(
            "transfer_unavailable",
            "Sorry, I could not connect you to our team on this call, but I can arrange a call back.",
            why="transfer_failed_earlier",
            next_step=_OFFER_CALLBACK,
        )
    if created:
        log.info("transfer_requested", call_sid=ctx.call_sid, department=transfer.department)
    out: dict[str, Any] = {
        "transfer_status": transfer.status,
        "department": transfer.department,
        "reason": transfer.reason,
        "summary": transfer.summary,
        "message_for_caller": "I am connecting you to our support team now. Please stay on the line.",
    }
    if not created:
        out["already_requested"] = True
    if not recorded:
        out["recorded"] = False
    return success(action="transfer", **out)


# ------------------------------------------------------------------------------------------ end_call


async def end_call(args: EndCallArgs, ctx: ToolContext) -> ToolReply:
    log.info("end_call_requested", call_sid=ctx.call_sid, reason=args.reason)
    return success(
        action="end_call",
        next_step="Say one short, warm goodbye in the caller's language. The call ends after it.",
    )


# ------------------------------------------------------------------------------------------ registry


def build_tool_registry() -> ToolRegistry:
    registry = ToolRegistry()
    registry.register(
        "lookup_order",
        "Get an order's status, items, amount and delivery date, or the caller's recent orders when no "
        "order number is given. Pass the order number exactly as the caller said it (spoken digits in "
        "Hindi or English are fine). If the result asks for verification, ask the caller and call again "
        "with `verification`.",
        LookupOrderArgs,
        lookup_order,
    )
    registry.register(
        "check_product_availability",
        "Check if a product is in stock, its price and delivery date for a pincode; suggests alternatives "
        "when it is not available. Product names may be in English, Hinglish or Hindi; pincode and quantity "
        "as the caller said them.",
        CheckProductAvailabilityArgs,
        check_product_availability,
    )
    registry.register(
        "create_ticket",
        "Create a support ticket (complaint, refund, return, call-back request) and get its ticket number to "
        "read out. Order number and phone number may be passed as the caller said them.",
        CreateTicketArgs,
        create_ticket,
    )
    registry.register(
        "transfer_to_human",
        "Request a transfer to a human support agent. Say the returned message first; the call is moved after "
        "it plays. If it says transfer is unavailable, offer a callback ticket instead.",
        TransferToHumanArgs,
        transfer_to_human,
    )
    registry.register(
        "end_call",
        "End the call after the caller says goodbye or the issue is resolved. Say goodbye first; the call "
        "hangs up after the goodbye plays.",
        EndCallArgs,
        end_call,
    )
    return registry
