"""Keeping a call on a live Realtime session: reconnect after a drop, rotate before the session cap.

Both move the conversation to a fresh session through `RealtimeLink.reopen` (same configuration, the
conversation replayed as items, caller audio held meanwhile and then forwarded), so the caller hears
no second greeting and loses nothing they said. A reconnect retries with backoff and jitter for about
two seconds; only when every attempt fails does the call end with the apology (and a callback ticket).
A rotation happens at a quiet moment and, if it fails, is simply tried again later on the old session.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import stamina
from openai.types.realtime import RealtimeError

from models.call_record import CallRecord, RealtimeReconnect
from services import metrics
from services.call.history import RESUME_NOTE, replay_events
from services.call.realtime_link import RealtimeLink
from utils.logger import get_logger

log = get_logger(__name__)

# Errors the Realtime API sends for races that are harmless on a phone bridge.
RECOVERABLE_ERROR_CODES = {"response_cancel_not_active", "conversation_already_has_active_response"}
RECONNECT_ATTEMPTS = 4
RECONNECT_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class ResumedLeg:
    """A call coming back to the assistant on a new stream (after a failed transfer)."""

    record: CallRecord  # the call's record so far, from the database
    note: str  # what the assistant should say first (why the caller is back)


class Continuity:
    def __init__(self, link: RealtimeLink, record: CallRecord, touch_record: Callable[[], None]) -> None:
        self._link = link
        self._record = record
        self._touch = touch_record

    async def reconnect(self, reason: str, *, resume: bool) -> bool:
        """A new session after the old one was lost; True when the call can go on.

        `resume`: the caller was waiting for an answer (or one was cut off), so the model is asked to
        continue; otherwise it waits for the caller, as it would have."""
        started = time.monotonic()
        attempts = 0
        log.warning("realtime_reconnecting", reason=reason[:200])
        try:
            async for attempt in stamina.retry_context(
                on=Exception,
                attempts=RECONNECT_ATTEMPTS,
                wait_initial=0.1,
                wait_max=0.6,
                wait_jitter=0.1,
                timeout=RECONNECT_TIMEOUT_S,
            ):
                with attempt:
                    attempts += 1
                    await self._link.reopen(replay_events(self._record), RESUME_NOTE if resume else None)
        except Exception as error:
            self._note(reason, started, attempts, ok=False)
            log.error("realtime_reconnect_failed", attempts=attempts, error=repr(error)[:200])
            return False
        self._note(reason, started, attempts, ok=True)
        return True

    async def rotate(self) -> bool:
        """Move a long call to a fresh session before the server's cap ends the old one."""
        started = time.monotonic()
        try:
            await self._link.reopen(replay_events(self._record))
        except Exception as error:
            log.warning("realtime_rotation_failed", error=repr(error)[:200])
            return False
        self._note("rotation", started, 1, ok=True)
        return True

    def _note(self, reason: str, started: float, attempts: int, *, ok: bool) -> None:
        gap_ms = round((time.monotonic() - started) * 1000, 1)
        kind = "rotation" if reason == "rotation" else ("reconnected" if ok else "reconnect_failed")
        metrics.REALTIME_SESSIONS_MOVED.labels(outcome=kind).inc()
        if reason != "rotation":
            metrics.REALTIME_RECONNECT_GAP.observe(gap_ms / 1000)
        self._record.realtime_sessions.append(
            RealtimeReconnect(reason=reason[:200], gap_ms=gap_ms, attempts=attempts, ok=ok)
        )
        self._touch()
        log.info("realtime_session_moved", reason=reason[:60], gap_ms=gap_ms, attempts=attempts, ok=ok)


def note_realtime_error(record: CallRecord, error: RealtimeError) -> bool:
    """Log and count an `error` event; True when the record changed. `session_expired` is followed by
    the server closing the socket, which the reconnect path handles."""
    code = error.code or error.type
    if code in RECOVERABLE_ERROR_CODES:
        log.info("realtime_recoverable_error", code=code)
        return False
    metrics.REALTIME_ERRORS.labels(code=str(code)[:64]).inc()
    record.realtime_errors.append(f"{code}: {error.message}"[:300])
    log.error("realtime_error", code=code, message=error.message, param=error.param)
    return True
