"""Typed Twilio Media Streams messages (Twilio → our app), parsed once per frame.

Only the fields we use are declared; Twilio may add fields, so extra keys are ignored here.
The outbound messages (media / mark / clear) are built by `services.telephony.twilio_stream.TwilioCodec`
because their exact key sets are part of the protocol.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ConnectedMessage(_Message):
    event: Literal["connected"]
    protocol: str | None = None
    version: str | None = None


class MediaFormat(_Message):
    encoding: str
    sample_rate: int = Field(alias="sampleRate")
    channels: int


class StartPayload(_Message):
    stream_sid: str = Field(alias="streamSid")
    account_sid: str = Field(alias="accountSid")
    call_sid: str = Field(alias="callSid")
    tracks: list[str] = Field(default_factory=list)
    custom_parameters: dict[str, str] = Field(default_factory=dict, alias="customParameters")
    media_format: MediaFormat | None = Field(default=None, alias="mediaFormat")


class StartMessage(_Message):
    event: Literal["start"]
    stream_sid: str = Field(alias="streamSid")
    start: StartPayload


class MediaPayload(_Message):
    track: str = "inbound"
    chunk: int
    timestamp: int
    payload: str


class MediaMessage(_Message):
    event: Literal["media"]
    stream_sid: str = Field(alias="streamSid")
    media: MediaPayload


class MarkPayload(_Message):
    name: str


class MarkMessage(_Message):
    event: Literal["mark"]
    stream_sid: str = Field(alias="streamSid")
    mark: MarkPayload


class DtmfPayload(_Message):
    digit: str
    track: str | None = None


class DtmfMessage(_Message):
    event: Literal["dtmf"]
    stream_sid: str = Field(alias="streamSid")
    dtmf: DtmfPayload


class StopMessage(_Message):
    event: Literal["stop"]
    stream_sid: str = Field(alias="streamSid")


TwilioMessage = Annotated[
    ConnectedMessage | StartMessage | MediaMessage | MarkMessage | DtmfMessage | StopMessage,
    Field(discriminator="event"),
]
twilio_message_adapter: TypeAdapter[TwilioMessage] = TypeAdapter(TwilioMessage)
