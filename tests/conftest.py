"""Shared fixtures: a real MongoDB-wire server (FerretDB or mongod) for the whole test session."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from pymongo import AsyncMongoClient

from devtools.ferretdb import LocalMongo
from services.store.client import create_mongo_client
from services.store.database import Database
from services.store.seed import seed_database


@pytest.fixture(scope="session")
def mongo_uri() -> Iterator[str]:
    with LocalMongo() as server:
        yield server.uri


@pytest.fixture
def database_name() -> str:
    """A fresh database per test keeps tests independent without restarting the server."""
    return f"test_{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def mongo_client(mongo_uri: str) -> AsyncIterator[AsyncMongoClient]:
    client: AsyncMongoClient = AsyncMongoClient(mongo_uri, serverSelectionTimeoutMS=5000)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture(scope="module")
async def seeded_db(mongo_uri: str) -> AsyncIterator[Database]:
    """One seeded database per test module (seeding takes about a second); tests that write use
    call-scoped documents (their own call sids), so they do not disturb each other."""
    client = create_mongo_client(mongo_uri)
    db = Database(client, f"seeded_{uuid.uuid4().hex[:12]}")
    await seed_database(db)
    try:
        yield db
    finally:
        await client.drop_database(db.raw.name)
        await client.close()


@pytest.fixture
def seeded(mongo_uri: str, seeded_db: Database) -> tuple[str, str]:
    """(uri, database name) of the module's seeded database: what `tests.stack.live_stack` takes."""
    return mongo_uri, seeded_db.raw.name
