"""End-to-end: caller audio reaches OpenAI whole and in order, batched but where the server VAD acts.

The simulator sends 20 ms frames continuously (silence between speech, as Twilio does); the fake
Realtime server records every append and runs its VAD on the audio clock of the bytes it received.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.fakes.mulaw import silence, tone
from tests.fakes.realtime_server import Script, Turn
from tests.stack import DEMO_CALLER, live_stack, wait_for_greeting

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def appends(session: Any) -> list[str]:
    return [event["audio"] for event in session.received if event["type"] == "input_audio_buffer.append"]


@pytest.mark.parametrize(("batch_ms", "speech_batch_ms"), [(100, 20), (100, 100), (20, 20)])
async def test_every_caller_byte_reaches_openai_once_in_order(
    mongo_uri: str, database_name: str, batch_ms: int, speech_batch_ms: int
) -> None:
    overrides = {"inbound_audio_batch_ms": batch_ms, "inbound_speech_batch_ms": speech_batch_ms}
    async with live_stack(mongo_uri, database_name, **overrides) as stack:
        stack.realtime.script = Script(greeting_ms=400, reply_ms=400, turns=[Turn(transcript="Order kahan hai?")])
        call = await stack.sim.place_call(from_=DEMO_CALLER)
        sent: list[str] = []
        call.on_send = lambda message, _at: (
            sent.append(message["media"]["payload"]) if message["event"] == "media" else None
        )
        await call.connect_stream()
        (session,) = await stack.realtime.wait_for_sessions(1)
        await wait_for_greeting(call)
        speech = tone(600, 440)
        await call.say_and_wait(speech + silence(700), timeout=10)
        await session.wait_for_event("input_audio_buffer.speech_stopped", timeout=10)
        await call.wait_for(lambda: call.received_media_bytes > 400 * 8 * 2 - 1, timeout=10)  # greeting + reply
        await call.hangup()
        await call.wait_closed(timeout=5)
        await session.closed.wait()

        received = appends(session)
        # Frames sent before the Realtime session was ready are held and sent once it is: all arrive.
        assert b"".join(map(base64.b64decode, received)) == b"".join(map(base64.b64decode, sent))
        speech_frames = [base64.b64encode(speech[i : i + 160]).decode() for i in range(160, len(speech), 160)]
        if batch_ms == 20:
            assert received == sent, "no batching: every frame as Twilio sent it"
            return
        assert max(len(base64.b64decode(chunk)) for chunk in received) <= 800 + 160
        ends, total = [], 0  # the byte offset in the call's audio at which each append ends
        for chunk in received:
            total += len(base64.b64decode(chunk))
            ends.append(total)
        speech_start = sent.index(base64.b64encode(speech[:160]).decode()) * 160
        speech_end = speech_start + len(speech)
        before = [end for end in ends if end <= speech_start]
        assert len(before) <= speech_start / 800 + 2, "the silence before the speech went in 100 ms appends"
        if speech_batch_ms == 20:
            position = received.index(speech_frames[0])
            assert received[position : position + len(speech_frames)] == speech_frames, "speech passes untouched"
            return
        # Batched while the caller talks, and so is the pause after it, but in batches that end on the frame
        # completing the server VAD's silence window (500 ms, 25 frames): the end of the turn is not held back.
        during = [end for end in ends if speech_start < end <= speech_end]
        assert len(during) < len(speech) // 160 / 2, "the speech went in fewer, larger appends"
        after = ends.index(speech_end + 160)  # the speech held went with the first quiet frame
        window_end = speech_end + 25 * 160
        assert window_end in ends, "an append ends on the frame that ends the turn for the VAD"
        pause = [ends[i + 1] - ends[i] for i in range(after, ends.index(window_end))]
        assert pause == [640, 800, 800, 800, 800], "the pause in 100 ms batches, aligned on the window's end"
