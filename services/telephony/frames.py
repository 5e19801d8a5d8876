"""A carrier's media socket once its handshake is accepted: text frames in, text frames out, one close.

Streams read and write through a `FrameSocket` rather than Starlette's `WebSocket`, so that a server
with a socket of its own can hand it to the call and spare every frame the ASGI hop (a message dict
per frame, Starlette's state checks). The aiohttp stream listener (`api/stream_listener.py`) does so
through the ASGI scope's `extensions`; under uvicorn the Starlette socket is wrapped as it is. The
handshake itself (headers, query, accept, refusals) stays on Starlette's `WebSocket` either way.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Protocol

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from services.telephony.events import StreamClosed

FRAMES_EXTENSION = "phone_agent.frames"  # the ASGI scope's `extensions` key a server puts its socket under
FrameTake = Callable[[str], bool]  # a socket's tap: True if it took the text frame (see `FrameSocket.tap`)
SERVICE_RESTART = 1012  # what uvicorn (and the stream listener) close live streams with at shutdown


def closed_by(code: int | None) -> StreamClosed:
    return StreamClosed("server_shutdown" if code == SERVICE_RESTART else "stream_closed")


class FrameSocket(Protocol):
    async def receive_frame(self) -> str | bytes | StreamClosed:
        """The next text (str) or binary (bytes) frame, or why the socket closed."""
        ...

    def tap(self, take: FrameTake) -> bool:
        """From now on, offer each text frame to `take` as it arrives, in the socket's read callback (so
        `take` must not wait, and should not raise); the frames it declines (False) are read by
        `receive_frame`, in order. False if this socket cannot: then every frame is read there."""
        ...

    async def send_text(self, text: str) -> None:
        """Write one frame; on a socket already closed, nothing happens (`receive_frame` says why)."""
        ...

    async def close(self, code: int = 1000) -> None:
        """Close the socket if it is still open."""
        ...


class StarletteFrames:
    """A `FrameSocket` on Starlette's `WebSocket` (uvicorn's ASGI socket)."""

    def __init__(self, websocket: WebSocket) -> None:
        self._ws = websocket

    async def receive_frame(self) -> str | bytes | StreamClosed:
        try:
            message = await self._ws.receive()
        except (WebSocketDisconnect, RuntimeError):
            return StreamClosed("stream_closed")
        if message["type"] == "websocket.disconnect":
            return closed_by(message.get("code"))
        text: str | None = message.get("text")
        return text if text is not None else bytes(message.get("bytes") or b"")

    def tap(self, take: FrameTake) -> bool:
        return False  # the ASGI server's task delivers each message: there is no callback to take it in

    async def send_text(self, text: str) -> None:
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await self._ws.send_text(text)

    async def close(self, code: int = 1000) -> None:
        if self._ws.client_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await self._ws.close(code=code)


def frame_socket(websocket: WebSocket) -> FrameSocket:
    """The server's own socket for this stream if it offers one, else Starlette's."""
    direct = websocket.scope.get("extensions", {}).get(FRAMES_EXTENSION)
    return direct if direct is not None else StarletteFrames(websocket)
