"""The playback ledger: which assistant audio was sent to the carrier, and which the caller has heard.

After outbound audio we send a mark; the carrier echoes it once the audio before it has played. So
echoed marks are ground truth for "heard", and the time since the last echo interpolates inside the
audio now playing (Twilio Media Streams, `mark` messages). A mark costs two messages (ours and the
echo), so one goes out after every `mark_every_ms` of an item's audio, not after every chunk, and one
closes each item's audio (`seal`, at `response.output_audio.done`): playback runs in real time at the
phone, so the interpolation between marks is what barge-in needs, and the closing mark is what says
a line has played out. Audio sent since the last mark is the unmarked `tail`, unplayed until sealed.

Two traps this class exists to avoid:
- Twilio echoes every pending mark when it receives `clear`. Those echoes are not playback, so the
  marks pending at barge-in move to a `flushed` set and are discarded when they come back.
- `conversation.item.truncate` with `audio_end_ms` beyond the audio sent for that item is rejected
  by the API, so the estimate is capped at what was sent (and at the end of the chunk playing).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


def mulaw_b64_duration_ms(payload: str) -> float:
    """μ-law 8 kHz: one byte per sample, 8 bytes per ms. Counted from the base64 text, never decoded."""
    size = len(payload) * 3 // 4 - payload.count("=", max(len(payload) - 2, 0))
    return size / 8.0


@dataclass(slots=True)
class ItemPlayback:
    item_id: str
    sent_ms: float = 0.0
    played_ms: float = 0.0
    first_sent_at: float | None = None


@dataclass(slots=True)
class PendingMark:
    name: str
    item_id: str
    response_id: str
    cum_ms: float


@dataclass(frozen=True, slots=True)
class Interruption:
    """What to truncate: the item the caller was hearing and how much of it they heard."""

    item_id: str
    audio_end_ms: int
    sent_ms: float


MARK_EVERY_MS = 500.0


@dataclass
class PlaybackLedger:
    mark_every_ms: float = MARK_EVERY_MS
    items: dict[str, ItemPlayback] = field(default_factory=dict)
    pending: deque[PendingMark] = field(default_factory=deque)
    tail: PendingMark | None = None  # audio sent after the last mark (its name is given when it is marked)
    flushed: set[str] = field(default_factory=set)
    last_echo_at: float = 0.0
    _mark_counter: int = 0
    _marked_ms: float = 0.0  # the tail item's audio up to its last mark

    def on_audio_sent(self, response_id: str, item_id: str, duration_ms: float, now: float) -> str | None:
        """Account a chunk just written to the carrier; returns the name of a mark to send after it, if one
        is due. A chunk of another item than the tail's must come after `seal()` (see `tail_item`)."""
        item = self.items.get(item_id)
        if item is None:
            self._forget_played_items()
            item = self.items[item_id] = ItemPlayback(item_id)
        if item.first_sent_at is None:
            item.first_sent_at = now
        if self.tail is None:
            self._marked_ms = item.sent_ms
        item.sent_ms += duration_ms
        self.tail = PendingMark("", item_id, response_id, item.sent_ms)
        if item.sent_ms - self._marked_ms >= self.mark_every_ms:
            return self.seal()
        return None

    @property
    def tail_item(self) -> str | None:
        return self.tail.item_id if self.tail is not None else None

    def seal(self) -> str | None:
        """Mark the end of the audio sent so far; the name of the mark to send, None if nothing is unmarked."""
        if self.tail is None:
            return None
        self._mark_counter += 1
        mark = PendingMark(f"m{self._mark_counter}", self.tail.item_id, self.tail.response_id, self.tail.cum_ms)
        self.pending.append(mark)
        self.tail = None
        return mark.name

    def on_mark_echo(self, name: str, now: float) -> PendingMark | None:
        """A mark came back. Returns it when it proves playback, None for a flushed or unknown one."""
        if name in self.flushed:
            self.flushed.discard(name)
            return None
        if all(mark.name != name for mark in self.pending):
            return None  # never sent, or echoed before: it proves nothing, and must not empty the queue
        # Echoes arrive in the order marks were sent; skip forward defensively if one was lost.
        while self.pending:
            mark = self.pending.popleft()
            item = self.items.get(mark.item_id)
            if item is not None:
                item.played_ms = mark.cum_ms
            if mark.name == name:
                self.last_echo_at = now
                return mark
        return None

    def _forget_played_items(self) -> None:
        """Keep only items with audio still queued: the ledger must not grow with the call's length."""
        queued = {mark.item_id for mark in self.pending} | {self.tail_item}
        for item_id in [key for key in self.items if key not in queued]:
            del self.items[item_id]

    def _unplayed(self) -> list[PendingMark]:
        return [*self.pending, self.tail] if self.tail is not None else list(self.pending)

    @property
    def has_unplayed_audio(self) -> bool:
        return bool(self.pending) or self.tail is not None

    def is_fully_played(self, item_id: str) -> bool:
        return all(mark.item_id != item_id for mark in self._unplayed())

    def response_fully_played(self, response_id: str) -> bool:
        # Marks are echoed in order, so only the oldest pending mark can belong to a response playing now.
        return all(mark.response_id != response_id for mark in self._unplayed())

    def heard_ms(self, item_id: str, now: float) -> float:
        """Best estimate of how much of this item the caller has heard by `now`."""
        item = self.items[item_id]
        next_pending = next((m for m in self._unplayed() if m.item_id == item_id), None)
        if next_pending is None:
            return item.sent_ms
        first_sent = item.first_sent_at if item.first_sent_at is not None else now
        started = max(self.last_echo_at, first_sent)
        estimate = item.played_ms + max(now - started, 0.0) * 1000.0
        return min(estimate, next_pending.cum_ms, item.sent_ms)

    def interrupt(self, now: float) -> Interruption | None:
        """Barge-in: compute what was heard, then forget every pending mark and the tail (the carrier is
        told to clear).

        Returns None when nothing was unplayed, i.e. there is nothing to truncate.
        """
        unplayed = self._unplayed()
        if not unplayed:
            return None
        item_id = unplayed[0].item_id
        heard = self.heard_ms(item_id, now)
        item = self.items[item_id]
        self.flushed.update(mark.name for mark in self.pending)
        self.pending.clear()
        self.tail = None
        # Floor (with float noise absorbed): rounding up could pass the audio sent, which the API rejects.
        return Interruption(item_id=item_id, audio_end_ms=int(heard + 1e-6), sent_ms=item.sent_ms)
