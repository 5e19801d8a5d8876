"""A stream's `FrameSocket` over real sockets: the stream listener hands its own aiohttp socket to the call,
uvicorn's stays Starlette's, and both read, write and close alike."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
import uvicorn
from fastapi import FastAPI, WebSocket

from api.stream_listener import AiohttpAsgiSocket, StreamListener
from devtools.ferretdb import free_port
from services.telephony.events import StreamClosed
from services.telephony.frames import StarletteFrames, frame_socket


def echo_app(seen: list[object]) -> FastAPI:
    """One stream endpoint: accepts, then echoes each text frame through the call's `FrameSocket`."""
    app = FastAPI()

    @app.websocket("/media-stream")
    async def stream(websocket: WebSocket) -> None:
        await websocket.accept()
        frames = frame_socket(websocket)
        seen.append(frames)
        while True:
            frame = await frames.receive_frame()
            seen.append(frame)
            if isinstance(frame, StreamClosed):
                return
            if frame == "close please":
                await frames.close(1000)
                await frames.send_text("after close")  # a closed socket writes nothing and does not raise
            elif isinstance(frame, str):
                await frames.send_text("echo " + frame)

    return app


@pytest.fixture(params=["stream-listener", "uvicorn"])
async def served(request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, list[object], StreamListener | None]]:
    seen: list[object] = []
    app = echo_app(seen)
    port = free_port()
    if request.param == "stream-listener":
        listener = StreamListener(app, port, max_message_bytes=1 << 16)
        await listener.start("127.0.0.1")
        yield f"ws://127.0.0.1:{port}/media-stream", seen, listener
        await listener.stop()
        return
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    yield f"ws://127.0.0.1:{port}/media-stream", seen, None
    server.should_exit = True
    await serving


async def test_frames_in_and_out_then_a_close_from_our_side(
    served: tuple[str, list[object], StreamListener | None],
) -> None:
    url, seen, listener = served
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.send_str("namaste")
        assert (await ws.receive(timeout=5)).data == "echo namaste"
        await ws.send_bytes(b"\x00\x01")
        await ws.send_str("close please")
        closing = await ws.receive(timeout=5)
        assert closing.type is aiohttp.WSMsgType.CLOSE and closing.data == 1000
    expected = AiohttpAsgiSocket if listener is not None else StarletteFrames
    assert isinstance(seen[0], expected), "the stream listener's own socket must reach the call"
    assert seen[1:4] == ["namaste", b"\x00\x01", "close please"]


async def test_a_caller_hanging_up_is_stream_closed(served: tuple[str, list[object], StreamListener | None]) -> None:
    url, seen, _ = served
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.send_str("hello")
        await ws.receive(timeout=5)
    for _ in range(100):
        if isinstance(seen[-1], StreamClosed):
            break
        await asyncio.sleep(0.02)
    assert seen[-1] == StreamClosed("stream_closed")


async def test_the_listener_shutting_down_is_a_server_shutdown(
    served: tuple[str, list[object], StreamListener | None],
) -> None:
    url, seen, listener = served
    if listener is None:
        pytest.skip("uvicorn's 1012 at shutdown is covered by tests/e2e/test_lifecycle_e2e.py")
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.send_str("hello")
        await ws.receive(timeout=5)
        await listener.close_streams()
        closing = await ws.receive(timeout=5)
        assert closing.type is aiohttp.WSMsgType.CLOSE and closing.data == 1012
    for _ in range(100):
        if isinstance(seen[-1], StreamClosed):
            break
        await asyncio.sleep(0.02)
    assert seen[-1] == StreamClosed("server_shutdown")
