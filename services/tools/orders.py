"""`lookup_order`: an order is disclosed only to the phone it belongs to, or after verification."""

from __future__ import annotations

from typing import Any

from models.commerce import Customer, Order
from models.tools import (
    LookupOrderArgs,
)
from services.tools.registry import ToolContext, ToolReply, failure, success
from utils.hinglish import (
    format_date_indian,
    format_inr,
    normalize_digits,
    normalize_order_id,
    normalize_phone,
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
    if ctx.verification_locked():
        return failure("verification_locked", _VERIFICATION_LOCKED)
    if args.verification is None:
        return failure("verification_required", _ASK_VERIFICATION)
    if normalize_digits(args.verification) is None:  # no number in it at all: not an attempt
        return failure("verification_unclear", "Sorry, I did not catch that. " + _ASK_VERIFICATION)
    customer = await ctx.db.customers.get(order.customer_phone) if order is not None else None
    # Re-checked after the await: a parallel lookup in the same call may have used the last attempt.
    if ctx.verification_locked():
        return failure("verification_locked", _VERIFICATION_LOCKED)
    if order is not None and _verification_matches(args.verification, order, customer):
        ctx.verified_phones.add(order.customer_phone)
        log.info("verification_passed", call_sid=ctx.call_sid, caller=mask_phone(ctx.caller_phone or ""))
        return success(order=order_view(order, ctx))
    ctx.failed_verifications += 1
    log.info("verification_failed", call_sid=ctx.call_sid, attempts=ctx.failed_verifications)
    if ctx.verification_locked():
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
