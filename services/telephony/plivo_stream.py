"""Plivo Audio Streams: the only module that reads or writes Plivo's stream JSON.

Plivo → us: `start`, `media`, `dtmf`, `playedStream` (the answer to our `checkpoint`; an older name is
`played`), `clearedAudio`, `stop`; camelCase fields. Us → Plivo: `playAudio`, `checkpoint`,
`clearAudio` (https://www.plivo.com/docs/voice-agents/audio-streaming/concepts/audio-streaming-reference).
The stream is `audio/x-mulaw;rate=8000` both ways, so payloads pass through as the same base64 text.
Plivo drops pending checkpoints on `clearAudio` without answering them: `SocketStream` hands them back.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass

import orjson
from starlette.websockets import WebSocket

from services.telephony.events import (
    CallInfo,
    PlaybackMarkEcho,
    StreamEvent,
    StreamStopped,
    checked_audio,
)
from services.telephony.plivo_rest import PlivoRest
from services.telephony.socket_stream import Drop, SocketStream, keypad_digit, parse, read_start_frame

HANG_UP_TIMEOUT_S = 3.0
CALL_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_MARK_ECHOES = frozenset({"playedStream", "played"})


@dataclass(frozen=True, slots=True)
class PlivoStart:
    call_uuid: str
    stream_id: str
    account_id: str


class PlivoCodec:
    """Plivo stream JSON ⇄ events for one stream (our frames carry its `streamId`)."""

    def __init__(self, stream_id: str) -> None:
        sid = orjson.dumps(stream_id).decode()
        self._media_head = '{"event":"playAudio","media":{"contentType":"audio/x-mulaw","sampleRate":8000,"payload":'
        self._checkpoint_head = '{"event":"checkpoint","streamId":' + sid + ',"name":'
        self._clear = '{"event":"clearAudio","streamId":' + sid + "}"

    @staticmethod
    def decode(text: str) -> StreamEvent | Drop | None:
        parsed = parse(text)
        if parsed is None:
            return "malformed"
        message, event = parsed
        if event == "media":  # fast path: no model per frame
            media = message.get("media")
            if not isinstance(media, dict):
                return "malformed"
            payload = media.get("payload")
            if not isinstance(payload, str) or media.get("track", "inbound") != "inbound":
                return "malformed"
            audio = checked_audio(payload)  # not base64: OpenAI would reject the append
            return audio if audio is not None else "malformed"
        if event in _MARK_ECHOES:
            name = message.get("name")
            return PlaybackMarkEcho(name) if isinstance(name, str) and name else "invalid"
        if event == "dtmf":
            dtmf = message.get("dtmf")
            return keypad_digit(dtmf.get("digit") if isinstance(dtmf, dict) else None)
        if event == "stop":
            return StreamStopped()
        return None  # clearedAudio (we flushed already), and events Plivo may add: ignored

    def play(self, payload: str) -> str:
        return self._media_head + orjson.dumps(payload).decode() + "}}"

    def checkpoint(self, name: str) -> str:
        return self._checkpoint_head + orjson.dumps(name).decode() + "}"

    def clear(self) -> str:
        return self._clear


async def read_start(websocket: WebSocket) -> PlivoStart | None:
    """The first frame must be a well-formed `start`; anything else (or nothing in time) is not Plivo."""
    parsed = await read_start_frame(websocket, frames=1)
    start = parsed.get("start") if parsed is not None else None
    if not isinstance(start, dict):
        return None
    call_uuid, stream_id = start.get("callId"), start.get("streamId")
    account = start.get("accountId", "")
    if not (isinstance(call_uuid, str) and isinstance(stream_id, str) and isinstance(account, str)):
        return None
    if not CALL_UUID.fullmatch(call_uuid) or not 0 < len(stream_id) <= 64:
        return None
    return PlivoStart(call_uuid, stream_id, account)


class PlivoMediaStream(SocketStream):
    """A live Plivo stream. Ending it: close the socket (the `<Hangup/>` after our `<Stream>` then runs), and
    hang up through REST as well, unless the caller already did (`stop`) or we transferred the call."""

    carrier = "plivo"

    def __init__(self, websocket: WebSocket, info: CallInfo, max_message_bytes: int, rest: PlivoRest) -> None:
        super().__init__(websocket, info, max_message_bytes)
        self.codec = PlivoCodec(info.stream_sid)
        self._rest = rest

    def decode(self, text: str) -> StreamEvent | Drop | None:
        event = self.codec.decode(text)
        if isinstance(event, StreamStopped):
            self.stopped = True
        return event

    async def send_audio(self, payload: str, mark: str | None) -> None:
        play = self.codec.play(payload)
        async with self._send_lock:
            if mark is None:
                await self._write(play)
                return
            self._mark_sent(mark)
            await self._write(play, self.codec.checkpoint(mark))

    async def send_mark(self, mark: str) -> None:
        async with self._send_lock:
            self._mark_sent(mark)
            await self._write(self.codec.checkpoint(mark))

    async def clear(self) -> None:
        async with self._send_lock:
            self._flush_marks()
            await self._write(self.codec.clear())

    async def close(self) -> None:
        await self._close_socket()
        if self.stopped or self._rest.moved(self.info.call_sid):
            return
        self.stopped = True  # idempotent
        with contextlib.suppress(Exception):  # ended already (404), or Plivo unreachable: the XML hangs up
            await asyncio.wait_for(self._rest.hang_up(self.info.call_sid), HANG_UP_TIMEOUT_S)
