"""The bare floor for `bench.side_by_side`: the least a Twilio ⇄ OpenAI Realtime relay can do.

aiohttp serves `POST /incoming-call` (TwiML connecting a bidirectional stream) and `/media-stream`;
on the stream's `start` it opens the Realtime socket with `websockets`, sends a GA `session.update`
(audio/pcmu both ways, server VAD) and a `response.create` (the greeting), then forwards each Twilio
`media` payload as `input_audio_buffer.append` and each `response.output_audio.delta` as a Twilio
`media` message; `input_audio_buffer.speech_started` clears Twilio's playback. That is all: no marks, no
truncation, no tools, no database, no webhook signature checks, no reconnects. It is the floor a real
bridge is measured against, not a product.

    .venv/bin/python -m bench.bare_relay --port 5050 --realtime-url ws://127.0.0.1:9000/v1
"""

from __future__ import annotations

import argparse
import asyncio
import json

import aiohttp
import uvloop
import websockets
from aiohttp import web

SESSION = {
    "type": "realtime",
    "model": "gpt-realtime",
    "output_modalities": ["audio"],
    "instructions": "You are a helpful phone assistant.",
    "audio": {
        "input": {"format": {"type": "audio/pcmu"}, "turn_detection": {"type": "server_vad"}},
        "output": {"format": {"type": "audio/pcmu"}},
    },
}


async def incoming_call(request: web.Request) -> web.Response:
    stream = f"wss://{request.host}/media-stream"
    twiml = f'<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="{stream}"/></Connect></Response>'
    return web.Response(text=twiml, content_type="application/xml")


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def to_twilio(realtime: websockets.ClientConnection, twilio: web.WebSocketResponse, stream_sid: str) -> None:
    async for raw in realtime:
        event = json.loads(raw)
        if event["type"] == "response.output_audio.delta":
            media = {"event": "media", "streamSid": stream_sid, "media": {"payload": event["delta"]}}
            await twilio.send_str(json.dumps(media))
        elif event["type"] == "input_audio_buffer.speech_started":
            await twilio.send_str(json.dumps({"event": "clear", "streamSid": stream_sid}))


async def media_stream(request: web.Request) -> web.WebSocketResponse:
    twilio = web.WebSocketResponse(compress=False)  # no permessage-deflate (ours neither)
    await twilio.prepare(request)
    realtime: websockets.ClientConnection | None = None
    pump: asyncio.Task[None] | None = None
    try:
        async for message in twilio:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(message.data)
            if data["event"] == "media" and realtime is not None:
                append = {"type": "input_audio_buffer.append", "audio": data["media"]["payload"]}
                await realtime.send(json.dumps(append))
            elif data["event"] == "start":
                url = request.app["realtime_url"] + "/realtime?model=gpt-realtime"
                headers = {"Authorization": "Bearer sk-bare-relay"}
                realtime = await websockets.connect(url, additional_headers=headers, compression=None, max_size=None)
                await realtime.send(json.dumps({"type": "session.update", "session": SESSION}))
                await realtime.send(json.dumps({"type": "response.create"}))
                pump = asyncio.create_task(to_twilio(realtime, twilio, data["start"]["streamSid"]))
            elif data["event"] == "stop":
                break
    finally:
        if pump is not None:
            pump.cancel()
        if realtime is not None:
            await realtime.close()
    return twilio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--realtime-url", required=True, help="Realtime base URL, e.g. ws://127.0.0.1:9000/v1")
    args = parser.parse_args()
    app = web.Application()
    app["realtime_url"] = args.realtime_url.rstrip("/")
    app.add_routes([web.post("/incoming-call", incoming_call), web.get("/health", health)])
    app.add_routes([web.get("/media-stream", media_stream)])
    # uvloop, as the app (uvicorn) runs.
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, loop=uvloop.new_event_loop())


if __name__ == "__main__":
    main()
