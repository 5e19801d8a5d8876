"""Text frames handed to the call as aiohttp's compiled reader parses them, with no task woken per frame.

aiohttp's server socket parses frames in its protocol's `data_received` and queues each message for
`receive()`, which wakes the reading task: a future, a loop callback and a task step for every 20 ms
frame, ~17 of the ~46 µs of CPU one frame costs the server (`bench/ws_server_cost.py`, `aiohttp`
against `aiohttp-tap`). Caller audio needs nothing that waits (`RealtimeLink.append_audio` never
does), so a stream may tap its socket: each text frame goes first to the stream's `take`, right where
it was parsed, and only what `take` declines (marks, DTMF, stop) is queued. Control frames, errors and
the end of the stream are always queued, so `receive()`, the close handshake, pings and the size limit
work exactly as aiohttp's own. While anything is queued, new frames queue behind it: the call sees
every frame in the order it came.

This reaches into aiohttp (its reader's queue class and `WebSocketResponse._post_start`), so aiohttp
is pinned in requirements.txt and `tests/unit/test_frame_tap.py` fails on any other version.
"""

from __future__ import annotations

from typing import Any

from aiohttp import WSMsgType, web
from aiohttp._websocket.reader import WebSocketDataQueue
from aiohttp.helpers import DEFAULT_CHUNK_SIZE
from aiohttp.http import WebSocketReader

from services.telephony.frames import FrameTake
from utils.logger import get_logger

log = get_logger(__name__)

AIOHTTP_VERSION = "3.14.5"  # the version whose `_post_start` `TappableWebSocketResponse` repeats


class TapQueue(WebSocketDataQueue):
    """aiohttp's message queue, with a tap in front of it for text frames."""

    take: FrameTake | None = None

    def feed_data(self, data: Any, size: int) -> None:
        take = self.take
        if take is not None and data.type is WSMsgType.TEXT and not self._buffer:
            try:
                if take(data.data):
                    return
            except Exception:  # a bug in the call's code must not cost the socket: read the rest as usual
                self.take = None
                log.exception("frame_tap_failed")
        super().feed_data(data, size)


class TappableWebSocketResponse(web.WebSocketResponse):
    """aiohttp's server WebSocket, reading into a `TapQueue`."""

    def tap(self, take: FrameTake | None) -> bool:
        queue = self._reader
        if not isinstance(queue, TapQueue):
            return False
        queue.take = take
        return True

    def _post_start(self, request: web.BaseRequest, protocol: str | None, writer: Any) -> None:
        # aiohttp 3.14.5's own, but for the queue's class.
        self._ws_protocol = protocol
        self._writer = writer
        self._reset_heartbeat()
        loop = self._loop
        assert loop is not None
        self._reader = TapQueue(request._protocol, DEFAULT_CHUNK_SIZE, loop=loop)
        self._parser = WebSocketReader(
            self._reader, self._max_msg_size, compress=bool(self._compress), decode_text=self._decode_text
        )
        data_received = None if self._heartbeat is None else self._on_data_received
        request.protocol.set_parser(self._parser, data_received_cb=data_received)
        request.protocol.keep_alive(False)
