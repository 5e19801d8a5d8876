"""`RealtimeLink`'s hot-path send: appends go to the socket under the SDK's connection, unchanged."""

from __future__ import annotations

import orjson
from openai.resources.realtime.realtime import AsyncRealtimeConnection

from services.call.realtime_link import RealtimeLink


class RecordingSocket:
    """Stands for the socket the SDK's connection wraps (only `send` is used on this path)."""

    def __init__(self) -> None:
        self.sent: list[str | bytes] = []

    async def send(self, data: str | bytes) -> None:
        self.sent.append(data)


async def test_appends_skip_the_sdks_send_queue_but_reach_its_socket_as_the_same_frame() -> None:
    socket = RecordingSocket()
    rt = AsyncRealtimeConnection(socket)  # type: ignore[arg-type]
    link = RealtimeLink(connector=None, preopened=None, batch_ms=20)  # type: ignore[arg-type]  # never opened here
    link._use(rt)
    assert link._send_frame == socket.send, "the SDK no longer keeps its socket in `_connection`: fast path lost"
    await link.append_audio("AAAA")
    (frame,) = socket.sent
    assert orjson.loads(frame) == {"type": "input_audio_buffer.append", "audio": "AAAA"}


async def test_a_closed_socket_holds_the_audio_for_the_next_session() -> None:
    class ClosedSocket(RecordingSocket):
        async def send(self, data: str | bytes) -> None:
            raise ConnectionError("closed")

    link = RealtimeLink(connector=None, preopened=None, batch_ms=20)  # type: ignore[arg-type]  # never opened here
    link._use(AsyncRealtimeConnection(ClosedSocket()))  # type: ignore[arg-type]
    await link.append_audio("AAAA")
    assert link.down and list(link._held) == ["AAAA"]
