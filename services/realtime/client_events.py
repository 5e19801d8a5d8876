"""Our control events to OpenAI Realtime, as written on the socket: validated by the SDK's own GA models.

The SDK's typed send (`AsyncRealtimeConnection.send`, and `rt.response.create` through it) walks every
event through `async_maybe_transform`, its TypedDict transform: ~0.2 ms of the event loop per event, and
it validates nothing. The SDK's `RealtimeClientEvent` models (a union on `type`) validate the event and
write the same JSON in ~16 µs. A call sends a few dozen control events (its greeting, barge-in
truncations, tool outputs, notes, its summary request), most of them in the burst of call starts or at
a barge-in, where the caller's audio waits behind them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from openai.types.realtime import RealtimeClientEvent
from pydantic import TypeAdapter

_CLIENT_EVENT: TypeAdapter[RealtimeClientEvent] = TypeAdapter(RealtimeClientEvent)


def client_event_text(event: Mapping[str, Any]) -> str:
    """The event's JSON as the SDK's models write it. Raises `pydantic.ValidationError` for anything that
    is not a GA client event (a bug of ours: OpenAI would answer it with an `error` event)."""
    typed = _CLIENT_EVENT.validate_python(event)
    return typed.to_json(use_api_names=True, exclude_unset=True, indent=None)
