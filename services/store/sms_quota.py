"""The `sms_quota` collection: how many SMS each number got on one day, to cap them.

One counter document per (number, day), keyed by `_id` and incremented with a single atomic upsert
(`find_one_and_update` + `$inc`), so concurrent sends on any node are all counted; a TTL index on
`expires_at` drops counters two days after their day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from services.store.base import IndexedCollection

KEPT_FOR = timedelta(days=2)


class SmsQuotaRepository(IndexedCollection):
    indexes = (IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expires_at_ttl"),)

    async def take(self, phone: str, day: date, limit: int) -> bool:
        """Count one SMS to `phone` on `day`; True while the day's count is within `limit`.

        Counted before sending (a send that then fails still counts): the cap bounds what we try.
        Raises PyMongoError.
        """
        key = f"{phone}|{day.isoformat()}"
        update = {
            "$inc": {"count": 1},
            "$setOnInsert": {"phone": phone, "day": day.isoformat(), "expires_at": _start_of(day) + KEPT_FOR},
        }
        try:
            document = await self.collection.find_one_and_update(
                {"_id": key}, update, upsert=True, return_document=ReturnDocument.AFTER
            )
        except DuplicateKeyError:  # two first sends of the day raced; the other one inserted the counter
            document = await self.collection.find_one_and_update(
                {"_id": key}, update, return_document=ReturnDocument.AFTER
            )
        return document is not None and int(document["count"]) <= limit

    async def count(self, phone: str, day: date) -> int:
        document = await self.collection.find_one({"_id": f"{phone}|{day.isoformat()}"}, {"count": 1})
        return int(document["count"]) if document is not None else 0


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)
