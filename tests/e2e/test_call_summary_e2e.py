"""End-to-end: a call's summary and disposition, written by the model out of band while the Realtime
session is still open, or from the record's facts when the model's answer is unusable."""

from __future__ import annotations

import json

import pytest

from tests.fakes.mulaw import tone
from tests.fakes.realtime_server import Script, Turn
from tests.stack import DEMO_CALLER, live_stack, wait_for_greeting, wait_for_record

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

WRITTEN = {
    "reason": "Caller asked when order ORD-482913 will arrive.",
    "actions": "Looked up ORD-482913.",
    "outcome": "Told the caller it arrives tomorrow.",
    "follow_up": "",
}


async def one_turn_call(mongo_uri: str, database_name: str, out_of_band_text: str) -> tuple[dict, list]:
    async with live_stack(mongo_uri, database_name) as stack:
        stack.realtime.script = Script(
            greeting_ms=300,
            reply_ms=300,
            turns=[Turn(transcript="Mera order kab aayega?")],
            out_of_band_text=out_of_band_text,
        )
        call = await stack.sim.place_call(from_=DEMO_CALLER)
        await call.connect_stream()
        (session,) = await stack.realtime.wait_for_sessions(1)
        await wait_for_greeting(call)
        await call.say_and_wait(tone(500, 440))
        await call.wait_for(lambda: call.received_media_bytes >= (300 + 300) * 8, timeout=10)  # greeting + reply
        await call.wait_playback_idle(timeout=10)
        heard = call.received_media_bytes
        await call.hangup()
        record = await wait_for_record(stack, call.call_sid, lambda r: r.get("ended_at") and r.get("summary"))
        assert call.received_media_bytes == heard, "the caller hears nothing of the summary"
        billed = [event["response"]["usage"]["total_tokens"] for event in session.events("response.done")]
        assert len(billed) == len(session.responses) + len(session.out_of_band_responses)
        assert record["usage"]["total_tokens"] == sum(billed), "every response is billed, the summary's too"
        return record, session.out_of_band_responses


async def test_the_model_writes_the_summary_out_of_band_at_the_end(mongo_uri: str, database_name: str) -> None:
    record, responses = await one_turn_call(mongo_uri, database_name, json.dumps(WRITTEN))
    (summary_response,) = responses
    assert summary_response["metadata"] == {"purpose": "call_summary"}
    summary = record["summary"]
    assert summary["source"] == "model" and summary["reason"] == WRITTEN["reason"]
    assert summary["actions"] == WRITTEN["actions"] and summary["disposition"] == "resolved"
    assert record["disposition"] == "resolved"
    spoken = [line["text"] for line in record["transcript"] if line["role"] == "assistant"]
    assert not any("ORD-482913" in text for text in spoken), "the summary is not part of the conversation"


async def test_an_unusable_answer_falls_back_to_the_facts(mongo_uri: str, database_name: str) -> None:
    record, _responses = await one_turn_call(mongo_uri, database_name, "Sure! The caller wanted their order.")
    summary = record["summary"]
    assert summary["source"] == "transcript"
    assert summary["reason"] == "The caller said: Mera order kab aayega?"
    assert summary["disposition"] == record["disposition"] == "resolved"
