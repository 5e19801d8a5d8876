"""The `console_users` collection: staff and admin accounts of the console, keyed by user name (`_id`).

A document: `username`, `role` (staff | admin), `password_hash` (argon2, never the password),
`created_at`, `updated_at`, `session_epoch` (bumped to void every session), and the failed-login
counter `failed_count`, `failed_since` (first failure of the window), `locked_until`. Every change is
one single-document atomic update (FerretDB has no transactions): a failure is counted with `$inc`
inside the window, a new window is opened only by an update conditioned on the old one being over, and
the lock is set by the update that reaches the limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pymongo import ReturnDocument

from models.call_record import utc_now
from services.store.base import IndexedCollection
from services.store.client import Document

Role = Literal["staff", "admin"]
ROLES: tuple[Role, ...] = ("staff", "admin")


@dataclass(frozen=True)
class ConsoleUser:
    username: str
    role: Role
    password_hash: str
    locked_until: datetime | None = None
    session_epoch: int = 0  # sessions issued under an older epoch are void (logout, password reset)

    @classmethod
    def from_document(cls, document: Document) -> ConsoleUser:
        role = document.get("role")
        return cls(
            username=str(document["_id"]),
            role="admin" if role == "admin" else "staff",  # anything unexpected gets the lesser role
            password_hash=str(document["password_hash"]),
            locked_until=document.get("locked_until"),
            session_epoch=int(document.get("session_epoch") or 0),
        )

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now


class ConsoleUserRepository(IndexedCollection):
    """Every query of `console_users` (lookups by `_id` only: the one index FerretDB serves)."""

    async def get(self, username: str) -> ConsoleUser | None:
        document = await self.collection.find_one({"_id": username})
        return None if document is None else ConsoleUser.from_document(document)

    async def put(self, username: str, role: Role, password_hash: str) -> bool:
        """Create the user, or reset an existing one's role and password (and clear its lock).
        True if created."""
        now = utc_now()
        result = await self.collection.update_one(
            {"_id": username},
            {
                "$set": {
                    "username": username,
                    "role": role,
                    "password_hash": password_hash,
                    "updated_at": now,
                    "failed_count": 0,
                    "failed_since": None,
                    "locked_until": None,
                },
                "$setOnInsert": {"created_at": now},
                "$inc": {"session_epoch": 1},  # a reset password signs the user out everywhere
            },
            upsert=True,
        )
        return result.upserted_id is not None

    async def end_sessions(self, username: str) -> None:
        """Void every session of the user (logout): their cookies name an older epoch."""
        await self.collection.update_one({"_id": username}, {"$inc": {"session_epoch": 1}})

    async def set_password_hash(self, username: str, password_hash: str) -> None:
        """A rehash after login (argon2 parameters changed); the password stays the same."""
        await self.collection.update_one({"_id": username}, {"$set": {"password_hash": password_hash}})

    async def record_failure(
        self, username: str, *, limit: int, window: timedelta, now: datetime | None = None
    ) -> datetime | None:
        """Count one wrong password; returns when the user's lock ends if this failure reached `limit`
        (or the user is already locked), else None. A user that does not exist counts nothing."""
        moment = now or utc_now()
        count = 0
        for _ in range(3):  # another node opening the same window at the same moment: look again
            document = await self.collection.find_one_and_update(
                {"_id": username, "failed_since": {"$gt": moment - window}},
                {"$inc": {"failed_count": 1}},
                return_document=ReturnDocument.AFTER,
            )
            if document is not None:
                count = int(document["failed_count"])
                break
            # No live window (none yet, or it is over): open one, unless another attempt just did.
            opened = await self.collection.update_one(
                {"_id": username, "$or": [{"failed_since": None}, {"failed_since": {"$lte": moment - window}}]},
                {"$set": {"failed_count": 1, "failed_since": moment}},
            )
            if opened.matched_count:
                count = 1
                break
            if await self.collection.find_one({"_id": username}, {"_id": 1}) is None:
                return None
        if count < limit:
            return None
        until = moment + window
        await self.collection.update_one({"_id": username}, {"$set": {"locked_until": until}})
        return until

    async def clear_failures(self, username: str) -> None:
        """A good password: the count starts again."""
        await self.collection.update_one(
            {"_id": username}, {"$set": {"failed_count": 0, "failed_since": None, "locked_until": None}}
        )

    async def list_users(self, limit: int = 200) -> list[ConsoleUser]:
        cursor = self.collection.find({}).sort("_id", 1).limit(limit)
        return [ConsoleUser.from_document(document) async for document in cursor]
