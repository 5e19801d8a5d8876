"""The events a call handles are exactly the events it types, each with the SDK's model of that event."""

from __future__ import annotations

import pytest
from openai.types.realtime import ResponseDoneEvent

from services.call import server_events
from services.call.session import CallSession


def test_every_handled_event_has_its_model_and_nothing_else_is_typed() -> None:
    assert set(CallSession._control_handlers) == set(server_events.HANDLED)
    assert server_events.typed("response.output_audio_transcript.delta", {"delta": "Na"}) is None


def test_an_event_is_typed_from_its_dict_and_a_malformed_one_is_refused() -> None:
    event = {"type": "response.done", "event_id": "ev_1", "response": {"id": "resp_1", "status": "completed"}}
    done = server_events.typed("response.done", event)
    assert isinstance(done, ResponseDoneEvent) and done.response.id == "resp_1"
    with pytest.raises(ValueError):
        server_events.typed("response.done", {"type": "response.done", "response": "not an object"})


def test_a_responses_output_items_are_left_untyped_and_its_own_fields_typed() -> None:
    usage = {"total_tokens": 30, "input_tokens": 20, "output_tokens": 10}
    item = {"id": "item_1", "type": "message", "role": "assistant", "content": [{"type": "output_audio"}]}
    for event_type in ("response.created", "response.done"):
        response = {"id": "resp_1", "status": "completed", "usage": usage, "output": [item, {"type": "???"}]}
        event = {"type": event_type, "event_id": "ev_1", "response": response}
        parsed = server_events.typed(event_type, event)
        assert parsed is not None
        typed_response = parsed.response  # type: ignore[attr-defined]
        assert typed_response.id == "resp_1" and typed_response.usage.total_tokens == 30
        assert typed_response.output is None  # no handler reads the items: not validated, not typed
        assert response["output"] == [item, {"type": "???"}]  # the event as read is left as it was
