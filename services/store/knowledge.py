"""The `knowledge` collection (policy and FAQ entries, keyed by `entry_id`) and its in-memory search index.

Search never queries MongoDB per question: the collection is small (tens to hundreds of entries), so the
repository loads it whole into a `KnowledgeIndex` and answers from memory. The index is rebuilt after
every change made through this repository, and at most `refresh_s` after a change made elsewhere (another
node, a seed run): a question arriving when the index is older than that triggers a reload, and is
answered from the old index meanwhile, so a slow database never slows a caller's answer.

A MongoDB text index over title, phrases, tags and body is declared for MongoDB proper (operators can
query it from the shell or Atlas); FerretDB 1.24 refuses text indexes (error 27), which is logged and
harmless, since no search depends on it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime

from pymongo import TEXT, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, OperationFailure

from models.commerce import utc_now
from models.knowledge import KnowledgeEntry, KnowledgeEntryCreate, KnowledgeEntryUpdate
from services.knowledge.ranking import KnowledgeIndex, Passage
from services.store.base import Repository
from services.store.client import Document
from utils.logger import get_logger

log = get_logger(__name__)

KNOWLEDGE_COLLECTION = "knowledge"
DEFAULT_REFRESH_S = 30.0
MAX_ENTRIES = 5000  # far above any real FAQ; the whole collection is held in memory


class KnowledgeEntryExists(Exception):
    pass


class KnowledgeRepository(Repository[KnowledgeEntry]):
    model = KnowledgeEntry
    key = "entry_id"
    indexes = (
        IndexModel(
            [("title", TEXT), ("search_phrases", TEXT), ("tags", TEXT), ("body", TEXT)],
            weights={"title": 6, "search_phrases": 5, "tags": 4, "body": 1},
            default_language="none",  # Hinglish: no English stemming or stop words
            name="knowledge_text",
        ),
    )

    def __init__(
        self,
        collection: AsyncCollection[Document],
        refresh_s: float = DEFAULT_REFRESH_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(collection)
        self.refresh_s = refresh_s
        self.text_index = False
        self._clock = clock
        self._index: KnowledgeIndex | None = None
        self._loaded_at = 0.0
        self._generation = 0
        self._indexed: list[tuple[str, datetime | None]] = []  # (entry_id, updated_at) the index was built from
        self._reload: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def ensure_indexes(self) -> None:
        try:
            await super().ensure_indexes()
            self.text_index = True
        except OperationFailure as error:
            # FerretDB 1.24: "can't find index with key: { title: "text" }" (27); search is in memory anyway.
            log.info("text_index_unsupported", collection=self.collection.name, code=error.code)

    # ------------------------------------------------------------------------------------ reads

    async def list_all(self) -> list[KnowledgeEntry]:
        documents = self.collection.find({}).sort("_id", 1).limit(MAX_ENTRIES)
        return [KnowledgeEntry.model_validate(document) async for document in documents]

    async def search(self, question: str, limit: int = 3) -> list[Passage]:
        index = self._index
        if index is None:
            index = await self._load_index()
        elif self._clock() - self._loaded_at >= self.refresh_s and self._reload is None:
            self._reload = asyncio.create_task(self._background_reload(), name="knowledge-reload")
        return index.search(question, limit)

    async def _load_index(self) -> KnowledgeIndex:
        async with self._lock:  # concurrent first questions share one load
            if self._index is not None and self._clock() - self._loaded_at < self.refresh_s:
                return self._index
            while True:
                generation, started = self._generation, self._clock()
                if self._index is not None and await self._fingerprint() == self._indexed:
                    self._loaded_at = started  # unchanged (the usual case): nothing to rebuild
                    return self._index
                entries = await self.list_all()
                # Off the event loop: building takes tens of ms for hundreds of entries, and calls' audio
                # runs on the loop.
                index = await asyncio.to_thread(KnowledgeIndex, entries)
                if generation == self._generation:  # no change through us while it was read
                    self._index, self._loaded_at = index, started
                    self._indexed = [(entry.entry_id, entry.updated_at) for entry in entries]
                    log.info("knowledge_index_loaded", entries=len(index))
                    return index

    async def _fingerprint(self) -> list[tuple[str, datetime | None]]:
        """Ids and change times only: what tells whether the collection changed since the index was built."""
        cursor = self.collection.find({}, {"updated_at": 1}).sort("_id", 1).limit(MAX_ENTRIES)
        return [(document["_id"], document.get("updated_at")) async for document in cursor]

    async def _background_reload(self) -> None:
        try:
            await self._load_index()
        except Exception as error:  # keep answering from the old index; the next question tries again
            log.warning("knowledge_reload_failed", error=type(error).__name__)
        finally:
            self._reload = None

    def invalidate(self) -> None:
        """The next question reloads (after a change through this repository)."""
        self._generation += 1
        self._index = None

    # ------------------------------------------------------------------------------------ writes

    async def upsert(self, item: KnowledgeEntry) -> None:
        await super().upsert(item)
        self.invalidate()

    async def create(self, request: KnowledgeEntryCreate) -> KnowledgeEntry:
        entry = KnowledgeEntry(**request.model_dump())
        try:
            await self.collection.insert_one(self._document(entry))
        except DuplicateKeyError:
            raise KnowledgeEntryExists(request.entry_id) from None
        self.invalidate()
        return entry

    async def update(self, entry_id: str, changes: KnowledgeEntryUpdate) -> KnowledgeEntry | None:
        fields = changes.model_dump(exclude_unset=True, exclude_none=True)
        current = await self.get(entry_id)
        if current is None:
            return None
        updated = KnowledgeEntry.model_validate({**current.model_dump(), **fields, "updated_at": utc_now()})
        result = await self.collection.replace_one({"_id": entry_id}, self._document(updated))
        self.invalidate()
        return updated if result.matched_count else None

    async def delete(self, entry_id: str) -> bool:
        result = await self.collection.delete_one({"_id": entry_id})
        self.invalidate()
        return result.deleted_count == 1
