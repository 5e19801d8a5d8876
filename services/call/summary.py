"""A call's summary and disposition, for the agent taking a transfer and for whoever reads the record.

The model writes the prose (why the caller called, what was done, the outcome, what follows) in an
out-of-band text response (`conversation: "none"`: it sees the whole conversation but adds nothing
to it, and the caller hears nothing), while the Realtime session is still open: when a transfer is
armed (ready by the time the announcement has played) and when the call ends. Its events are told
apart by `metadata.purpose` and consumed here, never reaching the spoken-response handlers.

When the model cannot (the link is down, a timeout, text that is not the JSON asked for), the
summary is built from the record's facts: the first caller line, the tools used, the tickets. The
disposition always comes from the facts, never from the model.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import orjson
from openai.types.realtime import RealtimeResponseUsage

from models.call_record import CallRecord, CallSummary, Disposition
from services.call.realtime_link import RealtimeLink, RealtimeLinkClosed

PURPOSE = "call_summary"
FIELDS = ("reason", "actions", "outcome", "follow_up")
INSTRUCTIONS = (
    "Summarise this support call for the human agent who reads it next. Reply with one JSON object and "
    'nothing else: {"reason": "...", "actions": "...", "outcome": "...", "follow_up": "..."}. Each value is '
    "one short English sentence of facts from the call (why the caller called; what you looked up or did, "
    "with order and ticket ids as they appeared; how it ended; what someone must still do), or an empty "
    "string. Never invent anything."
)
OUTCOMES: dict[Disposition, str] = {
    "resolved": "Answered by the assistant.",
    "transferred": "Handed to a human agent.",
    "callback": "A callback was arranged.",
    "abandoned": "The caller left before being helped.",
}
TOOL_PHRASES = {
    "lookup_order": "looked up an order",
    "check_product_availability": "checked stock and delivery",
    "create_ticket": "raised a ticket",
    "transfer_to_human": "asked for a human agent",
    "search_knowledge_base": "answered from the knowledge base",
}


def disposition_of(record: CallRecord) -> Disposition:
    """From the facts: a transfer under way or done, a callback promised, nobody helped, or resolved."""
    transfer = record.transfer
    if transfer is not None and transfer.status in ("dialing", "connected"):
        return "transferred"
    callback_asked = any(
        call.name == "create_ticket" and call.ok and call.arguments.get("category") == "callback"
        for call in record.tool_calls
    )
    failed = record.status == "failed" or (transfer is not None and transfer.status in ("failed", "unavailable"))
    if callback_asked or (failed and record.tickets):
        return "callback"
    if not any(line.role == "caller" and line.text for line in record.transcript):
        return "abandoned"
    return "resolved"


def from_record(record: CallRecord) -> CallSummary:
    """The summary from the record alone (no model)."""
    disposition = disposition_of(record)
    first = next((line.text for line in record.transcript if line.role == "caller" and line.text), "")
    reason = f"The caller said: {first[:160]}" if first else "The caller did not say why they called."
    done = list(dict.fromkeys(TOOL_PHRASES.get(call.name, call.name) for call in record.tool_calls if call.ok))
    actions = ("The assistant " + ", ".join(done) + ".") if done else ""
    follow_up = f"Follow up on {', '.join(record.tickets)}." if record.tickets else ""
    return CallSummary(
        reason=reason, actions=actions, outcome=OUTCOMES[disposition], follow_up=follow_up, disposition=disposition
    )


def settle(summary: CallSummary, record: CallRecord) -> CallSummary:
    """The summary once the call is over: the disposition (and a fact-based summary) from the final record."""
    if summary.source == "transcript":
        return from_record(record)
    return summary.model_copy(update={"disposition": disposition_of(record)})


def parse(text: str | None) -> dict[str, str] | None:
    """The model's JSON, if it is what was asked for (code fences tolerated)."""
    if not text:
        return None
    body = text.strip().removeprefix("```json").removeprefix("```").removesuffix("```").strip()
    try:
        value: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(value, dict) or not any(isinstance(value.get(key), str) for key in FIELDS):
        return None
    return {key: value[key].strip()[:400] for key in FIELDS if isinstance(value.get(key), str)}


class CallSummaries:
    """Asks the model for the summary out of band, one request at a time, and reads its events."""

    def __init__(self, link: RealtimeLink, record: CallRecord, on_usage: Callable[[str, Any], object]) -> None:
        self._link = link
        self._record = record
        self._on_usage = on_usage  # the summary's tokens are billed like any response's (`TurnTimer.response_done`)
        self._answer: asyncio.Future[str | None] | None = None
        self._request: asyncio.Task[dict[str, str] | None] | None = None
        self._response_id: str | None = None
        self._text: str | None = None

    @property
    def active(self) -> bool:
        return self._answer is not None

    def take(self, event_type: str, event: dict[str, Any]) -> bool:
        """True for an event of our out-of-band response (then nobody else handles it)."""
        if event_type == "response.created":
            response = event.get("response") or {}
            if (response.get("metadata") or {}).get("purpose") != PURPOSE:
                return False
            self._response_id, self._text = response.get("id"), None
            return True
        response_id = event.get("response_id") or (event.get("response") or {}).get("id")
        if response_id is None or response_id != self._response_id:
            return False
        if event_type == "response.output_text.done":
            self._text = event.get("text")
        elif event_type == "response.done":
            response = event.get("response") or {}
            with contextlib.suppress(ValueError):  # a usage we cannot read is not billed, nothing else fails
                if response.get("usage") is not None:
                    self._on_usage(response_id, RealtimeResponseUsage.model_validate(response["usage"]))
            if self._answer is not None and not self._answer.done():
                self._answer.set_result(self._text if response.get("status") == "completed" else None)
        return True

    def start(self) -> None:
        """Ask now (e.g. a transfer was armed); `summary()` picks the answer up later."""
        if self._request is None or self._request.done():
            self._request = asyncio.create_task(self._ask(), name="call-summary")

    async def summary(self, timeout_s: float, *, fresh: bool = False) -> CallSummary:
        """The latest summary: the model's when it answers within `timeout_s`, else from the record."""
        if fresh or self._request is None:
            if self._request is not None and not self._request.done():
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.shield(self._request), timeout_s)
            self._request = None
            self.start()
        assert self._request is not None
        written: dict[str, str] | None = None
        with contextlib.suppress(Exception):  # a timeout, a lost link: the facts will do
            written = await asyncio.wait_for(asyncio.shield(self._request), timeout_s)
        facts = from_record(self._record)
        if written is None:
            return facts
        fields = {**facts.model_dump(include=set(FIELDS)), **written}
        return CallSummary(**fields, disposition=facts.disposition, source="model")

    def close(self) -> None:
        if self._request is not None:
            self._request.cancel()

    async def _ask(self) -> dict[str, str] | None:
        loop = asyncio.get_running_loop()
        self._answer = loop.create_future()
        self._response_id = None
        try:
            response = {
                "conversation": "none",
                "output_modalities": ["text"],
                "metadata": {"purpose": PURPOSE},
                "instructions": INSTRUCTIONS,
            }
            await self._link.send({"type": "response.create", "response": response})
            return parse(await self._answer)
        except RealtimeLinkClosed:
            return None
        finally:
            self._answer = None
