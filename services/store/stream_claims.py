"""The `stream_claims` collection: each call's media stream may start once, on any node.

A claim is one document keyed by call sid (`_id`), inserted atomically: a second insert fails with a
duplicate key, so a replayed token or a second stream for the call is refused, whichever node gets
it. Claims expire through a TTL index on `expires_at` (MongoDB; FerretDB keeps them, harmlessly).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from models.call_record import utc_now
from services.store.base import IndexedCollection

CLAIM_LIFETIME = timedelta(days=2)  # far past any call; long enough that a replay always finds it


class StreamClaimRepository(IndexedCollection):
    indexes = (IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expires_at_ttl"),)

    async def claim(self, claim_id: str, nonce: str, carrier: str) -> bool:
        """True for the first stream of a call's leg (`CA…`, or `CA…:return-1` after a failed transfer);
        False if it has already started. Raises PyMongoError."""
        now = utc_now()
        document = {"_id": claim_id, "nonce": nonce, "carrier": carrier, "at": now, "expires_at": now + CLAIM_LIFETIME}
        try:
            await self.collection.insert_one(document)
        except DuplicateKeyError:
            # Only an expired claim may be replaced (FerretDB keeps them: it has no TTL indexes).
            stale = {"_id": claim_id, "expires_at": {"$lte": now}}
            return await self.collection.find_one_and_replace(stale, document) is not None
        return True

    async def started(self, call_sid: str) -> datetime | None:
        """When the call's stream started, if it has. Raises PyMongoError."""
        document = await self.collection.find_one({"_id": call_sid, "expires_at": {"$gt": utc_now()}}, {"at": 1})
        return document["at"] if document is not None else None
