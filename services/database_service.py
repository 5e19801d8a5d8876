"""MongoDB access: one repository per collection, all on pymongo's native async client.

Every write is a single-document atomic operation (upsert keyed by the natural id, `$setOnInsert`,
unique indexes), so nothing needs multi-document transactions — which FerretDB, used in tests and
development, does not have. Repositories return pydantic models, never raw documents.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any, Generic, TypeVar

import structlog
from bson.codec_options import CodecOptions
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, PyMongoError
from rapidfuzz import fuzz

from models.commerce import (
    CommerceDocument,
    Customer,
    Department,
    Order,
    Product,
    Ticket,
    TicketCategory,
    TicketPriority,
    Transfer,
    TransferStatus,
    utc_now,
)
from services.metrics import DB_ERRORS

log = structlog.get_logger(__name__)

APP_NAME = "hinglish-voice-agent"
M = TypeVar("M", bound=CommerceDocument)


def create_mongo_client(uri: str, **overrides: Any) -> AsyncMongoClient:
    """The process-wide client. Server selection gives up well inside a tool's timeout (4 s by default),
    so an unreachable database surfaces as a database error the assistant can speak about."""
    options: dict[str, Any] = {
        "tz_aware": True,
        "tzinfo": UTC,
        "appname": APP_NAME,
        "serverSelectionTimeoutMS": 2500,
        "connectTimeoutMS": 2500,
        "socketTimeoutMS": 10_000,
        "maxPoolSize": 100,
    }
    options.update(overrides)
    return AsyncMongoClient(uri, **options)


class _Repository(Generic[M]):
    """Common parts: the collection, the model, the natural key and idempotent upserts.

    The natural id (phone, order id, sku, ticket id, call sid) is the document's `_id` as well as a
    named field: `_id` is unique by definition and is the one key FerretDB looks up directly
    (other equality filters scan the collection there), so reads by id stay ~1 ms on both servers.
    """

    model: type[M]
    key: str
    indexes: Sequence[IndexModel] = ()

    def __init__(self, collection: AsyncCollection) -> None:
        self.collection = collection

    async def ensure_indexes(self) -> None:
        # One index per command: FerretDB 1.24 drops the connection when a multi-index
        # `createIndexes` names indexes that already exist (a second start-up would fail).
        for index in self.indexes:
            await self.collection.create_indexes([index])

    def _document(self, item: M) -> dict[str, Any]:
        document = item.to_document()
        return {"_id": document[self.key], **document}

    def _load(self, document: dict[str, Any] | None) -> M | None:
        return None if document is None else self.model.model_validate(document)

    async def get(self, key_value: str) -> M | None:
        return self._load(await self.collection.find_one({"_id": key_value}))

    async def upsert(self, item: M) -> None:
        """Replace-or-insert by natural id: doing it twice leaves the identical document."""
        document = self._document(item)
        await self.collection.replace_one({"_id": document["_id"]}, document, upsert=True)

    async def upsert_many(self, items: Iterable[M]) -> int:
        # One by one on purpose: FerretDB 1.24 takes minutes for a 200-statement upserting
        # bulk write that it finishes in about a second as single replaces.
        count = 0
        for item in items:
            await self.upsert(item)
            count += 1
        return count

    async def count(self) -> int:
        return await self.collection.count_documents({})


class CustomerRepository(_Repository[Customer]):
    model = Customer
    key = "phone"
    indexes = (IndexModel([("phone", ASCENDING)], unique=True, name="phone_unique"),)


class OrderRepository(_Repository[Order]):
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


# ------------------------------------------------------------------------------------------ products


def fold_for_search(text: str) -> str:
    """Lower-case, drop punctuation, keep Devanagari vowel signs (rapidfuzz's default processor
    splits "कुकर" into "क कर" because matras are not alphanumeric)."""
    text = unicodedata.normalize("NFC", text).casefold()
    text = text.replace("\u093c", "").replace("\u0901", "\u0902")  # nukta; chandrabindu → anusvara
    kept = [ch if unicodedata.category(ch)[0] in "LMN" else " " for ch in text]
    return " ".join("".join(kept).split())


# Words callers wrap around a product name ("mujhe ek pressure cooker chahiye, stock mein hai?").
_FILLER_WORDS = frozenset(
    "mujhe mereko humko hume chahiye chahie chaiye kya hai hain ka ki ke ko me mein mai main ek do "
    "available stock price kitne kitna ka wala wali wale please i want need a an the is it in for of "
    "मुझे चाहिए क्या है हैं का की के को में एक उपलब्ध स्टॉक वाला वाली".split()
)


def strip_fillers(text: str) -> str:
    words = [word for word in fold_for_search(text).split() if word not in _FILLER_WORDS]
    return " ".join(words)


def match_score(query: str, name: str) -> float:
    """0-100: how well a folded query names a product (one folded name or alias).

    Two views, the better one counts: word sets (an alias inside the query, "atta 10 kilo" ⊃ "atta",
    scores 100) and each query word against its closest name word, which forgives spelling
    ("presure cookar") without letting "tel" match inside "intel" as a substring search would.
    """
    query_words, name_words = query.split(), name.split()
    if not query_words or not name_words:
        return 0.0
    per_word = sum(max(_word_similarity(word, other) for other in name_words) for word in query_words)
    return max(fuzz.token_set_ratio(query, name), per_word / len(query_words))


def _word_similarity(word: str, other: str) -> float:
    # Fuzzy matching words of three letters or fewer mostly finds noise ("bat" ~ "boat").
    if len(word) <= 3 or len(other) <= 3:
        return 100.0 if word == other else 0.0
    return fuzz.ratio(word, other)


@dataclass
class _SearchIndex:
    """Folded names and aliases of every product, and the products of each subcategory."""

    names: list[str] = field(default_factory=list)
    owners: list[tuple[str, str]] = field(default_factory=list)  # (sku, display name) per entry of `names`
    by_subcategory: dict[str, list[str]] = field(default_factory=dict)

    def add(self, document: dict[str, Any]) -> None:
        sku, name = document["_id"], document["name"]
        for text in [name, *document.get("hinglish_aliases", []), *document.get("hindi_aliases", [])]:
            self.names.append(fold_for_search(text))
            self.owners.append((sku, name))
        self.by_subcategory.setdefault(document.get("subcategory", ""), []).append(sku)


@dataclass(frozen=True)
class ProductMatch:
    sku: str
    name: str
    score: float


class ProductRepository(_Repository[Product]):
    """Products, plus fuzzy search over names and aliases (English, Hinglish, Devanagari).

    The search index (names, aliases and subcategories, no stock) is cached for `search_cache_ttl_s`:
    the catalogue changes rarely, and loading it on every spoken query would dominate tool latency.
    Products themselves, with their stock, are always read fresh by `_id`.
    """

    model = Product
    key = "sku"
    indexes = (IndexModel([("sku", ASCENDING)], unique=True, name="sku_unique"),)
    min_score = 75.0

    def __init__(self, collection: AsyncCollection, search_cache_ttl_s: float = 60.0) -> None:
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
        best: dict[str, tuple[float, float, str]] = {}
        for text, (sku, name) in zip(index.names, index.owners, strict=True):
            score = match_score(wanted, text)
            if score < self.min_score:
                continue
            ranked = (score, fuzz.ratio(wanted, text), name)  # ties: the closer whole name wins
            if sku not in best or ranked > best[sku]:
                best[sku] = ranked
        ordered = sorted(best.items(), key=lambda item: (-item[1][0], -item[1][1], item[0]))
        return [ProductMatch(sku=sku, name=name, score=score) for sku, (score, _, name) in ordered[:limit]]

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


# ------------------------------------------------------------------------------------------ tickets


def random_ticket_id() -> str:
    return f"TKT-{secrets.randbelow(1_000_000):06d}"


class TicketIdExhausted(RuntimeError):
    """Every generated id collided: the id space is nearly full (or the generator is broken)."""


class TicketRepository(_Repository[Ticket]):
    model = Ticket
    key = "ticket_id"
    indexes = (
        IndexModel([("ticket_id", ASCENDING)], unique=True, name="ticket_id_unique"),
        # A call's tickets (`open_for_call`, e.g. reusing its callback ticket after a failed transfer).
        IndexModel([("call_sid", ASCENDING), ("category", ASCENDING)], name="call_category"),
    )
    max_id_attempts = 8

    def __init__(self, collection: AsyncCollection, id_factory: Callable[[], str] = random_ticket_id) -> None:
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


# ------------------------------------------------------------------------------------------ transfers


class TransferRepository(_Repository[Transfer]):
    model = Transfer
    key = "call_sid"
    # One transfer per call: the unique index makes a second request find the first.
    indexes = (IndexModel([("call_sid", ASCENDING)], unique=True, name="call_sid_unique"),)

    async def request(
        self, *, call_sid: str, phone: str | None, reason: str, department: Department, summary: str
    ) -> tuple[Transfer, bool]:
        """Record the call's transfer unless it has one; returns (transfer, created)."""
        now = utc_now()
        new = Transfer(
            call_sid=call_sid,
            phone=phone,
            reason=reason,
            department=department,
            summary=summary,
            created_at=now,
            updated_at=now,
        )
        document = self._document(new)
        try:
            before = await self.collection.find_one_and_update(
                {"_id": call_sid},
                {"$setOnInsert": {k: v for k, v in document.items() if k != "_id"}},
                upsert=True,
                return_document=ReturnDocument.BEFORE,
            )
        except DuplicateKeyError:  # two concurrent upserts: the other one inserted first
            before = await self.collection.find_one({"_id": call_sid})
        if before is None:
            return new, True
        return Transfer.model_validate(before), False

    async def set_status(self, call_sid: str, status: TransferStatus) -> bool:
        """Best effort, never raises: the bridge calls it while moving a live call, where a database
        outage must not stop the transfer. False when there is no such transfer or the write failed."""
        try:
            result = await self.collection.update_one(
                {"_id": call_sid}, {"$set": {"status": status, "updated_at": utc_now()}}
            )
        except PyMongoError as error:
            DB_ERRORS.labels(operation="transfer_status").inc()
            log.warning("transfer_status_write_failed", call_sid=call_sid, status=status, error=type(error).__name__)
            return False
        return result.matched_count > 0


# ------------------------------------------------------------------------------------------ database


class Database:
    """The repositories of one database; `raw` is there for other modules' collections (e.g. `calls`)."""

    def __init__(self, client: AsyncMongoClient, database_name: str) -> None:
        self.client = client
        # Aware UTC datetimes whatever options the client was built with.
        self.raw: AsyncDatabase = client.get_database(
            database_name, codec_options=CodecOptions(tz_aware=True, tzinfo=UTC)
        )
        self.customers = CustomerRepository(self.raw["customers"])
        self.orders = OrderRepository(self.raw["orders"])
        self.products = ProductRepository(self.raw["products"])
        self.tickets = TicketRepository(self.raw["tickets"])
        self.transfers = TransferRepository(self.raw["transfers"])

    @property
    def repositories(self) -> tuple[_Repository[Any], ...]:
        return (self.customers, self.orders, self.products, self.tickets, self.transfers)

    async def ensure_indexes(self) -> None:
        for repository in self.repositories:
            await repository.ensure_indexes()

    async def ping(self) -> bool:
        try:
            await self.raw.command("ping")
            return True
        except PyMongoError:
            return False


async def seed_database(db: Database) -> dict[str, int]:
    """Also importable from here; the loader lives in `services.seed`."""
    from services.seed import seed_database as load

    return await load(db)
