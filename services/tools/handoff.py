"""`transfer_to_human` and `end_call`: tools whose effect (a hand-off, a hang-up) the call carries out after speech."""

from __future__ import annotations

from datetime import datetime
from datetime import time as clock_time
from typing import Any

from pymongo.errors import PyMongoError

from config.agent_file import agent_number_for
from config.settings import Settings
from models.commerce import Transfer
from models.tools import EndCallArgs, ToolEffects, TransferRequested, TransferToHumanArgs
from services.tools.registry import ToolContext, ToolReply, failure, success
from utils.logger import get_logger

log = get_logger(__name__)


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
    if agent_number_for(ctx.agent.departments, args.department, settings.human_agent_number) is None:
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
            verification=ctx.verification,
        )
    except PyMongoError as error:
        # A person can still help when our records are down: move the call, flag the missing record.
        log.warning("transfer_record_failed", call_sid=ctx.call_sid, error=type(error).__name__)
        transfer = Transfer(
            call_sid=ctx.call_sid,
            phone=ctx.caller_phone,
            reason=args.reason,
            department=args.department,
            summary=summary,
            verification=ctx.verification,
        )
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
        # How the caller proved who they are (none / pincode / caller_id / otp): the agent is told, and
        # verifies further before acting on anything sensitive.
        "verification": ctx.verification,
        "message_for_caller": "I am connecting you to our support team now. Please stay on the line.",
    }
    if not created:
        out["already_requested"] = True
    if not recorded:
        out["recorded"] = False
    request = TransferRequested(
        reason=transfer.reason,
        department=transfer.department,
        summary=transfer.summary,
        verification=ctx.verification,
    )
    return success(ToolEffects(transfer_requested=request), **out)


# ------------------------------------------------------------------------------------------ end_call


async def end_call(args: EndCallArgs, ctx: ToolContext) -> ToolReply:
    log.info("end_call_requested", call_sid=ctx.call_sid, reason=args.reason)
    return success(
        ToolEffects(end_call=True),
        next_step="Say one short, warm goodbye in the caller's language. The call ends after it.",
    )
