"""The `orders` collection, keyed by order id."""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING, IndexModel

from models.commerce import Order
from services.store.base import Repository


class OrderRepository(Repository[Order]):
    model = Order
    key = "order_id"
    indexes = (
        IndexModel([("order_id", ASCENDING)], unique=True, name="order_id_unique"),
        # "my recent orders": equality on the phone, newest first.
        IndexModel([("customer_phone", ASCENDING), ("placed_at", DESCENDING)], name="phone_recent"),
    )

    async def recent_for_phone(self, phone: str, limit: int = 3) -> list[Order]:
        cursor = self.collection.find({"customer_phone": phone}).sort("placed_at", DESCENDING).limit(limit)
        return [Order.model_validate(document) async for document in cursor]
