"""What a call measures about itself: greeting and turn latency, token usage and cost.

Latency is measured where the caller feels it: from the end of their speech (server VAD's
`speech_stopped`) to the first audio of the answer written to the carrier. When the answer needed a
tool, the tool-calling response says nothing, so the turn is measured to the follow-up's first audio.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from models.call_record import CallRecord, TurnLatency
from services import metrics
from services.usage import add_usage


@dataclass(slots=True)
class _ResponseTiming:
    speech_stopped_at: float | None
    first_sent_at: float | None = None


class TurnTimer:
    def __init__(self, record: CallRecord, started_at: float) -> None:
        self._record = record
        self._started_at = started_at
        self._timings: dict[str, _ResponseTiming] = {}  # responses in flight only
        self._speech_stopped_at: float | None = None
        self._greeting_measured = False

    def speech_stopped(self, now: float | None = None) -> None:
        self._speech_stopped_at = time.monotonic() if now is None else now

    def resume_turn(self, speech_stopped_at: float | None) -> None:
        """A follow-up answers a turn whose tool-calling response was silent: time it from that turn."""
        if speech_stopped_at is not None:
            self._speech_stopped_at = speech_stopped_at

    def response_started(self, response_id: str) -> None:
        self._timings[response_id] = _ResponseTiming(speech_stopped_at=self._speech_stopped_at)
        self._speech_stopped_at = None

    def silent_turn_start(self, response_id: str) -> float | None:
        """The end of speech a response answers, if none of its audio was sent yet."""
        timing = self._timings.get(response_id)
        if timing is None or timing.first_sent_at is not None:
            return None
        return timing.speech_stopped_at

    def audio_sent(self, response_id: str | None, now: float) -> bool:
        """Account the first audio of a response; True when the record changed."""
        timing = self._timings.get(response_id) if response_id else None
        if timing is None or timing.first_sent_at is not None:
            return False
        timing.first_sent_at = now
        if timing.speech_stopped_at is not None:
            turn_s = now - timing.speech_stopped_at
            metrics.TURN_LATENCY.observe(turn_s)
            self._record.latencies.turns.append(
                TurnLatency(response_id=str(response_id), speech_end_to_audio_ms=round(turn_s * 1000, 1))
            )
            return True
        if not self._greeting_measured:
            self._greeting_measured = True
            greeting_s = now - self._started_at
            metrics.GREETING_LATENCY.observe(greeting_s)
            self._record.latencies.greeting_ms = round(greeting_s * 1000, 1)
            return True
        return False

    def response_done(self, response_id: str, usage: Any) -> bool:
        """Forget the response; add its token usage and cost. True when the record changed."""
        self._timings.pop(response_id, None)
        if usage is None:
            return False
        cost_before = self._record.usage.cost_usd
        for kind, count in add_usage(self._record.usage, usage).items():
            metrics.TOKENS.labels(kind=kind).inc(count)
        metrics.COST_USD.inc(self._record.usage.cost_usd - cost_before)
        return True
