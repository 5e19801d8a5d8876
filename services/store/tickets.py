"""The `tickets` collection, keyed by a short readable id (TKT-123456)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from models.commerce import Ticket, TicketCategory, TicketPriority, TicketStatus, utc_now
from services.store.base import Repository
from services.store.client import Document


def random_ticket_id() -> str:
    return f"TKT-{secrets.randbelow(1_000_000):06d}"


class TicketIdExhausted(RuntimeError):
    """Every generated id collided: the id space is nearly full (or the generator is broken)."""


class TicketRepository(Repository[Ticket]):
    model = Ticket
    key = "ticket_id"
    indexes = (
        IndexModel([("ticket_id", ASCENDING)], unique=True, name="ticket_id_unique"),
        # A call's tickets (`open_for_call`, e.g. reusing its callback ticket after a failed transfer).
        IndexModel([("call_sid", ASCENDING), ("category", ASCENDING)], name="call_category"),
    )
    max_id_attempts = 8

    def __init__(self, collection: AsyncCollection[Document], id_factory: Callable[[], str] = random_ticket_id) -> None:
        super().__init__(collection)
        self._new_id = id_factory

    async def create(
        self,
        *,
        category: TicketCategory,
        description: str,
        priority: TicketPriority = "medium",
        call_sid: str | None = None,
        phone: str | None = None,
        order_id: str | None = None,
    ) -> Ticket:
        """Insert with a fresh short id; the unique index decides collisions, so retry on them."""
        for _ in range(self.max_id_attempts):
            now = utc_now()
            ticket = Ticket(
                ticket_id=self._new_id(),
                call_sid=call_sid,
                phone=phone,
                order_id=order_id,
                category=category,
                priority=priority,
                description=description,
                created_at=now,
                updated_at=now,
            )
            try:
                await self.collection.insert_one(self._document(ticket))
                return ticket
            except DuplicateKeyError:
                continue
        raise TicketIdExhausted(f"no free ticket id after {self.max_id_attempts} attempts")

    async def open_for_call(self, call_sid: str, category: TicketCategory) -> Ticket | None:
        """The call's open ticket of this category, if it filed one."""
        query = {"call_sid": call_sid, "category": category, "status": "open"}
        return self._load(await self.collection.find_one(query))

    # -------------------------------------------------------------- the staff console's queue

    async def queue(self, statuses: list[TicketStatus], *, limit: int) -> list[Document]:
        """Tickets in these statuses, newest first, at most `limit`; documents (with staff `notes`)."""
        cursor = self.collection.find({"status": {"$in": statuses}}).sort([("created_at", DESCENDING)]).limit(limit)
        return [document async for document in cursor]

    async def created_between(self, start: Any, end: Any, *, limit: int) -> list[Document]:
        """Tickets created in [start, end), only `category` and `created_at` (the numbers at a glance)."""
        query = {"created_at": {"$gte": start, "$lt": end}}
        cursor = self.collection.find(query, {"category": 1, "created_at": 1}).limit(limit)
        return [document async for document in cursor]

    async def set_status(self, ticket_id: str, status: TicketStatus) -> bool:
        result = await self.collection.update_one(
            {"_id": ticket_id}, {"$set": {"status": status, "updated_at": utc_now()}}
        )
        return result.matched_count > 0

    async def add_note(self, ticket_id: str, note: dict[str, Any]) -> bool:
        """Append a staff note (`notes`: text, author, at); False when there is no such ticket."""
        result = await self.collection.update_one(
            {"_id": ticket_id}, {"$push": {"notes": note}, "$set": {"updated_at": utc_now()}}
        )
        return result.matched_count > 0
