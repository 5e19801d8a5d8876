"""Request and response models of the admin API, so the OpenAPI docs show exactly what is served."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import phonenumbers
from pydantic import BaseModel, Field, field_validator, model_validator

from models.call_record import CallRecord, CallStatus, TransferInfo
from utils.hinglish import normalize_order_id, normalize_phone


def _is_valid_number(e164: str) -> bool:
    """libphonenumber's check (length and number ranges of the country), on top of normalize_phone's."""
    try:
        return bool(phonenumbers.is_valid_number(phonenumbers.parse(e164, None)))
    except phonenumbers.NumberParseException:
        return False


class CallDetail(CallRecord):
    """The full record of one call: transcript, tool calls, tickets, transfer, timings, usage."""


class CallSummary(BaseModel):
    """One row of `/calls`: the record without transcript or tool-call details."""

    call_sid: str
    direction: Literal["inbound", "outbound"]
    from_number: str | None = None
    to_number: str | None = None
    purpose: str | None = None
    status: CallStatus
    twilio_status: str | None = None
    started_at: datetime
    ended_at: datetime | None = None
    duration_s: float | None = None
    end_reason: str | None = None
    tickets: list[str] = Field(default_factory=list)
    transfer: TransferInfo | None = None
    tool_call_count: int = 0
    greeting_ms: float | None = None
    cost_inr: float = 0.0

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> CallSummary:
        record = CallRecord.model_validate(document)
        return cls(
            **record.model_dump(
                include={
                    "call_sid",
                    "direction",
                    "from_number",
                    "to_number",
                    "purpose",
                    "status",
                    "twilio_status",
                    "started_at",
                    "ended_at",
                    "duration_s",
                    "end_reason",
                    "tickets",
                    "transfer",
                }
            ),
            tool_call_count=len(record.tool_calls),
            greeting_ms=record.latencies.greeting_ms,
            cost_inr=record.usage.cost_inr,
        )


class CallList(BaseModel):
    total: int = Field(description="Calls matching the filters, over all pages")
    limit: int
    offset: int
    calls: list[CallSummary] = Field(description="Newest first")


class OutboundCallRequest(BaseModel):
    to: str = Field(
        max_length=40,
        description=(
            "Number to call: E.164, or an Indian mobile as written (+91 98765 43210). Only numbers of "
            "OUTBOUND_CALL_COUNTRIES (default India) and, when it is set, on OUTBOUND_CALL_ALLOWLIST are called."
        ),
    )
    purpose: str = Field(min_length=1, max_length=300, description="Why we call; the assistant opens with it")

    @field_validator("to")
    @classmethod
    def _phone(cls, value: str) -> str:
        phone = normalize_phone(value)
        if phone is None or not _is_valid_number(phone):
            raise ValueError("not a valid phone number (E.164, or a 10-digit Indian mobile)")
        return phone

    @field_validator("purpose")
    @classmethod
    def _purpose(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("must not be blank")
        return value


class OutboundCallResponse(BaseModel):
    call_sid: str
    status: str = Field(description="Twilio's status of the new call, normally 'queued'")


class VerificationUnlockRequest(BaseModel):
    """Which failure counters to clear (at least one): an order's, a caller number's, or both."""

    order_id: str | None = Field(default=None, max_length=40, description="Order number, e.g. ORD-482913")
    phone: str | None = Field(
        default=None, max_length=40, description="Caller number: E.164, or an Indian mobile as written"
    )

    @field_validator("order_id")
    @classmethod
    def _order_id(cls, value: str | None) -> str | None:
        if value is None:
            return None
        order_id = normalize_order_id(value)
        if order_id is None:
            raise ValueError("not an order number (ORD- and six digits)")
        return order_id

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        phone = normalize_phone(value)
        if phone is None or not _is_valid_number(phone):
            raise ValueError("not a valid phone number (E.164, or a 10-digit Indian mobile)")
        return phone

    @model_validator(mode="after")
    def _something(self) -> VerificationUnlockRequest:
        if self.order_id is None and self.phone is None:
            raise ValueError("give order_id, phone, or both")
        return self


class VerificationUnlockResponse(BaseModel):
    order_id: str | None = None
    phone: str | None = None
    cleared: int = Field(description="Counters removed; 0 when nothing was counted for them")
