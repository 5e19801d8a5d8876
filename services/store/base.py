"""What every repository shares: its collection and indexes; and the generic repository of models."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Generic, TypeVar

from pymongo import IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import OperationFailure

from models.commerce import CommerceDocument
from services.store.client import Document
from utils.logger import get_logger

log = get_logger(__name__)

M = TypeVar("M", bound=CommerceDocument)
# createIndexes of an index that exists under the same name with other options (e.g. another expiry).
INDEX_OPTIONS_CONFLICT = 85


class IndexedCollection:
    """A collection and the indexes its queries need."""

    indexes: Sequence[IndexModel] = ()

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self.collection = collection

    async def ensure_indexes(self) -> None:
        # One index per command: FerretDB 1.24 drops the connection when a multi-index
        # `createIndexes` names indexes that already exist (a second start-up would fail).
        for index in self.indexes:
            try:
                await self.collection.create_indexes([index])
            except OperationFailure as error:
                if "expireAfterSeconds" not in index.document:
                    raise
                if error.code == INDEX_OPTIONS_CONFLICT:
                    await self._change_expiry(index)
                    continue
                # FerretDB 1.24 has no TTL indexes (code 238, NotImplemented). Expiry is a clean-up
                # there, never a correctness rule: every reader checks `expires_at` itself.
                if error.code != 238:
                    raise
                log.info("ttl_index_unsupported", collection=self.collection.name, index=index.document["name"])

    async def _change_expiry(self, index: IndexModel) -> None:
        """A TTL index that exists with another expiry (a retention setting changed): MongoDB refuses to
        create it again, `collMod` changes the expiry in place."""
        document = index.document
        await self.collection.database.command(
            "collMod",
            self.collection.name,
            index={"name": document["name"], "expireAfterSeconds": document["expireAfterSeconds"]},
        )
        log.info("ttl_index_changed", collection=self.collection.name, index=document["name"])


class Repository(IndexedCollection, Generic[M]):
    """Common parts: the collection, the model, the natural key and idempotent upserts.

    The natural id (phone, order id, sku, ticket id, call sid) is the document's `_id` as well as a
    named field: `_id` is unique by definition and is the one key FerretDB looks up directly
    (other equality filters scan the collection there), so reads by id stay ~1 ms on both servers.
    """

    model: type[M]
    key: str

    def _document(self, item: M) -> Document:
        document = item.to_document()
        return {"_id": document[self.key], **document}

    def _load(self, document: Document | None) -> M | None:
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
