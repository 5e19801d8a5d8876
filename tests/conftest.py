"""Shared fixtures: a real MongoDB-wire server (FerretDB or mongod) for the whole test session."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from pymongo import AsyncMongoClient

from devtools.ferretdb import LocalMongo


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
