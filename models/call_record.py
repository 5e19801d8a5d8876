"""The record of one call, as stored in the `calls` collection and served at `/call/<call_sid>`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field


def utc_now() -> datetime:
    return datetime.now(UTC)


class CallParties(Protocol):
    """Who a call is between, as the carrier's stream start tells it (`services.telephony.events.CallInfo`)."""

    @property
    def call_sid(self) -> str: ...
    @property
    def stream_sid(self) -> str: ...
    @property
    def caller(self) -> str | None: ...
    @property
    def called(self) -> str | None: ...
    @property
    def direction(self) -> Literal["inbound", "outbound"]: ...
    @property
    def purpose(self) -> str | None: ...
    @property
    def attestation(self) -> str | None: ...


class TranscriptLine(BaseModel):
    role: Literal["caller", "assistant", "system"]
    text: str
    at: datetime = Field(default_factory=utc_now)
    item_id: str | None = None
    interrupted: bool = False  # assistant line cut by the caller: `text` keeps only what was heard


class ToolCallRecord(BaseModel):
    call_id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    ok: bool
    error: str | None = None
    output: dict[str, Any] = Field(default_factory=dict)
    duration_ms: float
    at: datetime = Field(default_factory=utc_now)


class TransferInfo(BaseModel):
    status: Literal["requested", "dialing", "connected", "failed", "unavailable"] = "requested"
    reason: str | None = None
    department: str | None = None
    summary: str | None = None
    agent_number_masked: str | None = None
    dial_call_status: str | None = None
    updated_at: datetime = Field(default_factory=utc_now)


Disposition = Literal["resolved", "transferred", "callback", "abandoned"]


class CallSummary(BaseModel):
    """A short account of the call for staff: why they called, what was done, how it ended, what next."""

    reason: str = ""
    actions: str = ""
    outcome: str = ""
    follow_up: str = ""
    disposition: Disposition = "resolved"
    source: Literal["model", "transcript"] = "transcript"  # written by the model, or from the record's facts
    at: datetime = Field(default_factory=utc_now)

    def one_line(self) -> str:
        return "; ".join(
            part.rstrip(". ") for part in (self.reason, self.actions, self.outcome, self.follow_up) if part
        )


class StaffNote(BaseModel):
    """Context a staff member pushed into a live call, for the assistant only (never read out)."""

    text: str
    author: str
    at: datetime = Field(default_factory=utc_now)
    delivered: bool = False  # reached the live Realtime session


class TurnLatency(BaseModel):
    response_id: str
    speech_end_to_audio_ms: float
    model_ms: float | None = None  # speech stopped → first audio delta from OpenAI
    at: datetime = Field(default_factory=utc_now)


class Latencies(BaseModel):
    greeting_ms: float | None = None  # stream start → first greeting audio sent to Twilio
    turns: list[TurnLatency] = Field(default_factory=list)
    barge_ins: int = 0


class Usage(BaseModel):
    input_text_tokens: int = 0
    input_audio_tokens: int = 0
    input_cached_tokens: int = 0
    output_text_tokens: int = 0
    output_audio_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float = 0.0
    cost_inr: float = 0.0


class RealtimeReconnect(BaseModel):
    """The call moved to a new Realtime session: after a drop (`reason` says why) or before the cap."""

    at: datetime = Field(default_factory=utc_now)
    reason: str
    gap_ms: float  # caller audio was held (not lost) for this long
    attempts: int
    ok: bool = True


CallStatus = Literal["queued", "in_progress", "completed", "transferred", "failed"]
# What a live call is doing now, for the live views (the console); written with the record.
CallPhase = Literal["greeting", "listening", "speaking", "tool", "transferring", "ended"]


class CallRecord(BaseModel):
    call_sid: str
    stream_sid: str | None = None
    from_number: str | None = None
    to_number: str | None = None
    direction: Literal["inbound", "outbound"] = "inbound"
    purpose: str | None = None
    carrier: str = "twilio"  # whose media stream the call came on: twilio, plivo or exotel
    caller_attestation: str | None = None  # STIR/SHAKEN (Twilio `StirVerstat`), e.g. "TN-Validation-Passed-A"
    status: CallStatus = "in_progress"
    phase: CallPhase = "greeting"
    node: str | None = None  # base URL of the app process holding the stream (commands for the call go there)
    summary: CallSummary | None = None  # at a transfer (for the agent) and at the end of the call
    disposition: Disposition | None = None
    staff_notes: list[StaffNote] = Field(default_factory=list)  # written by `LiveCallCommands`, not the session
    twilio_status: str | None = None
    started_at: datetime = Field(default_factory=utc_now)
    ended_at: datetime | None = None
    duration_s: float | None = None
    twilio_duration_s: int | None = None
    end_reason: str | None = None
    transcript: list[TranscriptLine] = Field(default_factory=list)
    tool_calls: list[ToolCallRecord] = Field(default_factory=list)
    tickets: list[str] = Field(default_factory=list)
    transfer: TransferInfo | None = None
    latencies: Latencies = Field(default_factory=Latencies)
    usage: Usage = Field(default_factory=Usage)
    realtime_errors: list[str] = Field(default_factory=list)
    realtime_preopened: bool = False  # the Realtime session was opened at webhook time
    realtime_sessions: list[RealtimeReconnect] = Field(default_factory=list)  # reconnects and rotations
    updated_at: datetime = Field(default_factory=utc_now)

    @classmethod
    def for_call(cls, info: CallParties) -> CallRecord:
        return cls(
            call_sid=info.call_sid,
            stream_sid=info.stream_sid,
            from_number=info.caller,
            to_number=info.called,
            direction=info.direction,
            purpose=info.purpose,
            caller_attestation=info.attestation,
        )

    def next_leg(self, stream_sid: str) -> CallRecord:
        """The same call on a new stream (back from a failed transfer): the record goes on."""
        return self.model_copy(
            update={
                "stream_sid": stream_sid,
                "status": "in_progress",
                "phase": "listening",
                "ended_at": None,
                "end_reason": None,
            },
            deep=True,
        )

    def finish(self, end_reason: str, duration_s: float) -> None:
        """The call is over: when, how long, why; a call nobody marked otherwise is completed."""
        self.ended_at = utc_now()
        self.duration_s = round((self.duration_s or 0.0) + duration_s, 3)  # summed over the call's legs
        self.end_reason = end_reason
        self.phase = "ended"
        if self.status == "in_progress":
            self.status = "failed" if end_reason.startswith("realtime") else "completed"
