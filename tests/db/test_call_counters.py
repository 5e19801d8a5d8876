"""`CallCounterRepository` (calls per caller number per window) against the real test database: the limit
holds under concurrency, a retried webhook is let in on its own slot, and a take costs a few round trips
however many calls the caller already made."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from pymongo import AsyncMongoClient

from services.store.call_counters import CallCounterRepository
from tests.db.command_log import Commands

WINDOW = timedelta(hours=1)
NOW = datetime(2026, 12, 2, 10, 15, tzinfo=UTC)
KEY = "+919876543210"


@pytest.fixture
def commands() -> Commands:
    return Commands()


@pytest.fixture
async def counters(mongo_uri: str, database_name: str, commands: Commands) -> AsyncIterator[CallCounterRepository]:
    client: AsyncMongoClient = AsyncMongoClient(mongo_uri, serverSelectionTimeoutMS=5000, event_listeners=[commands])
    try:
        yield CallCounterRepository(client[database_name]["call_counters"])
    finally:
        await client.close()


async def take(counters: CallCounterRepository, call_id: str, limit: int = 3) -> bool:
    return await counters.take(KEY, limit, WINDOW, NOW, call_id=call_id)


async def test_a_caller_gets_limit_calls_per_window_and_no_more(counters: CallCounterRepository) -> None:
    assert [await take(counters, f"CA{n}") for n in range(4)] == [True, True, True, False]
    assert await counters.count(KEY, 3, WINDOW, NOW) == 3
    # The next window starts afresh; another caller has slots of their own.
    assert await counters.take(KEY, 3, WINDOW, NOW + WINDOW, call_id="CA9")
    assert await counters.take("+919812345678", 3, WINDOW, NOW, call_id="CA8")


async def test_a_retried_webhook_is_let_in_on_its_own_slot_even_at_the_limit(counters: CallCounterRepository) -> None:
    assert await take(counters, "CA1") and await take(counters, "CA2") and await take(counters, "CA3")
    assert await take(counters, "CA2")  # Twilio retried CA2's webhook: not a fourth call
    assert not await take(counters, "CA4")
    assert await counters.count(KEY, 3, WINDOW, NOW) == 3


async def test_concurrent_calls_never_get_more_than_the_limit(counters: CallCounterRepository) -> None:
    results = await asyncio.gather(*(take(counters, f"CA{n}", limit=4) for n in range(10)))
    assert sum(results) == 4
    assert await counters.count(KEY, 4, WINDOW, NOW) == 4


async def test_concurrent_retries_of_one_call_count_it_once(counters: CallCounterRepository) -> None:
    assert await take(counters, "CA1", limit=5) and await take(counters, "CA2", limit=5)
    results = await asyncio.gather(*(take(counters, "CA3", limit=5) for _ in range(4)))
    assert all(results)
    assert await counters.count(KEY, 5, WINDOW, NOW) == 3


async def test_a_take_costs_a_few_round_trips_however_many_calls_came_before(
    counters: CallCounterRepository, commands: Commands
) -> None:
    commands.clear()
    assert await take(counters, "CA0", limit=10)
    assert commands.names == ["insert"]  # a first call: one insert
    for n in range(1, 6):
        assert await take(counters, f"CA{n}", limit=10)
    commands.clear()
    assert await take(counters, "CA6", limit=10)  # six calls before it
    assert commands.names == ["insert", "find", "insert"]
    commands.clear()
    assert await take(counters, "CA3", limit=10)  # a retry: found in the one read
    assert commands.names == ["insert", "find"]


async def test_a_limit_of_zero_refuses_without_touching_the_database(
    counters: CallCounterRepository, commands: Commands
) -> None:
    commands.clear()
    assert not await take(counters, "CA1", limit=0)
    assert commands.names == []
