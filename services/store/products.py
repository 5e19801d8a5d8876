"""The `products` collection, keyed by sku, with fuzzy search over names and aliases."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError

from models.commerce import Product
from services.metrics import DB_ERRORS
from services.store.base import Repository
from services.store.client import Document
from services.store.product_search import ProductMatch, _SearchIndex, fold_for_search, strip_fillers
from utils.logger import get_logger

log = get_logger(__name__)


class ProductRepository(Repository[Product]):
    """Products, plus fuzzy search over names and aliases (English, Hinglish, Devanagari).

    The search index (names, aliases and subcategories, no stock) is held in memory and reloaded in the
    background once it is `search_cache_ttl_s` old: the catalogue changes rarely, and loading it on every
    spoken query would dominate tool latency. Products themselves, with their stock and price, are
    always read fresh by `_id`.
    """

    model = Product
    key = "sku"
    indexes = (IndexModel([("sku", ASCENDING)], unique=True, name="sku_unique"),)
    min_score = 75.0

    def __init__(self, collection: AsyncCollection[Document], search_cache_ttl_s: float = 60.0) -> None:
        super().__init__(collection)
        self._ttl = search_cache_ttl_s
        self._index: _SearchIndex | None = None  # None: never loaded, or invalidated by a write here
        self._loaded_at = -float("inf")
        self._load_lock = asyncio.Lock()
        self._refresh: asyncio.Task[None] | None = None
        self._generation = 0  # bumped by `invalidate_search_cache`: a reload begun before it is discarded

    async def _search_index(self) -> _SearchIndex:
        """The index; only the first load (or one after `invalidate_search_cache`) is awaited. A stale one
        is served while one background task reloads it: reading every product costs FerretDB about 5 ms
        of CPU each (~0.3 s for the catalogue), which no caller should wait for once a minute."""
        index = self._index
        if index is None:
            async with self._load_lock:  # one load even when many calls ask at once
                return self._index if self._index is not None else await self._reload()
        if time.monotonic() - self._loaded_at >= self._ttl and (self._refresh is None or self._refresh.done()):
            self._refresh = asyncio.create_task(self._refresh_in_background())
        return index

    async def _reload(self) -> _SearchIndex:
        generation, index = self._generation, _SearchIndex()
        projection = {"name": 1, "subcategory": 1, "hindi_aliases": 1, "hinglish_aliases": 1}
        async for document in self.collection.find({}, projection):
            index.add(document)
        if generation == self._generation:  # else products were written meanwhile: the next search reloads
            self._index, self._loaded_at = index, time.monotonic()
        return index

    async def _refresh_in_background(self) -> None:
        try:
            await self._reload()
        except PyMongoError as error:  # the index in use stays; the next search after the TTL tries again
            DB_ERRORS.labels(operation="product_search_index").inc()
            log.warning("product_search_index_refresh_failed", error=type(error).__name__)

    async def warm_search_index(self) -> None:
        """Load the index now (at start-up), so the first product question of the first calls does not
        wait for it: at 50 calls that wait put the tool's p99 at ~0.3-0.6 s (bench/README.md, round
        twelve). A failure is logged and counted, as a background refresh's; the first search then loads it."""
        await self._refresh_in_background()

    async def refreshed(self) -> None:
        """Wait for a background refresh in progress, if any (tests, shutdown)."""
        if self._refresh is not None:
            await asyncio.shield(self._refresh)

    def invalidate_search_cache(self) -> None:
        """The next search reloads the index before answering (after this process wrote products)."""
        self._index = None
        self._generation += 1

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
