"""The conversation so far, as items a fresh Realtime session can be given (reconnect, rotation).

A new session knows nothing: after the same `session.update`, the call's transcript is replayed as
`message` items — the caller's lines as `user` `input_text`, the assistant's as `assistant`
`output_text` (audio cannot be created by a client) — and tool results are summarised in one
`system` note. Only the recent part is replayed in full; older lines are summarised, so a long call
does not send an ever larger history.
"""

from __future__ import annotations

import json
from typing import Any

from models.call_record import CallRecord

RECENT_LINES = 30
TOOL_RESULTS_KEPT = 6
_TEXT_LIMIT = 600

RESUME_NOTE = (
    "The phone line to you dropped for a moment and the conversation above was restored. Do not greet "
    "the caller again. Continue naturally from where the conversation was; if you were in the middle of "
    "saying something, say it again briefly."
)


def _message(role: str, text: str) -> dict[str, Any]:
    kind = "output_text" if role == "assistant" else "input_text"
    item = {"type": "message", "role": role, "content": [{"type": kind, "text": text[:_TEXT_LIMIT]}]}
    return {"type": "conversation.item.create", "item": item}


def replay_events(record: CallRecord) -> list[dict[str, Any]]:
    """`conversation.item.create` events that restore the call's conversation on a new session."""
    lines = [line for line in record.transcript if line.text]
    older, recent = lines[:-RECENT_LINES], lines[-RECENT_LINES:]
    events: list[dict[str, Any]] = []
    if older:
        said = " / ".join(f"{line.role}: {line.text}" for line in older if line.role != "system")
        events.append(_message("system", f"Earlier in this call (summary): {said[-_TEXT_LIMIT:]}"))
    for line in recent:
        role = {"caller": "user", "assistant": "assistant"}.get(line.role, "system")
        events.append(_message(role, line.text))
    results = [call for call in record.tool_calls if call.ok][-TOOL_RESULTS_KEPT:]
    if results:
        parts = [f"{call.name} → {json.dumps(call.output, default=str, ensure_ascii=False)[:300]}" for call in results]
        events.append(_message("system", "Tool results earlier in this call: " + "; ".join(parts)))
    return events
