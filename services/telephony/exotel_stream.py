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
from collections import deque
from dataclasses import dataclass

import orjson
from starlette.websockets import WebSocket

from services.telephony.events import (
    CallInfo,
    PlaybackMarkEcho,
    StreamClosed,
    StreamEvent,
    StreamStopped,
    checked_audio,
)
from services.telephony.exotel_audio import Rechunker, pcm16_b64_to_ulaw_b64, ulaw_to_pcm16
from services.telephony.socket_stream import Drop, SocketStream, keypad_digit, parse, read_start_frame

TAIL_IDLE_S = 0.06  # no audio from the model for this long: the line paused or ended, send what is left
CALL_SID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
SAMPLE_RATE = "8000"
BYTES_PER_MS = 16  # 16-bit PCM at 8 kHz


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
    parsed = parse(text)
    if parsed is None:
        return "malformed"
    message, event = parsed
    body = message.get(event)
    if event == "media":
        payload = body.get("payload") if isinstance(body, dict) else None
        converted = pcm16_b64_to_ulaw_b64(payload) if isinstance(payload, str) else None
        audio = checked_audio(converted) if converted else None
        return audio if audio is not None else "malformed"
    if event == "mark":
        name = body.get("name") if isinstance(body, dict) else None
        return PlaybackMarkEcho(name) if isinstance(name, str) and name else "invalid"
    if event == "dtmf":
        return keypad_digit(body.get("digit") if isinstance(body, dict) else None)
    if event == "stop":
        return StreamStopped()
    return None  # `connected`, a repeated `start`, anything Exotel adds


async def read_start(websocket: WebSocket) -> ExotelStart | None:
    """`connected` then `start`; anything else first (or nothing in time) is not an Exotel stream."""
    parsed = await read_start_frame(websocket, frames=2)
    return None if parsed is None else _start(parsed.get("start"))


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


@dataclass(slots=True)
class _Chunk:
    """One `media` sent, with our own Exotel mark after it, and the call's marks whose audio ends inside."""

    exotel_mark: str
    marks: list[tuple[str, float]]  # (the call's mark, ms from the chunk's start where its audio ends)
    ms: float  # the chunk's length


class ExotelMediaStream(SocketStream):
    """A live Exotel stream. Exotel's 200 ms minimum chunk does not line up with the call's marks, so each
    chunk carries our own mark, and the call's marks inside a chunk are handed back on the clock of that
    chunk's playout: it starts when the chunk before it is echoed (or at once, when nothing was queued).
    Without that, "heard" would lag what played by up to a chunk (barge-in)."""

    carrier = "exotel"

    def __init__(self, websocket: WebSocket, info: CallInfo, max_message_bytes: int) -> None:
        super().__init__(websocket, info, max_message_bytes)
        self._rechunker = Rechunker()
        self._waiting: list[tuple[str, int]] = []  # the call's marks still in the buffer: name, end (bytes)
        self._chunks: deque[_Chunk] = deque()  # sent, not yet echoed
        self._chunk_count = 0
        self._timers: list[asyncio.TimerHandle] = []
        self._events: asyncio.Queue[StreamEvent] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self._tail: asyncio.TimerHandle | None = None
        self._tail_task: asyncio.Task[None] | None = None

    def decode(self, text: str) -> StreamEvent | Drop | None:
        event = decode(text)
        if isinstance(event, StreamStopped):
            self.stopped = True
        if isinstance(event, PlaybackMarkEcho):
            self._chunk_played(event.name)
            return None  # the call's marks come from `_release`, on the chunk's clock
        return event

    async def receive(self) -> StreamEvent:
        if self._reader is None:
            self._reader = asyncio.get_running_loop().create_task(self._read_socket())
        return await self._events.get()

    async def _read_socket(self) -> None:
        while True:
            event = await super().receive()
            self._events.put_nowait(event)
            if isinstance(event, StreamStopped | StreamClosed):
                return

    def _flush_marks(self) -> None:
        for name in self._pending:
            self._events.put_nowait(PlaybackMarkEcho(name))
        self._pending.clear()

    def _release(self, name: str) -> None:
        if name in self._pending:  # not already released, nor flushed by a clear
            self._pending.remove(name)
            self._events.put_nowait(PlaybackMarkEcho(name))

    def _start_clock(self, chunk: _Chunk) -> None:
        loop = asyncio.get_running_loop()
        self._timers = [timer for timer in self._timers if not timer.cancelled()]
        self._timers += [loop.call_later(at / 1000, self._release, name) for name, at in chunk.marks]

    def _chunk_played(self, exotel_mark: str) -> None:
        if all(chunk.exotel_mark != exotel_mark for chunk in self._chunks):
            return  # flushed by a clear, or not ours
        while self._chunks:
            chunk = self._chunks.popleft()
            for name, _ in chunk.marks:
                self._release(name)
            if chunk.exotel_mark == exotel_mark:
                break
        if self._chunks:
            self._start_clock(self._chunks[0])  # the next chunk starts playing now

    async def send_audio(self, payload: str, mark: str | None) -> None:
        try:
            pcm = ulaw_to_pcm16(base64.b64decode(payload, validate=True))
        except (binascii.Error, ValueError):
            return
        async with self._send_lock:
            if mark is not None:
                self._mark_sent(mark)
                self._waiting.append((mark, self._rechunker.buffered + len(pcm)))
            await self._send_chunks(self._rechunker.feed(pcm))
        if self._tail is not None:
            self._tail.cancel()
        self._tail = asyncio.get_running_loop().call_later(TAIL_IDLE_S, self._start_tail)

    async def send_mark(self, mark: str) -> None:
        async with self._send_lock:
            self._mark_sent(mark)
            if self._rechunker.buffered:  # its audio ends with what is buffered (sent as the tail, if no more)
                self._waiting.append((mark, self._rechunker.buffered))
            elif self._chunks:  # at the end of the last chunk sent (handed back at its echo, at the latest)
                self._chunks[-1].marks.append((mark, self._chunks[-1].ms))
            else:  # everything sent has played
                self._release(mark)

    async def _send_chunks(self, chunks: list[bytes]) -> None:
        frames: list[str] = []
        for data in chunks:
            self._chunk_count += 1
            marks = [(n, end / BYTES_PER_MS) for n, end in self._waiting if end <= len(data)]
            chunk = _Chunk(f"x{self._chunk_count}", marks, len(data) / BYTES_PER_MS)
            self._waiting = [(name, end - len(data)) for name, end in self._waiting if end > len(data)]
            frames.append(_frame("media", self.info.stream_sid, {"payload": base64.b64encode(data).decode()}))
            frames.append(_frame("mark", self.info.stream_sid, {"name": chunk.exotel_mark}))
            self._chunks.append(chunk)
            if len(self._chunks) == 1:
                self._start_clock(chunk)  # nothing queued at the phone: it plays from now
        await self._write(*frames)

    def _start_tail(self) -> None:
        self._tail_task = asyncio.get_running_loop().create_task(self._flush_tail())

    async def _flush_tail(self) -> None:
        async with self._send_lock:
            data = self._rechunker.tail()
            if data is not None:
                await self._send_chunks([data])

    def _stop_timers(self) -> None:
        if self._tail is not None:
            self._tail.cancel()
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()

    async def clear(self) -> None:
        self._stop_timers()
        async with self._send_lock:
            self._rechunker.clear()
            self._waiting.clear()
            self._chunks.clear()
            self._flush_marks()
            await self._write(_frame("clear", self.info.stream_sid))

    async def close(self) -> None:
        self._stop_timers()
        await self._close_socket()
        if self._reader is not None:
            self._reader.cancel()
