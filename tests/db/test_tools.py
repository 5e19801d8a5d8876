"""The assistant's tools, through `ToolRegistry.execute`, on the seeded real test database."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import bson
import orjson
import pytest
from pydantic import BaseModel
from pymongo import AsyncMongoClient
from structlog.testing import capture_logs

from config.settings import Settings
from devtools.ferretdb import free_port
from models.commerce import Order
from models.tools import NO_EFFECTS, TicketFiled, ToolEffects, TransferRequested
from services.store.client import create_mongo_client
from services.store.database import Database
from services.store.seed import DEMO_PHONE, OTHER_DEMO_PHONE, seed_database
from services.tools import (
    ToolContext,
    ToolRegistry,
    ToolResult,
    success,
    support_hours_text,
    within_support_hours,
)
from tests.stack import make_settings as make_stack_settings
from utils.hinglish import format_date_indian

IST = ZoneInfo("Asia/Kolkata")
INDIAN_DATE = re.compile(
    r"^\d{1,2} (January|February|March|April|May|June|July|August|September|October|November|December) \d{4}$"
)
RAHUL_ORDER = "ORD-482913"  # shipped, UPI, 3 x boAt Airdopes 141 at ₹1,299
PRIYA_ORDER = "ORD-731205"  # returned, card, refund pending; Priya's pincode 560034
STRANGER, OTHER_STRANGER = "+919811100001", "+919811100002"  # no orders on these numbers
PRIYA_SECRETS = ("Priya", "Nair", "9812345678", "5678", "560034", "Sony", "4,490", "Xpressbees", "returned")

pytestmark = pytest.mark.usefixtures("no_verification_failures")


def make_settings(**overrides: Any) -> Settings:
    """The suite's settings, with the default support hours (09:00-21:00 India time) the tests rely on."""
    return make_stack_settings(**{"support_hours_start": "09:00", "support_hours_end": "21:00", **overrides})


def at_ist(hour: int, minute: int = 0) -> Callable[[], datetime]:
    moment = datetime(2026, 11, 23, hour, minute, tzinfo=IST).astimezone(UTC)
    return lambda: moment


@pytest.fixture
def make_ctx(seeded_db: Database) -> Callable[..., ToolContext]:
    def factory(caller: str | None = DEMO_PHONE, db: Database | None = None, **kwargs: Any) -> ToolContext:
        settings = kwargs.pop("settings", None) or make_settings()
        return ToolContext(
            call_sid=f"CA{uuid.uuid4().hex}",
            caller_phone=caller,
            db=db or seeded_db,
            settings=settings,
            conversation_summary=kwargs.pop("summary", lambda: "Caller asked where his earbuds are."),
            **kwargs,
        )

    return factory


async def run(
    registry: ToolRegistry, ctx: ToolContext, name: str, args: Any = None, timeout_s: float = 4.0
) -> ToolResult:
    arguments = args if isinstance(args, str) else json.dumps(args or {})
    return await registry.execute(f"call_{uuid.uuid4().hex[:8]}", name, arguments, ctx, timeout_s)


def text_of(result: ToolResult) -> str:
    return json.dumps(result.output, ensure_ascii=False)


# ------------------------------------------------------------------------------------------ schemas


def _walk(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        return [node, *(item for value in node.values() for item in _walk(value))]
    if isinstance(node, list):
        return [item for value in node for item in _walk(value)]
    return []


def test_session_tools_are_compact_realtime_function_schemas(registry: ToolRegistry) -> None:
    tools = registry.session_tools()
    assert [tool["name"] for tool in tools] == [
        "lookup_order",
        "send_verification_code",
        "check_product_availability",
        "search_knowledge_base",
        "create_ticket",
        "transfer_to_human",
        "end_call",
    ]
    for tool in tools:
        assert set(tool) == {"type", "name", "description", "parameters"} and tool["type"] == "function"
        parameters = tool["parameters"]
        assert parameters["type"] == "object" and parameters["additionalProperties"] is False
        for key in {"title", "anyOf", "$ref", "$defs"}:
            assert all(key not in node for node in _walk(parameters) if node is not parameters.get("properties"))
        assert set(parameters.get("required", [])) <= set(parameters["properties"])
    by_name = {tool["name"]: tool["parameters"] for tool in tools}
    assert "caller said" in by_name["lookup_order"]["properties"]["order_id"]["description"]
    assert "caller said" in by_name["check_product_availability"]["properties"]["pincode"]["description"]
    assert by_name["end_call"].get("required", []) == [] and set(by_name["end_call"]["properties"]) == {"reason"}
    assert by_name["check_product_availability"]["required"] == ["product_name"]
    assert by_name["search_knowledge_base"]["required"] == ["query"]
    assert len(json.dumps(tools)) < 6000  # sent with every session.update


def test_registry_refuses_duplicate_names(registry: ToolRegistry) -> None:
    class NoArgs(BaseModel):
        pass

    async def noop(args: NoArgs, ctx: ToolContext) -> dict[str, Any]:
        return {}

    with pytest.raises(ValueError):
        registry.register("end_call", "again", NoArgs, noop)


# ------------------------------------------------------------------------------------------ lookup_order


@pytest.mark.parametrize(
    "spoken",
    [
        "ORD-482913",
        "ord 4 8 2 9 1 3",
        "o r d four eight two nine one three",
        "char aath do nau ek teen",
        "चार आठ दो नौ एक तीन",
        "४८२९१३",
        "482913",
    ],
)
async def test_lookup_own_order_by_any_spoken_form(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext], spoken: str
) -> None:
    ctx = make_ctx()
    result = await run(registry, ctx, "lookup_order", {"order_id": spoken})
    assert result.ok and result.error is None, result.output
    order = result.output["order"]
    assert order["order_id"] == RAHUL_ORDER and order["order_id_spoken"] == "O R D, 4 8 2, 9 1 3"
    assert order["status"] == "shipped" and order["items"] == "boAt Airdopes 141 Wireless Earbuds x 3"
    assert INDIAN_DATE.match(order["expected_delivery"]) and INDIAN_DATE.match(order["placed_on"])
    # A caller ID can be spoofed: it unlocks the status, not what a fraudster could use.
    assert not set(order) & {"total", "payment", "courier", "tracking_id", "refund"}
    assert "send_verification_code" in result.output["next_step"]
    assert ctx.verification == "caller_id"


async def test_a_verified_code_adds_tracking_amount_and_payment(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext]
) -> None:
    ctx = make_ctx(verified_phones={DEMO_PHONE})  # as after a one-time code (tests/db/test_verification.py)
    order = (await run(registry, ctx, "lookup_order", {"order_id": RAHUL_ORDER})).output["order"]
    assert order["total"] == "₹3,897" and order["payment"] == "UPI" and order["courier"] and order["tracking_id"]


async def test_lookup_accepts_a_number_for_the_order_id(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext]
) -> None:
    result = await run(registry, make_ctx(), "lookup_order", '{"order_id": 482913}')
    assert result.ok and result.output["order"]["order_id"] == RAHUL_ORDER


async def test_lookup_without_id_lists_the_callers_recent_orders(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext], seeded_db: Database
) -> None:
    result = await run(registry, make_ctx(), "lookup_order", {})
    assert result.ok
    listed = [order["order_id"] for order in result.output["orders"]]
    expected = [order.order_id for order in await seeded_db.orders.recent_for_phone(DEMO_PHONE, limit=3)]
    assert listed == expected and len(listed) == 3
    assert all("tracking_id" not in order for order in result.output["orders"])  # brief for lists


async def test_lookup_without_id_needs_a_known_caller(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext]
) -> None:
    anonymous = await run(registry, make_ctx(caller=None), "lookup_order", {})
    assert anonymous.error == "caller_number_unknown"
    stranger = await run(registry, make_ctx(caller="+916000000001"), "lookup_order", {})
    assert stranger.error == "no_orders_for_caller"


async def test_lookup_shows_refund_for_cancelled_prepaid_order(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext]
) -> None:
    caller_id_only = (await run(registry, make_ctx(), "lookup_order", {"order_id": "ORD-482916"})).output["order"]
    assert caller_id_only["status"] == "cancelled" and "refund" not in caller_id_only
    ctx = make_ctx(verified_phones={DEMO_PHONE})
    order = (await run(registry, ctx, "lookup_order", {"order_id": "ORD-482916"})).output["order"]
    assert order["status"] == "cancelled" and order["refund"] == "Refund of ₹2,980 is done"
    assert "expected_delivery" not in order


async def test_lookup_with_unreadable_order_id(registry: ToolRegistry, make_ctx: Callable[..., ToolContext]) -> None:
    result = await run(registry, make_ctx(), "lookup_order", {"order_id": "mera order"})
    assert not result.ok and result.error == "invalid_order_id"
    assert result.output["message_for_caller"]


@pytest.mark.parametrize(
    "spoken",
    [
        "ORD-731205",
        "ord 7 3 1 2 0 5",
        "saat teen ek do shunya paanch",
        "सात तीन एक दो शून्य पाँच",
        "७३१२०५",
        "order number seven three one two zero five",
    ],
)
async def test_someone_elses_order_is_refused_by_any_id_form(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext], spoken: str
) -> None:
    refused = await run(registry, make_ctx(), "lookup_order", {"order_id": spoken})
    missing = await run(registry, make_ctx(), "lookup_order", {"order_id": "ORD-999999"})
    assert refused.error == "verification_required" and not refused.ok
    # Indistinguishable from an order that does not exist: nothing about the order or its owner.
    assert refused.output == missing.output
    assert not any(secret in text_of(refused) for secret in PRIYA_SECRETS)


async def test_every_other_customers_order_gets_the_same_refusal(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext], seeded_db: Database
) -> None:
    ctx = make_ctx()
    nonexistent = await run(registry, ctx, "lookup_order", {"order_id": "ORD-000000"})
    others = [
        Order.model_validate(doc) async for doc in seeded_db.raw["orders"].find({"customer_phone": {"$ne": DEMO_PHONE}})
    ]
    assert len(others) == 195
    for order in others:
        result = await run(registry, ctx, "lookup_order", {"order_id": order.order_id})
        assert result.output == nonexistent.output, order.order_id
    assert ctx.failed_verifications == 0  # asking is not a failed attempt


@pytest.mark.parametrize(
    "answer",
    [
        "560034",  # Priya's pincode
        "paanch chhe shunya shunya teen chaar",
        "५६००३४",
    ],
)
async def test_the_delivery_pincode_unlocks_that_orders_status_only(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext], answer: str
) -> None:
    ctx = make_ctx()
    result = await run(registry, ctx, "lookup_order", {"order_id": PRIYA_ORDER, "verification": answer})
    assert result.ok, result.output
    order = result.output["order"]
    assert order["order_id"] == PRIYA_ORDER and order["status"] == "returned"
    assert not set(order) & {"total", "payment", "courier", "tracking_id", "refund"}
    assert "Priya" not in text_of(result) and "9812345678" not in text_of(result)  # never the owner
    assert ctx.pincode_orders == {PRIYA_ORDER} and OTHER_DEMO_PHONE not in ctx.verified_phones
    assert ctx.verification == "pincode"
    # One order's pincode proves nothing about the owner's other orders.
    other = await run(registry, ctx, "lookup_order", {"order_id": "ORD-731206"})
    assert other.error == "verification_required"


@pytest.mark.parametrize(
    "answer",
    [
        "5678",  # last four digits of her number
        "paanch chhe saat aath",
        "+91 98123 45678",  # the whole number
        "9812345678",
    ],
)
async def test_phone_digits_are_no_verification_factor(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext], answer: str
) -> None:
    """Anyone who knows a customer's number knows its last four digits: they unlock nothing."""
    ctx = make_ctx()
    result = await run(registry, ctx, "lookup_order", {"order_id": PRIYA_ORDER, "verification": answer})
    assert result.error == "verification_unclear" and "pincode" in result.output["message_for_caller"]
    assert not any(secret in text_of(result) for secret in PRIYA_SECRETS if secret != "5678")
    assert ctx.pincode_orders == set() and ctx.verified_phones == set() and ctx.verification == "none"


async def test_wrong_verification_counts_attempts_and_locks(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext]
) -> None:
    ctx = make_ctx()
    wrong = ["110017", "400001", "nau nau nau nau nau nau"]
    first = await run(registry, ctx, "lookup_order", {"order_id": PRIYA_ORDER, "verification": wrong[0]})
    assert first.error == "verification_failed" and first.output["attempts_left"] == 2
    second = await run(registry, ctx, "lookup_order", {"order_id": PRIYA_ORDER, "verification": wrong[1]})
    assert second.error == "verification_failed" and second.output["attempts_left"] == 1
    third = await run(registry, ctx, "lookup_order", {"order_id": PRIYA_ORDER, "verification": wrong[2]})
    assert third.error == "verification_locked" and ctx.failed_verifications == 3
    # Locked: even the right answer discloses nothing now, and asking costs nothing more.
    right = await run(registry, ctx, "lookup_order", {"order_id": PRIYA_ORDER, "verification": "560034"})
    assert right.error == "verification_locked" and ctx.failed_verifications == 3
    for result in (first, second, third, right):
        assert not any(secret in text_of(result) for secret in PRIYA_SECRETS)
    # The caller's own orders still work.
    own = await run(registry, ctx, "lookup_order", {"order_id": RAHUL_ORDER})
    assert own.ok


async def test_failed_verification_looks_the_same_for_missing_orders(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext]
) -> None:
    # Two strangers' first tries (failures count per number across calls, so not twice from one number).
    real = await run(registry, make_ctx(STRANGER), "lookup_order", {"order_id": PRIYA_ORDER, "verification": "110001"})
    fake = await run(
        registry, make_ctx(OTHER_STRANGER), "lookup_order", {"order_id": "ORD-999999", "verification": "110001"}
    )
    assert real.output == fake.output and real.error == "verification_failed"


async def test_unclear_verification_is_not_an_attempt(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext]
) -> None:
    ctx = make_ctx()
    result = await run(registry, ctx, "lookup_order", {"order_id": PRIYA_ORDER, "verification": "pata nahi"})
    assert result.error == "verification_unclear" and ctx.failed_verifications == 0


async def test_parallel_wrong_attempts_cannot_exceed_the_limit(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext]
) -> None:
    ctx = make_ctx(failed_verifications=2)
    results = await asyncio.gather(
        *(run(registry, ctx, "lookup_order", {"order_id": PRIYA_ORDER, "verification": "111111"}) for _ in range(6))
    )
    assert ctx.failed_verifications == 3
    assert {result.error for result in results} <= {"verification_failed", "verification_locked"}


async def test_anonymous_caller_must_verify_every_order(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext]
) -> None:
    ctx = make_ctx(caller=None)
    refused = await run(registry, ctx, "lookup_order", {"order_id": RAHUL_ORDER})
    assert refused.error == "verification_required"
    verified = await run(registry, ctx, "lookup_order", {"order_id": RAHUL_ORDER, "verification": "110017"})
    assert verified.ok and "tracking_id" not in verified.output["order"]


async def test_verification_logs_never_show_full_numbers(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext]
) -> None:
    with capture_logs() as logs:
        ctx = make_ctx()
        await run(registry, ctx, "lookup_order", {"order_id": PRIYA_ORDER, "verification": "111111"})
        await run(registry, ctx, "lookup_order", {"order_id": PRIYA_ORDER, "verification": "560034"})
    assert logs
    dumped = json.dumps(logs, default=str)
    assert "9876543210" not in dumped and "9812345678" not in dumped


# ------------------------------------------------------------------------------------------ products


async def test_out_of_stock_product_offers_alternatives(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext]
) -> None:
    result = await run(
        registry, make_ctx(), "check_product_availability", {"product_name": "prestige cooker", "pincode": "110017"}
    )
    out = result.output
    assert result.ok and out["product"].startswith("Prestige") and out["in_stock"] is False
    assert out["price"] == "₹1,899"
    assert [alt["product"] for alt in out["alternatives"]] == ["Hawkins Classic Pressure Cooker 5 Litre"]
    assert INDIAN_DATE.match(out["alternatives"][0]["delivery_by"])


async def test_availability_with_spoken_pincode_and_quantity(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext], seeded_db: Database
) -> None:
    result = await run(
        registry,
        make_ctx(),
        "check_product_availability",
        {"product_name": "पंखा", "pincode": "ek ek shunya shunya ek saat", "quantity": "do"},
    )
    out = result.output
    fan = await seeded_db.products.get("HVL-FAN-1200")
    assert fan is not None
    assert out["product"] == fan.name and out["quantity"] == 2 and out["pincode"] == "110017"
    quote = fan.delivery_quote("110017", 2)
    today = datetime.now(IST).date()
    assert out["in_stock"] is True and out["delivery_by"] == format_date_indian(
        today + timedelta(days=quote.delivery_days or 0)
    )
    assert "alternatives" not in out


async def test_too_many_units_reports_what_is_left(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext]
) -> None:
    result = await run(
        registry,
        make_ctx(),
        "check_product_availability",
        {"product_name": "havells ceiling fan", "pincode": "110017", "quantity": "teen"},
    )
    out = result.output
    assert out["in_stock"] is False and out["only_available"] == 2
    assert [alt["product"] for alt in out["alternatives"]] == ["Crompton Energion 1200mm BLDC Ceiling Fan"]


async def test_registered_pincode_is_used_when_none_is_given(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext]
) -> None:
    known = await run(registry, make_ctx(), "check_product_availability", {"product_name": "atta"})
    assert known.output["pincode"] == "110017" and known.output["pincode_is_callers_registered"] is True
    unknown = await run(registry, make_ctx(caller=None), "check_product_availability", {"product_name": "atta"})
    assert "pincode" not in unknown.output and "next_step" in unknown.output


async def test_product_not_delivered_to_remote_pincode(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext]
) -> None:
    result = await run(
        registry, make_ctx(), "check_product_availability", {"product_name": "mi tv", "pincode": "744101"}
    )
    assert result.output["delivers_to_pincode"] is False and "delivery_by" not in result.output


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ({"product_name": "washing machine"}, "product_not_found"),
        ({"product_name": "atta", "pincode": "paanch"}, "invalid_pincode"),
        ({"product_name": "atta", "quantity": "thoda sa"}, "invalid_quantity"),
    ],
)
async def test_availability_errors(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext], args: dict[str, str], error: str
) -> None:
    result = await run(registry, make_ctx(), "check_product_availability", args)
    assert not result.ok and result.error == error and result.output["message_for_caller"]


# ------------------------------------------------------------------------------------------ tickets


async def test_create_ticket_stores_it_and_returns_a_speakable_number(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext], seeded_db: Database
) -> None:
    ctx = make_ctx()
    result = await run(
        registry,
        ctx,
        "create_ticket",
        {
            "category": "refund",
            "description": "Refund not received for cancelled kurta",
            "order_id": "char aath do nau ek chhe",
        },
    )
    assert result.ok
    ticket_id = result.output["ticket_id"]
    assert re.fullmatch(r"TKT-\d{6}", ticket_id)
    digits = ticket_id[4:]
    assert result.output["ticket_id_spoken"] == f"T K T, {' '.join(digits[:3])}, {' '.join(digits[3:])}"
    assert result.output["response_within"] == "24 hours"  # refunds default to high priority
    assert result.effects.ticket_filed == TicketFiled(ticket_id=ticket_id, response_within="24 hours")
    stored = await seeded_db.tickets.get(ticket_id)
    assert stored is not None
    assert (stored.call_sid, stored.phone, stored.order_id, stored.priority) == (
        ctx.call_sid,
        DEMO_PHONE,
        "ORD-482916",
        "high",
    )

    again = await run(
        registry, ctx, "create_ticket", {"category": "refund", "description": "Same again", "order_id": "ORD-482916"}
    )
    assert again.output["ticket_id"] == ticket_id and again.output["already_existed"] is True
    assert again.effects.ticket_filed is None, "nothing new filed: the caller is not texted twice"
    other = await run(registry, ctx, "create_ticket", {"category": "delivery", "description": "Earbuds late"})
    assert other.output["ticket_id"] != ticket_id
    assert await seeded_db.raw["tickets"].count_documents({"call_sid": ctx.call_sid}) == 2


async def test_parallel_requests_for_one_issue_file_one_ticket(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext], seeded_db: Database
) -> None:
    ctx = make_ctx()
    args = {"category": "damaged_item", "description": "Cooker lid broken", "order_id": "ORD-482914"}
    results = await asyncio.gather(*(run(registry, ctx, "create_ticket", args) for _ in range(4)))
    assert len({result.output["ticket_id"] for result in results}) == 1
    assert await seeded_db.raw["tickets"].count_documents({"call_sid": ctx.call_sid}) == 1


async def test_callback_ticket_needs_a_phone_and_understands_a_spoken_one(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext], seeded_db: Database
) -> None:
    anonymous = make_ctx(caller=None)
    needs = await run(registry, anonymous, "create_ticket", {"category": "callback", "description": "Call me back"})
    assert needs.error == "phone_needed"
    spoken = "nau nau aath aath, double seven, 1 2 3 4"
    result = await run(
        registry,
        anonymous,
        "create_ticket",
        {"category": "callback", "description": "Call me back", "callback_phone": spoken},
    )
    assert result.ok and result.output["callback_number_ends_with"] == "1 2 3 4"
    stored = await seeded_db.tickets.get(result.output["ticket_id"])
    assert stored is not None and stored.phone == "+919988771234"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ({"category": "refund", "description": "Refund", "order_id": "pata nahi"}, "invalid_order_id"),
        ({"category": "callback", "description": "Call back", "callback_phone": "ek do teen"}, "invalid_phone"),
        ({"category": "complaint", "description": "Bad"}, "invalid_arguments"),
        ({"category": "refund", "description": ""}, "invalid_arguments"),
    ],
)
async def test_create_ticket_errors(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext], args: dict[str, str], error: str
) -> None:
    result = await run(registry, make_ctx(), "create_ticket", args)
    assert not result.ok and result.error == error


async def test_create_ticket_with_someone_elses_order_fails_like_a_missing_one(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext], seeded_db: Database
) -> None:
    """Linking a foreign order would have the agent's whisper read it to staff as the caller's."""
    ctx = make_ctx()
    args = {"category": "refund", "description": "Where is my refund"}
    foreign = await run(registry, ctx, "create_ticket", {**args, "order_id": PRIYA_ORDER})
    missing = await run(registry, ctx, "create_ticket", {**args, "order_id": "ORD-999999"})
    assert foreign.error == "order_not_found" and foreign.output == missing.output
    assert foreign.effects == NO_EFFECTS and foreign.output["message_for_caller"]
    assert not any(secret in text_of(foreign) for secret in PRIYA_SECRETS)
    assert await seeded_db.raw["tickets"].count_documents({"call_sid": ctx.call_sid}) == 0
    # Once the order's pincode unlocked its status, the caller may cite it.
    await run(registry, ctx, "lookup_order", {"order_id": PRIYA_ORDER, "verification": "560034"})
    assert (await run(registry, ctx, "create_ticket", {**args, "order_id": PRIYA_ORDER})).ok


async def test_at_most_the_cap_of_new_tickets_per_call(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext], seeded_db: Database
) -> None:
    ctx = make_ctx()
    categories = ["delivery", "refund", "return", "payment", "damaged_item", "wrong_item", "product_query", "other"]
    requests = [{"category": category, "description": f"Issue about {category}"} for category in categories]
    requests += [{"category": "delivery", "description": "Late", "order_id": f"ORD-48291{n}"} for n in range(3, 8)]
    requests += [
        {"category": "callback", "description": "Call me"},
        {"category": "return", "description": "Return", "order_id": "ORD-482913"},
    ]
    assert len(requests) == 15
    results = await asyncio.gather(*(run(registry, ctx, "create_ticket", args) for args in requests))
    filed = [result for result in results if result.ok]
    assert len(filed) == 3 == ctx.settings.max_tickets_per_call
    assert sum(result.effects.ticket_filed is not None for result in results) == 3  # three SMS at most
    refused = [result for result in results if not result.ok]
    assert {result.error for result in refused} == {"ticket_limit_reached"}
    assert all("3 tickets" in result.output["message_for_caller"] for result in refused)
    assert await seeded_db.raw["tickets"].count_documents({"call_sid": ctx.call_sid}) == 3
    # The dedupe still answers a retry of a filed issue with the same ticket.
    again = await run(registry, ctx, "create_ticket", requests[[r.ok for r in results].index(True)])
    assert again.ok and again.output["already_existed"] is True and again.effects.ticket_filed is None


@pytest.mark.parametrize("caller", ["sip:alice@example.com", "client:alice", "anonymous", "+1 415 555 0100"])
async def test_a_caller_without_an_e164_number_files_tickets_and_is_transferred(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext], seeded_db: Database, caller: str
) -> None:
    ctx = make_ctx(caller=caller, clock=at_ist(12))
    assert ctx.caller_phone is None
    result = await run(registry, ctx, "create_ticket", {"category": "product_query", "description": "Fan noise"})
    assert result.ok, result.output
    stored = await seeded_db.tickets.get(result.output["ticket_id"])
    assert stored is not None and stored.phone is None and stored.call_sid == ctx.call_sid
    callback = await run(registry, ctx, "create_ticket", {"category": "callback", "description": "Call me back"})
    assert callback.error == "phone_needed"
    transfer = await run(registry, ctx, "transfer_to_human", {"reason": "wants a person"})
    assert transfer.ok and transfer.effects.transfer_requested is not None
    recorded = await seeded_db.transfers.get(ctx.call_sid)
    assert recorded is not None and recorded.phone is None
    assert (await run(registry, ctx, "lookup_order", {})).error == "caller_number_unknown"


@pytest.mark.parametrize("number", ["+1 415 555 0100", "+44 20 7183 8750", "+91 1900 123 456"])
async def test_callbacks_only_to_numbers_we_may_call(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext], number: str
) -> None:
    args = {"category": "callback", "description": "Call me back", "callback_phone": number}
    result = await run(registry, make_ctx(), "create_ticket", args)
    assert not result.ok and result.error in {"unsupported_phone", "invalid_phone"}


async def test_cancelling_needs_an_order_and_a_one_time_code(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext]
) -> None:
    ctx = make_ctx()
    args = {"category": "cancellation", "description": "Cancel my earbuds order"}
    assert (await run(registry, ctx, "create_ticket", args)).error == "order_needed"
    by_caller_id = await run(registry, ctx, "create_ticket", {**args, "order_id": RAHUL_ORDER})
    assert (
        by_caller_id.error == "verification_required" and "send_verification_code" in by_caller_id.output["next_step"]
    )
    verified = make_ctx(verified_phones={DEMO_PHONE})
    assert (await run(registry, verified, "create_ticket", {**args, "order_id": RAHUL_ORDER})).ok


# ------------------------------------------------------------------------------------------ transfer


async def test_transfer_is_recorded_once_per_call(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext], seeded_db: Database
) -> None:
    ctx = make_ctx(clock=at_ist(11))
    result = await run(registry, ctx, "transfer_to_human", {"reason": "Refund dispute", "department": "refunds"})
    assert result.ok and result.effects.transfer_requested == TransferRequested(
        reason="Refund dispute", department="refunds", summary="Caller asked where his earbuds are."
    )
    assert not result.effects.end_call and result.effects.ticket_filed is None
    out = result.output
    assert (out["transfer_status"], out["department"], out["reason"]) == ("requested", "refunds", "Refund dispute")
    assert out["summary"] == "Caller asked where his earbuds are."
    again = await run(registry, ctx, "transfer_to_human", {"reason": "Please, a human"})
    assert again.ok and again.output["already_requested"] is True and again.output["reason"] == "Refund dispute"
    assert await seeded_db.raw["transfers"].count_documents({"call_sid": ctx.call_sid}) == 1
    stored = await seeded_db.transfers.get(ctx.call_sid)
    assert stored is not None and stored.phone == DEMO_PHONE and stored.status == "requested"


async def test_no_agent_configured_offers_a_callback_without_recording(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext], seeded_db: Database
) -> None:
    ctx = make_ctx(settings=make_settings(human_agent_number=None), clock=at_ist(11))
    result = await run(registry, ctx, "transfer_to_human", {"reason": "wants a person"})
    assert not result.ok and result.error == "transfer_unavailable" and result.effects == NO_EFFECTS
    assert result.output["why"] == "no_agent_available" and "callback" in result.output["next_step"]
    assert await seeded_db.transfers.get(ctx.call_sid) is None


@pytest.mark.parametrize(("hour", "minute"), [(8, 59), (21, 0), (23, 30), (3, 0)])
async def test_outside_support_hours_offers_a_callback(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext], seeded_db: Database, hour: int, minute: int
) -> None:
    ctx = make_ctx(clock=at_ist(hour, minute))
    result = await run(registry, ctx, "transfer_to_human", {"reason": "wants a person"})
    assert result.error == "transfer_unavailable" and result.output["why"] == "outside_support_hours"
    assert result.output["support_hours"] == "9 AM to 9 PM"
    assert await seeded_db.transfers.get(ctx.call_sid) is None


def test_support_hours_windows() -> None:
    settings = make_settings(support_hours_start="21:00", support_hours_end="06:30")
    assert within_support_hours(datetime(2026, 1, 1, 23, 0, tzinfo=IST), settings)
    assert within_support_hours(datetime(2026, 1, 1, 6, 29, tzinfo=IST), settings)
    assert not within_support_hours(datetime(2026, 1, 1, 12, 0, tzinfo=IST), settings)
    assert support_hours_text(settings) == "9 PM to 6:30 AM"
    assert within_support_hours(datetime(2026, 1, 1, 9, 0, tzinfo=IST), make_settings())


async def test_transfer_after_a_failed_one_offers_a_callback(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext], seeded_db: Database
) -> None:
    ctx = make_ctx(clock=at_ist(12))
    assert (await run(registry, ctx, "transfer_to_human", {"reason": "help"})).ok
    await seeded_db.transfers.set_status(ctx.call_sid, "failed")  # what the bridge does when dialing fails
    result = await run(registry, ctx, "transfer_to_human", {"reason": "help"})
    assert result.error == "transfer_unavailable" and result.effects == NO_EFFECTS


async def test_transfer_summary_is_short_and_survives_a_broken_summary(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext]
) -> None:
    long = make_ctx(clock=at_ist(12), summary=lambda: "word " * 500)
    result = await run(registry, long, "transfer_to_human", {"reason": "help"})
    assert len(result.output["summary"]) <= 400

    def broken() -> str:
        raise RuntimeError("transcript unavailable")

    failing = make_ctx(clock=at_ist(12), summary=broken)
    result = await run(registry, failing, "transfer_to_human", {"reason": "help"})
    assert result.ok and result.output["summary"] == ""


@pytest.mark.parametrize(
    ("caller", "steps", "verification"),
    [
        (DEMO_PHONE, [], "none"),
        (DEMO_PHONE, [{"order_id": RAHUL_ORDER}], "caller_id"),
        (None, [{"order_id": PRIYA_ORDER, "verification": "560034"}], "pincode"),
        (DEMO_PHONE, [{"order_id": PRIYA_ORDER, "verification": "560034"}, {"order_id": RAHUL_ORDER}], "caller_id"),
    ],
)
async def test_the_transfer_says_how_the_caller_was_verified(
    registry: ToolRegistry,
    make_ctx: Callable[..., ToolContext],
    seeded_db: Database,
    caller: str | None,
    steps: list[dict[str, str]],
    verification: str,
) -> None:
    ctx = make_ctx(caller=caller, clock=at_ist(12))
    for args in steps:
        assert (await run(registry, ctx, "lookup_order", args)).ok
    result = await run(registry, ctx, "transfer_to_human", {"reason": "help"})
    assert result.output["verification"] == verification
    assert result.effects.transfer_requested is not None
    assert result.effects.transfer_requested.verification == verification
    stored = await seeded_db.transfers.get(ctx.call_sid)
    assert stored is not None and stored.verification == verification


# ------------------------------------------------------------------------------------------ end_call


@pytest.mark.parametrize("arguments", ["", "{}", '{"reason": "caller said bye"}'])
async def test_end_call_asks_the_bridge_to_hang_up(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext], arguments: str
) -> None:
    result = await run(registry, make_ctx(), "end_call", arguments)
    assert result.ok and result.effects == ToolEffects(end_call=True) and result.output["ok"] is True


# ------------------------------------------------------------------------------------------ failures


@pytest.mark.parametrize(
    ("name", "arguments", "error"),
    [
        ("lookup_order", "{not json", "invalid_arguments"),
        ("lookup_order", "[1, 2]", "invalid_arguments"),
        ("check_product_availability", "{}", "invalid_arguments"),
        ("transfer_to_human", '{"reason": "help", "department": "sales"}', "invalid_arguments"),
        ("send_sms", "{}", "unknown_tool"),
    ],
)
async def test_bad_calls_become_structured_errors(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext], name: str, arguments: str, error: str
) -> None:
    result = await run(registry, make_ctx(), name, arguments)
    assert not result.ok and result.error == error and result.effects == NO_EFFECTS
    assert result.output["ok"] is False and result.output["error"] == error
    assert result.output["message_for_caller"]
    assert result.name == name and result.duration_ms >= 0 and result.started_at.tzinfo is not None


async def test_invalid_arguments_tell_the_model_what_was_wrong(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext]
) -> None:
    result = await run(registry, make_ctx(), "check_product_availability", {"pincode": "110017"})
    assert "product_name" in result.output["detail"]
    assert result.arguments == {"pincode": "110017"}
    garbled = await run(registry, make_ctx(), "lookup_order", "{oops")
    assert garbled.arguments == {"_raw": "{oops"}


async def test_result_records_the_run(registry: ToolRegistry, make_ctx: Callable[..., ToolContext]) -> None:
    before = datetime.now(UTC)
    result = await registry.execute("call_42", "lookup_order", '{"order_id": "ORD-482913"}', make_ctx(), 4.0)
    assert (result.call_id, result.name, result.arguments) == ("call_42", "lookup_order", {"order_id": "ORD-482913"})
    assert result.duration_ms > 0 and result.started_at >= before - timedelta(seconds=1)
    json.dumps(result.output)  # what the bridge sends back must be JSON


TWENTY_DIGITS = "12345678901234567890"
FOUR_HUNDRED_DIGITS = "9" * 400


def encodes_everywhere(result: ToolResult) -> None:
    """What the runner sends the model (orjson) and what the record writer stores (BSON) both work."""
    orjson.dumps(result.output)
    orjson.dumps(result.arguments)
    bson.encode({"arguments": result.arguments, "output": result.output})


@pytest.mark.parametrize("quantity", [TWENTY_DIGITS, "ek sau", "100", "das hazaar", "ek crore"])
async def test_a_quantity_past_the_limit_is_a_clear_error(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext], quantity: str
) -> None:
    args = {"product_name": "atta", "pincode": "110017", "quantity": quantity}
    result = await run(registry, make_ctx(), "check_product_availability", args)
    assert result.error == "invalid_quantity" and "99" in result.output["message_for_caller"]
    encodes_everywhere(result)


async def test_a_twenty_digit_quantity_as_a_json_number_is_a_clear_error(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext]
) -> None:
    arguments = '{"product_name": "atta", "quantity": ' + TWENTY_DIGITS + "}"
    result = await run(registry, make_ctx(), "check_product_availability", arguments)
    assert result.error == "invalid_quantity" and result.output["message_for_caller"]
    encodes_everywhere(result)


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("check_product_availability", "quantity"),
        ("check_product_availability", "pincode"),
        ("lookup_order", "order_id"),
        ("lookup_order", "verification_code"),
        ("create_ticket", "order_id"),
        ("create_ticket", "callback_phone"),
        ("send_verification_code", "order_id"),
    ],
)
async def test_a_400_digit_number_in_any_argument_is_invalid_arguments(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext], name: str, field: str
) -> None:
    base: dict[str, str] = {
        "check_product_availability": '"product_name": "atta", ',
        "lookup_order": '"order_id": "ORD-482913", ',
        "create_ticket": '"category": "other", "description": "A question", ',
        "send_verification_code": "",
    }[name]
    arguments = "{" + base.replace(f'"{field}": "ORD-482913", ', "") + f'"{field}": {FOUR_HUNDRED_DIGITS}' + "}"
    result = await run(registry, make_ctx(), name, arguments)
    assert result.error == "invalid_arguments", result.output
    assert result.output["message_for_caller"] and "too long" in result.output["detail"]
    assert isinstance(result.arguments[field], str) and len(result.arguments[field]) < 100
    encodes_everywhere(result)


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400"])
async def test_non_finite_numbers_are_invalid_arguments(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext], value: str
) -> None:
    result = await run(
        registry, make_ctx(), "check_product_availability", '{"product_name": "atta", "quantity": ' + value + "}"
    )
    assert result.error == "invalid_arguments"
    encodes_everywhere(result)


async def test_a_tool_output_that_json_cannot_carry_is_made_safe(make_ctx: Callable[..., ToolContext]) -> None:
    registry = ToolRegistry()

    @registry.tool("odd", "returns odd values", _NoArgs)
    async def odd(args: _NoArgs, ctx: ToolContext) -> dict[str, Any]:
        return {"big": 10**25, "nan": float("nan"), "when": datetime(2026, 1, 1, tzinfo=UTC), "n": {7: (1, 2)}}

    result = await registry.execute("c", "odd", "{}", make_ctx(), 1)
    assert result.ok and result.output["big"] == str(10**25) and result.output["n"] == {"7": [1, 2]}
    encodes_everywhere(result)


class _NoArgs(BaseModel):
    pass


async def test_a_tool_that_overruns_times_out(make_ctx: Callable[..., ToolContext]) -> None:
    registry = ToolRegistry()

    async def slow(args: _NoArgs, ctx: ToolContext) -> dict[str, Any]:
        await asyncio.sleep(5)
        return {}

    registry.register("slow", "sleeps", _NoArgs, slow)
    result = await registry.execute("c1", "slow", "{}", make_ctx(), timeout_s=0.1)
    assert result.error == "timeout" and not result.ok and result.output["message_for_caller"]
    assert 90 <= result.duration_ms < 1000


async def test_a_crashing_tool_becomes_an_internal_error(make_ctx: Callable[..., ToolContext]) -> None:
    registry = ToolRegistry()

    @registry.tool("crash", "raises", _NoArgs)
    async def crash(args: _NoArgs, ctx: ToolContext) -> dict[str, Any]:
        raise RuntimeError("boom")

    result = await registry.execute("c1", "crash", "{}", make_ctx(), timeout_s=1)
    assert result.error == "internal_error" and "boom" not in text_of(result)


async def test_plain_dict_and_reply_results_are_both_accepted(make_ctx: Callable[..., ToolContext]) -> None:
    registry = ToolRegistry()

    @registry.tool("plain", "dict", _NoArgs)
    async def plain(args: _NoArgs, ctx: ToolContext) -> dict[str, Any]:
        return {"answer": 42}

    @registry.tool("reply", "ToolReply", _NoArgs)
    async def reply(args: _NoArgs, ctx: ToolContext) -> Any:
        return success(ToolEffects(end_call=True), answer=43)

    assert (await registry.execute("c", "plain", "{}", make_ctx(), 1)).output == {"ok": True, "answer": 42}
    result = await registry.execute("c", "reply", "{}", make_ctx(), 1)
    assert result.output == {"ok": True, "answer": 43} and result.effects.end_call


async def test_cancelling_a_tool_task_propagates(make_ctx: Callable[..., ToolContext]) -> None:
    registry = ToolRegistry()
    started = asyncio.Event()

    @registry.tool("wait", "waits", _NoArgs)
    async def wait(args: _NoArgs, ctx: ToolContext) -> dict[str, Any]:
        started.set()
        await asyncio.sleep(10)
        return {}

    task = asyncio.create_task(registry.execute("c", "wait", "{}", make_ctx(), timeout_s=30))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.fixture
async def unreachable_db() -> AsyncIterator[Database]:
    client: AsyncMongoClient = create_mongo_client(f"mongodb://127.0.0.1:{free_port()}/", serverSelectionTimeoutMS=200)
    try:
        yield Database(client, "unreachable")
    finally:
        await client.close()


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("lookup_order", {"order_id": "ORD-482913"}),
        ("lookup_order", {}),
        ("check_product_availability", {"product_name": "atta", "pincode": "110017"}),
        ("create_ticket", {"category": "delivery", "description": "Late"}),
    ],
)
async def test_database_down_becomes_a_database_error(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext], unreachable_db: Database, name: str, args: dict
) -> None:
    result = await run(registry, make_ctx(db=unreachable_db), name, args)
    assert not result.ok and result.error == "database_error"
    assert result.output["message_for_caller"] and result.duration_ms < 3000


async def test_transfer_still_happens_when_the_database_is_down(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext], unreachable_db: Database
) -> None:
    ctx = make_ctx(db=unreachable_db, clock=at_ist(12))
    result = await run(registry, ctx, "transfer_to_human", {"reason": "cannot check order"})
    assert result.ok and result.effects.transfer_requested is not None and result.output["recorded"] is False


async def test_database_slower_than_the_timeout_becomes_a_timeout(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext]
) -> None:
    """Nothing listens: server selection (2.5 s in production) outlasts this 0.2 s tool timeout."""
    client = create_mongo_client(f"mongodb://127.0.0.1:{free_port()}/")
    try:
        result = await run(registry, make_ctx(db=Database(client, "slow")), "lookup_order", {}, timeout_s=0.2)
    finally:
        await client.close()
    assert result.error == "timeout"


# ------------------------------------------------------------------------------------------ output size


async def test_outputs_are_short_enough_to_read_aloud(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext]
) -> None:
    ctx = make_ctx(clock=at_ist(12))
    calls = [
        ("lookup_order", {}),
        ("lookup_order", {"order_id": RAHUL_ORDER}),
        ("check_product_availability", {"product_name": "pressure cooker"}),
        ("create_ticket", {"category": "other", "description": "General question"}),
        ("transfer_to_human", {"reason": "help"}),
    ]
    for name, args in calls:
        result = await run(registry, ctx, name, args)
        assert result.ok and len(text_of(result)) < 1200, (name, text_of(result))


async def test_registry_works_with_the_conftest_client(
    mongo_client: AsyncMongoClient, database_name: str, make_ctx: Callable[..., ToolContext], registry: ToolRegistry
) -> None:
    """A client built without tz_aware (as in conftest) still gives aware datetimes to the tools."""
    db = Database(mongo_client, database_name)
    await seed_database(db)
    result = await run(registry, make_ctx(db=db), "lookup_order", {"order_id": RAHUL_ORDER})
    assert result.ok and INDIAN_DATE.match(result.output["order"]["placed_on"])
