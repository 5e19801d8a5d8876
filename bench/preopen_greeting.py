"""Greeting latency with and without pre-opening the Realtime session at webhook time.

The fake Realtime server is given a handshake delay and a model think time, and the simulated Twilio
waits between receiving the TwiML and opening the media stream, as real Twilio does. Measured from the
webhook request to the first greeting audio at the phone, and from stream start to that audio.

    .venv/bin/python -m bench.preopen_greeting [--calls 10] [--connect-delay 0.3] [--think 0.4] [--twilio-gap 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import uuid
import warnings

from devtools.ferretdb import LocalMongo
from tests.fakes.realtime_server import Script
from tests.stack import live_stack


async def measure(mongo_uri: str, preopen: bool, args: argparse.Namespace) -> tuple[list[float], list[float]]:
    from_webhook: list[float] = []
    from_stream: list[float] = []
    async with live_stack(mongo_uri, f"bench_{uuid.uuid4().hex[:8]}", openai_preopen=preopen) as stack:
        stack.realtime.script = Script(greeting_ms=500, response_latency_s=args.think)
        stack.realtime.connect_delay_s = args.connect_delay
        loop = asyncio.get_running_loop()
        for _ in range(args.calls):
            started = loop.time()
            call = await stack.sim.place_call()
            await asyncio.sleep(args.twilio_gap)
            await call.connect_stream()
            await call.wait_for_media(timeout=10)
            from_webhook.append((call.first_media_at - started) * 1000)
            from_stream.append((call.first_media_at - call.t0) * 1000)
            await call.hangup()
            await call.wait_closed(timeout=5)
    return from_webhook, from_stream


def describe(values: list[float]) -> str:
    return f"p50 {statistics.median(values):6.0f} ms   max {max(values):6.0f} ms"


async def main(args: argparse.Namespace) -> None:
    with LocalMongo() as mongo:
        for preopen in (False, True):
            from_webhook, from_stream = await measure(mongo.uri, preopen, args)
            label = "pre-opened at webhook" if preopen else "opened at stream start"
            print(f"{label:24s} webhook→first audio: {describe(from_webhook)}")
            print(f"{'':24s} stream→first audio:  {describe(from_stream)}")


if __name__ == "__main__":
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--connect-delay", type=float, default=0.3, help="fake OpenAI handshake delay, s")
    parser.add_argument("--think", type=float, default=0.4, help="fake model time to first audio, s")
    parser.add_argument("--twilio-gap", type=float, default=0.2, help="TwiML answered → stream opened, s")
    asyncio.run(main(parser.parse_args()))
