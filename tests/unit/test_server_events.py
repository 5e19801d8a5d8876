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
