"""`check_product_availability`: fuzzy product match, stock, delivery for a pincode, alternatives."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from models.commerce import Product
from models.tools import MAX_QUANTITY, CheckProductAvailabilityArgs
from services.store.product_search import ProductMatch
from services.tools.registry import ToolContext, ToolReply, failure, success
from utils.hinglish import (
    format_date_indian,
    format_inr,
    normalize_pincode,
    parse_quantity,
)
from utils.logger import get_logger

log = get_logger(__name__)


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


async def _registered_pincode(ctx: ToolContext) -> str | None:
    customer = await ctx.db.customers.get(ctx.caller_phone) if ctx.caller_phone is not None else None
    return customer.pincode if customer is not None else None


async def _nothing() -> None:
    return None


async def _best_product(ctx: ToolContext, name: str) -> tuple[list[ProductMatch], Product | None]:
    """The matches (from the in-memory search index) and the best one read fresh by `_id` (stock, price)."""
    matches = await ctx.db.products.search(name)
    return matches, (await ctx.db.products.get(matches[0].sku) if matches else None)


async def check_product_availability(args: CheckProductAvailabilityArgs, ctx: ToolContext) -> ToolReply:
    quantity = 1
    if args.quantity is not None:
        parsed = parse_quantity(args.quantity)
        if parsed is None or parsed < 1:
            return failure("invalid_quantity", "Sorry, how many pieces do you need?")
        if parsed > MAX_QUANTITY:  # e.g. twenty digits: never a quantity, and past what JSON and BSON carry
            return failure(
                "invalid_quantity",
                f"Sorry, I can check at most {MAX_QUANTITY} pieces at a time. How many do you need?",
                max_quantity=MAX_QUANTITY,
            )
        quantity = parsed
    pincode: str | None = None
    if args.pincode is not None:
        pincode = normalize_pincode(args.pincode)
        if pincode is None:
            return failure("invalid_pincode", "Sorry, I could not catch the pincode. Please say the six digits again.")
    # The caller's registered pincode and the product are independent reads: one round trip, not two.
    registered_pincode, (matches, product) = await asyncio.gather(
        _registered_pincode(ctx) if pincode is None else _nothing(), _best_product(ctx, args.product_name)
    )
    registered = registered_pincode is not None
    pincode = pincode or registered_pincode
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
