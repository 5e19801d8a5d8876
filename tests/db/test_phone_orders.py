"""The per-phone order list (`phone_orders`) that serves "my recent orders" by `_id`, on the real server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from models.commerce import Order, OrderItem, OrderStatus
from services.store.database import Database
from services.store.phone_index import PHONE_ORDERS_COLLECTION, PhoneOrderIndex
from tests.db.command_log import Commands
from tests.stack import run_app_command

PHONE, OTHER = "+919000000011", "+919000000012"


@pytest.fixture
async def db(mongo_client: AsyncMongoClient, database_name: str) -> Database:
    database = Database(mongo_client, database_name)
    await database.ensure_indexes()
    return database


def _order(order_id: str, day: int, phone: str = PHONE, status: OrderStatus = "placed") -> Order:
    placed = datetime(2026, 3, day, 10, tzinfo=UTC)
    return Order(
        order_id=order_id,
        customer_phone=phone,
        items=[OrderItem(sku="TATA-SALT-1", name="Tata Salt 1 kg", qty=1, price_inr=28)],
        status=status,
        payment_method="UPI",
        shipping_pincode="110017",
        placed_at=placed,
        expected_delivery=date(2026, 3, day + 3),
        updated_at=placed,
    )


async def _entry(db: Database, phone: str) -> dict | None:
    return await db.raw[PHONE_ORDERS_COLLECTION].find_one({"_id": phone})


async def _ids(db: Database, phone: str = PHONE, limit: int = 3) -> list[str]:
    return [order.order_id for order in await db.orders.recent_for_phone(phone, limit=limit)]


async def test_a_bulk_load_leaves_every_phone_with_a_whole_list(db: Database) -> None:
    await db.orders.upsert_many([_order("ORD-300001", 1), _order("ORD-300002", 2), _order("ORD-300009", 9, OTHER)])
    entry = await _entry(db, PHONE)
    assert entry is not None and entry["complete"] is True
    assert set(entry["orders"]) == {"ORD-300001", "ORD-300002"}
    assert await _ids(db) == ["ORD-300002", "ORD-300001"]
    assert await _ids(db, OTHER) == ["ORD-300009"]


async def test_once_whole_the_list_serves_reads_instead_of_the_orders_query(db: Database) -> None:
    await db.orders.upsert_many([_order("ORD-300001", 1)])
    # An order stored behind the repository's back is not in the list: what the caller hears came from it.
    await db.raw["orders"].insert_one({"_id": "ORD-300005", **_order("ORD-300005", 5).to_document()})
    assert await _ids(db) == ["ORD-300001"]


async def test_orders_stored_before_the_list_existed_are_backfilled_on_first_read(db: Database) -> None:
    for order in (_order("ORD-300001", 1), _order("ORD-300003", 3), _order("ORD-300002", 2)):
        await db.raw["orders"].insert_one({"_id": order.order_id, **order.to_document()})
    assert await _entry(db, PHONE) is None
    assert await _ids(db) == ["ORD-300003", "ORD-300002", "ORD-300001"]
    entry = await _entry(db, PHONE)
    assert entry is not None and entry["complete"] is True and len(entry["orders"]) == 3


async def test_a_list_only_writers_touched_is_not_trusted_until_backfilled(db: Database) -> None:
    await db.raw["orders"].insert_one({"_id": "ORD-300001", **_order("ORD-300001", 1).to_document()})
    await db.orders.upsert(_order("ORD-300002", 2))  # creates the phone's entry, listing only this order
    entry = await _entry(db, PHONE)
    assert entry is not None and not entry.get("complete")
    assert await _ids(db) == ["ORD-300002", "ORD-300001"]  # the older order is found by the query


async def test_a_caller_without_orders_is_remembered_as_having_none(db: Database) -> None:
    assert await _ids(db, "+919000000099") == []
    assert await _entry(db, "+919000000099") == {"_id": "+919000000099", "complete": True, "orders": {}}
    await db.orders.upsert(_order("ORD-300004", 4, "+919000000099"))  # their first order
    assert await _ids(db, "+919000000099") == ["ORD-300004"]


async def test_a_new_order_and_a_status_change_show_in_the_callers_recent_orders(db: Database) -> None:
    await db.orders.upsert_many([_order("ORD-300001", 1), _order("ORD-300002", 2), _order("ORD-300003", 3)])
    await db.orders.upsert(_order("ORD-300007", 7))
    assert await _ids(db) == ["ORD-300007", "ORD-300003", "ORD-300002"]
    await db.orders.upsert(_order("ORD-300003", 3, status="shipped"))
    recent = await db.orders.recent_for_phone(PHONE)
    assert [(order.order_id, order.status) for order in recent][1] == ("ORD-300003", "shipped")


async def test_when_the_order_write_fails_the_list_still_reads_and_a_retry_completes_it(db: Database) -> None:
    await db.orders.upsert_many([_order("ORD-300001", 1), _order("ORD-300002", 2), _order("ORD-300003", 3)])
    # A real second-write failure: another document already holds this order id (unique index).
    await db.raw["orders"].insert_one({"_id": "stray", "order_id": "ORD-300008", "customer_phone": OTHER})
    with pytest.raises(DuplicateKeyError):
        await db.orders.upsert(_order("ORD-300008", 8))
    entry = await _entry(db, PHONE)
    assert entry is not None and "ORD-300008" in entry["orders"]  # listed first, as designed
    # The newest listed order does not exist: skipped, and the next ones are read in its place.
    assert await _ids(db) == ["ORD-300003", "ORD-300002", "ORD-300001"]
    await db.raw["orders"].delete_one({"_id": "stray"})
    await db.orders.upsert(_order("ORD-300008", 8))  # the retry
    assert await _ids(db) == ["ORD-300008", "ORD-300003", "ORD-300002"]


async def test_an_order_moved_to_another_number_leaves_the_old_list(db: Database) -> None:
    await db.orders.upsert_many([_order("ORD-300001", 1), _order("ORD-300002", 2), _order("ORD-300009", 9, OTHER)])
    await db.orders.upsert(_order("ORD-300002", 2, OTHER))
    old = await _entry(db, PHONE)
    assert old is not None and "ORD-300002" not in old["orders"]
    assert await _ids(db) == ["ORD-300001"]
    assert await _ids(db, OTHER) == ["ORD-300009", "ORD-300002"]


async def test_a_stale_key_for_someone_elses_order_is_skipped(db: Database) -> None:
    await db.orders.upsert_many([_order("ORD-300001", 1), _order("ORD-300009", 9, OTHER)])
    await db.orders.phones.add(PHONE, "ORD-300009", datetime(2026, 3, 9, 10, tzinfo=UTC))  # e.g. a failed removal
    assert await _ids(db) == ["ORD-300001"]


async def test_the_list_keeps_only_the_newest_cap_orders(db: Database) -> None:
    phones = PhoneOrderIndex(db.raw[PHONE_ORDERS_COLLECTION], cap=3)
    for day in range(1, 6):
        await phones.add(PHONE, f"ORD-30000{day}", datetime(2026, 3, day, tzinfo=UTC))
    entry = await phones.get(PHONE)
    assert entry is not None and entry.newest_first == ["ORD-300005", "ORD-300004", "ORD-300003"]


@pytest.fixture
async def monitored(mongo_uri: str, database_name: str) -> AsyncIterator[tuple[Database, Commands]]:
    """The test's database through a client that logs every command it sends."""
    commands = Commands()
    client: AsyncMongoClient = AsyncMongoClient(mongo_uri, serverSelectionTimeoutMS=5000, event_listeners=[commands])
    try:
        database = Database(client, database_name)
        await database.ensure_indexes()
        yield database, commands
    finally:
        await client.close()


async def test_once_every_order_is_listed_a_caller_without_orders_costs_no_query_of_orders(
    monitored: tuple[Database, Commands],
) -> None:
    seeding, commands = monitored
    await seeding.orders.upsert_many([_order("ORD-300001", 1), _order("ORD-300009", 9, OTHER)])  # marks it whole
    db = Database(seeding.raw.client, seeding.raw.name)  # as another process sees it
    commands.clear()
    assert await _ids(db, "+919000000099") == []
    assert commands.on("orders") == []  # no scan: the phone has no entry, and every order has one
    assert commands.on(PHONE_ORDERS_COLLECTION) == ["find", "find"]  # its entry, then the marker (once)
    commands.clear()
    assert await _ids(db, "+919000000098") == []
    assert commands.on(PHONE_ORDERS_COLLECTION) == ["find"]  # the marker is remembered
    assert await _entry(db, "+919000000099") is None  # and nothing is written for a caller without orders


async def test_without_the_marker_a_caller_without_orders_is_looked_up_in_the_orders(
    monitored: tuple[Database, Commands],
) -> None:
    db, commands = monitored
    await db.raw["orders"].insert_one({"_id": "ORD-300001", **_order("ORD-300001", 1).to_document()})
    commands.clear()
    assert await _ids(db) == ["ORD-300001"]
    assert commands.on("orders") == ["find"]  # not known whole: the orders are asked


async def test_indexing_all_phones_lists_orders_stored_around_the_repository(db: Database) -> None:
    for order in (_order("ORD-300001", 1), _order("ORD-300002", 2), _order("ORD-300009", 9, OTHER)):
        await db.raw["orders"].insert_one({"_id": order.order_id, **order.to_document()})
    assert not await db.orders.phones.is_whole()
    assert await db.orders.index_all_phones() == 2
    entry = await _entry(db, PHONE)
    assert entry is not None and entry["complete"] is True and set(entry["orders"]) == {"ORD-300001", "ORD-300002"}
    # A fresh repository (another process) reads the marker from the database.
    fresh = Database(db.raw.client, db.raw.name)
    assert await fresh.orders.phones.is_whole()
    assert [order.order_id for order in await fresh.orders.recent_for_phone(OTHER)] == ["ORD-300009"]


async def test_a_new_callers_first_order_after_the_index_is_whole_is_heard(
    monitored: tuple[Database, Commands],
) -> None:
    db, commands = monitored
    await db.orders.upsert_many([_order("ORD-300001", 1)])
    await db.orders.upsert(_order("ORD-300004", 4, "+919000000099"))  # its entry, created by the writer
    commands.clear()
    assert await _ids(db, "+919000000099") == ["ORD-300004"]
    assert commands.on("orders") == ["find"]  # the listed order, by `_id`
    assert commands.on(PHONE_ORDERS_COLLECTION) == ["find"]  # its entry; no backfill (a query by phone, a write)


async def test_the_index_phones_command_lists_every_order_and_marks_the_index_whole(
    mongo_uri: str, db: Database
) -> None:
    await db.raw["orders"].insert_one({"_id": "ORD-300001", **_order("ORD-300001", 1).to_document()})
    done = await run_app_command(mongo_uri, db.raw.name, "index-phones")
    assert done.returncode == 0, done.stderr
    assert "phones_indexed" in done.stdout + done.stderr
    entry = await _entry(db, PHONE)
    assert entry is not None and entry["complete"] is True and set(entry["orders"]) == {"ORD-300001"}
    assert await Database(db.raw.client, db.raw.name).orders.phones.is_whole()
