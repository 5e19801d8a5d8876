"""Live context notes from staff: stored in the call record first, then handed to a `NoteDelivery`.

The record is the source of truth (`CallRepository.add_staff_note`, a single `$push` to `staff_notes`), so
a note survives whatever happens to its delivery. Delivery into the live Realtime session (as a system
item the caller never hears) belongs to the call path: the node that holds the call's stream. Until that
is given (`services.live_commands.LiveCallCommands`, which finds the call's node), `LoggingNoteDelivery`
only logs.
"""

from __future__ import annotations

from typing import Protocol

from models.call_record import StaffNote
from utils.logger import get_logger

log = get_logger(__name__)

MAX_NOTE_LENGTH = 1000


__all__ = ["MAX_NOTE_LENGTH", "LoggingNoteDelivery", "NoteDelivery", "StaffNote"]


class NoteDelivery(Protocol):
    """Gets a stored note into the live call (the lead's call path implements it)."""

    async def deliver_note(self, call_sid: str, note: StaffNote) -> None: ...


class LoggingNoteDelivery:
    """The default: the note is in the record; nothing reaches the live session yet."""

    async def deliver_note(self, call_sid: str, note: StaffNote) -> None:
        log.info("note stored, live delivery not wired", call_sid=call_sid, author=note.author)
