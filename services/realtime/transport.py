"""The socket under the SDK's Realtime connection: aiohttp's WebSocket client instead of `websockets`.

The openai SDK's `AsyncRealtimeConnection` speaks the protocol (typed `session.update`,
`response.create`, event models) over whatever object it is given that sends, receives and closes
like a `websockets` client connection. Its own `connect()` always builds a `websockets` one, whose
frame parser and send path are pure Python: ~62 µs of CPU per append + event round trip on this
machine, against ~34 µs on aiohttp's (C frame reader, C masking, one write per frame;
`bench/realtime_client_cost.py`). At 50 calls that was 9-10 % of the process (`bench.bridge_load`).
So we open the socket with aiohttp and hand it to the SDK's connection class: the SDK keeps everything
above the transport.

What the SDK would add and we do the same way: the URL (`<websocket base>/realtime?model=...`, the
public Realtime endpoint), its auth and default headers (`client.auth_headers`,
`client.default_headers`), no permessage-deflate, no cross-origin redirects (aiohttp's handshake
follows none).
"""

from __future__ import annotations

from typing import Literal, overload
from urllib.parse import urlencode

import aiohttp
from openai import AsyncOpenAI
from openai.resources.realtime.realtime import AsyncRealtimeConnection
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, ConnectionClosedOK
from websockets.frames import Close

DEFAULT_WEBSOCKET_BASE = "wss://api.openai.com/v1"
_CLOSED = (aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)


def realtime_url(websocket_base_url: str | None, model: str) -> str:
    base = (websocket_base_url or DEFAULT_WEBSOCKET_BASE).rstrip("/")
    return f"{base}/realtime?{urlencode({'model': model})}"


class AiohttpRealtimeSocket:
    """The three calls `AsyncRealtimeConnection` makes on its socket (`send`, `recv(decode=False)`,
    `close`), on an aiohttp client WebSocket. A closed socket raises websockets' `ConnectionClosed`, as
    the SDK's own socket does, so every caller's error handling stays the SDK's."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws

    async def send(self, message: str | bytes) -> None:
        if self._ws.closed:
            raise self._closed()
        try:
            if isinstance(message, str):
                await self._ws.send_str(message)
            else:
                await self._ws.send_bytes(message)
        except (aiohttp.ClientError, ConnectionError) as error:  # the transport went away under the write
            raise self._closed() from error

    def send_now(self, text: str) -> bool:
        """Write one text frame before returning, or nothing and False when the transport is flow-controlled
        (the caller queues it for `send`, which waits). Raises like `send` on a closed socket.

        The hot path's append is sent from the carrier socket's read callback, where nothing can wait.
        aiohttp's `send_str` is a coroutine only for that wait: an uncompressed frame is framed, masked and
        written at once, then the writer drains if the transport is paused. This does the same write
        through the writer's frame method (aiohttp 3.14's, pinned; `tests/unit/test_realtime_transport.py`
        fails if it goes) and leaves the waiting to `send`."""
        ws = self._ws
        writer = ws._writer
        if ws.closed or writer._closing:
            raise self._closed()
        if writer.protocol._paused:
            return False
        try:
            writer._write_websocket_frame(text.encode(), aiohttp.WSMsgType.TEXT, 0)
        except (aiohttp.ClientError, ConnectionError) as error:  # the transport is closing under us
            raise self._closed() from error
        return True

    @overload
    async def recv(self, decode: Literal[False]) -> bytes: ...
    @overload
    async def recv(self, decode: bool | None = None) -> str | bytes: ...
    async def recv(self, decode: bool | None = None) -> str | bytes:
        data = await self.receive_message()
        if isinstance(data, str):
            return data.encode() if decode is False else data
        return data.decode() if decode is True else data

    async def receive_message(self) -> str | bytes:
        """The next data message as aiohttp read it: a text frame as str, a binary one as bytes.

        For a reader that parses either (orjson does): the SDK's `recv_bytes` wants bytes, which copies
        every audio delta (kilobytes) and adds two awaits, ~2 µs per server event (bench/README.md,
        "Round six")."""
        while True:
            message = await self._ws.receive()
            if message.type is aiohttp.WSMsgType.TEXT or message.type is aiohttp.WSMsgType.BINARY:
                data: str | bytes = message.data
                return data
            if message.type is aiohttp.WSMsgType.CLOSE:  # the peer's close frame: its code and reason
                raise self._closed(message.data, message.extra or "")
            if message.type in _CLOSED:
                raise self._closed()
            # PING/PONG are answered by aiohttp itself (autoping).

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self._ws.close(code=code, message=reason.encode())

    def _closed(self, code: int | None = None, reason: str = "") -> ConnectionClosed:
        code = code if code is not None else self._ws.close_code
        received = Close(code, reason) if code is not None else None
        closed_ok = code in (1000, 1001)
        return (ConnectionClosedOK if closed_ok else ConnectionClosedError)(received, None)


class RealtimeTransport:
    """Opens Realtime sockets for a process: one aiohttp session (made on first use, inside the loop)."""

    def __init__(self, client: AsyncOpenAI, websocket_base_url: str | None, *, max_message_bytes: int) -> None:
        self._client = client
        self._base = websocket_base_url
        self._max_message_bytes = max_message_bytes
        self._session: aiohttp.ClientSession | None = None

    async def connect(self, model: str) -> AsyncRealtimeConnection:
        """An SDK Realtime connection on a fresh aiohttp socket. Raises on a refused or failed handshake."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        headers = {**self._client.default_headers, **self._client.auth_headers}
        ws = await self._session.ws_connect(
            realtime_url(self._base, model),
            headers={key: value for key, value in headers.items() if isinstance(value, str)},
            compress=0,
            max_msg_size=self._max_message_bytes,
            autoclose=True,
            autoping=True,
        )
        return AsyncRealtimeConnection(AiohttpRealtimeSocket(ws))  # type: ignore[arg-type]

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
