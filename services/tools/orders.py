"""`lookup_order`: what of an order a caller may hear depends on how they proved who they are.

The order's own number calling (caller ID) hears its status, delivery date and items; tracking,
courier, amounts, payment and refunds need a one-time code (`services.tools.verification`); the
delivery pincode unlocks one other customer's order, its status only. Everything else gets the
same refusal, whether the order exists or not.
"""

from __future__ import annotations

from typing import Any

from models.commerce import Customer, Order
from models.tools import (
    LookupOrderArgs,
)
from services.tools.registry import ToolContext, ToolReply, failure, success
from services.tools.verification import check_code, spoken_code
from services.tools.verification_limits import locked_reply, take_attempt
from utils.hinglish import (
    format_date_indian,
    format_inr,
    normalize_digits,
    normalize_order_id,
    speak_digits,
)
from utils.logger import get_logger
from utils.privacy import mask_phone

log = get_logger(__name__)


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


def order_view(order: Order, ctx: ToolContext, *, brief: bool = False, details: bool = False) -> dict[str, Any]:
    """An order as the assistant should say it.

    Without `details` only what a caller ID may unlock: status, delivery date, items. `details` (after a
    one-time code) adds the amount, payment, courier and tracking, and the refund. `brief` drops courier
    details for lists.
    """
    now = ctx.local_now()
    view: dict[str, Any] = {
        "order_id": order.order_id,
        "order_id_spoken": speak_digits(order.order_id),
        "status": order.status,
        "status_text": _STATUS_TEXT[order.status],
        "items": _items_text(order),
        "placed_on": format_date_indian(order.placed_at.astimezone(now.tzinfo)),
    }
    if order.status in _IN_TRANSIT and order.expected_delivery:
        view["expected_delivery"] = format_date_indian(order.expected_delivery)
        if order.expected_delivery < now.date():
            view["delayed"] = True
    if order.delivered_on:
        view["delivered_on"] = format_date_indian(order.delivered_on)
    if not details:
        return view
    total = format_inr(order.total_inr)
    view["total"] = total
    view["payment"] = _PAYMENT_TEXT[order.payment_method]
    if order.courier and not brief and order.status not in ("placed", "cancelled"):
        view["courier"] = order.courier
        if order.tracking_id:
            view["tracking_id"] = order.tracking_id
    if order.refund_status in _REFUND_TEXT:
        view["refund"] = _REFUND_TEXT[order.refund_status].format(amount=total)
    return view


# ------------------------------------------------------------------------------------------ lookup_order

_ASK_VERIFICATION = (
    "For your safety, please tell me the six-digit delivery pincode of this order. Or I can send a one-time "
    "code by SMS to the mobile number registered on it."
)
_DETAILS_NEED_CODE = (
    "Tracking, courier, amount, payment and refund details need a one-time code: offer send_verification_code "
    "for this order, then call lookup_order again with verification_code."
)


def _pincode_matches(pincode: str, order: Order, customer: Customer | None) -> bool:
    """The order's delivery pincode or the owner's registered pincode. Phone-derived answers (the last
    four digits, the whole number) are no factor: anyone who knows the number knows them."""
    return pincode in {order.shipping_pincode} | ({customer.pincode} if customer else set())


def _shown(order: Order, ctx: ToolContext) -> ToolReply:
    """The order as far as this caller may hear it (they may see at least its status)."""
    if ctx.may_see_details(order.customer_phone):
        return success(order=order_view(order, ctx, details=True))
    if order.customer_phone == ctx.caller_phone:
        ctx.note_verification("caller_id")
    return success(order=order_view(order, ctx), next_step=_DETAILS_NEED_CODE)


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
    if args.verification_code is not None and not (order is not None and ctx.may_see_details(order.customer_phone)):
        return await _with_code(args.verification_code, order_id, order, ctx)
    if order is not None and ctx.may_see_order(order):
        return _shown(order, ctx)
    # From here on, "no such order" and "someone else's order" must look exactly the same,
    # so a caller learns neither whether the order exists nor whose it is.
    if ctx.verification_locked():
        return locked_reply()
    if args.verification is None:
        return failure("verification_required", _ASK_VERIFICATION)
    pincode = normalize_digits(args.verification)
    if pincode is None or len(pincode) != 6:  # not a pincode at all: not an attempt
        return failure(
            "verification_unclear",
            "Sorry, I need the six-digit delivery pincode of this order. Or I can send a one-time code by SMS "
            "to the mobile number registered on it.",
        )
    customer = await ctx.db.customers.get(order.customer_phone) if order is not None else None
    # Counted across calls for the order and the caller's number before the pincode is compared.
    attempt = await take_attempt(ctx, order_id)
    if isinstance(attempt, ToolReply):
        return attempt
    # Re-checked after the awaits: a parallel lookup in the same call may have used the last attempt.
    if ctx.verification_locked():
        await attempt.passed()  # no pincode was compared
        return locked_reply()
    if order is not None and _pincode_matches(pincode, order, customer):
        ctx.pincode_orders.add(order.order_id)
        ctx.note_verification("pincode")
        caller = mask_phone(ctx.caller_phone or "")
        log.info("verification_passed", call_sid=ctx.call_sid, method="pincode", caller=caller)
        await attempt.passed()
        return success(order=order_view(order, ctx), next_step=_DETAILS_NEED_CODE)
    ctx.failed_verifications += 1
    log.info("verification_failed", call_sid=ctx.call_sid, attempts=ctx.failed_verifications)
    attempts_left = _fewest(ctx.settings.max_verification_attempts - ctx.failed_verifications, attempt.attempts_left())
    if ctx.verification_locked() or attempts_left <= 0:
        return locked_reply()
    return failure(
        "verification_failed",
        "Sorry, that pincode does not match. Please check the order number and the pincode, and try again.",
        attempts_left=attempts_left,
    )


def _fewest(in_call: int, across_calls: int | None) -> int:
    return in_call if across_calls is None else min(in_call, across_calls)


async def _with_code(spoken: str, order_id: str, order: Order | None, ctx: ToolContext) -> ToolReply:
    """A one-time code for this order: the same answers whether the order exists or whose it is."""
    code = spoken_code(spoken)
    if code is None:  # not six digits: not an attempt
        return failure("code_unclear", "Sorry, I did not catch the code. Please say the six digits of the SMS again.")
    # The code goes to the order's number: tried from that number, strangers' failures on the order do
    # not hold it back (`services.tools.verification_limits`); the caller's number always counts.
    from_owner = order is not None and order.customer_phone == ctx.caller_phone
    attempt = await take_attempt(ctx, order_id, from_owner=from_owner)
    if isinstance(attempt, ToolReply):
        return attempt
    check = await check_code(ctx, order_id, code)
    if check.outcome == "verified" and order is not None:
        ctx.verified_phones.add(order.customer_phone)
        ctx.note_verification("otp")
        log.info("verification_passed", call_sid=ctx.call_sid, method="otp", caller=mask_phone(ctx.caller_phone or ""))
        await attempt.passed()
        return success(order=order_view(order, ctx, details=True))
    log.info("verification_code_failed", call_sid=ctx.call_sid, outcome=check.outcome)
    if check.outcome == "expired":  # no code was compared (none on this call, used, or out of time): no guess
        await attempt.passed()
        return failure(
            "code_expired",
            "Sorry, that code is not valid any more: codes work once, for a few minutes. Shall I send a new one?",
        )
    if check.outcome == "locked":
        return failure(
            "code_locked",
            "Sorry, that code is wrong too many times, so I cannot verify this order on this call. I can raise a "
            "ticket, or connect you to our team.",
        )
    attempts_left = _fewest(check.attempts_left, attempt.attempts_left())
    if attempts_left <= 0:
        return locked_reply()
    return failure(
        "code_incorrect",
        "Sorry, that code does not match. Please check the SMS and tell me the six digits again.",
        attempts_left=attempts_left,
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
    details = ctx.may_see_details(ctx.caller_phone)
    if not details:
        ctx.note_verification("caller_id")
    return success(
        orders=[order_view(order, ctx, brief=True, details=details) for order in orders],
        next_step="If there is more than one order, ask which one the caller means.",
    )
