"""What one append + one server event cost the bridge's side of the OpenAI socket, by client stack.

A call's Realtime socket carries ~17 appends and ~19 server events a second. This measures the client
process's CPU (`time.process_time`, so syscalls included) per round trip of one 100 ms append
(`input_audio_buffer.append`, 800 μ-law bytes in base64) and one small server event, sent the way
`services.call.realtime_link` sends and reads (straight on the socket under the SDK's connection, then
the SDK's `recv_bytes()`), over:

- `sdk-websockets`: the connection `AsyncOpenAI().realtime.connect()` opens (`websockets`);
- `sdk-aiohttp`: the SDK's `AsyncRealtimeConnection` on an aiohttp socket (`services.realtime.transport`);
- `sdk-aiohttp-message`: the same, the event read with the socket's own `receive_message()` (text as
  str), as `RealtimeLink.events` reads since round six: what the app uses;
- `picows`: a bare picows client (Cython framing), outside the SDK: each event handed to a future in
  its read callback, as a reader task would be woken. The floor a faster WebSocket library could give.

The server is an aiohttp echo of one event per message, in its own process: a transcript delta, or with
`--audio-delta` a 300 ms `response.output_audio.delta` (the copy `recv_bytes` makes grows with it). All
run on uvloop.

    .venv/bin/python -m bench.realtime_client_cost              # 20000 round trips per stack, 3 rounds
    .venv/bin/python -m bench.realtime_client_cost --audio-delta
"""

from __future__ import annotations

import argparse
import base64
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import orjson
import uvloop
from aiohttp import web
from openai import AsyncOpenAI
from openai.resources.realtime.realtime import AsyncRealtimeConnection

from bench.ws_server_cost import free_port
from services.realtime.transport import RealtimeTransport

APPEND = '{"type":"input_audio_buffer.append","audio":"' + base64.b64encode(bytes(800)).decode() + '"}'
EVENT = (
    '{"type":"response.output_audio_transcript.delta","event_id":"event_1","response_id":"resp_1",'
    '"item_id":"item_1","output_index":0,"content_index":0,"delta":"namaste "}'
)

AUDIO_DELTA = (
    '{"type":"response.output_audio.delta","event_id":"event_2","response_id":"resp_1","item_id":"item_1",'
    '"output_index":0,"content_index":0,"delta":"' + base64.b64encode(bytes(2400)).decode() + '"}'
)


def serve(port: int, event: str) -> None:
    async def realtime(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False, max_msg_size=0)
        await ws.prepare(request)
        async for _ in ws:
            await ws.send_str(event)
        return ws

    app = web.Application()
    app.router.add_get("/v1/realtime", realtime)
    uvloop.install()
    web.run_app(app, host="127.0.0.1", port=port, print=None)


async def round_trips(rt: AsyncRealtimeConnection, n: int, *, own_read: bool = False) -> float:
    send = rt._connection.send  # as `realtime_link._frame_sender` does
    read = rt._connection.receive_message if own_read else rt.recv_bytes  # `realtime_link._frame_reader`
    started = time.process_time()
    for _ in range(n):
        await send(APPEND)
        orjson.loads(await read())
    return (time.process_time() - started) / n * 1e6


async def picows_round_trips(port: int, n: int) -> float:
    import asyncio

    from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

    loop = asyncio.get_running_loop()

    class Reader(WSListener):
        waiter: asyncio.Future[str] | None = None

        def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
            if frame.msg_type == WSMsgType.TEXT and self.waiter is not None:
                self.waiter.set_result(frame.get_payload_as_utf8_text())

    reader = Reader()
    transport, _ = await ws_connect(lambda: reader, f"ws://127.0.0.1:{port}/v1/realtime")
    append = APPEND.encode()

    async def trips(count: int) -> float:
        started = time.process_time()
        for _ in range(count):
            reader.waiter = loop.create_future()
            transport.send(WSMsgType.TEXT, append)
            orjson.loads(await reader.waiter)
        return (time.process_time() - started) / count * 1e6

    try:
        await trips(500)  # warm-up
        return await trips(n)
    finally:
        transport.disconnect()


async def main(n: int, rounds: int, port: int) -> None:
    base = f"ws://127.0.0.1:{port}/v1"
    client = AsyncOpenAI(api_key="sk-bench", websocket_base_url=base)
    transport = RealtimeTransport(client, base, max_message_bytes=16 << 20)
    try:

        async def sdk_websockets() -> AsyncRealtimeConnection:
            return await client.realtime.connect(model="gpt-realtime").enter()

        stacks: dict[str, Callable[[], Awaitable[AsyncRealtimeConnection]]] = {
            "sdk-websockets": sdk_websockets,
            "sdk-aiohttp": lambda: transport.connect("gpt-realtime"),
        }
        stacks["sdk-aiohttp-message"] = stacks["sdk-aiohttp"]
        results: dict[str, list[float]] = {name: [] for name in stacks}
        for _ in range(rounds):
            for name, connect in stacks.items():
                rt = await connect()
                own_read = name == "sdk-aiohttp-message"
                await round_trips(rt, 500, own_read=own_read)  # warm-up
                results[name].append(await round_trips(rt, n, own_read=own_read))
                await rt.close()
            results.setdefault("picows", []).append(await picows_round_trips(port, n))
        print("| client stack | CPU µs per append + event, median (range) |\n|---|---|")
        for name, values in results.items():
            print(f"| {name} | {statistics.median(values):.1f} ({min(values):.1f}–{max(values):.1f}) |")
    finally:
        await transport.aclose()
        await client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--round-trips", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--audio-delta", action="store_true", help="the server answers with a 300 ms audio delta")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, AUDIO_DELTA if args.audio_delta else EVENT)
    else:
        port = free_port()
        command = [sys.executable, "-m", "bench.realtime_client_cost", "--serve", str(port)]
        server = subprocess.Popen(command + (["--audio-delta"] if args.audio_delta else []))
        try:
            time.sleep(1.5)
            uvloop.run(main(args.round_trips, args.rounds, port))
        finally:
            server.terminate()
            server.wait()
