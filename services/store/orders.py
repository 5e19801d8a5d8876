"""The `orders` collection, keyed by order id, and the per-phone list of orders that serves "my recent orders".

Writing an order is two single-document writes (FerretDB has no transactions): the phone's entry in
`phone_orders` first, then the order. So every stored order is listed under its phone:
- the first write fails: nothing was written, the error reaches the caller (retrying is safe);
- the second write fails: the phone lists an order that does not exist (or still has its old
  contents); readers fetch each listed order by `_id` and skip what is missing or now someone
  else's, and a retried `upsert` completes it.
Readers never depend on the list being tidy, only on it missing nothing, and fall back to the
indexed query (`customer_phone, placed_at`) for a phone whose list is not known to be whole. Once
`index_all_phones` has run (the seed runs it; `python app.py index-phones` after a bulk load made around
the repository), a phone with no list has no orders, and no query of `orders` is made for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError

from models.commerce import Order
from services.metrics import DB_ERRORS
from services.store.base import Repository
from services.store.client import Document
from services.store.phone_index import PHONE_ORDERS_COLLECTION, PhoneOrderIndex
from utils.logger import get_logger
from utils.privacy import mask_phone

log = get_logger(__name__)


class OrderRepository(Repository[Order]):
    model = Order
    key = "order_id"
    indexes = (
        IndexModel([("order_id", ASCENDING)], unique=True, name="order_id_unique"),
        # "my recent orders" on MongoDB before a phone's list is known whole (`_backfill`), and for tools
        # that query orders directly: equality on the phone, newest first.
        IndexModel([("customer_phone", ASCENDING), ("placed_at", DESCENDING)], name="phone_recent"),
    )

    def __init__(self, collection: AsyncCollection[Document], phones: PhoneOrderIndex | None = None) -> None:
        super().__init__(collection)
        self.phones = phones or PhoneOrderIndex(collection.database[PHONE_ORDERS_COLLECTION])

    async def upsert(self, item: Order) -> None:
        """Replace-or-insert by order id, listed under its phone first (see the module's docstring)."""
        await self.phones.add(item.customer_phone, item.order_id, item.placed_at)
        document = self._document(item)
        before = await self.collection.find_one_and_replace(
            {"_id": document["_id"]},
            document,  # no projection: FerretDB 1.24 has none on findAndModify (code 238)
            upsert=True,
            return_document=ReturnDocument.BEFORE,
        )
        moved_from = before.get("customer_phone") if before else None
        if moved_from and moved_from != item.customer_phone:
            try:  # tidiness only: readers already skip an order that is now someone else's
                await self.phones.remove(moved_from, item.order_id)
            except PyMongoError as error:
                DB_ERRORS.labels(operation="phone_orders").inc()
                log.warning("phone_orders_remove_failed", order_id=item.order_id, error=type(error).__name__)

    async def upsert_many(self, items: Iterable[Order]) -> int:
        """Bulk load (the seed): each order as `upsert`, then `index_all_phones`, so the first calls
        after a load need no scan, whether the caller has orders or not."""
        count = 0
        for item in items:
            await self.upsert(item)
            count += 1
        await self.index_all_phones()
        return count

    async def index_all_phones(self) -> int:
        """Every phone's list backfilled from one pass over all orders (a scan, once), then the index
        marked whole. Orders written meanwhile are listed by their writers first, so none is missed.
        Returns the number of phones listed."""
        found: dict[str, list[tuple[str, datetime]]] = {}
        async for document in self.collection.find({}, {"customer_phone": 1, "placed_at": 1}):
            found.setdefault(document["customer_phone"], []).append((document["_id"], document["placed_at"]))
        for phone, orders in sorted(found.items()):
            orders.sort(key=lambda entry: (entry[1], entry[0]), reverse=True)
            await self.phones.backfill(phone, orders)
        await self.phones.mark_whole()
        return len(found)

    async def recent_for_phone(self, phone: str, limit: int = 3) -> list[Order]:
        """The phone's newest orders, newest first: `_id` reads only once the phone's list is whole."""
        entry = await self.phones.get(phone)
        if entry is None or not entry.complete:
            if await self.phones.is_whole():  # every order is listed: none for this phone, or only these
                return [] if entry is None else await self._read_listed(phone, entry.newest_first, limit)
            return (await self._backfill(phone))[:limit]
        return await self._read_listed(phone, entry.newest_first, limit)

    async def _read_listed(self, phone: str, candidates: list[str], limit: int) -> list[Order]:
        found: list[Order] = []
        # Usually one round: `limit` orders read at once by `_id` (FerretDB serves `$in` by a scan).
        for start in range(0, len(candidates), limit):
            batch = await asyncio.gather(*(self.get(order_id) for order_id in candidates[start : start + limit]))
            found += [order for order in batch if order is not None and order.customer_phone == phone]
            if len(found) >= limit:
                break
        found.sort(key=lambda order: (order.placed_at, order.order_id), reverse=True)
        return found[:limit]

    async def _backfill(self, phone: str) -> list[Order]:
        """The indexed query, newest first (a scan on FerretDB, once per phone), recorded as the phone's
        whole list. A failed recording only means the next call asks the orders again."""
        cursor = self.collection.find({"customer_phone": phone}).sort("placed_at", DESCENDING)
        orders = [Order.model_validate(document) async for document in cursor.limit(self.phones.cap)]
        try:
            await self.phones.backfill(phone, [(order.order_id, order.placed_at) for order in orders])
        except PyMongoError as error:
            DB_ERRORS.labels(operation="phone_orders").inc()
            log.warning("phone_orders_backfill_failed", caller=mask_phone(phone), error=type(error).__name__)
        return orders
