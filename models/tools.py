"""Argument models of the assistant's tools; their JSON schemas are what the Realtime model sees.

Ids, phone numbers, pincodes, codes and quantities are plain strings "as the caller said them" (digits,
Hindi or English number words, Devanagari): the tools normalise them with `utils.hinglish`, so a
spoken "chaar aath do nau ek teen" is not rejected by schema validation before it can be understood.
Every one of them is bounded: at most 200 characters, and a number the model sends as a JSON number
must have at most 30 digits (a 400-digit integer is an `invalid_arguments` error, not a crash); the
tools then check the exact shape (six-digit order ids, pincodes and codes, quantities 1-99).
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from models.commerce import CallerVerification, Department, TicketCategory, TicketPriority

MAX_SPOKEN_DIGITS = 30  # longer than any id, phone number or quantity a caller says
MAX_QUANTITY = 99  # units one availability check is about


def _as_text(value: Any) -> Any:
    # The model sometimes sends a number (482913) where we ask for the words the caller said.
    if isinstance(value, bool):
        return value  # refused by the string type, as before
    if isinstance(value, int):
        # Counted without `str()`: past 4300 digits Python refuses to convert, and the length is all we need.
        if value.bit_length() > MAX_SPOKEN_DIGITS * 4:  # 4 bits per decimal digit, rounded up
            raise ValueError(f"number is too long (at most {MAX_SPOKEN_DIGITS} digits)")
        text = str(value)
        if len(text.lstrip("-")) > MAX_SPOKEN_DIGITS:
            raise ValueError(f"number is too long (at most {MAX_SPOKEN_DIGITS} digits)")
        return text
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("not a number")
        if value.is_integer():
            return _as_text(int(value))
        return str(value)
    return value


Spoken = Annotated[str, BeforeValidator(_as_text), Field(min_length=1, max_length=200)]


class ToolArgs(BaseModel):
    # Extra keys are ignored: a harmless extra argument should not cost the caller a failed turn.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _blank_means_absent(cls, data: Any) -> Any:
        # Models often send "" or null for an optional argument they mean to leave out.
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None and not (isinstance(v, str) and not v.strip())}
        return data


class LookupOrderArgs(ToolArgs):
    order_id: Spoken | None = Field(
        default=None,
        description=(
            "Order number exactly as the caller said it; words are fine, e.g. 'ORD-482913', "
            "'o r d four eight two nine one three', 'char aath do nau ek teen', '४८२९१३'. "
            "Leave out to get the caller's own recent orders."
        ),
    )
    verification: Spoken | None = Field(
        default=None,
        description=(
            "Only after the tool asked for verification: the order's six-digit delivery pincode, as the "
            "caller said it. It unlocks the order's status only."
        ),
    )
    verification_code: Spoken | None = Field(
        default=None,
        description=(
            "The six-digit one-time code the caller received by SMS after send_verification_code, as they "
            "said it. It unlocks tracking, refund, amount and payment details."
        ),
    )


class SendVerificationCodeArgs(ToolArgs):
    order_id: Spoken = Field(
        description="Order number as the caller said it; the code is texted to the mobile number registered on it."
    )


class CheckProductAvailabilityArgs(ToolArgs):
    product_name: Spoken = Field(
        description="Product as the caller named it, any language or script, e.g. 'pressure cooker', 'कुकर'."
    )
    pincode: Spoken | None = Field(
        default=None,
        description="Delivery pincode as the caller said it (words are fine). Leave out to use the caller's "
        "registered pincode.",
    )
    quantity: Spoken | None = Field(
        default=None,
        description=f"How many, as the caller said it, e.g. '2', 'do', 'teen'. Default 1, at most {MAX_QUANTITY}.",
    )


class CreateTicketArgs(ToolArgs):
    category: TicketCategory = Field(description="Kind of issue. Use 'callback' for a call-back request.")
    description: str = Field(
        min_length=3, max_length=500, description="One or two sentences in English describing the issue."
    )
    order_id: Spoken | None = Field(default=None, description="Related order number as the caller said it.")
    priority: TicketPriority | None = Field(
        default=None, description="Leave out unless the caller's issue is clearly urgent."
    )
    callback_phone: Spoken | None = Field(
        default=None,
        description="Only if the caller wants a call back on a different number: that number as they said it.",
    )


class TransferToHumanArgs(ToolArgs):
    reason: str = Field(min_length=3, max_length=300, description="One line: why the caller needs a human.")
    department: Department = Field(default="general", description="Team best placed to help.")


class EndCallArgs(ToolArgs):
    reason: str | None = Field(
        default=None, max_length=200, description="Why the call ends, e.g. 'issue resolved', 'caller said bye'."
    )


# ------------------------------------------------------------------------------------------ side effects


class SearchKnowledgeBaseArgs(ToolArgs):
    query: str = Field(
        min_length=2,
        max_length=300,
        description="The caller's policy or FAQ question in their own words (Hinglish, Hindi or English).",
    )


class TicketFiled(BaseModel):
    """A tool filed a new ticket on this call (the caller is texted its number)."""

    model_config = ConfigDict(frozen=True)

    ticket_id: str
    response_within: str | None = None


class TransferRequested(BaseModel):
    """The caller is to be handed to a human once the announcing line has played."""

    model_config = ConfigDict(frozen=True)

    reason: str | None = None
    department: str | None = None
    summary: str | None = None
    verification: CallerVerification = "none"  # how the caller was verified, for the agent's whisper


class ToolEffects(BaseModel):
    """What a tool call changed beyond its spoken output; the call session acts on these fields."""

    model_config = ConfigDict(frozen=True)

    ticket_filed: TicketFiled | None = None
    transfer_requested: TransferRequested | None = None
    end_call: bool = False


NO_EFFECTS = ToolEffects()
