"""Exotel Voicebot streams: the only module that reads or writes Exotel's stream JSON.

Exotel → us: `connected`, `start`, `media` (16-bit PCM, base64), `dtmf`, `mark` (our mark, echoed once
played), `stop`; us → Exotel: `media`, `mark`, `clear`; snake_case fields, numbers often as strings
(https://developer.exotel.com/docs/agentstream/websocket-protocol). The adapter transcodes PCM ⇄ μ-law
(`exotel_audio`) and re-chunks outbound audio: a mark goes out after the chunk that carries the end of
its audio, and what is left when the model pauses is padded and sent as the last chunk (`TAIL_IDLE_S`).
Whether Exotel echoes marks pending at a `clear` is undocumented: `SocketStream` flushes them locally.
Ending the call = closing the socket; the flow's next applet (Passthru, then Connect or Hangup) runs.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from dataclasses import dataclass

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from services.telephony.events import AudioIn, CallInfo, Digit, PlaybackMarkEcho, StreamEvent, StreamStopped
from services.telephony.exotel_audio import Rechunker, pcm16_b64_to_ulaw_b64, ulaw_to_pcm16
from services.telephony.socket_stream import Drop, SocketStream

START_TIMEOUT_S = 10.0
TAIL_IDLE_S = 0.06  # no audio from the model for this long: the line paused or ended, send what is left
CALL_SID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
SAMPLE_RATE = "8000"


@dataclass(frozen=True, slots=True)
class ExotelStart:
    call_sid: str
    stream_sid: str
    account_sid: str
    sample_rate: str


def _frame(event: str, stream_sid: str, body: dict[str, str] | None = None) -> str:
    message: dict[str, object] = {"event": event, "stream_sid": stream_sid}
    if body is not None:
        message[event] = body
    return orjson.dumps(message).decode()


def decode(text: str) -> StreamEvent | Drop | None:
    try:
        message = orjson.loads(text)
        event = message["event"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return "malformed"
    body = message.get(event) if isinstance(message, dict) else None
    if event == "media":
        payload = body.get("payload") if isinstance(body, dict) else None
        converted = pcm16_b64_to_ulaw_b64(payload) if isinstance(payload, str) else None
        return AudioIn(converted) if converted else "malformed"
    if event == "mark":
        name = body.get("name") if isinstance(body, dict) else None
        return PlaybackMarkEcho(name) if isinstance(name, str) and name else "invalid"
    if event == "dtmf":
        digit = body.get("digit") if isinstance(body, dict) else None
        return Digit(digit) if isinstance(digit, str) and len(digit) == 1 and digit in "0123456789*#" else "invalid"
    if event == "stop":
        return StreamStopped()
    return None  # `connected`, a repeated `start`, anything Exotel adds


async def read_start(websocket: WebSocket) -> ExotelStart | None:
    """`connected` then `start`; anything else first (or nothing in time) is not an Exotel stream."""
    try:
        async with asyncio.timeout(START_TIMEOUT_S):
            for _ in range(2):
                message = await websocket.receive()
                text = message.get("text")
                if message["type"] != "websocket.receive" or not isinstance(text, str) or len(text) > 16_384:
                    return None
                parsed = orjson.loads(text)
                event = parsed.get("event") if isinstance(parsed, dict) else None
                if event == "start":
                    return _start(parsed.get("start"))
                if event != "connected":
                    return None
    except (TimeoutError, ValueError, RuntimeError, WebSocketDisconnect):
        return None
    return None


def _start(start: object) -> ExotelStart | None:
    if not isinstance(start, dict):
        return None
    fields = [start.get(key) for key in ("call_sid", "stream_sid", "account_sid")]
    media_format = start.get("media_format")
    rate = str(media_format.get("sample_rate", "")) if isinstance(media_format, dict) else ""
    if not all(isinstance(value, str) and CALL_SID.fullmatch(value) for value in fields):
        return None
    call_sid, stream_sid, account_sid = (str(value) for value in fields)
    return ExotelStart(call_sid, stream_sid, account_sid, rate)


class ExotelMediaStream(SocketStream):
    carrier = "exotel"

    def __init__(self, websocket: WebSocket, info: CallInfo, max_message_bytes: int) -> None:
        super().__init__(websocket, info, max_message_bytes)
        self._chunks = Rechunker()
        self._waiting: list[tuple[str, int]] = []  # marks whose audio is (partly) still buffered: name, end
        self._tail: asyncio.TimerHandle | None = None
        self._tail_task: asyncio.Task[None] | None = None

    def decode(self, text: str) -> StreamEvent | Drop | None:
        event = decode(text)
        if isinstance(event, StreamStopped):
            self.stopped = True
        return event

    async def send_audio(self, payload: str, mark: str) -> None:
        try:
            pcm = ulaw_to_pcm16(base64.b64decode(payload, validate=True))
        except (binascii.Error, ValueError):
            return
        async with self._send_lock:
            self._mark_sent(mark)
            before = self._chunks.buffered
            chunks = self._chunks.feed(pcm)
            self._waiting.append((mark, before + len(pcm)))
            await self._send_chunks(chunks)
        self._schedule_tail()

    async def _send_chunks(self, chunks: list[bytes]) -> None:
        frames: list[str] = []
        for chunk in chunks:
            frames.append(_frame("media", self.info.stream_sid, {"payload": base64.b64encode(chunk).decode()}))
            done = [(name, end - len(chunk)) for name, end in self._waiting]
            frames += [_frame("mark", self.info.stream_sid, {"name": name}) for name, end in done if end <= 0]
            self._waiting = [(name, end) for name, end in done if end > 0]
        await self._write(*frames)

    def _schedule_tail(self) -> None:
        if self._tail is not None:
            self._tail.cancel()
        self._tail = asyncio.get_running_loop().call_later(TAIL_IDLE_S, self._start_tail)

    def _start_tail(self) -> None:
        self._tail_task = asyncio.get_running_loop().create_task(self._flush_tail())

    async def _flush_tail(self) -> None:
        async with self._send_lock:
            chunk = self._chunks.tail()
            if chunk is not None:
                self._waiting = [(name, min(end, len(chunk))) for name, end in self._waiting]
                await self._send_chunks([chunk])

    async def clear(self) -> None:
        if self._tail is not None:
            self._tail.cancel()
        async with self._send_lock:
            self._chunks.clear()
            self._waiting.clear()
            self._flush_marks()
            await self._write(_frame("clear", self.info.stream_sid))

    async def close(self) -> None:
        if self._tail is not None:
            self._tail.cancel()
        await self._close_socket()
