"""The `verification_failures` collection: failed identity checks per order and per caller number, across calls.

One counter document per key, keyed by `_id` (`order:ORD-482913`, `phone:+919876543210`): `count`,
`window_id`, `window_start`, `expires_at`. A window opens at the key's first failure after the previous
window expired and lasts `window`; at `limit` failures the key is locked until the window ends (or staff
`unlock` it). Every step is one single-document atomic operation — FerretDB has no transactions — and
every reader checks `expires_at` itself (FerretDB has no TTL indexes either; on MongoDB the TTL index only
cleans up).

An attempt is taken *before* the answer is checked, like a one-time code's (`otp_codes`): `take` counts
it only while the key is below the limit, so concurrent attempts on any node can never pass it; an
attempt that then succeeds (or turns out to be no guess at all) is handed back with `give_back`.
That relies on MongoDB applying each single-document update atomically; FerretDB 1.24 (tests,
development) runs an update as read, modify, write without isolation, so concurrent failures on one key
can be under-counted there (see `services.store.calls`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from models.commerce import utc_now
from services.store.base import IndexedCollection
from services.store.client import Document

ATTEMPTS = 5  # another node opening or replacing the same window at the same moment: look again


def order_key(order_id: str) -> str:
    return f"order:{order_id}"


def phone_key(phone: str) -> str:
    return f"phone:{phone}"


@dataclass(frozen=True)
class Taken:
    """One attempt counted in a key's window; `count` includes it."""

    key: str
    window_id: str
    count: int


class VerificationFailureRepository(IndexedCollection):
    indexes = (IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expires_at_ttl"),)

    async def take(self, key: str, *, limit: int, window: timedelta, now: datetime | None = None) -> Taken | None:
        """Count one attempt for `key`, unless its live window already holds `limit`: then None (locked).
        Raises PyMongoError (and RuntimeError if the window keeps changing under us)."""
        for _ in range(ATTEMPTS):
            moment = now or utc_now()
            document = await self.collection.find_one_and_update(
                {"_id": key, "expires_at": {"$gt": moment}, "count": {"$lt": limit}},
                {"$inc": {"count": 1}},
                return_document=ReturnDocument.AFTER,
            )
            if document is not None:
                return Taken(key, str(document["window_id"]), int(document["count"]))
            current = await self.collection.find_one({"_id": key})
            window_id = uuid.uuid4().hex
            fresh: Document = {
                "_id": key,
                "count": 1,
                "window_id": window_id,
                "window_start": moment,
                "expires_at": moment + window,
            }
            if current is None:
                try:
                    await self.collection.insert_one(fresh)
                except DuplicateKeyError:  # another attempt opened the window first
                    continue
                return Taken(key, window_id, 1)
            if current["expires_at"] <= moment:
                # The old window is over: replace it, unless another attempt just did.
                stale = {"_id": key, "window_id": current["window_id"], "expires_at": {"$lte": moment}}
                if await self.collection.find_one_and_replace(stale, fresh) is not None:
                    return Taken(key, window_id, 1)
                continue
            if int(current["count"]) >= limit:
                return None
        raise RuntimeError(f"verification counter {key!r} kept changing under us")

    async def give_back(self, taken: Taken) -> None:
        """Uncount an attempt that was no failure, in the window it was taken in (a window opened since
        is left alone). Raises PyMongoError."""
        await self.collection.update_one(
            {"_id": taken.key, "window_id": taken.window_id, "count": {"$gt": 0}}, {"$inc": {"count": -1}}
        )

    async def count(self, key: str, *, now: datetime | None = None) -> int:
        """Failures in the key's live window (0 when none is open). Raises PyMongoError."""
        document = await self.collection.find_one({"_id": key, "expires_at": {"$gt": now or utc_now()}}, {"count": 1})
        return int(document["count"]) if document is not None else 0

    async def locked(self, keys: list[str], *, limit: int, now: datetime | None = None) -> bool:
        """Whether any of `keys` is at the limit in its live window. One `_id` read per key (FerretDB
        looks up `_id` equality directly, not `$in`). Raises PyMongoError."""
        for key in keys:
            if await self.count(key, now=now) >= limit:
                return True
        return False

    async def unlock(self, *, order_id: str | None = None, phone: str | None = None) -> int:
        """Staff unlock: forget the counters of the order and of the number; how many of them held
        failures (in a live window). Raises PyMongoError."""
        keys = ([order_key(order_id)] if order_id else []) + ([phone_key(phone)] if phone else [])
        cleared, now = 0, utc_now()
        for key in keys:
            document = await self.collection.find_one_and_delete({"_id": key})
            if document is not None and int(document["count"]) > 0 and document["expires_at"] > now:
                cleared += 1
        return cleared
