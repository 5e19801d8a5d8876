"""The SDK's Realtime connection on an aiohttp socket, against the protocol-faithful fake Realtime server."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from openai import AsyncOpenAI
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, ConnectionClosedOK

from services.realtime.transport import RealtimeTransport, realtime_url
from tests.fakes.realtime_server import FakeRealtimeServer, FakeSession


@pytest.fixture
async def transport(fake: FakeRealtimeServer) -> AsyncIterator[RealtimeTransport]:
    client = AsyncOpenAI(api_key="sk-test-transport", websocket_base_url=fake.url)
    transport = RealtimeTransport(client, fake.url, max_message_bytes=1 << 20)
    yield transport
    await transport.aclose()
    await client.close()


async def next_event(rt: object, event_type: str) -> dict[str, object]:
    while True:
        raw = await rt.recv_bytes()  # type: ignore[attr-defined]
        assert isinstance(raw, bytes), "recv_bytes must keep the SDK's contract: bytes"
        event = orjson.loads(raw)
        if event["type"] == event_type:
            return event  # type: ignore[no-any-return]


async def read_until_closed(rt: object, reader: str = "recv_bytes") -> None:
    """Events already on the wire come first; then the close. `reader`: the SDK's `recv_bytes`, or the read
    `RealtimeLink` uses, `receive_message` on our socket under it."""
    read = rt.recv_bytes if reader == "recv_bytes" else rt._connection.receive_message  # type: ignore[attr-defined]
    for _ in range(50):
        await read()
    raise AssertionError("the socket never closed")


async def connected(fake: FakeRealtimeServer, transport: RealtimeTransport) -> tuple[Any, FakeSession]:
    """A connection the fake has greeted with `session.created`, and the fake's side of it."""
    rt = await transport.connect("gpt-realtime")
    (session,) = await fake.wait_for_sessions(1)
    await next_event(rt, "session.created")
    return rt, session


def test_the_url_is_the_public_realtime_endpoint() -> None:
    assert realtime_url(None, "gpt-realtime") == "wss://api.openai.com/v1/realtime?model=gpt-realtime"
    assert realtime_url("ws://127.0.0.1:9/v1/", "m x") == "ws://127.0.0.1:9/v1/realtime?model=m+x"


async def test_typed_sdk_events_and_raw_appends_travel_both_ways(
    fake: FakeRealtimeServer, transport: RealtimeTransport
) -> None:
    rt, session = await connected(fake, transport)
    pcmu = {"format": {"type": "audio/pcmu"}}
    session_config = {"type": "realtime", "instructions": "Be brief.", "audio": {"input": pcmu, "output": pcmu}}
    await rt.session.update(session=session_config)  # type: ignore[arg-type]
    updated = await next_event(rt, "session.updated")
    assert updated["session"]["instructions"] == "Be brief."  # type: ignore[index]
    audio = base64.b64encode(bytes(160)).decode()  # 20 ms of μ-law
    await rt.send_raw('{"type":"input_audio_buffer.append","audio":"' + audio + '"}')
    await session.wait_for(lambda: session.appended_ms >= 20, what="the raw append")
    await rt.close()
    fake.assert_clean()  # handshake: Bearer key, GA path, model, no beta header; events valid


async def test_a_refused_handshake_raises(fake: FakeRealtimeServer, transport: RealtimeTransport) -> None:
    fake.fail_connect = True
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await transport.connect("gpt-realtime")
    assert refused.value.status == 500


READERS = pytest.mark.parametrize("reader", ["recv_bytes", "receive_message"])


async def test_receive_message_gives_the_text_frame_as_sent(
    fake: FakeRealtimeServer, transport: RealtimeTransport
) -> None:
    rt, _session = await connected(fake, transport)
    await rt.send_raw('{"type":"response.create"}')  # the greeting: text frames, each a server event
    while True:
        text = await rt._connection.receive_message()
        assert isinstance(text, str), "a text frame stays str: no copy to bytes"
        if orjson.loads(text)["type"] == "response.done":
            break
    await rt.close()
    fake.assert_clean()


@READERS
@pytest.mark.parametrize(("code", "closed"), [(1011, ConnectionClosedError), (1000, ConnectionClosedOK)])
async def test_a_server_close_raises_what_websockets_would(
    fake: FakeRealtimeServer, transport: RealtimeTransport, code: int, closed: type[ConnectionClosed], reader: str
) -> None:
    rt, session = await connected(fake, transport)
    closing = asyncio.create_task(session.disconnect(code))  # it waits for our close frame: read meanwhile
    with pytest.raises(closed) as raised:
        await read_until_closed(rt, reader)
    await closing
    assert raised.value.rcvd is not None and raised.value.rcvd.code == code
    with pytest.raises(ConnectionClosed):
        await rt.send_raw('{"type":"response.create"}')


@READERS
async def test_a_dropped_tcp_connection_is_an_abnormal_close(
    fake: FakeRealtimeServer, transport: RealtimeTransport, reader: str
) -> None:
    rt, session = await connected(fake, transport)
    await session.disconnect(None)  # no close frame
    with pytest.raises(ConnectionClosedError):
        await read_until_closed(rt, reader)


async def speaking_pcmu(fake: FakeRealtimeServer, transport: RealtimeTransport) -> tuple[Any, FakeSession, Any]:
    """A connection set up for μ-law audio, the fake's side of it, and our socket under the SDK's."""
    rt, session = await connected(fake, transport)
    pcmu = {"format": {"type": "audio/pcmu"}}
    await rt.session.update(session={"type": "realtime", "audio": {"input": pcmu, "output": pcmu}})
    await next_event(rt, "session.updated")
    return rt, session, rt._connection


def append(audio: bytes) -> str:
    return '{"type":"input_audio_buffer.append","audio":"' + base64.b64encode(audio).decode() + '"}'


async def test_send_now_writes_before_returning_in_order_with_awaited_sends(
    fake: FakeRealtimeServer, transport: RealtimeTransport
) -> None:
    rt, session, socket = await speaking_pcmu(fake, transport)
    assert socket.send_now(append(bytes([1]) * 160)) is True
    await rt.send_raw(append(bytes([2]) * 160))
    assert socket.send_now(append(bytes([3]) * 160)) is True
    await session.wait_for(lambda: session.appended_ms >= 60, what="three appends")
    appends = [event["audio"] for event in session.received if event["type"] == "input_audio_buffer.append"]
    assert [base64.b64decode(audio)[0] for audio in appends] == [1, 2, 3]  # masked and framed like aiohttp's own
    await rt.close()
    fake.assert_clean()


async def test_send_now_writes_nothing_while_the_transport_is_flow_controlled(
    fake: FakeRealtimeServer, transport: RealtimeTransport
) -> None:
    rt, session, socket = await speaking_pcmu(fake, transport)
    protocol = socket._ws._writer.protocol
    protocol.pause_writing()  # what the transport calls when its buffer passes the high-water mark
    assert socket.send_now(append(bytes(160))) is False
    protocol.resume_writing()
    assert socket.send_now(append(bytes(160))) is True
    await session.wait_for(lambda: session.appended_ms >= 20, what="the append after resume")
    await asyncio.sleep(0.05)
    assert session.appended_ms == 20, "the refused frame must not have been written"
    await rt.close()


async def test_send_now_on_a_closed_socket_raises_like_send(
    fake: FakeRealtimeServer, transport: RealtimeTransport
) -> None:
    rt, session = await connected(fake, transport)
    closing = asyncio.create_task(session.disconnect(1011))
    with pytest.raises(ConnectionClosedError):
        await read_until_closed(rt)
    await closing
    with pytest.raises(ConnectionClosedError):
        rt._connection.send_now(append(bytes(160)))
