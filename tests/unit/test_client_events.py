"""Control events to OpenAI Realtime: validated by the SDK's own GA models and written as its typed send
writes them, by every path that sends one (the greeting, the link's control methods, a session move)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai._utils import async_maybe_transform
from openai.types.realtime.realtime_client_event_param import RealtimeClientEventParam
from pydantic import ValidationError

from config.agent_config import DEFAULT_AGENT_CONFIG
from models.call_record import CallRecord, TranscriptLine
from services.call.history import RESUME_NOTE, replay_events
from services.call.realtime_link import RealtimeLink
from services.call.summary import INSTRUCTIONS, PURPOSE
from services.realtime.client_events import client_event_text
from services.realtime.connector import RealtimeConnector
from services.tools import build_tool_registry
from tests.fakes.realtime_server import FakeRealtimeServer
from tests.stack import make_settings


def note(role: str, kind: str, text: str) -> dict[str, Any]:
    item = {"type": "message", "role": role, "content": [{"type": kind, "text": text}]}
    return {"type": "conversation.item.create", "item": item}


SENT = {
    "greeting": {"type": "response.create", "response": {"instructions": "Namaste! Greet the caller."}},
    "reply": {"type": "response.create"},
    "summary": {
        "type": "response.create",
        "response": {
            "conversation": "none",
            "output_modalities": ["text"],
            "metadata": {"purpose": PURPOSE},
            "instructions": INSTRUCTIONS,
        },
    },
    "cancel": {"type": "response.cancel"},
    "truncate": {"type": "conversation.item.truncate", "item_id": "item_1", "content_index": 0, "audio_end_ms": 1280},
    "tool output": {
        "type": "conversation.item.create",
        "item": {"type": "function_call_output", "call_id": "call_1", "output": '{"status": "shipped"}'},
    },
    "system note": note("system", "input_text", "The caller pressed 1 2 3."),
    "caller text": note("user", "input_text", "मेरा order कहाँ है?"),
    "assistant line": note("assistant", "output_text", "Aapka order kal tak pahunch jayega."),
}


@pytest.mark.parametrize("event", SENT.values(), ids=SENT.keys())
async def test_the_text_is_what_the_sdks_typed_send_writes(event: dict[str, Any]) -> None:
    typed: Any = await async_maybe_transform(event, RealtimeClientEventParam)  # AsyncRealtimeConnection.send
    assert json.loads(client_event_text(event)) == typed


@pytest.mark.parametrize(
    "event",
    [
        {"type": "response.create", "response": {"output_modalities": "text"}},  # a list in GA
        {"type": "conversation.item.create", "item": {"type": "message", "role": "robot", "content": []}},
        {"type": "conversation.item.truncate", "item_id": "item_1"},  # no content_index, no audio_end_ms
        {"type": "response.created"},  # a server event
    ],
    ids=["wrong type", "bad role", "missing fields", "server event"],
)
def test_what_is_not_a_ga_client_event_is_refused_before_it_is_sent(event: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        client_event_text(event)


async def test_every_path_that_sends_a_control_event_writes_one_the_server_accepts(fake: FakeRealtimeServer) -> None:
    connector = RealtimeConnector(
        make_settings(openai_websocket_base_url=fake.url), DEFAULT_AGENT_CONFIG, build_tool_registry().session_tools()
    )
    link = RealtimeLink(connector, None)

    async def greeting() -> str:
        return "Namaste! Greet the caller."

    try:
        await link.open("CA" + "0" * 32, greeting)
        await link.add_caller_text("1 2 3")
        await link.add_system_note("The caller is verified.")
        await link.cancel_response()
        line = TranscriptLine(role="caller", text="Order kahan hai?")
        record = CallRecord(call_sid="CA" + "1" * 32, transcript=[line])
        await link.reopen(replay_events(record), RESUME_NOTE)
    finally:
        await link.close()
        await connector.aclose()
    first, second = await fake.wait_for_sessions(2)
    await second.wait_for(lambda: any(event["type"] == "response.create" for event in second.received))
    sent = [event["type"] for event in first.received if event["type"] != "session.update"]
    note_and_reply = ["conversation.item.create", "response.create"]
    assert sent == ["response.create", *note_and_reply, "conversation.item.create", "response.cancel"]
    assert first.received[1]["response"]["instructions"] == "Namaste! Greet the caller."
    moved = [event for event in second.received if event["type"] == "conversation.item.create"]
    assert moved[0]["item"]["content"][0]["text"] == "Order kahan hai?"
    assert moved[-1]["item"]["content"][0]["text"] == RESUME_NOTE
    assert not fake.violations
