"""The greeting hook's two halves on a real FerretDB: the caller's preferred language from their customer
record, and the greeting it picks (`greeting_for`), including when the record or the database is missing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from config.agent_file import greeting_for, load_agent
from devtools.ferretdb import free_port
from services.store.client import create_mongo_client
from services.store.database import Database
from tests.stack import make_settings

ENGLISH_CALLER = "+919812345678"  # Priya Nair: english
HINDI_CALLER = "+917111932398"


@pytest.fixture
async def unreachable_db() -> AsyncIterator[Database]:
    client = create_mongo_client(f"mongodb://127.0.0.1:{free_port()}/", serverSelectionTimeoutMS=200)
    try:
        yield Database(client, "unreachable")
    finally:
        await client.close()


async def test_the_customer_record_picks_the_greeting_language(seeded_db: Database) -> None:
    _, agent = load_agent(make_settings())
    customers = seeded_db.customers
    assert await customers.preferred_language(ENGLISH_CALLER) == "english"
    assert await customers.preferred_language(HINDI_CALLER) == "hindi"
    assert "Welcome to ShopKart" in greeting_for(agent, await customers.preferred_language(ENGLISH_CALLER))
    assert "in Hindi" in greeting_for(agent, await customers.preferred_language(HINDI_CALLER))
    # Unknown callers hear the default (Hinglish) greeting.
    for caller in ("+919811100001", "client:alice", None):
        language = await customers.preferred_language(caller)
        assert language is None and greeting_for(agent, language) == agent.greeting_instructions


async def test_a_database_outage_falls_back_to_the_default_greeting(unreachable_db: Database) -> None:
    assert await unreachable_db.customers.preferred_language(ENGLISH_CALLER, timeout_s=1.0) is None
