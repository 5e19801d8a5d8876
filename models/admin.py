"""Request and response models of the admin API, so the OpenAPI docs show exactly what is served."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from models.call_record import CallRecord, CallStatus, TransferInfo
from utils.hinglish import normalize_phone


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
    to: str = Field(description="Number to call: E.164, or an Indian mobile as written (+91 98765 43210)")
    purpose: str = Field(min_length=1, max_length=300, description="Why we call; the assistant opens with it")

    @field_validator("to")
    @classmethod
    def _phone(cls, value: str) -> str:
        phone = normalize_phone(value)
        if phone is None:
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
