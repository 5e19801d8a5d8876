"""What changed in a live call record since its last write, as one small MongoDB update.

A call record only grows: transcript lines, tool calls, turn latencies and reconnects are appended,
a few scalars change. Rewriting the whole record every second would make the bytes written per call
grow with the square of its length (and the serialisation on the event loop with its length), so
after the first write each flush sends only the difference:

- an appended item is `$set` at its position (`"transcript.7": {...}`). Unlike `$push`, a retry of an
  update whose reply was lost writes the same thing again, so a flaky database never duplicates lines;
- an item changed after it was written (a caller line whose transcription arrived, an assistant line
  cut by a barge-in) is reported by its owner through `item_changed` and `$set` again in place;
- tickets go through `$addToSet` (other writers add them too, by value);
- scalars and small sub-documents (`usage`, `transfer`, `status`…) are `$set` when they differ from
  what was last written.

The cost of a flush is bounded by what changed since the last one, whatever the call's length.
`take()` snapshots the update before any await; `done(pending, ok)` moves the written state forward
only when the database took it, so a failed write is sent again (with anything newer) next time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from models.call_record import CallRecord

# Lists the live session only ever appends to (their items may still be changed: `item_changed`).
APPENDED = ("transcript", "tool_calls", "realtime_errors", "realtime_sessions", "latencies.turns")
ADDED_BY_VALUE = ("tickets",)  # also written by others, by value: `$addToSet`
# Sub-documents whose fields are written one by one (they hold an appended list).
NESTED = ("latencies",)


@dataclass
class PendingUpdate:
    """One flush: the update document and the written state it stands for once the database took it."""

    update: dict[str, dict[str, Any]]
    lengths: dict[str, int]
    scalars: dict[str, Any]
    changed: set[tuple[str, int]] = field(default_factory=set)

    @property
    def empty(self) -> bool:
        return not self.update


def _scalar_paths(excluded: frozenset[str]) -> tuple[str, ...]:
    paths: list[str] = []
    for name, info in CallRecord.model_fields.items():
        if name in excluded or name in APPENDED or name in ADDED_BY_VALUE:
            continue
        if name in NESTED:
            nested = info.annotation
            assert isinstance(nested, type) and issubclass(nested, BaseModel)
            paths += [f"{name}.{sub}" for sub in nested.model_fields if f"{name}.{sub}" not in APPENDED]
        else:
            paths.append(name)
    return tuple(paths)


def _get(record: CallRecord, path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        value = getattr(value, part)
    return value


def _plain(value: Any) -> Any:
    return value.model_dump(mode="python") if isinstance(value, BaseModel) else value


class RecordDelta:
    def __init__(self, record: CallRecord, excluded: frozenset[str]) -> None:
        self._record = record
        self._scalar_paths = _scalar_paths(excluded | {"updated_at"})
        self._lengths = dict.fromkeys(APPENDED, 0)
        self._tickets = 0
        self._scalars: dict[str, Any] = {}
        self._changed: set[tuple[str, int]] = set()

    def written_in_full(self) -> None:
        """The whole record was just written (the first write, or a full rewrite): start from it."""
        self._lengths = {path: len(_get(self._record, path)) for path in APPENDED}
        self._tickets = len(self._record.tickets)
        self._scalars = {path: _plain(_get(self._record, path)) for path in self._scalar_paths}
        self._changed.clear()

    def item_changed(self, path: str, item: object) -> None:
        """An item of an appended list changed in place; found from the end (changes are recent).

        Kept even for an item not yet written, or in flight: resending it is harmless, missing it not."""
        items = _get(self._record, path)
        for index in range(len(items) - 1, -1, -1):
            if items[index] is item:
                self._changed.add((path, index))
                return

    def take(self) -> PendingUpdate:
        """The update for everything changed since the last write (no I/O, nothing awaited)."""
        sets: dict[str, Any] = {}
        lengths: dict[str, int] = {}
        for path in APPENDED:
            items = _get(self._record, path)
            lengths[path] = len(items)
            for index in range(self._lengths[path], len(items)):
                sets[f"{path}.{index}"] = _plain(items[index])
        changed = set(self._changed)
        for path, index in changed:
            sets[f"{path}.{index}"] = _plain(_get(self._record, path)[index])
        scalars: dict[str, Any] = {}
        for path in self._scalar_paths:
            value = _plain(_get(self._record, path))
            if path not in self._scalars or self._scalars[path] != value:
                sets[path] = scalars[path] = value
        update: dict[str, dict[str, Any]] = {"$set": sets} if sets else {}
        tickets = self._record.tickets
        lengths["tickets"] = len(tickets)
        if len(tickets) > self._tickets:
            update["$addToSet"] = {"tickets": {"$each": list(tickets[self._tickets :])}}
        self._changed.clear()
        return PendingUpdate(update=update, lengths=lengths, scalars=scalars, changed=changed)

    def done(self, pending: PendingUpdate, ok: bool) -> None:
        """The database took `pending` (ok) or not: advance the written state, or keep it to resend."""
        if not ok:
            self._changed |= pending.changed
            return
        self._tickets = pending.lengths.pop("tickets")
        self._lengths.update(pending.lengths)
        self._scalars.update(pending.scalars)
