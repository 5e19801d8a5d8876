"""Values that cannot break anything: bounded tool arguments, outputs any encoder takes, which numbers
we may text or call back, and who may hear which part of an order — without a database."""

from __future__ import annotations

import json
import math
from typing import Any, cast

import bson
import orjson
import pytest
from pydantic import ValidationError

from models.commerce import Order
from models.tools import CheckProductAvailabilityArgs, LookupOrderArgs, SendVerificationCodeArgs
from services.store.database import Database
from services.tools import ToolContext, json_safe
from services.tools.verification import code_hash, code_sms_text, new_code, spoken_code
from tests.stack import make_settings
from utils.hinglish import normalize_phone, parse_quantity
from utils.phone import country_of, e164_or_none, may_call_back, may_text

# ------------------------------------------------------------------------------------------ arguments


@pytest.mark.parametrize("digits", [400, 4000])
def test_a_huge_integer_argument_is_a_validation_error_not_a_crash(digits: int) -> None:
    arguments = json.loads('{"product_name": "atta", "quantity": ' + "9" * digits + "}")
    with pytest.raises(ValidationError, match="too long"):
        CheckProductAvailabilityArgs.model_validate(arguments)


@pytest.mark.parametrize(
    ("value", "text"), [(482913, "482913"), (12345678901234567890, "12345678901234567890"), (2.0, "2"), (1.5, "1.5")]
)
def test_numbers_become_the_text_the_tools_read(value: Any, text: str) -> None:
    assert LookupOrderArgs.model_validate({"order_id": value}).order_id == text


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 1e300, True])
def test_non_finite_huge_and_boolean_values_are_refused(value: Any) -> None:
    with pytest.raises(ValidationError):
        SendVerificationCodeArgs.model_validate({"order_id": value})


def test_a_twenty_digit_quantity_parses_but_is_far_past_any_quantity() -> None:
    assert parse_quantity("12345678901234567890") == 12345678901234567890  # the tool refuses it (max 99)
    assert parse_quantity("9" * 40) is None


# ------------------------------------------------------------------------------------------ outputs


def test_json_safe_makes_anything_encodable_for_json_and_bson() -> None:
    deep: Any = []
    for _ in range(100):
        deep = [deep]
    value = {
        "big": 10**30,
        "negative": -(2**63) - 1,
        "int64": 2**63 - 1,
        "huge": 10**5000,
        "nan": math.nan,
        "inf": math.inf,
        "tuple": (1, 2),
        "keys": {1: "a", None: "b"},
        "object": object,
        "deep": deep,
    }
    safe = json_safe(value)
    orjson.dumps(safe)
    bson.encode(safe)
    assert safe["int64"] == 2**63 - 1 and safe["big"] == str(10**30) and safe["tuple"] == [1, 2]
    assert safe["keys"] == {"1": "a", "None": "b"} and safe["nan"] == "nan"
    assert "5000 digits" in safe["huge"] or "digits" in safe["huge"]
    assert len(json_safe({"s": "x" * 5000}, max_text=1000)["s"]) == 1001


# ------------------------------------------------------------------------------------------ phone numbers


@pytest.mark.parametrize(
    ("value", "phone"),
    [
        ("+919876543210", "+919876543210"),
        (" +919876543210 ", "+919876543210"),
        ("sip:alice@example.com", None),
        ("sip:+919876543210@trunk.example.com", None),
        ("client:alice", None),
        ("anonymous", None),
        ("", None),
        (None, None),
        ("919876543210", None),
    ],
)
def test_only_e164_identifies_a_caller(value: str | None, phone: str | None) -> None:
    assert e164_or_none(value) == phone


@pytest.mark.parametrize(
    ("phone", "textable", "callable_back"),
    [
        ("+919876543210", True, True),  # Indian mobile
        ("+917933459944", False, True),  # Indian landline
        ("+911800123456", False, False),  # toll-free
        ("+911900123456", False, False),  # not a valid number
        ("+14155550100", False, False),  # US: not an allowed country
        ("+447400123456", False, False),  # UK mobile: not an allowed country
        ("client:alice", False, False),
    ],
)
def test_which_numbers_we_may_text_or_call_back(phone: str, textable: bool, callable_back: bool) -> None:
    assert may_text(phone, ["IN"]) is textable
    assert may_call_back(phone, ["in"]) is callable_back


def test_other_countries_when_configured() -> None:
    assert may_text("+447400123456", ["IN", "GB"]) and country_of("+447400123456") == "GB"
    assert may_text("+14155550100", ["US"])  # libphonenumber cannot tell US mobiles from landlines
    assert not may_text("+919876543210", [])


def test_spoken_indian_numbers_read_as_before() -> None:
    assert normalize_phone("nau aath saat six five, double four, 3 2 1") == "+919876544321"
    assert normalize_phone("+1 415 555 0100") == "+14155550100"  # read as said; may_text decides


# ------------------------------------------------------------------------------------------ codes


def test_codes_are_six_digits_read_from_speech_and_hashed_with_a_key() -> None:
    assert all(len(new_code()) == 6 and new_code().isdigit() for _ in range(50))
    assert spoken_code("four two zero, nine one one") == "420911"
    assert spoken_code("0 0 7 1 2 3") == "007123"
    assert spoken_code("1234") is None and spoken_code("1234567") is None and spoken_code("pata nahi") is None
    settings = make_settings()
    assert code_hash(settings, "CA1|ORD-1", "123456") == code_hash(settings, "CA1|ORD-1", "123456")
    assert code_hash(settings, "CA1|ORD-1", "123456") != code_hash(settings, "CA2|ORD-1", "123456")
    assert "123456" not in code_hash(settings, "CA1|ORD-1", "123456")
    text = code_sms_text("123456", "ORD-482913", 300)
    assert "123456" in text and "5 minutes" in text and len(text) <= 160 * 2


# ------------------------------------------------------------------------------------------ who hears what


def _ctx(caller: str | None) -> ToolContext:
    return ToolContext(
        call_sid="CA1", caller_phone=caller, db=cast(Database, None), settings=make_settings(), conversation_summary=str
    )


def _order(order_id: str, phone: str) -> Order:
    return Order.model_validate(
        {
            "order_id": order_id,
            "customer_phone": phone,
            "items": [{"sku": "X-1", "name": "Thing", "qty": 1, "price_inr": 10}],
            "status": "shipped",
            "payment_method": "UPI",
            "shipping_pincode": "110017",
            "placed_at": "2026-01-01T00:00:00Z",
        }
    )


def test_caller_id_pincode_and_code_unlock_different_things() -> None:
    own, other = _order("ORD-000001", "+919876543210"), _order("ORD-000002", "+919812345678")
    ctx = _ctx("+919876543210")
    assert ctx.may_see_order(own) and not ctx.may_see_details(own.customer_phone)
    assert not ctx.may_see_order(other)
    ctx.pincode_orders.add(other.order_id)
    assert ctx.may_see_order(other) and not ctx.may_see_details(other.customer_phone)
    assert not ctx.may_see_order(_order("ORD-000003", "+919812345678"))  # that owner's other order
    ctx.verified_phones.add(other.customer_phone)
    assert ctx.may_see_details(other.customer_phone) and ctx.may_see_order(_order("ORD-000003", "+919812345678"))
    assert _ctx("sip:alice@example.com").caller_phone is None


def test_the_strongest_verification_is_kept() -> None:
    ctx = _ctx(None)
    assert ctx.verification == "none"
    for method, expected in [("pincode", "pincode"), ("otp", "otp"), ("caller_id", "otp"), ("none", "otp")]:
        ctx.note_verification(method)  # type: ignore[arg-type]
        assert ctx.verification == expected
