"""The `phone_orders` collection: which orders each phone number has, one document per E.164 number (`_id`).

Why it exists: "my recent orders" is the first thing most callers ask. MongoDB answers it from the
`customer_phone, placed_at` index on `orders`; FerretDB 1.24 (the local default) looks documents up
directly only by `_id` and scans and decodes every order for that query (~50 ms alone, seconds at 50
concurrent calls). With this document the lookup is `_id` reads on either server: the phone's entry,
then each of its newest orders by `_id` (`OrderRepository.recent_for_phone`).

Shape: `{_id: phone, orders: {order_id: placed_at, ...}, complete: bool}`, plus one marker document
(`_id: "~whole"`, not an E.164 number) once `OrderRepository.index_all_phones` has listed every order
under its phone: from then on a phone without an entry has no orders, and its caller's "my recent
orders" is answered by two `_id` reads instead of a scan of `orders` (a first-time caller is the common
case on a support line; at 50 concurrent calls those scans took seconds on FerretDB).
- A map keyed by order id, each key written with one `$set`: idempotent, never a duplicate, and a
  corrected `placed_at` simply overwrites. (Not an array: FerretDB 1.24 silently ignores `$push`'s
  `$sort` and `$slice`, and its filters on array elements do not match, so an array could neither
  be de-duplicated nor bounded there.) `trim` keeps the newest `cap` keys.
- `complete`: the entry was built from the orders themselves (`backfill`), so an order missing from
  it is an order the phone does not have. Entries that only writers have touched (orders stored
  before this collection existed) are not trusted until a reader has backfilled them.

It holds only what never changes on a normal order (whose it is, when it was placed); status,
items and amounts are read fresh from `orders`, so a status change needs no write here, and a
status written around the repository is still heard right. (Copies of the orders here would save one
round trip, but every status writer would then have to update them too, or a caller hears a stale
status.) Each write relies on MongoDB applying a single-document update atomically; FerretDB 1.24 runs
it as read, modify, write, so two orders of one phone written at the same instant can lose a key there
(see `services.store.calls`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from services.store.client import Document

PHONE_ORDERS_COLLECTION = "phone_orders"
WHOLE_MARKER_ID = "~whole"  # the index's own state, beside the phones' entries (E.164 ids start with "+")
DEFAULT_CAP = 50  # keys kept per phone: far more than the 3 a caller hears, so stale keys never crowd them out


@dataclass(frozen=True)
class PhoneOrders:
    """One phone's entry: its order ids, newest first, and whether the list is known to be whole."""

    phone: str
    newest_first: list[str]
    complete: bool


class PhoneOrderIndex:
    """Reads and single-document atomic writes of `phone_orders`; every method raises PyMongoError.

    Only `_id` is queried, so it needs no secondary index on either server.
    """

    def __init__(self, collection: AsyncCollection[Document], cap: int = DEFAULT_CAP) -> None:
        self.collection = collection
        self.cap = cap
        self._whole = False  # cached once seen: nothing in the product removes the marker

    async def is_whole(self) -> bool:
        """Whether every order is listed under its phone (the marker `mark_whole` writes)."""
        if not self._whole:
            self._whole = await self.collection.find_one({"_id": WHOLE_MARKER_ID}) is not None
        return self._whole

    async def mark_whole(self) -> None:
        """Record that every order is listed; only after every phone's entry was backfilled. Orders then
        keep it true by being listed before they are written (`OrderRepository.upsert`)."""
        await self.collection.update_one(
            {"_id": WHOLE_MARKER_ID}, {"$set": {"marked_at": datetime.now(UTC)}}, upsert=True
        )
        self._whole = True

    async def get(self, phone: str) -> PhoneOrders | None:
        document = await self.collection.find_one({"_id": phone})
        if document is None:
            return None
        return PhoneOrders(phone, _newest_first(document.get("orders", {})), bool(document.get("complete")))

    async def add(self, phone: str, order_id: str, placed_at: datetime) -> None:
        """List one order under its phone (creating the entry, not complete, if there is none)."""
        after = await self.collection.find_one_and_update(
            {"_id": phone},
            {"$set": {f"orders.{order_id}": placed_at}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        if after is not None and len(after.get("orders", {})) > self.cap:
            await self.trim(phone, after["orders"])

    async def remove(self, phone: str, order_id: str) -> None:
        """Forget an order that now belongs to another phone."""
        await self.collection.update_one({"_id": phone}, {"$unset": {f"orders.{order_id}": ""}})

    async def backfill(self, phone: str, orders: list[tuple[str, datetime]]) -> None:
        """Record what the orders themselves say this phone has (its newest `cap` orders, or none) and
        mark the entry complete. Only adds keys: an order a writer listed meanwhile stays listed."""
        update: Document = {"$set": {"complete": True, **{f"orders.{oid}": at for oid, at in orders[: self.cap]}}}
        if not orders:  # a phone without orders: remember that, so its next call needs no scan either
            update["$setOnInsert"] = {"orders": {}}
        await self.collection.update_one({"_id": phone}, update, upsert=True)

    async def trim(self, phone: str, orders: dict[str, datetime]) -> None:
        """Drop the oldest keys beyond `cap`. Safe at any moment: it only removes keys older than the
        `cap` newest it saw, and a caller hears only the newest few."""
        stale = _newest_first(orders)[self.cap :]
        if stale:
            await self.collection.update_one({"_id": phone}, {"$unset": {f"orders.{oid}": "" for oid in stale}})


def _newest_first(orders: dict[str, datetime]) -> list[str]:
    return [oid for oid, _ in sorted(orders.items(), key=lambda item: (item[1], item[0]), reverse=True)]
