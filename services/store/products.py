"""The `products` collection, keyed by sku, with fuzzy search over names and aliases."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection

from models.commerce import Product
from services.store.base import Repository
from services.store.client import Document
from services.store.product_search import ProductMatch, _SearchIndex, fold_for_search, strip_fillers


class ProductRepository(Repository[Product]):
    """Products, plus fuzzy search over names and aliases (English, Hinglish, Devanagari).

    The search index (names, aliases and subcategories, no stock) is cached for `search_cache_ttl_s`:
    the catalogue changes rarely, and loading it on every spoken query would dominate tool latency.
    Products themselves, with their stock, are always read fresh by `_id`.
    """

    model = Product
    key = "sku"
    indexes = (IndexModel([("sku", ASCENDING)], unique=True, name="sku_unique"),)
    min_score = 75.0

    def __init__(self, collection: AsyncCollection[Document], search_cache_ttl_s: float = 60.0) -> None:
        super().__init__(collection)
        self._ttl = search_cache_ttl_s
        self._index = _SearchIndex()
        self._loaded_at = -float("inf")
        self._load_lock = asyncio.Lock()

    async def _search_index(self) -> _SearchIndex:
        if time.monotonic() - self._loaded_at < self._ttl:
            return self._index
        async with self._load_lock:  # one reload even when many calls ask at once
            if time.monotonic() - self._loaded_at >= self._ttl:
                index = _SearchIndex()
                projection = {"name": 1, "subcategory": 1, "hindi_aliases": 1, "hinglish_aliases": 1}
                async for document in self.collection.find({}, projection):
                    index.add(document)
                self._index, self._loaded_at = index, time.monotonic()
        return self._index

    def invalidate_search_cache(self) -> None:
        self._loaded_at = -float("inf")

    async def search(self, query: str, limit: int = 3) -> list[ProductMatch]:
        """Best matches first, at most one per product, only those scoring `min_score` or more."""
        wanted = strip_fillers(query) or fold_for_search(query)
        if not wanted:
            return []
        index = await self._search_index()
        return index.best_matches(wanted, min_score=self.min_score, limit=limit)

    async def alternatives_to(self, product: Product) -> list[Product]:
        """Other products of the same type (subcategory), e.g. another pressure cooker. The cached
        index names them, so each is read by `_id` (with fresh stock) instead of a collection scan."""
        index = await self._search_index()
        skus = [sku for sku in index.by_subcategory.get(product.subcategory, []) if sku != product.sku]
        found = await asyncio.gather(*(self.get(sku) for sku in skus))
        return [candidate for candidate in found if candidate is not None]

    async def upsert_many(self, items: Iterable[Product]) -> int:
        count = await super().upsert_many(items)
        self.invalidate_search_cache()
        return count
