"""One-time codes: `send_verification_code` texts a code to the number on an order; `lookup_order` checks it.

A caller ID can be spoofed, so it unlocks only an order's status; what a fraudster could use
(tracking, refund, amounts, payment, cancelling) needs a code sent by SMS to the number on file.
Codes are bound to one call and one order, stored only as a keyed hash (`services.store.otp_codes`),
expire after `otp_ttl_s`, work once, and lock after `otp_max_attempts` wrong tries. Wrong codes also
count towards the limits that hold across calls (`services.tools.verification_limits`).

No oracle: for an order the caller may not see — someone else's, or one that does not exist — the
tool answers the same whatever happened (a document is kept for a missing order too, so attempts and
locks behave identically), and it never says whether a text went out.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from config.agent_config import CODE_SMS_TEXT, COMPANY_NAME
from config.settings import Settings
from models.commerce import Order
from models.tools import SendVerificationCodeArgs
from services.store.otp_codes import CodeCheck
from services.tools.registry import ToolContext, ToolReply, failure, success
from services.tools.verification_limits import is_locked
from utils.hinglish import normalize_digits, normalize_order_id
from utils.logger import get_logger

log = get_logger(__name__)

CODE_DIGITS = 6
MAX_CODES_PER_ORDER = 2  # one resend, per call
MAX_CODE_REQUESTS_PER_CALL = 3  # over all orders: a call cannot be used to text many customers

_INVALID_ORDER = (
    "Sorry, I could not catch the order number. It starts with O R D and has six digits. Please say it again slowly."
)
_MAYBE_SENT = (
    "If that order number is correct, a six-digit code is on its way by SMS to the mobile number registered on "
    "the order. Please tell me the code when it arrives."
)
_NEXT_STEP = "When the caller reads out the code, call lookup_order with this order_id and verification_code."


def _code_key(ctx: ToolContext, order_id: str) -> str:
    return f"{ctx.call_sid}|{order_id}"


def _hash_key(settings: Settings) -> bytes:
    secret = settings.token_secret or settings.twilio_auth_token
    return hmac.new(secret.get_secret_value().encode(), b"voice-agent/otp-code", hashlib.sha256).digest()


def code_hash(settings: Settings, key: str, code: str) -> str:
    """Keyed hash of a code for one (call, order): a database copy does not give the codes back."""
    return hmac.new(_hash_key(settings), f"{key}|{code}".encode(), hashlib.sha256).hexdigest()


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def code_sms_text(
    code: str, order_id: str, ttl_s: int, template: str = CODE_SMS_TEXT, company: str = COMPANY_NAME
) -> str:
    """The one-time-code SMS; `template` is the agent file's `sms.verification_code`."""
    minutes = max(ttl_s // 60, 1)
    return template.format(code=code, order_id=order_id, minutes=minutes, company=company)


def spoken_code(text: str) -> str | None:
    """The six digits of a code as the caller said it ("four two zero, nine one one"), else None."""
    digits = normalize_digits(text)
    return digits if digits is not None and len(digits) == CODE_DIGITS else None


async def check_code(ctx: ToolContext, order_id: str, code: str) -> CodeCheck:
    key = _code_key(ctx, order_id)
    return await ctx.db.otp_codes.check(
        key, code_hash(ctx.settings, key, code), max_attempts=ctx.settings.otp_max_attempts
    )


async def _text(ctx: ToolContext, order: Order, code: str) -> bool:
    if ctx.send_sms is None:
        log.warning("verification_code_not_sent", call_sid=ctx.call_sid, reason="no_sms_sender")
        return False
    return await ctx.send_sms(
        order.customer_phone,
        code_sms_text(code, order.order_id, ctx.settings.otp_ttl_s, ctx.agent.code_sms_text, ctx.agent.company_name),
    )


async def send_verification_code(args: SendVerificationCodeArgs, ctx: ToolContext) -> ToolReply:
    order_id = normalize_order_id(args.order_id)
    if order_id is None:
        return failure("invalid_order_id", _INVALID_ORDER)
    order = await ctx.db.orders.get(order_id)
    visible = order is not None and ctx.may_see_order(order)
    if order is not None and visible and ctx.may_see_details(order.customer_phone):
        return success(already_verified=True, next_step="Call lookup_order with this order_id: no code is needed.")
    # Counted before any await, so parallel requests cannot pass the limit.
    if ctx.codes_requested >= MAX_CODE_REQUESTS_PER_CALL:
        return failure(
            "code_limit_reached",
            "Sorry, I cannot send more codes on this call. I can raise a ticket, or connect you to our team.",
        )
    ctx.codes_requested += 1
    # An order or number locked by failures across calls gets no code (nothing is texted for nothing),
    # with the very refusal a locked lookup gets; from the order's own number only that number counts.
    refusal = await is_locked(ctx, order_id, from_owner=order is not None and order.customer_phone == ctx.caller_phone)
    if refusal is not None:
        return refusal
    code, key = new_code(), _code_key(ctx, order_id)
    settings = ctx.settings
    issued = await ctx.db.otp_codes.issue(
        key,
        code_hash(settings, key, code),
        ttl_s=settings.otp_ttl_s,
        max_attempts=settings.otp_max_attempts,
        max_codes=MAX_CODES_PER_ORDER,
    )
    if not issued:  # the same for every order id: missing orders have their documents too
        return failure(
            "code_locked",
            "Sorry, I cannot send another code for this order on this call. I can raise a ticket, or connect you "
            "to our team.",
        )
    sent = await _text(ctx, order, code) if order is not None else False
    log.info("verification_code_requested", call_sid=ctx.call_sid, sent=sent)
    if not visible:
        # Someone else's order, or none at all: the same answer either way, sent or not.
        return failure("code_requested", _MAYBE_SENT, next_step=_NEXT_STEP)
    if not sent:
        return failure(
            "code_not_sent",
            "Sorry, I could not send a code to the registered mobile number right now. I can raise a ticket, or "
            "connect you to our team.",
        )
    minutes = max(settings.otp_ttl_s // 60, 1)
    return success(
        code_sent=True,
        expires_in_minutes=minutes,
        message_for_caller=(
            f"I have sent a six-digit code by SMS to the mobile number registered on this order. It is valid for "
            f"{minutes} minutes. Please tell me the code."
        ),
        next_step=_NEXT_STEP,
    )
