"""The knowledge repository on a real FerretDB: seed, in-memory search, changes, refresh, and the tool."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient

from models.knowledge import KnowledgeEntryCreate, KnowledgeEntryUpdate
from services.store.database import Database
from services.store.knowledge import KnowledgeEntryExists, KnowledgeRepository
from services.store.seed import KNOWLEDGE_SEED_FILE, load_knowledge_entries, seed_database
from services.tools import ToolContext, ToolRegistry
from tests.stack import make_settings


@pytest.fixture
async def db(mongo_client: AsyncMongoClient, database_name: str) -> AsyncIterator[Database]:
    database = Database(mongo_client, database_name)
    await database.knowledge.ensure_indexes()
    await database.knowledge.upsert_many(load_knowledge_entries())
    yield database
    await mongo_client.drop_database(database_name)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


NEW_ENTRY = KnowledgeEntryCreate(
    entry_id="festive-delivery",
    title="Delivery during Diwali sale",
    body="During the Diwali sale week, deliveries can take 2 extra days in every city.",
    tags=["delivery", "sale"],
    search_phrases=["diwali sale mein delivery kab", "tyohaar pe der"],
)


async def test_seed_is_searchable_and_the_text_index_refusal_is_harmless(db: Database) -> None:
    assert await db.knowledge.count() == len(load_knowledge_entries()) >= 40
    await db.ensure_indexes()  # again, as every start-up does: FerretDB's refusal of text indexes is no error
    passages = await db.knowledge.search("COD order ka paisa wapas kab aayega")
    assert passages[0].entry_id == "refund-cod"
    stored = await db.knowledge.get("refund-cod")
    assert stored is not None and passages[0].body == stored.body and passages[0].title == stored.title


async def test_search_answers_from_memory_not_per_question(db: Database) -> None:
    clock = Clock()
    repo = KnowledgeRepository(db.raw["knowledge"], refresh_s=30, clock=clock)
    assert (await repo.search("refund for UPI"))[0].entry_id == "refund-upi"
    # Emptied behind the repository's back (another node, a shell): questions still answered from memory...
    await db.raw["knowledge"].delete_many({})
    clock.now += 29
    assert (await repo.search("refund for UPI"))[0].entry_id == "refund-upi"
    # ...until the interval passes: the next question starts a reload and is answered from the old index.
    clock.now += 2
    assert (await repo.search("refund for UPI"))[0].entry_id == "refund-upi"
    reload = repo._reload
    assert reload is not None
    await reload
    assert await repo.search("refund for UPI") == []


async def test_a_reload_rebuilds_only_when_another_node_changed_something(db: Database) -> None:
    clock = Clock()
    repo = KnowledgeRepository(db.raw["knowledge"], refresh_s=30, clock=clock)
    other_node = KnowledgeRepository(db.raw["knowledge"])
    await repo.search("refund")
    built = repo._index

    async def after_interval() -> None:
        clock.now += 31
        await repo.search("refund")
        assert repo._reload is not None
        await repo._reload

    await after_interval()
    assert repo._index is built  # nothing changed: the same index, not rebuilt
    await other_node.update("refund-cod", KnowledgeEntryUpdate(title="COD refunds: bank or UPI transfer"))
    await after_interval()
    assert repo._index is not built
    assert (await repo.search("COD refund"))[0].title == "COD refunds: bank or UPI transfer"


async def test_changes_through_the_repository_are_searchable_at_once(db: Database) -> None:
    repo = db.knowledge
    assert all(p.entry_id != NEW_ENTRY.entry_id for p in await repo.search("diwali sale delivery"))
    created = await repo.create(NEW_ENTRY)
    assert (await repo.search("diwali sale mein delivery kab hogi"))[0].entry_id == created.entry_id
    with pytest.raises(KnowledgeEntryExists):
        await repo.create(NEW_ENTRY)

    edited = await repo.update(created.entry_id, KnowledgeEntryUpdate(title="Delivery during Holi sale"))
    assert edited is not None and edited.title == "Delivery during Holi sale" and edited.body == created.body
    assert edited.updated_at > created.updated_at
    assert (await repo.search("holi sale delivery"))[0].title == "Delivery during Holi sale"
    assert await repo.update("no-such-entry", KnowledgeEntryUpdate(title="Whatever it is")) is None

    assert await repo.delete(created.entry_id) is True
    assert await repo.delete(created.entry_id) is False
    assert all(p.entry_id != created.entry_id for p in await repo.search("holi sale delivery"))


async def test_seed_again_changes_nothing_and_a_bad_file_writes_nothing(db: Database, tmp_path: Path) -> None:
    await seed_database(db)
    before = await db.raw["knowledge"].find({}).sort("_id", 1).to_list()
    await seed_database(db)
    assert await db.raw["knowledge"].find({}).sort("_id", 1).to_list() == before  # updated_at kept too

    records = json.loads(KNOWLEDGE_SEED_FILE.read_text(encoding="utf-8"))
    records[0]["body"] = "short"  # under the 10-character minimum
    records.append({**records[1], "title": "Changed title"})  # and a duplicate id
    bad = tmp_path / "knowledge.json"
    bad.write_text(json.dumps(records), encoding="utf-8")
    with pytest.raises(ValueError):
        await seed_database(db, knowledge_file=bad)
    assert await db.raw["knowledge"].find({}).sort("_id", 1).to_list() == before


async def test_a_yaml_seed_file_works(mongo_client: AsyncMongoClient, tmp_path: Path) -> None:
    path = tmp_path / "faq.yaml"
    path.write_text(
        "- entry_id: store-timings\n"
        "  title: Store timings\n"
        "  body: Our pickup points are open from 10 AM to 8 PM.\n"
        "  search_phrases: [dukaan kab khulti hai]\n",
        encoding="utf-8",
    )
    database = Database(mongo_client, f"test_{uuid.uuid4().hex[:12]}")
    try:
        counts = await seed_database(database, knowledge_file=path)
        assert counts["knowledge"] == 1
        assert (await database.knowledge.search("dukaan kab khulti hai"))[0].entry_id == "store-timings"
    finally:
        await mongo_client.drop_database(database.raw.name)


async def test_the_tool_returns_passages_or_says_it_has_none(db: Database, registry: ToolRegistry) -> None:
    ctx = ToolContext(
        call_sid="CA-knowledge", caller_phone=None, db=db, settings=make_settings(), conversation_summary=str
    )
    found = await registry.execute("c1", "search_knowledge_base", '{"query": "COD ka refund kaise milega"}', ctx, 4)
    assert found.ok and found.output["found"] is True
    first = found.output["passages"][0]
    stored = await db.knowledge.get(first["source"])
    assert stored is not None and (first["title"], first["text"]) == (stored.title, stored.body)
    assert "only from these passages" in found.output["next_step"]

    none = await registry.execute("c2", "search_knowledge_base", '{"query": "cricket score batao"}', ctx, 4)
    assert none.ok and none.output["found"] is False and none.output["passages"] == []
    assert "do not have that information" in none.output["next_step"]

    bad = await registry.execute("c3", "search_knowledge_base", '{"query": ""}', ctx, 4)
    assert not bad.ok and bad.error == "invalid_arguments"
