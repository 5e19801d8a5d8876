"""What Plivo's and Exotel's stream adapters share: one socket, one writer, marks flushed locally on clear.

Twilio echoes every pending mark when told to `clear`; Plivo (`clearedAudio`, and no `playedStream`
for the checkpoints it dropped) and Exotel (undocumented) do not. The ledger
(`services.call.playback.PlaybackLedger`) files the marks pending at barge-in as flushed and waits for
them to come back, so this class hands them back itself, at once: the call never waits on the carrier
for an echo that may never come, and an echo the carrier sends anyway is simply unknown by then.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any, Literal

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from services import metrics
from services.telephony.events import AudioIn, CallInfo, Digit, PlaybackMarkEcho, StreamClosed, StreamEvent
from services.telephony.frames import FrameSocket, FrameTake, frame_socket
from utils.logger import get_logger

log = get_logger(__name__)

Drop = Literal["malformed", "invalid"]
KEYPAD = "0123456789*#"


def parse(text: str) -> tuple[dict[str, Any], str] | None:
    """A frame's JSON object and its `event`, or None when it is not one (dropped as malformed)."""
    try:
        message = orjson.loads(text)
        return message, str(message["event"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None


async def next_text(frames: FrameSocket, max_bytes: int, stream_log: Any) -> str | StreamClosed:
    """The next text frame of a carrier socket (binary and oversized ones are dropped and counted), or
    why the socket closed. Every carrier's stream reads through here."""
    while True:
        frame = await frames.receive_frame()
        if isinstance(frame, str):
            if len(frame) <= max_bytes:
                return frame
            metrics.DROPPED_MESSAGES.labels(reason="oversized").inc()
            stream_log.warning("stream_message_oversized", size=len(frame))
        elif isinstance(frame, StreamClosed):
            return frame
        else:
            metrics.DROPPED_MESSAGES.labels(reason="binary").inc()


def audio_tap(decode: Callable[[str], object], sink: Callable[[AudioIn], None], max_bytes: int) -> FrameTake:
    """A `FrameSocket.tap` that takes each frame of caller audio to `sink` and declines every other frame,
    which the stream's `receive` then reads (and drops and counts, if it is bad) as it always did."""

    def take(text: str) -> bool:
        if len(text) > max_bytes:
            return False
        event = decode(text)
        if type(event) is AudioIn:
            sink(event)
            return True
        return False

    return take


START_TIMEOUT_S = 10.0
START_MAX_CHARS = 16_384


async def read_start_frame(websocket: WebSocket, *, frames: int) -> dict[str, Any] | None:
    """A carrier's `start` message as a JSON object, read before the stream is authenticated: within
    `frames` frames (`connected` is the only one allowed before it) and START_TIMEOUT_S. Whatever a client
    sends (binary frames, JSON that is not an object, a huge frame, nothing) ends in None, never an error."""
    try:
        async with asyncio.timeout(START_TIMEOUT_S):
            for _ in range(frames):
                message = await websocket.receive()
                text = message.get("text")
                if message["type"] != "websocket.receive" or not isinstance(text, str) or len(text) > START_MAX_CHARS:
                    return None
                parsed = orjson.loads(text)
                event = parsed.get("event") if isinstance(parsed, dict) else None
                if event == "start":
                    return dict(parsed)
                if event != "connected":
                    return None
    except (TimeoutError, ValueError, RuntimeError, WebSocketDisconnect):
        return None
    return None


def keypad_digit(value: object) -> Digit | Drop:
    return Digit(value) if isinstance(value, str) and len(value) == 1 and value in KEYPAD else "invalid"


class SocketStream:
    """A carrier socket: subclasses decode a frame (`decode`) and write their own frames under `_send_lock`."""

    carrier = "carrier"

    def __init__(self, websocket: WebSocket, info: CallInfo, max_message_bytes: int) -> None:
        self._ws = frame_socket(websocket)
        self.info = info
        self._max_bytes = max_message_bytes
        self._send_lock = asyncio.Lock()
        self._pending: deque[str] = deque()  # marks sent, not yet echoed (in order)
        self._flushed: deque[str] = deque()  # marks dropped by our clear: handed back by `receive`
        self.stopped = False  # the carrier said `stop` (the call is over at its end)
        self._log = log.bind(call_sid=info.call_sid, carrier=self.carrier)

    def decode(self, text: str) -> StreamEvent | Drop | None:
        """One inbound text frame: an event, a reason to drop it, or None for frames that mean nothing."""
        raise NotImplementedError

    def deliver_audio(self, sink: Callable[[AudioIn], None]) -> bool:
        return self._ws.tap(audio_tap(self.decode, sink, self._max_bytes))

    async def receive(self) -> StreamEvent:
        while True:
            if self._flushed:
                return PlaybackMarkEcho(self._flushed.popleft())
            text = await next_text(self._ws, self._max_bytes, self._log)
            if isinstance(text, StreamClosed):
                return text
            event = self.decode(text)
            if isinstance(event, str):
                metrics.DROPPED_MESSAGES.labels(reason=event).inc()
                continue
            if isinstance(event, PlaybackMarkEcho):
                if event.name not in self._pending:
                    continue  # flushed by our clear (already handed back), or never ours
                while self._pending and self._pending.popleft() != event.name:
                    pass
            if event is not None:
                return event

    def _mark_sent(self, name: str) -> None:
        self._pending.append(name)

    def _flush_marks(self) -> None:
        """Our clear dropped the audio before every pending mark: hand them back as flushed."""
        self._flushed.extend(self._pending)
        self._pending.clear()

    async def _write(self, *frames: str) -> None:
        for frame in frames:  # closed under us: nothing is written, `receive` says so
            await self._ws.send_text(frame)

    async def _close_socket(self) -> None:
        await self._ws.close(1000)
