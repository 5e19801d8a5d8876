"""`RealtimeLink`'s hot-path send: appends go to the socket under the SDK's connection, unchanged, written
at once when the socket can take them, else queued in order behind whatever is being sent."""

from __future__ import annotations

import asyncio

import orjson
from openai.resources.realtime.realtime import AsyncRealtimeConnection
from websockets.exceptions import ConnectionClosedError

from services.call.realtime_link import RealtimeLink


class RecordingSocket:
    """Stands for the socket the SDK's connection wraps: an awaited `send` (and `close`)."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.release = asyncio.Event()
        self.release.set()

    async def send(self, data: str) -> None:
        await self.release.wait()  # cleared: the transport is slow to drain
        self.sent.append(data)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        pass


class ImmediateSocket(RecordingSocket):
    """Our aiohttp socket's shape: also `send_now`, which writes at once unless flow-controlled."""

    def __init__(self) -> None:
        super().__init__()
        self.paused = False
        self.closed = False

    def send_now(self, text: str) -> bool:
        if self.closed:
            raise ConnectionClosedError(None, None)
        if self.paused:
            return False
        self.sent.append(text)
        return True


def opened(socket: RecordingSocket) -> RealtimeLink:
    link = RealtimeLink(connector=None, preopened=None, batch_ms=20)  # type: ignore[arg-type]  # never opened here
    link._use(AsyncRealtimeConnection(socket))  # type: ignore[arg-type]
    return link


def audio_of(frames: list[str]) -> list[str]:
    events = [orjson.loads(frame) for frame in frames]
    assert all(event["type"] == "input_audio_buffer.append" for event in events)
    return [event["audio"] for event in events]


async def test_appends_skip_the_sdks_send_queue_but_reach_its_socket_as_the_same_frame() -> None:
    socket = RecordingSocket()
    link = opened(socket)
    assert link._send_frame == socket.send, "the SDK no longer keeps its socket in `_connection`: fast path lost"
    link.append_audio("AAAA")
    await link.close()  # a socket that cannot write at once: the backlog is sent, and close waits for it
    assert orjson.loads(socket.sent[0]) == {"type": "input_audio_buffer.append", "audio": "AAAA"}


async def test_a_socket_that_can_write_at_once_gets_the_append_before_append_audio_returns() -> None:
    socket = ImmediateSocket()
    link = opened(socket)
    link.append_audio("AAAA")
    link.append_audio("BBBB")
    assert audio_of(socket.sent) == ["AAAA", "BBBB"]


async def test_appends_wait_behind_a_control_event_being_sent_and_keep_their_order() -> None:
    socket = ImmediateSocket()
    link = opened(socket)
    socket.release.clear()  # the control event's awaited send is slow
    control = asyncio.create_task(link.send({"type": "response.cancel"}))
    await asyncio.sleep(0.01)
    link.append_audio("AAAA")  # the lock is held: queued
    socket.release.set()
    await control
    link.append_audio("BBBB")  # the lock is free now, but AAAA still waits: BBBB goes behind it
    await link.close()
    assert orjson.loads(socket.sent[0])["type"] == "response.cancel"
    assert audio_of(socket.sent[1:]) == ["AAAA", "BBBB"]


async def test_a_flow_controlled_socket_queues_appends_and_sends_them_in_order_when_it_drains() -> None:
    socket = ImmediateSocket()
    link = opened(socket)
    socket.paused, socket.release = True, asyncio.Event()  # nothing written at once, nothing drains yet
    link.append_audio("AAAA")
    link.append_audio("BBBB")
    assert socket.sent == []
    socket.paused = False
    link.append_audio("CCCC")  # writable again, but behind the backlog
    socket.release.set()
    await link.close()
    assert audio_of(socket.sent) == ["AAAA", "BBBB", "CCCC"]


async def test_a_closed_socket_holds_the_audio_for_the_next_session() -> None:
    socket = ImmediateSocket()
    socket.closed = True
    link = opened(socket)
    link.append_audio("AAAA")
    assert link.down and list(link._held) == ["AAAA"]
    link.append_audio("BBBB")
    assert list(link._held) == ["AAAA", "BBBB"] and socket.sent == []


async def test_a_backlog_the_link_loses_its_socket_under_is_held_in_order() -> None:
    class FailingSocket(RecordingSocket):
        async def send(self, data: str) -> None:
            await self.release.wait()
            raise ConnectionError("closed")

    socket = FailingSocket()
    link = opened(socket)
    socket.release.clear()
    link.append_audio("AAAA")
    link.append_audio("BBBB")
    await asyncio.sleep(0.01)
    socket.release.set()
    await asyncio.sleep(0.01)
    link.append_audio("CCCC")
    assert link.down and list(link._held) == ["AAAA", "BBBB", "CCCC"]
