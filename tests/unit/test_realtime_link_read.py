"""`RealtimeLink.events`: each server event's type and dict, read from our socket's `receive_message` when it
has one (text as str, no copy), else through the SDK's `recv_bytes`; a lost socket ends it with
`RealtimeLinkClosed`."""

from __future__ import annotations

import pytest
from openai.resources.realtime.realtime import AsyncRealtimeConnection
from websockets.exceptions import ConnectionClosedError

from services.call.realtime_link import RealtimeLink, RealtimeLinkClosed

EVENTS = ['{"type":"response.created","response":{"id":"resp_1"}}', b'{"type":"response.done"}', "[1]", "{}"]


class SdkShapedSocket:
    """Only what the SDK's connection calls on its socket: `recv(decode=False)` gives bytes."""

    def __init__(self, frames: list[str | bytes]) -> None:
        self.frames = list(frames)
        self.reads = 0

    def _next(self) -> str | bytes:
        self.reads += 1
        if not self.frames:
            raise ConnectionClosedError(None, None)
        return self.frames.pop(0)

    async def recv(self, decode: bool | None = None) -> str | bytes:
        frame = self._next()
        return frame.encode() if isinstance(frame, str) and decode is False else frame

    async def close(self, code: int = 1000, reason: str = "") -> None:
        pass


class MessageSocket(SdkShapedSocket):
    """Ours (`AiohttpRealtimeSocket`): also `receive_message`, the frame as it came."""

    def __init__(self, frames: list[str | bytes]) -> None:
        super().__init__(frames)
        self.raw_reads: list[str | bytes] = []

    async def receive_message(self) -> str | bytes:
        frame = self._next()
        self.raw_reads.append(frame)
        return frame

    async def recv(self, decode: bool | None = None) -> str | bytes:
        raise AssertionError("the link reads through receive_message when the socket has it")


async def read_all(socket: SdkShapedSocket) -> list[tuple[str, dict[str, object]]]:
    link = RealtimeLink(connector=None, preopened=None)  # type: ignore[arg-type]  # never opened here
    link._use(AsyncRealtimeConnection(socket))  # type: ignore[arg-type]
    seen = []
    with pytest.raises(RealtimeLinkClosed):
        async for event_type, event in link.events():
            seen.append((event_type, event))
    assert link.down, "a lost socket holds caller audio until a new session"
    return seen


EXPECTED = [("response.created", {"type": "response.created", "response": {"id": "resp_1"}}),
            ("response.done", {"type": "response.done"}), ("", {})]  # fmt: skip  # "[1]" is no event: skipped


async def test_events_come_from_receive_message_as_sent() -> None:
    socket = MessageSocket(EVENTS)
    assert await read_all(socket) == EXPECTED
    assert socket.raw_reads == EVENTS  # the text frames reached the parser as str, uncopied


async def test_a_socket_without_receive_message_is_read_through_the_sdk() -> None:
    socket = SdkShapedSocket(EVENTS)
    assert await read_all(socket) == EXPECTED
    assert socket.reads == len(EVENTS) + 1


async def test_a_malformed_frame_ends_the_link() -> None:
    socket = MessageSocket(['{"type":"response.created"}', "{not json"])
    link = RealtimeLink(connector=None, preopened=None)  # type: ignore[arg-type]
    link._use(AsyncRealtimeConnection(socket))  # type: ignore[arg-type]
    events = link.events()
    assert (await anext(events))[0] == "response.created"
    with pytest.raises(RealtimeLinkClosed, match="malformed"):
        await anext(events)
