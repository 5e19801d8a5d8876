"""The in-memory product search index: refreshed in the background, never waited for once loaded."""

from __future__ import annotations

from pymongo import AsyncMongoClient

from models.commerce import Product
from services.metrics import REGISTRY
from services.store.client import create_mongo_client
from services.store.database import Database
from services.store.products import ProductRepository
from services.store.seed import seed_database
from tests.db.command_log import Commands

STOVE = Product(
    sku="PGN-STOVE-2B",
    name="Pigeon 2 Burner Gas Stove",
    hinglish_aliases=["gas chulha"],
    category="kitchen",
    subcategory="gas_stove",
    price_inr=2499,
    stock={"GGN": 5},
)


async def test_a_stale_index_answers_at_once_and_a_background_reload_brings_new_products(
    mongo_client: AsyncMongoClient, database_name: str
) -> None:
    db = Database(mongo_client, database_name)
    await seed_database(db)
    products = ProductRepository(db.raw["products"], search_cache_ttl_s=0.0)  # always stale
    assert await products.search("gas chulha") == []
    # Written by another node (or the shop's system): this process was not told.
    await db.raw["products"].insert_one({"_id": STOVE.sku, **STOVE.to_document()})
    assert await products.search("gas chulha") == []  # the index in memory answered; a reload started
    await products.refreshed()
    assert [match.sku for match in await products.search("gas chulha")] == [STOVE.sku]


async def test_a_failed_background_reload_keeps_the_index_in_use(mongo_uri: str, database_name: str) -> None:
    client = create_mongo_client(mongo_uri)
    db = Database(client, database_name)
    await seed_database(db)
    products = ProductRepository(db.raw["products"], search_cache_ttl_s=0.0)
    before = await products.search("pressure cooker")
    assert before
    await client.drop_database(database_name)
    await client.close()  # every reload from now on fails
    failures = _index_load_failures()
    assert await products.search("pressure cooker") == before
    await products.refreshed()  # the failure is logged and counted, not raised
    assert _index_load_failures() == failures + 1
    assert await products.search("pressure cooker") == before


def _index_load_failures() -> float:
    labels = {"operation": "product_search_index"}
    return REGISTRY.get_sample_value("voice_db_errors_total", labels) or 0.0


async def test_a_warmed_index_answers_the_first_search_without_reading_the_catalogue(
    mongo_uri: str, database_name: str
) -> None:
    seeding = create_mongo_client(mongo_uri)
    try:
        await seed_database(Database(seeding, database_name))
    finally:
        await seeding.close()
    commands = Commands()
    client: AsyncMongoClient = AsyncMongoClient(mongo_uri, serverSelectionTimeoutMS=5000, event_listeners=[commands])
    try:
        products = ProductRepository(client[database_name]["products"])
        await products.warm_search_index()  # the app's start-up
        assert commands.on("products") == ["find"]  # the catalogue, once
        commands.clear()
        assert [match.sku for match in await products.search("pressure cooker")]
        assert commands.on("products") == []  # the first caller's question: answered from memory
    finally:
        await client.close()


async def test_warming_with_the_database_down_is_logged_and_the_first_search_loads_it(
    mongo_uri: str, database_name: str
) -> None:
    client = create_mongo_client(mongo_uri)
    await seed_database(Database(client, database_name))
    await client.close()
    failures = _index_load_failures()
    closed = ProductRepository(client[database_name]["products"])
    await closed.warm_search_index()  # does not raise: start-up goes on
    assert _index_load_failures() == failures + 1
    fresh = create_mongo_client(mongo_uri)
    try:
        products = ProductRepository(fresh[database_name]["products"])
        assert await products.search("pressure cooker")  # never warmed: the first search loads it
    finally:
        await fresh.close()
