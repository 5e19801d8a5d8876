"""A call's link to OpenAI Realtime: the one owner of the call's OpenAI socket, across its whole life.

It claims the session pre-opened at webhook time (or opens one), and offers the call two kinds of
send: `append_audio` on the hot path (frames coalesced into fewer appends, `inbound_audio`; each
pre-serialised JSON written straight on the socket under the SDK's connection: ~4 µs against ~240 µs
for the typed `send()`), and control events, validated by the SDK's models, for the rare rest.
Reading yields each server event's type and its dict; a typed model is built only for events someone
handles.

The physical socket can change under the call: `reopen` moves the conversation to a new session
(after a drop, or before the session cap), replaying it as items. While the link is down or moving,
caller audio is held in a bounded buffer and forwarded to the new session once it is ready; the
session above never sees which socket it is talking to. One writer at a time: every awaited send holds
the link's lock, and an append is written at once (it never waits) only while the lock is free and no
append is queued before it, so frames never interleave and caller audio keeps its order.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from openai.resources.realtime.realtime import AsyncRealtimeConnection

from services.call.inbound_audio import InboundCoalescer
from services.realtime.client_events import client_event_text
from services.realtime.connector import RealtimeConnector
from services.realtime.preopen import PreopenedRealtime

_APPEND_HEAD = '{"type":"input_audio_buffer.append","audio":'
# Caller audio held while the link is down or moving: 250 appends of 20-100 ms, so at least 5 s; the
# oldest go first.
HELD_FRAMES = 250


class RealtimeLinkClosed(Exception):
    """The Realtime socket is gone (closed by OpenAI, the network, or a malformed frame)."""


class RealtimeLink:
    def __init__(
        self,
        connector: RealtimeConnector,
        preopened: PreopenedRealtime | None,
        *,
        batch_ms: int = 20,
        speech_batch_ms: int = 20,
        silence_ms: int = 0,
    ) -> None:
        """`silence_ms`: the server VAD's silence window, which the batching of pauses is aligned on."""
        self._connector = connector
        self._inbound = InboundCoalescer(batch_ms, speech_batch_ms, silence_ms)
        self._preopened = preopened
        self._rt: AsyncRealtimeConnection | None = None
        self._send_frame: Callable[[str], Awaitable[None]] | None = None  # the hot path's send (see `_use`)
        self._write_now: Callable[[str], bool] | None = None  # its write that never waits, if the socket has one
        self._read_frame: Callable[[], Awaitable[str | bytes]] = _not_open  # the read for `events` (see `_use`)
        self._lock = asyncio.Lock()
        self._held: deque[str] = deque(maxlen=HELD_FRAMES)
        self._backlog: deque[str] = deque(maxlen=HELD_FRAMES)  # appends waiting for the socket, in order
        self._draining: asyncio.Task[None] | None = None
        self._down = False  # sends are held until `reopen` brings a new socket
        self.preopened = False  # this call's first session was opened at webhook time
        self.opened_at = time.monotonic()
        self.sessions = 0

    async def open(self, call_sid: str, greeting: Callable[[], Awaitable[str]]) -> None:
        """Take the call's pre-opened conversation if there is one, else open one now, greeting with what
        `greeting()` says (only asked for then: the pre-opened one already greets). Raises on failure."""
        if self._preopened is not None:
            rt = await self._preopened.claim(call_sid)
            if rt is not None:
                self._use(rt)
                self.preopened = True
                return
        self._use(await self._connector.open_conversation(await greeting()))

    def _use(self, rt: AsyncRealtimeConnection) -> None:
        self._rt, self.opened_at, self._down = rt, time.monotonic(), False
        self._send_frame, self._write_now = _frame_sender(rt), _frame_writer(rt)
        self._read_frame = _frame_reader(rt)
        self.sessions += 1

    @property
    def age_s(self) -> float:
        return time.monotonic() - self.opened_at

    @property
    def down(self) -> bool:
        return self._down

    def mark_down(self) -> None:
        """The socket failed: hold caller audio until `reopen` (the read loop decides what comes next)."""
        self._down = True

    async def reopen(self, history: list[dict[str, Any]], resume_note: str | None = None) -> None:
        """Move the conversation to a fresh session: same configuration, the history replayed as items,
        then the audio held meanwhile. Raises on failure (the old socket, if alive, is kept)."""
        self._down = True  # from now on caller audio waits for the new session
        rt = await self._connector.open_configured()
        try:
            for event in history:
                await rt.send_raw(client_event_text(event))
            if resume_note is not None:
                await rt.send_raw(client_event_text(_system_note(resume_note)))
                await rt.send_raw(client_event_text({"type": "response.create"}))
        except BaseException:
            with contextlib.suppress(Exception):
                await rt.close()
            raise
        old = self._rt
        async with self._lock:
            self._use(rt)
            held = list(self._held)
            self._held.clear()
            for payload in held:
                await rt.send_raw(_append_frame(payload))
        if old is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):  # not wait_for, which can lose a cancellation (Python 3.11)
                    await old.close()

    def _connection(self) -> AsyncRealtimeConnection:
        if self._rt is None:
            raise RealtimeLinkClosed("not open")
        return self._rt

    # ------------------------------------------------------------------ sending
    def append_audio(self, payload: str, audio: bytes | None = None) -> None:
        """Hot path: the carrier's base64 μ-law (and its bytes, if decoded already), forwarded as is or in a
        batch of frames (a text frame).

        Called for every caller frame, from the carrier socket's read callback (the stream port) or the
        carrier pump, so it never waits and never raises: an append the socket cannot take at once waits
        in order in a backlog, and while the link is down the audio is held for the next session."""
        chunk = self._inbound.add(payload, audio)
        if chunk is not None:
            self._append(chunk)

    def caller_speaking(self, speaking: bool) -> None:
        """The server VAD heard the caller start or stop: no batching while they may be talking."""
        self._inbound.caller_speaking(speaking)

    def flush_audio(self) -> None:
        """Send the audio still gathered in a batch (the stream is ending)."""
        chunk = self._inbound.flush()
        if chunk is not None:
            self._append(chunk)

    def _append(self, payload: str) -> None:
        if self._backlog:  # behind appends still waiting, whatever the link's state
            self._queue(payload)
        elif self._down:
            self._held.append(payload)
        elif self._write_now is None or self._lock.locked():  # a control event is being sent: after it
            self._queue(payload)
        else:
            try:
                if self._write_now(_append_frame(payload)):
                    return
            except Exception:  # websockets' ConnectionClosed and friends: the read loop recovers
                self._down = True
                self._held.append(payload)
                return
            self._queue(payload)  # flow-controlled: sent once the socket drains

    def _queue(self, payload: str) -> None:
        self._backlog.append(payload)
        if self._draining is None or self._draining.done():
            self._draining = asyncio.get_running_loop().create_task(self._drain(), name="realtime-append-backlog")

    async def _drain(self) -> None:
        """Send the backlog in order, waiting as the socket needs; if the link goes down, hold it instead."""
        async with self._lock:
            while self._backlog:
                send = self._send_frame
                if self._down or send is None:
                    self._held.extend(self._backlog)
                    self._backlog.clear()
                    return
                payload = self._backlog.popleft()  # new appends queue meanwhile: the lock is held
                try:
                    await send(_append_frame(payload))
                except Exception:
                    self._down = True
                    self._backlog.appendleft(payload)

    async def send(self, event: dict[str, Any]) -> None:
        """A control event, validated by the SDK's models (`client_event_text`)."""
        if self._down:
            raise RealtimeLinkClosed("reconnecting")
        text = client_event_text(event)  # before the lock: a malformed event is our bug, raised as it is
        rt = self._connection()
        async with self._lock:
            try:
                await rt.send_raw(text)
            except Exception as error:
                raise RealtimeLinkClosed(repr(error)) from error

    async def request_response(self) -> None:
        await self.send({"type": "response.create"})

    async def add_system_note(self, text: str) -> None:
        await self.send(_system_note(text))

    async def add_caller_text(self, text: str) -> None:
        """The caller's input as text (e.g. keys typed on the keypad), then a response to it."""
        item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
        await self.send({"type": "conversation.item.create", "item": item})
        await self.request_response()

    async def cancel_response(self) -> None:
        await self.send({"type": "response.cancel"})

    async def function_output(self, call_id: str, output: str) -> None:
        item = {"type": "function_call_output", "call_id": call_id, "output": output}
        await self.send({"type": "conversation.item.create", "item": item})

    async def truncate(self, item_id: str, audio_end_ms: int) -> None:
        event = {"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0}
        await self.send({**event, "audio_end_ms": audio_end_ms})

    # ------------------------------------------------------------------ receiving
    async def events(self) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """(type, event as a dict) for each server event, until the socket closes.

        A socket we replaced ourselves (`reopen`) ends quietly and reading goes on from the new one."""
        while True:
            rt = self._connection()
            try:
                raw = await self._read_frame()  # set with `_rt` by `_use`
            except Exception as error:
                if self._rt is not rt:
                    continue  # we moved the call to a new session and closed this one
                self._down = True
                raise RealtimeLinkClosed(repr(error)) from error
            try:
                event = orjson.loads(raw)
            except orjson.JSONDecodeError as error:
                self._down = True
                raise RealtimeLinkClosed("malformed server event") from error
            if not isinstance(event, dict):
                continue  # not an event at all
            yield str(event.get("type", "")), event

    async def close(self) -> None:
        if self._draining is not None and not self._draining.done():  # the caller's last words first
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._draining, timeout=1)
        if self._rt is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._rt.close(), timeout=2)


def _frame_sender(rt: AsyncRealtimeConnection) -> Callable[[str], Awaitable[None]]:
    """The send for appends: the socket under the SDK's connection (ours, `services.realtime.transport`).

    The SDK's `send_raw` adds per message a check of its reconnect queue and an anyio task lookup (~20 µs,
    ~4 % of the process at 50 calls, py-spy) for a reconnect a call never uses: `RealtimeLink` holds audio
    and reopens sessions itself. `_connection` is the SDK's attribute, not public API: if it goes, `send_raw`.
    Sending on a closed socket raises like `send_raw` does (websockets' ConnectionClosed)."""
    connection = getattr(rt, "_connection", None)
    send = getattr(connection, "send", None)
    return send if callable(send) else rt.send_raw


def _frame_writer(rt: AsyncRealtimeConnection) -> Callable[[str], bool] | None:
    """The same socket's write that never waits (`AiohttpRealtimeSocket.send_now`), if it has one."""
    write = getattr(getattr(rt, "_connection", None), "send_now", None)
    return write if callable(write) else None


def _frame_reader(rt: AsyncRealtimeConnection) -> Callable[[], Awaitable[str | bytes]]:
    """The same socket's read of one message as it came (`AiohttpRealtimeSocket.receive_message`), else the
    SDK's `recv_bytes`: `events` parses str or bytes alike, so `recv_bytes` would only add a copy."""
    read = getattr(getattr(rt, "_connection", None), "receive_message", None)
    return read if callable(read) else rt.recv_bytes


async def _not_open() -> str | bytes:
    raise RealtimeLinkClosed("not open")


def _append_frame(payload: str) -> str:
    return _APPEND_HEAD + orjson.dumps(payload).decode() + "}"


def _system_note(text: str) -> dict[str, Any]:
    item = {"type": "message", "role": "system", "content": [{"type": "input_text", "text": text}]}
    return {"type": "conversation.item.create", "item": item}
