"""Tool plumbing: the per-call context, results, and the registry (JSON schemas + safe dispatch).

`ToolRegistry.execute` is the only entry point the call bridge uses. It never raises (except
`CancelledError`): bad JSON, invalid arguments, unknown tools, database errors and timeouts all come
back as a short structured result the assistant can speak about.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, ValidationError
from pymongo.errors import PyMongoError

from config.agent_config import DEFAULT_AGENT_CONFIG, AgentConfig
from config.settings import Settings
from models.commerce import CALLER_VERIFICATIONS, CallerVerification, Order, Ticket, utc_now
from models.tools import NO_EFFECTS, ToolEffects
from services.store.database import Database
from utils.logger import get_logger
from utils.phone import e164_or_none

log = get_logger(__name__)

# ------------------------------------------------------------------------------------------ context


SendSms = Callable[[str, str], Awaitable[bool]]
"""(E.164 number, text) -> whether it was sent; applies the SMS country rules and daily cap."""

_VERIFICATION_RANK = {method: rank for rank, method in enumerate(CALLER_VERIFICATIONS)}


@dataclass
class ToolContext:
    """Everything a tool may know about the call it runs in; one per call, owned by the call session.

    Who may hear what (`services.tools.orders`):
    - the caller's own orders (caller ID = the order's phone): status, delivery date, items;
    - any order of a customer who proved their number with a one-time code (`verified_phones`):
      everything, tracking, refund, amount and payment included;
    - one order whose delivery pincode the caller gave (`pincode_orders`): its status only.
    """

    call_sid: str
    caller_phone: str | None  # E.164 from Twilio "From"; None for SIP / client callers (set in __post_init__)
    db: Database
    settings: Settings
    conversation_summary: Callable[[], str]
    verified_phones: set[str] = field(default_factory=set)  # owners who proved their number with a code
    pincode_orders: set[str] = field(default_factory=set)  # orders unlocked (status only) by their pincode
    # Wrong pincodes in this call; one-time code attempts, and every failure across calls (per order and
    # per caller number, `services.tools.verification_limits`), are counted in the database.
    failed_verifications: int = 0
    verification: CallerVerification = "none"  # the strongest check the caller passed (for staff)
    send_sms: SendSms | None = None  # texts the one-time codes; None: no codes can be sent
    codes_requested: int = 0
    clock: Callable[[], datetime] = utc_now  # injectable so support hours and failure windows can be tested
    # Tickets filed in this call by (category, order id): a retried tool call must not file twice.
    tickets: dict[tuple[str, str | None], Ticket] = field(default_factory=dict)
    ticket_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    agent: AgentConfig = field(default_factory=lambda: DEFAULT_AGENT_CONFIG)  # company, departments, SMS texts

    def __post_init__(self) -> None:
        # Only an E.164 number identifies a caller; a SIP URI or "client:alice" files tickets without one.
        self.caller_phone = e164_or_none(self.caller_phone)

    def verification_locked(self) -> bool:
        """A method, not a property: it changes as `failed_verifications` grows, and callers re-check it
        after awaits (a type checker would keep a property narrowed across them)."""
        return self.failed_verifications >= self.settings.max_verification_attempts

    def may_see(self, owner_phone: str) -> bool:
        """Low-risk details of this customer's orders (status, delivery date, items)."""
        return owner_phone == self.caller_phone or owner_phone in self.verified_phones

    def may_see_order(self, order: Order) -> bool:
        """Low-risk details of this order: the customer's, or one unlocked by its delivery pincode."""
        return self.may_see(order.customer_phone) or order.order_id in self.pincode_orders

    def may_see_details(self, owner_phone: str) -> bool:
        """Tracking, refund, amount and payment details, and cancelling: only after a one-time code."""
        return owner_phone in self.verified_phones

    def note_verification(self, method: CallerVerification) -> None:
        """Remember a check the caller passed; the strongest one is what staff are told."""
        if _VERIFICATION_RANK[method] > _VERIFICATION_RANK[self.verification]:
            self.verification = method

    def local_now(self) -> datetime:
        return self.clock().astimezone(ZoneInfo(self.settings.support_timezone))


# ------------------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class ToolReply:
    """What a tool function returns: the output for the model, an error code, typed side effects."""

    output: dict[str, Any]
    error: str | None = None
    effects: ToolEffects = NO_EFFECTS


def success(effects: ToolEffects = NO_EFFECTS, **fields: Any) -> ToolReply:
    return ToolReply(output={"ok": True, **fields}, effects=effects)


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
    effects: ToolEffects = NO_EFFECTS  # what the call session acts on (tickets, transfer, hang-up)
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
        if isinstance(node, dict):
            return clean_object(node)
        return node

    def clean_object(node: dict[str, Any]) -> dict[str, Any]:
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

    cleaned = clean_object(schema)
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
            arguments=json_safe(arguments, max_text=_MAX_RECORDED_TEXT),
            ok=reply.error is None,
            output=json_safe(reply.output),
            error=reply.error,
            duration_ms=(time.perf_counter() - start) * 1000,
            effects=reply.effects,
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


_INT64 = 2**63
_MAX_DEPTH = 32
_MAX_RECORDED_TEXT = 1000  # characters of one argument kept in the call record


def json_safe(value: Any, *, max_text: int | None = None, _depth: int = 0) -> Any:
    """`value` with only what both JSON (orjson) and BSON can carry: integers within 64 bits, finite
    floats, string keys, bounded nesting. Anything else becomes a string, so neither the function
    output nor the call record can fail to encode because of what a caller said or a model sent."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value if max_text is None or len(value) <= max_text else value[:max_text] + "…"
    if isinstance(value, int):
        return value if -_INT64 <= value < _INT64 else _long_integer_text(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if _depth >= _MAX_DEPTH:
        return "…"
    if isinstance(value, dict):
        return {str(key): json_safe(item, max_text=max_text, _depth=_depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(item, max_text=max_text, _depth=_depth + 1) for item in value]
    return json_safe(str(value), max_text=max_text)


def _long_integer_text(value: int) -> str:
    try:
        text = str(value)
    except ValueError:  # past Python's 4300-digit conversion limit
        return f"<integer of about {int(value.bit_length() * 0.30103)} digits>"
    return text if len(text) <= 40 else f"{text[:20]}…<{len(text)} digits>"


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
