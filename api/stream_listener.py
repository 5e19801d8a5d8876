"""The carriers' media streams on a second listener (STREAM_PORT), served by aiohttp's WebSocket.

Per inbound frame, uvicorn's WebSocket stack (its protocol, websockets' Python frame parser, the ASGI
hop) costs ~56 µs of CPU against ~36 µs for aiohttp's compiled frame reader (`bench/ws_server_cost.py`);
at 50 frames a second per call, receiving the phone's audio is the largest single cost of a call. So when
STREAM_PORT is set, the same stream endpoints (`/media-stream`, `/plivo/stream`, `/exotel/stream`) are
also served on that port by aiohttp, in the same process and event loop, and a load balancer routes those
paths there (docs/deploy.md). Unset, everything stays on the main port.

Nothing is routed twice: aiohttp hands every WebSocket handshake to the app itself, as an ASGI server
does (its router finds the stream endpoint of an enabled carrier, or refuses the path), with this
module's receive and send over aiohttp's socket. Once a stream is accepted, its frames skip the ASGI hop:
the socket is in the scope's `extensions` as the call's `FrameSocket` (`services/telephony/frames.py`),
and the call's audio frames skip even the task wake-up (`api/frame_tap.py`).
What uvicorn does around them is done here too: a handshake closed before it is accepted is an HTTP
403, and at shutdown the streams still open are closed with 1012 ("service restart"), which the
session reads as a server shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import MutableMapping
from typing import Any

from aiohttp import WSMsgType, web
from fastapi import FastAPI

from api.frame_tap import TappableWebSocketResponse
from services.telephony.events import StreamClosed
from services.telephony.frames import FRAMES_EXTENSION, SERVICE_RESTART, FrameTake, closed_by
from utils.logger import get_logger

log = get_logger(__name__)


def client_address(peer: tuple[str, int] | None, forwarded_for: str | None, trusted: str) -> tuple[str, int] | None:
    """The caller's address as uvicorn's `proxy_headers` gives it on the main port: `X-Forwarded-For` is
    believed only from a trusted proxy (FORWARDED_ALLOW_IPS), and then its nearest untrusted hop is the
    client. Exotel's IP allowlist reads it (EXOTEL_ALLOWED_IPS)."""
    hosts = {host.strip() for host in trusted.split(",")}
    if peer is None or not forwarded_for or not ("*" in hosts or peer[0] in hosts):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    if not hops:
        return peer
    if "*" in hosts:  # every proxy trusted: the first hop is the client
        return (hops[0], 0)
    untrusted = [hop for hop in hops if hop not in hosts]
    return (untrusted[-1] if untrusted else hops[0], 0)


class AiohttpAsgiSocket:
    """ASGI `scope`, `receive` and `send` for one WebSocket handshake, over an aiohttp request and its socket;
    after it, the stream's `FrameSocket` on the same socket."""

    def __init__(self, request: web.Request, max_message_bytes: int) -> None:
        self.request = request
        self.ws = TappableWebSocketResponse(max_msg_size=max_message_bytes, compress=False, autoping=True)
        self._connected = False
        self._shutdown_code: int | None = None  # set when this side closes it (a server restart)

    def scope(self, app: FastAPI) -> dict[str, Any]:
        request = self.request
        peer = request.transport.get_extra_info("peername") if request.transport else None
        peer_address = (str(peer[0]), int(peer[1])) if peer else None
        trusted = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")  # uvicorn's setting, and its default
        return {
            "type": "websocket",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "scheme": "wss" if request.secure else "ws",
            "http_version": "1.1",
            "path": request.path,
            "raw_path": request.raw_path.split("?", 1)[0].encode(),
            "query_string": request.query_string.encode(),
            "root_path": "",
            "headers": [(name.lower(), value) for name, value in request.raw_headers],
            "client": client_address(peer_address, request.headers.get("x-forwarded-for"), trusted),
            "server": None,
            "subprotocols": [],
            "state": {},
            "app": app,
            "extensions": {FRAMES_EXTENSION: self},
        }

    async def receive(self) -> dict[str, Any]:
        if not self._connected:
            self._connected = True
            return {"type": "websocket.connect"}
        message = await self.ws.receive()
        if message.type is WSMsgType.TEXT:
            return {"type": "websocket.receive", "text": message.data}
        if message.type is WSMsgType.BINARY:
            return {"type": "websocket.receive", "bytes": message.data}
        code = self._shutdown_code or self.ws.close_code or 1005
        return {"type": "websocket.disconnect", "code": code}

    async def send(self, message: MutableMapping[str, Any]) -> None:
        kind = message["type"]
        if kind == "websocket.accept":
            await self.ws.prepare(self.request)
        elif kind == "websocket.send":
            if message.get("text") is not None:
                await self.ws.send_str(message["text"])
            else:
                await self.ws.send_bytes(message["bytes"])
        elif kind == "websocket.close":
            if self.ws.prepared:  # before the handshake, the handler answers 403 instead
                await self.ws.close(code=message.get("code", 1000))
        # Nothing else is sent by the stream endpoints (no denial responses, no subprotocols).

    # ------------------------------------------------------------ FrameSocket, once the stream is accepted
    async def receive_frame(self) -> str | bytes | StreamClosed:
        message = await self.ws.receive()
        if message.type is WSMsgType.TEXT or message.type is WSMsgType.BINARY:
            data: str | bytes = message.data
            return data
        return closed_by(self._shutdown_code or self.ws.close_code)

    def tap(self, take: FrameTake) -> bool:
        return self.ws.tap(take)  # `api/frame_tap.py`: frames taken where aiohttp parses them

    async def send_text(self, text: str) -> None:
        if not self.ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):  # closed under the write
                await self.ws.send_str(text)

    async def close(self, code: int = 1000) -> None:
        if self.ws.prepared and not self.ws.closed:
            with contextlib.suppress(Exception):
                await self.ws.close(code=code)

    async def close_for_restart(self) -> None:
        if self.ws.prepared and not self.ws.closed:
            self._shutdown_code = SERVICE_RESTART
            await self.ws.close(code=SERVICE_RESTART)


class StreamListener:
    """The aiohttp server for the app's WebSocket routes: started and stopped by the app's lifespan."""

    def __init__(self, app: FastAPI, port: int, max_message_bytes: int) -> None:
        self._app = app
        self.port = port
        self._max_message_bytes = max_message_bytes
        self._open: set[AiohttpAsgiSocket] = set()
        self._runner: web.AppRunner | None = None

    async def start(self, host: str) -> None:
        server = web.Application()
        server.router.add_get("/{path:.*}", self._handle)  # the app routes it
        # No access log: stream URLs carry the call's token in their query.
        self._runner = web.AppRunner(server, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, self.port).start()
        log.info("stream_listener_started", port=self.port)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        socket = AiohttpAsgiSocket(request, self._max_message_bytes)
        if not socket.ws.can_prepare(request).ok:
            return web.Response(status=400, text="WebSocket streams only")
        self._open.add(socket)
        try:
            await self._app(socket.scope(self._app), socket.receive, socket.send)
        except Exception as error:  # as uvicorn would: the call's own code logs what it knows
            log.error("stream_endpoint_failed", path=request.path, error=type(error).__name__)
            if not socket.ws.prepared:
                return web.Response(status=500)
        finally:
            self._open.discard(socket)
            if socket.ws.prepared and not socket.ws.closed:
                await socket.ws.close()
        if not socket.ws.prepared:
            return web.Response(status=403)  # refused before the handshake, as uvicorn answers it
        return socket.ws

    async def close_streams(self) -> None:
        """Close every stream still open with 1012 (a restart), as uvicorn does with its own."""
        await asyncio.gather(*(socket.close_for_restart() for socket in list(self._open)), return_exceptions=True)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
