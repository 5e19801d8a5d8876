"""The `otp_codes` collection: one-time codes texted to a customer's number, one document per (call, order).

A document is keyed by `_id` (FerretDB looks up nothing else quickly) and holds only a keyed hash of
the code (the caller of this repository hashes it; a six-digit code hashed without a secret would be
read back from a database copy in a second), the code's expiry, whether it was used, and how many
codes were sent and tried. Every change is one single-document atomic update — no transactions,
which FerretDB does not have:

- `issue` replaces the code (a resend) unless the key is locked or has had its codes;
- `check` first takes an attempt (`$inc`, only while attempts are left, the code is unused and
  unexpired), then compares; a match is marked used conditionally, so a code works once even when
  two checks race.

A lock (all attempts used) lasts as long as the document: `expires_at`, a TTL index, a day after the
last code, far past the end of the call the key belongs to. The code's own expiry is `code_expires_at`,
checked on every attempt (a TTL index removes documents only about once a minute, and FerretDB not
at all).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from models.commerce import utc_now
from services.store.base import IndexedCollection

DOCUMENT_LIFETIME = timedelta(days=1)

CodeOutcome = Literal["verified", "wrong", "locked", "expired"]


@dataclass(frozen=True)
class CodeCheck:
    """`expired` also covers a code never sent, already used, or replaced by a newer one."""

    outcome: CodeOutcome
    attempts_left: int


class OtpCodeRepository(IndexedCollection):
    indexes = (IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expires_at_ttl"),)

    async def issue(self, key: str, code_hash: str, *, ttl_s: int, max_attempts: int, max_codes: int) -> bool:
        """Store a new code for `key`, replacing any earlier one; False (nothing stored) when the key is
        locked by `max_attempts` wrong codes or has already had `max_codes` codes. Raises PyMongoError."""
        now = utc_now()
        try:
            await self.collection.update_one(
                {"_id": key, "attempts": {"$lt": max_attempts}, "codes": {"$lt": max_codes}},
                {
                    "$set": {
                        "code_hash": code_hash,
                        "used": False,
                        "issued_at": now,
                        "code_expires_at": now + timedelta(seconds=ttl_s),
                        "expires_at": now + DOCUMENT_LIFETIME,
                    },
                    "$inc": {"codes": 1},
                    "$setOnInsert": {"attempts": 0},
                },
                upsert=True,
            )
        except DuplicateKeyError:  # the key exists but is locked or out of codes: the upsert's insert collides
            return False
        return True

    async def check(self, key: str, code_hash: str, *, max_attempts: int) -> CodeCheck:
        """Try a code: every try takes one of `max_attempts` attempts first. Raises PyMongoError."""
        now = utc_now()
        document = await self.collection.find_one_and_update(
            {"_id": key, "attempts": {"$lt": max_attempts}, "used": False, "code_expires_at": {"$gt": now}},
            {"$inc": {"attempts": 1}},
            return_document=ReturnDocument.AFTER,
        )
        if document is None:
            current = await self.collection.find_one({"_id": key}, {"attempts": 1})
            attempts = int(current.get("attempts", 0)) if current is not None else 0
            if attempts >= max_attempts:
                return CodeCheck("locked", 0)
            return CodeCheck("expired", max_attempts - attempts)
        attempts_left = max(max_attempts - int(document["attempts"]), 0)
        if not hmac.compare_digest(str(document.get("code_hash", "")), code_hash):
            return CodeCheck("locked" if attempts_left == 0 else "wrong", attempts_left)
        used = await self.collection.update_one(
            {"_id": key, "used": False, "code_hash": code_hash}, {"$set": {"used": True, "used_at": now}}
        )
        return CodeCheck("verified" if used.modified_count else "expired", attempts_left)
