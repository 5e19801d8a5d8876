"""Limits on identity checks that hold across calls (`services.store.verification_failures`).

A wrong pincode or a wrong one-time code counts one failure for the ORDER it was about and for the
CALLER'S NUMBER; at `verification_failure_limit` failures inside `verification_failure_window_s`,
either key refuses every further pincode and code for that order / from that number — the right
answer included — until the window passes or staff unlock it. A stranger who redials gets nothing new.

- Which keys an attempt is counted on: the order's (by the order id as said, existing or not, so a lock
  tells nothing about the order) and the caller's number (E.164; a SIP or client caller has none and is
  limited per order only). A code tried from the order's own number (caller ID) is not held to the
  order's key: the code goes to that very number, so strangers who failed on the order cannot shut its
  owner out of their details; the owner's number is still counted and limited.
- What is never limited: the caller ID's own view of its orders (status, delivery date, items). It
  needs no check, so nobody else's failures — on other orders or on these — lock the owner out of it.
- Every refusal is the same sentence, whatever locked it (the order, the number, this call): no oracle.
- Attempts are taken before the answer is compared and handed back when it was right, so parallel
  calls on any node never get more than the limit; if the counters cannot be reached, the check fails
  closed with a "please try again later" (as the SMS quota does).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pymongo.errors import PyMongoError

from services import metrics
from services.store.verification_failures import Taken, order_key, phone_key
from services.tools.registry import ToolContext, ToolReply, failure
from utils.logger import get_logger
from utils.privacy import mask_phone

log = get_logger(__name__)

VERIFICATION_LOCKED = (
    "Sorry, I cannot verify this order right now. If it is your order, please call from your registered "
    "mobile number, or I can raise a ticket for you."
)
VERIFICATION_UNAVAILABLE = (
    "Sorry, I cannot check your details right now. Please try again later, or I can raise a ticket for you."
)


def locked_reply() -> ToolReply:
    return failure("verification_locked", VERIFICATION_LOCKED)


def unavailable_reply() -> ToolReply:
    return failure("verification_unavailable", VERIFICATION_UNAVAILABLE)


def attempt_keys(ctx: ToolContext, order_id: str, *, from_owner: bool = False) -> list[str]:
    """The counters an attempt on `order_id` is held to; `from_owner`: the caller ID is the order's number."""
    keys = [] if from_owner else [order_key(order_id)]
    if ctx.caller_phone is not None:
        keys.append(phone_key(ctx.caller_phone))
    return keys


@dataclass
class Attempt:
    """One verification attempt, counted on its keys until `passed` hands it back."""

    ctx: ToolContext
    taken: list[Taken]

    def attempts_left(self) -> int | None:
        """What the caller's own number has left (None without a number). Never the order's count, which
        would tell a caller about other people's tries."""
        if self.ctx.caller_phone is None:
            return None
        mine = phone_key(self.ctx.caller_phone)
        counts = [taken.count for taken in self.taken if taken.key == mine]
        return max(self.ctx.settings.verification_failure_limit - max(counts, default=0), 0)

    async def passed(self) -> None:
        """The answer was right (or was no guess at all): uncount it. An error here leaves it counted."""
        await _give_back(self.ctx, self.taken)


async def take_attempt(ctx: ToolContext, order_id: str, *, from_owner: bool = False) -> Attempt | ToolReply:
    """Count an attempt on every key, or the refusal to speak: locked, or the counters unreachable."""
    settings = ctx.settings
    window = timedelta(seconds=settings.verification_failure_window_s)
    taken: list[Taken] = []
    try:
        for key in attempt_keys(ctx, order_id, from_owner=from_owner):
            held = await ctx.db.verification_failures.take(
                key, limit=settings.verification_failure_limit, window=window, now=ctx.clock()
            )
            if held is None:
                await _give_back(ctx, taken)
                caller = mask_phone(ctx.caller_phone)
                log.info("verification_refused", call_sid=ctx.call_sid, reason=key.partition(":")[0], caller=caller)
                return locked_reply()
            taken.append(held)
    except (PyMongoError, RuntimeError) as error:
        await _give_back(ctx, taken)
        return _unavailable(ctx, error)
    return Attempt(ctx, taken)


async def is_locked(ctx: ToolContext, order_id: str, *, from_owner: bool = False) -> ToolReply | None:
    """The refusal to speak if an attempt on `order_id` would be refused now (no attempt is counted)."""
    keys = attempt_keys(ctx, order_id, from_owner=from_owner)
    try:
        locked = await ctx.db.verification_failures.locked(
            keys, limit=ctx.settings.verification_failure_limit, now=ctx.clock()
        )
    except PyMongoError as error:
        return _unavailable(ctx, error)
    return locked_reply() if locked else None


async def _give_back(ctx: ToolContext, taken: list[Taken]) -> None:
    for held in taken:
        try:
            await ctx.db.verification_failures.give_back(held)
        except PyMongoError as error:  # stays counted: one failure too many, never one too few
            metrics.DB_ERRORS.labels(operation="verification_failures").inc()
            log.warning("verification_give_back_failed", call_sid=ctx.call_sid, error=type(error).__name__)


def _unavailable(ctx: ToolContext, error: Exception) -> ToolReply:
    metrics.DB_ERRORS.labels(operation="verification_failures").inc()
    log.warning("verification_limits_unavailable", call_sid=ctx.call_sid, error=type(error).__name__)
    return unavailable_reply()
