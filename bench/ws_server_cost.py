"""What one inbound carrier frame costs the server that receives it, by WebSocket server stack.

Every call sends 50 text frames a second (Twilio's 20 ms media), each arriving alone; receiving them is
the one per-message cost no batching can remove. This runs each server stack as its own process pinned
to CPU 0 (a handler that only reads frames), then N paced clients on the other core, each sending a
Twilio-shaped media frame every 20 ms, and reads the server's CPU time from /proc over the window:

- `uvicorn-sansio`: uvicorn (uvloop, httptools, `ws="websockets-sansio"`, as `app.serve` runs it) and a
  Starlette WebSocket route reading `receive()`, i.e. the app's own stack under `/media-stream`;
- `uvicorn-legacy`: the same with uvicorn's older `ws="websockets"` protocol;
- `websockets`: `websockets.asyncio.server` on uvloop, no ASGI layer;
- `aiohttp`: aiohttp's server on uvloop (its frame reader is compiled), as `bench/bare_relay.py` uses;
- `aiohttp-tap`: the same server with the stream port's frame tap (`api/frame_tap.py`): each frame is
  taken in the read callback instead of waking the reading task;
- `picows`: picows' server (Cython), whose listener is handed each frame in its read callback.

    .venv/bin/python -m bench.ws_server_cost                     # 50 clients, 10 s per stack, ~1 min
    .venv/bin/python -m bench.ws_server_cost --clients 100 --seconds 20 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import statistics
import subprocess
import sys
import time

STACKS = ("uvicorn-sansio", "uvicorn-legacy", "websockets", "aiohttp", "aiohttp-tap", "picows")
FRAME_S = 0.02


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(stack: str, port: int) -> None:
    """The server process: accept WebSockets on /ws and read every frame, nothing else."""
    if stack.startswith("uvicorn"):
        import uvicorn
        from starlette.applications import Starlette
        from starlette.routing import WebSocketRoute
        from starlette.websockets import WebSocket

        async def endpoint(websocket: WebSocket) -> None:
            await websocket.accept()
            while (await websocket.receive())["type"] != "websocket.disconnect":
                pass

        ws = "websockets-sansio" if stack == "uvicorn-sansio" else "websockets"
        app = Starlette(routes=[WebSocketRoute("/ws", endpoint)])
        uvicorn.run(app, port=port, ws=ws, loop="uvloop", http="httptools", log_level="warning",
                    ws_per_message_deflate=False)  # fmt: skip
    elif stack == "websockets":
        import uvloop
        from websockets.asyncio.server import ServerConnection
        from websockets.asyncio.server import serve as ws_serve

        async def handler(connection: ServerConnection) -> None:
            async for _ in connection:
                pass

        async def main() -> None:
            async with ws_serve(handler, "127.0.0.1", port, compression=None):
                await asyncio.Future()

        uvloop.run(main())
    elif stack == "picows":
        import uvloop
        from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_create_server

        class Reader(WSListener):
            frames = 0

            def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
                if frame.msg_type == WSMsgType.TEXT:
                    frame.get_payload_as_utf8_text()  # what the tap is given: the frame's text
                    Reader.frames += 1
                elif frame.msg_type == WSMsgType.CLOSE:
                    transport.send_close(frame.get_close_code())
                    transport.disconnect()

        async def picows_main() -> None:
            server = await ws_create_server(lambda request: Reader(), "127.0.0.1", port)
            await server.serve_forever()

        uvloop.run(picows_main())
    else:
        import uvloop
        from aiohttp import web

        async def aiohttp_handler(request: web.Request) -> web.WebSocketResponse:
            websocket = web.WebSocketResponse(compress=False)
            await websocket.prepare(request)
            async for _ in websocket:
                pass
            return websocket

        from api.frame_tap import TappableWebSocketResponse

        taken = 0

        def take(text: str) -> bool:
            nonlocal taken
            taken += 1
            return True

        async def tap_handler(request: web.Request) -> web.WebSocketResponse:
            websocket = TappableWebSocketResponse(compress=False)
            await websocket.prepare(request)
            websocket.tap(take)
            async for _ in websocket:  # only the close comes here
                pass
            return websocket

        application = web.Application()
        application.router.add_get("/ws", tap_handler if stack == "aiohttp-tap" else aiohttp_handler)
        web.run_app(application, host="127.0.0.1", port=port, loop=uvloop.new_event_loop(), print=None)


async def callers(port: int, clients: int, seconds: float) -> None:
    from websockets.asyncio.client import connect

    payload = base64.b64encode(os.urandom(160)).decode()
    media = {"event": "media", "sequenceNumber": "4", "media": {"track": "inbound", "chunk": "3",
             "timestamp": "5", "payload": payload}, "streamSid": "MZ" + "0" * 32}  # fmt: skip
    frame = json.dumps(media)

    async def one(index: int) -> None:
        async with connect(f"ws://127.0.0.1:{port}/ws", compression=None) as websocket:
            await asyncio.sleep(index * FRAME_S / clients)  # spread like independent calls
            start, sent = time.monotonic(), 0
            while time.monotonic() - start < seconds:
                sent += 1
                await websocket.send(frame)
                await asyncio.sleep(max(0.0, start + sent * FRAME_S - time.monotonic()))

    await asyncio.gather(*(one(i) for i in range(clients)))


def cpu_ticks(pid: int) -> int:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def measure(stack: str, clients: int, seconds: float) -> float:
    """Server CPU µs per frame received, over the middle of a paced run."""
    port = free_port()
    me = [sys.executable, "-m", "bench.ws_server_cost", "--port", str(port)]
    server = subprocess.Popen(["taskset", "-c", "0", *me, "--serve", stack])
    try:
        time.sleep(2.0)
        paced = ["--callers", "--clients", str(clients), "--seconds", str(seconds + 3)]
        load = subprocess.Popen(["taskset", "-c", "1", *me, *paced])
        time.sleep(2.0)  # connected and paced
        before, started = cpu_ticks(server.pid), time.monotonic()
        time.sleep(seconds)
        ticks, elapsed = cpu_ticks(server.pid) - before, time.monotonic() - started
        load.wait(timeout=seconds + 30)
    finally:
        server.terminate()
        server.wait(timeout=10)
    frames = clients * elapsed / FRAME_S
    return ticks / os.sysconf("SC_CLK_TCK") / frames * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--stacks", default=",".join(STACKS))
    parser.add_argument("--serve", choices=STACKS, help=argparse.SUPPRESS)
    parser.add_argument("--callers", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return
    if args.callers:
        asyncio.run(callers(args.port, args.clients, args.seconds))
        return
    stacks = args.stacks.split(",")
    results: dict[str, list[float]] = {stack: [] for stack in stacks}
    for _ in range(args.rounds):
        for stack in stacks:
            results[stack].append(measure(stack, args.clients, args.seconds))
    print(f"{args.clients} paced clients (a frame each per 20 ms), {args.seconds:.0f} s, {args.rounds} round(s)\n")
    print("| server stack | CPU µs per frame received, median (min-max) | per round |\n|---|---|---|")
    for stack, values in results.items():
        rounds = ", ".join(f"{value:.0f}" for value in values)
        print(f"| {stack} | {statistics.median(values):.0f} ({min(values):.0f}-{max(values):.0f}) | {rounds} |")


if __name__ == "__main__":
    main()
