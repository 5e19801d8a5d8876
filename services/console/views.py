"""What the console shows of a call record, per viewer: plain dicts for the templates.

Staff see caller numbers masked (`utils.privacy.mask_phone`), also inside transcript lines and tool
arguments; admins see them in full. Records are read as stored documents, so a field the call path adds
later (`phase`) shows up when present and a record without it still renders.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from models.call_record import utc_now
from services.store.client import Document
from services.store.console_users import Role
from utils.privacy import mask_phone, mask_phones_in_text

PHASE_LABELS = {
    "greeting": "Greeting · namaste bol rahi hai",
    "listening": "Listening · sun rahi hai",
    "speaking": "Speaking · bol rahi hai",
    "tool": "Running a tool · check kar rahi hai",
    "transferring": "Transferring · team se jod rahi hai",
}
STATUS_LABELS = {
    "queued": "Queued · ring ho raha hai",
    "in_progress": "On the call · baat chal rahi hai",
    "completed": "Completed",
    "transferred": "Transferred",
    "failed": "Failed",
}
OPEN_TRANSFER = ("requested", "dialing")
_ORDER_ID = re.compile(r"\bORD-\d{6}\b")
_TICKET_ID = re.compile(r"\bTKT-\d{6}\b")


@dataclass(frozen=True)
class Viewer:
    username: str
    role: Role
    csrf_token: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def number(self, phone: str | None) -> str:
        if not phone:
            return "unknown"
        return phone if self.is_admin else mask_phone(phone)

    def text(self, text: str) -> str:
        return text if self.is_admin else mask_phones_in_text(text)


def _duration_s(document: Document, now: datetime) -> float:
    if document.get("duration_s") is not None and document.get("status") != "in_progress":
        return float(document["duration_s"])
    started = document.get("started_at")
    return max(0.0, (now - started).total_seconds()) if isinstance(started, datetime) else 0.0


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    total = int(seconds)
    return f"{total // 60}:{total % 60:02d}" if total < 3600 else f"{total // 3600}:{total % 3600 // 60:02d}h"


def activity(document: Document) -> tuple[str, str]:
    """(key, label) of what the call is doing: the record's `phase` when the call path writes one."""
    phase = document.get("phase")
    if document.get("status") == "in_progress" and isinstance(phase, str) and phase in PHASE_LABELS:
        return phase, PHASE_LABELS[phase]
    transfer = document.get("transfer") or {}
    if transfer.get("status") in OPEN_TRANSFER:
        return "transferring", PHASE_LABELS["transferring"]
    status = str(document.get("status", "in_progress"))
    return status, STATUS_LABELS.get(status, status)


def lines(document: Document, viewer: Viewer, last: int | None = None) -> list[dict[str, Any]]:
    transcript = document.get("transcript") or []
    chosen = transcript[-last:] if last else transcript
    return [
        {
            "role": line.get("role", "system"),
            "text": viewer.text(str(line.get("text", ""))),
            "at": line.get("at"),
            "interrupted": bool(line.get("interrupted")),
        }
        for line in chosen
    ]


def tools(document: Document, viewer: Viewer) -> list[dict[str, Any]]:
    return [
        {
            "name": call.get("name", "?"),
            "ok": bool(call.get("ok")),
            "error": call.get("error"),
            "arguments": viewer.text(_compact(call.get("arguments"))),
            "output": _clip(viewer.text(_compact(call.get("output")))),
            "duration_ms": call.get("duration_ms"),
            "at": call.get("at"),
        }
        for call in document.get("tool_calls") or []
    ]


def _clip(text: str, limit: int = 400) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _compact(value: Any) -> str:
    if not value:
        return ""
    if isinstance(value, dict):
        return ", ".join(
            f"{key}={_compact(item) if isinstance(item, dict | list) else item}" for key, item in value.items()
        )
    if isinstance(value, list):
        return "; ".join(_compact(item) if isinstance(item, dict | list) else str(item) for item in value)
    return str(value)


def ids_in(document: Document) -> tuple[list[str], list[str]]:
    """(order ids, ticket ids) the call touched: its tickets and whatever its tool calls named."""
    text = " ".join(
        _compact(call.get("arguments")) + " " + _compact(call.get("output"))
        for call in document.get("tool_calls") or []
    )
    orders = sorted(set(_ORDER_ID.findall(text)))
    tickets = sorted(set(document.get("tickets") or []) | set(_TICKET_ID.findall(text)))
    return orders, tickets


def transfer_card(document: Document, viewer: Viewer) -> dict[str, Any] | None:
    transfer = document.get("transfer")
    if not transfer:
        return None
    orders, tickets = ids_in(document)
    taken = document.get("transfer_taken_by") or None
    return {
        "call_sid": document["call_sid"],
        "caller": viewer.number(document.get("from_number")),
        "status": transfer.get("status"),
        "open": transfer.get("status") in OPEN_TRANSFER,
        "reason": viewer.text(str(transfer.get("reason") or "")),
        "department": transfer.get("department"),
        "summary": viewer.text(str(transfer.get("summary") or "")),
        "orders": orders,
        "tickets": tickets,
        "last_lines": lines(document, viewer, last=3),
        "taken_by": taken.get("username") if isinstance(taken, dict) else None,
        "taken_at": taken.get("at") if isinstance(taken, dict) else None,
    }


def live_row(document: Document, viewer: Viewer, now: datetime | None = None) -> dict[str, Any]:
    key, label = activity(document)
    return {
        "call_sid": document["call_sid"],
        "caller": viewer.number(
            document.get("from_number") if document.get("direction") != "outbound" else document.get("to_number")
        ),
        "direction": document.get("direction", "inbound"),
        "duration": format_duration(_duration_s(document, now or utc_now())),
        "activity": key,
        "activity_label": label,
        "last_lines": lines(document, viewer, last=3),
    }


def board(documents: list[Document], viewer: Viewer) -> dict[str, Any]:
    """The live page: calls under way, and the cards of transfers still open."""
    now = utc_now()
    return {
        "calls": [live_row(document, viewer, now) for document in documents if document.get("status") == "in_progress"],
        "transfers": [
            card for document in documents if (card := transfer_card(document, viewer)) is not None and card["open"]
        ],
    }


def notes(document: Document, viewer: Viewer) -> list[dict[str, Any]]:
    return [
        {"text": viewer.text(str(note.get("text", ""))), "author": note.get("author"), "at": note.get("at")}
        for note in document.get("staff_notes") or []
    ]


def call_view(document: Document, viewer: Viewer) -> dict[str, Any]:
    """One call in full: the live follow page and the history detail."""
    key, label = activity(document)
    usage = document.get("usage") or {}
    latencies = document.get("latencies") or {}
    turns = [turn.get("speech_end_to_audio_ms") for turn in latencies.get("turns") or []]
    return {
        **live_row(document, viewer),
        "status": document.get("status"),
        "live": document.get("status") == "in_progress",
        "to": viewer.number(document.get("to_number")),
        "started_at": document.get("started_at"),
        "ended_at": document.get("ended_at"),
        "end_reason": document.get("end_reason"),
        "activity": key,
        "activity_label": label,
        "transcript": lines(document, viewer),
        "tools": tools(document, viewer),
        "tickets": ids_in(document)[1],
        "transfer": transfer_card(document, viewer),
        "notes": notes(document, viewer),
        "summary": viewer.text(str(document.get("summary") or (document.get("transfer") or {}).get("summary") or "")),
        "greeting_ms": latencies.get("greeting_ms"),
        "turn_ms": [round(ms) for ms in turns if isinstance(ms, int | float)],
        "barge_ins": latencies.get("barge_ins", 0),
        "cost_inr": usage.get("cost_inr", 0.0),
        "cost_usd": usage.get("cost_usd", 0.0),
        "tokens": usage.get("total_tokens", 0),
    }
