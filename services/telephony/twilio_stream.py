"""Twilio Media Streams: the only module that reads or writes Twilio's stream JSON.

`TwilioCodec` is a pure codec (text frame ⇄ `events`), shaped like Pipecat's `serializers/twilio.py`;
`TwilioMediaStream` is the transport a call uses: the socket, its single send lock, size limits.

Media is the hot path (50 frames a second each way): it is parsed with orjson and its base64 payload
is passed on as the same string, never decoded or re-encoded; typed models are built only for the
rare control messages. Outbound frames carry exactly Twilio's keys (any other key is warning 31951).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import orjson
from pydantic import ValidationError
from starlette.websockets import WebSocket

from models.twilio_stream import StartMessage, StartPayload, twilio_message_adapter
from services import metrics
from services.telephony.events import (
    AudioIn,
    CallInfo,
    Digit,
    PlaybackMarkEcho,
    StreamClosed,
    StreamEvent,
    StreamStopped,
    checked_audio,
)
from services.telephony.frames import frame_socket
from services.telephony.socket_stream import audio_tap, next_text, read_start_frame
from utils.logger import get_logger

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Dropped:
    """A frame that is not usable (malformed JSON, unknown shape, outbound track, ...)."""

    reason: Literal["malformed", "invalid"]


class TwilioCodec:
    """Twilio stream JSON ⇄ events, for one stream (outbound frames carry its `streamSid`)."""

    def __init__(self, stream_sid: str) -> None:
        self.stream_sid = stream_sid
        # The constant part of every outbound frame, serialised once.
        self._media_head = '{"event":"media","streamSid":' + orjson.dumps(stream_sid).decode() + ',"media":{"payload":'
        self._mark_head = '{"event":"mark","streamSid":' + orjson.dumps(stream_sid).decode() + ',"mark":{"name":'
        self._clear = orjson.dumps({"event": "clear", "streamSid": stream_sid}).decode()

    @staticmethod
    def decode(text: str | bytes) -> StreamEvent | Dropped | None:
        """One inbound frame. None for frames that mean nothing to a call (e.g. `connected`)."""
        try:
            message = orjson.loads(text)
            event = message["event"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return Dropped("malformed")
        if event == "media":  # fast path: no model per frame
            media = message.get("media")
            payload = media.get("payload") if isinstance(media, dict) else None
            if not isinstance(payload, str) or media.get("track", "inbound") != "inbound":
                return Dropped("malformed")
            audio = checked_audio(payload)  # not base64: OpenAI would reject the append
            return audio if audio is not None else Dropped("malformed")
        try:
            parsed = twilio_message_adapter.validate_python(message)
        except ValueError:
            return Dropped("invalid")
        if parsed.event == "mark":
            return PlaybackMarkEcho(parsed.mark.name)
        if parsed.event == "dtmf":
            return Digit(parsed.dtmf.digit)
        if parsed.event == "stop":
            return StreamStopped()
        return None

    def media(self, payload: str) -> str:
        # orjson.dumps of the payload keeps the exact base64 text (it has nothing to escape).
        return self._media_head + orjson.dumps(payload).decode() + "}}"

    def mark(self, name: str) -> str:
        return self._mark_head + orjson.dumps(name).decode() + "}}"

    def clear(self) -> str:
        return self._clear


def call_info(start: StartPayload) -> CallInfo:
    """The call described by our `<Stream>` parameters (see `twilio_voice.connect_stream_twiml`)."""
    params = start.custom_parameters
    return CallInfo(
        call_sid=start.call_sid,
        stream_sid=start.stream_sid,
        caller=params.get("caller") or None,
        called=params.get("called") or None,
        direction="outbound" if params.get("direction") == "outbound" else "inbound",
        purpose=params.get("purpose") or None,
        attestation=params.get("attestation") or None,
    )


async def read_start(websocket: WebSocket) -> StartPayload | None:
    """`connected` then `start`; anything else first (or nothing in time) means not a Twilio stream. A
    malformed start ends in None too: this runs before the stream is authenticated."""
    parsed = await read_start_frame(websocket, frames=3)  # a client that chatters is not Twilio
    if parsed is None:
        return None
    try:
        return StartMessage.model_validate(parsed).start
    except ValidationError:
        return None


class TwilioMediaStream:
    """A live Twilio stream: typed events in, media/mark/clear out, one writer at a time."""

    carrier = "twilio"

    def __init__(self, websocket: WebSocket, start: StartPayload, max_message_bytes: int) -> None:
        self._ws = frame_socket(websocket)
        self.info = call_info(start)
        self.codec = TwilioCodec(start.stream_sid)
        self._max_bytes = max_message_bytes
        self._send_lock = asyncio.Lock()
        self._log = log.bind(call_sid=self.info.call_sid)

    def deliver_audio(self, sink: Callable[[AudioIn], None]) -> bool:
        return self._ws.tap(audio_tap(self.codec.decode, sink, self._max_bytes))

    async def receive(self) -> StreamEvent:
        while True:
            text = await next_text(self._ws, self._max_bytes, self._log)
            if isinstance(text, StreamClosed):
                return text
            event = self.codec.decode(text)
            if isinstance(event, Dropped):
                metrics.DROPPED_MESSAGES.labels(reason=event.reason).inc()
                if event.reason == "invalid":
                    self._log.warning("stream_message_invalid")
                continue
            if event is not None:
                return event

    async def send_audio(self, payload: str, mark: str | None) -> None:
        media = self.codec.media(payload)
        async with self._send_lock:  # a socket closed under us writes nothing: `receive` says so
            await self._ws.send_text(media)
            if mark is not None:
                await self._ws.send_text(self.codec.mark(mark))

    async def send_mark(self, mark: str) -> None:
        async with self._send_lock:
            await self._ws.send_text(self.codec.mark(mark))

    async def clear(self) -> None:
        async with self._send_lock:
            await self._ws.send_text(self.codec.clear())

    async def close(self) -> None:
        # With nothing after <Connect> in our TwiML, closing the stream ends the call (or, after a REST
        # redirect, is simply the end of our leg).
        await self._ws.close(1000)
