"""The stream port's frame tap (`api/frame_tap.py`) over real sockets: the frames a call takes are handed
over in the socket's read callback, the rest are read as before and in order, and aiohttp's own handling
(pings, the size limit, the close) is untouched."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
from fastapi import FastAPI, WebSocket

from api.frame_tap import AIOHTTP_VERSION
from api.stream_listener import StreamListener
from devtools.ferretdb import free_port
from services.telephony.events import AudioIn, StreamClosed
from services.telephony.frames import frame_socket
from services.telephony.socket_stream import audio_tap
from services.telephony.twilio_stream import TwilioCodec

MAX_BYTES = 1 << 16


@dataclass
class Endpoint:
    """What the stream endpoint saw: frames its tap took (and whether a task was running), frames it read."""

    taken: list[tuple[str, bool]] = field(default_factory=list)
    read: list[object] = field(default_factory=list)
    tapped: bool | None = None
    reading = asyncio.Event()  # set: the endpoint reads its socket (clear: frames wait in the queue)

    def take(self, text: str) -> bool:
        if text == "boom":
            raise RuntimeError("a bug in the call's code")
        if not text.startswith("audio"):
            return False
        self.taken.append((text, asyncio.current_task() is not None))
        return True

    async def until_read(self, count: int) -> None:
        for _ in range(250):
            if len(self.read) >= count:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"read {self.read}, expected {count} frames")


@pytest.fixture
async def served() -> AsyncIterator[tuple[str, Endpoint]]:
    endpoint = Endpoint()
    endpoint.reading = asyncio.Event()
    endpoint.reading.set()
    app = FastAPI()

    @app.websocket("/media-stream")
    async def stream(websocket: WebSocket) -> None:
        await websocket.accept()
        frames = frame_socket(websocket)
        endpoint.tapped = frames.tap(endpoint.take)
        while True:
            await endpoint.reading.wait()
            frame = await frames.receive_frame()
            endpoint.read.append(frame)
            if isinstance(frame, StreamClosed):
                return
            await frames.send_text("read " + str(frame))

    port = free_port()
    listener = StreamListener(app, port, max_message_bytes=MAX_BYTES)
    await listener.start("127.0.0.1")
    yield f"ws://127.0.0.1:{port}/media-stream", endpoint
    await listener.stop()


def test_the_tap_is_written_for_the_pinned_aiohttp() -> None:
    assert aiohttp.__version__ == AIOHTTP_VERSION, (
        "api/frame_tap.py repeats this aiohttp's WebSocketResponse._post_start and subclasses its reader's "
        "queue: check both against the new version, then move AIOHTTP_VERSION"
    )


async def test_taken_frames_are_handed_over_in_the_read_callback_and_the_rest_are_read(
    served: tuple[str, Endpoint],
) -> None:
    url, endpoint = served
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.send_str("audio 1")
        await ws.send_str("mark 1")
        assert (await ws.receive(timeout=5)).data == "read mark 1"
        await ws.send_str("audio 2")
        await ws.send_bytes(b"\x01")
        assert (await ws.receive(timeout=5)).data == "read b'\\x01'"
    await endpoint.until_read(3)
    assert endpoint.tapped is True
    assert endpoint.taken == [("audio 1", False), ("audio 2", False)], "taken outside any task, once each"
    assert endpoint.read == ["mark 1", b"\x01", StreamClosed("stream_closed")]


async def test_while_a_declined_frame_waits_to_be_read_the_frames_after_it_queue_behind_it(
    served: tuple[str, Endpoint],
) -> None:
    url, endpoint = served
    endpoint.reading.clear()  # the endpoint is busy: what it declines stays queued
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        for frame in ("audio 1", "mark 1", "audio 2", "audio 3"):
            await ws.send_str(frame)
        await asyncio.sleep(0.2)
        assert endpoint.taken == [("audio 1", False)]
        endpoint.reading.set()
        await endpoint.until_read(3)
        assert endpoint.read == ["mark 1", "audio 2", "audio 3"], "in the order they came"
        await ws.send_str("audio 4")  # the queue is empty again: taken
        await ws.send_str("mark 2")
        replies = [(await ws.receive(timeout=5)).data for _ in range(4)]
        assert replies == ["read mark 1", "read audio 2", "read audio 3", "read mark 2"]
    await endpoint.until_read(5)
    assert [text for text, _ in endpoint.taken] == ["audio 1", "audio 4"]


async def test_a_tap_that_raises_is_dropped_and_its_frames_are_read_instead(served: tuple[str, Endpoint]) -> None:
    url, endpoint = served
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.send_str("boom")
        assert (await ws.receive(timeout=5)).data == "read boom", "the frame is not lost"
        await ws.send_str("audio 1")
        assert (await ws.receive(timeout=5)).data == "read audio 1", "the tap is off: read, not taken"
    assert endpoint.taken == []


async def test_pings_the_size_limit_and_the_close_are_aiohttps_own(served: tuple[str, Endpoint]) -> None:
    url, endpoint = served
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url, autoping=False) as ws:
            await ws.ping(b"are you there")
            pong = await ws.receive(timeout=5)
            assert pong.type is aiohttp.WSMsgType.PONG and pong.data == b"are you there"
            await ws.send_str("audio " + "x" * MAX_BYTES)  # over the limit: refused before anyone sees it
            closing = await ws.receive(timeout=5)
            assert closing.type is aiohttp.WSMsgType.CLOSE and closing.data == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
        await endpoint.until_read(1)
        assert endpoint.taken == [] and endpoint.read == [StreamClosed("stream_closed")]
        async with session.ws_connect(url) as ws:
            await ws.send_str("audio 1")
            await ws.close(code=1000)
            assert ws.close_code == 1000, "the close handshake completes"


def test_a_streams_audio_tap_takes_caller_audio_only() -> None:
    heard: list[AudioIn] = []
    take = audio_tap(TwilioCodec.decode, heard.append, max_bytes=400)
    media = '{"event":"media","streamSid":"MZ1","media":{"track":"inbound","payload":"AAAA"}}'
    assert take(media) is True and heard == [AudioIn("AAAA", b"\x00\x00\x00")]
    assert take('{"event":"mark","streamSid":"MZ1","mark":{"name":"m1"}}') is False  # for `receive`
    assert take(media.replace("AAAA", "AA!A")) is False  # malformed: `receive` drops and counts it
    assert take(media.replace("AAAA", "A" * 400)) is False  # oversized: the same
    assert len(heard) == 1
