"""The `call_counters` collection: calls per key (a caller number) per time window, limited on every node.

Time is cut into windows of `window` seconds (aligned to the epoch, so every node agrees on them). In each
window a key has `limit` slots, one document each, keyed by `_id` = "<key>|<window>|<n>". A call takes the
first free slot with a plain insert: `_id` is unique, so of two calls racing for one slot, on any node,
exactly one gets it, and no call ever gets a slot past `limit`. A refused call takes no slot. A new window
has fresh `_id`s, so nothing is ever reset or updated in place. (A burst across a window boundary may get
up to twice `limit` calls in `window` seconds: the price of windows every node computes alike.)

A slot names the call that took it (`call_id`), so one call is counted once however often its webhook
comes: a carrier retrying it (before our first answer reached it, or to another node behind the load
balancer) finds its own slot and is let in on it, rather than taking a second one or being refused.

Why inserts and not one `$inc` counter: FerretDB 1.24 (the local database) applies `$inc` as an
unisolated read-modify-write — 12 concurrent `$inc` of one document left it at 1 to 4 (measured) — while
its unique `_id` holds under any concurrency (the pattern of `stream_claims`). FerretDB has neither
transactions nor TTL indexes: a reader only ever looks at the current window's `_id`s, and the TTL index
on `expires_at` drops old slots on MongoDB (FerretDB keeps them, harmlessly).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from models.call_record import utc_now
from services.store.base import IndexedCollection


class CallCounterRepository(IndexedCollection):
    indexes = (IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expires_at_ttl"),)

    async def take(
        self, key: str, limit: int, window: timedelta, now: datetime | None = None, *, call_id: str | None = None
    ) -> bool:
        """Count one call for `key` in the current window: False (and nothing counted) when its `limit`
        calls are already there. With `call_id`, a call that already holds a slot in the window is let in
        on that slot, not counted again. Raises PyMongoError."""
        if limit < 1:
            return False
        now = now or utc_now()
        start, index = _window(now, window)
        ids = _slot_ids(key, index, limit)

        async def insert(slot_id: str) -> bool:
            slot = {"_id": slot_id, "key": key, "call_id": call_id, "at": now, "expires_at": start + 2 * window}
            try:
                await self.collection.insert_one(slot)
                return True
            except DuplicateKeyError:  # taken by an earlier call (on any node), or by this one
                return False

        # A caller's first call in the window takes slot 1 in one round trip. Otherwise one read finds
        # the slots taken (and this call's own, if its webhook came before), and the free ones are tried
        # in order: a slot another node takes meanwhile only moves the call to the next one.
        if await insert(ids[0]):
            return True
        slots = self.collection.find({"_id": {"$in": ids}}, {"call_id": 1})
        taken = {doc["_id"]: doc.get("call_id") async for doc in slots}
        if call_id is not None and call_id in taken.values():
            return True
        for slot_id in ids[1:]:
            if slot_id in taken:
                continue
            if await insert(slot_id) or await self._held_by(slot_id, call_id):  # a retry racing its first
                return True
        return False

    async def _held_by(self, slot_id: str, call_id: str | None) -> bool:
        return call_id is not None and await self.collection.find_one({"_id": slot_id, "call_id": call_id}) is not None

    async def count(self, key: str, limit: int, window: timedelta, now: datetime | None = None) -> int:
        """Calls counted for `key` in the current window (at most `limit`). Raises PyMongoError."""
        _, index = _window(now or utc_now(), window)
        return await self.collection.count_documents({"_id": {"$in": _slot_ids(key, index, limit)}})


def _slot_ids(key: str, index: int, limit: int) -> list[str]:
    """The `_id`s of a key's slots in window number `index`."""
    return [f"{key}|{index}|{n}" for n in range(1, limit + 1)]


def _window(now: datetime, window: timedelta) -> tuple[datetime, int]:
    """The start and number of the window `now` falls in (epoch-aligned)."""
    seconds = window.total_seconds()
    index = int(now.timestamp() // seconds)
    return datetime.fromtimestamp(index * seconds, tz=now.tzinfo), index
