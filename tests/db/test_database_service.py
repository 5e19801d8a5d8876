"""Repositories, indexes and the seed loader against the real test database (FerretDB or mongod)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest
from pymongo import AsyncMongoClient

from devtools.ferretdb import free_port
from models.commerce import ORDER_STATUSES, Customer, Order, OrderItem, Product
from services.store.client import create_mongo_client
from services.store.database import Database
from services.store.product_search import fold_for_search, match_score
from services.store.seed import (
    DATA_DIR,
    DEMO_ORDER_IDS,
    DEMO_PHONE,
    OTHER_DEMO_ORDER_IDS,
    OTHER_DEMO_PHONE,
    load_seed_records,
    seed_database,
)
from services.store.tickets import TicketIdExhausted, TicketRepository

DEVANAGARI = re.compile(r"[\u0900-\u097F]")


@pytest.fixture
async def db(mongo_client: AsyncMongoClient, database_name: str) -> Database:
    database = Database(mongo_client, database_name)
    await database.ensure_indexes()
    return database


@pytest.fixture
async def unreachable_db() -> AsyncIterator[Database]:
    """A client pointed at a closed port: every operation fails fast with a PyMongoError."""
    client = create_mongo_client(f"mongodb://127.0.0.1:{free_port()}/", serverSelectionTimeoutMS=200)
    try:
        yield Database(client, "unreachable")
    finally:
        await client.close()


def _order(order_id: str, phone: str, placed_at: datetime, status: str = "placed") -> Order:
    return Order(
        order_id=order_id,
        customer_phone=phone,
        items=[
            OrderItem(sku="TATA-SALT-1", name="Tata Salt 1 kg", qty=2, price_inr=28),
            OrderItem(sku="MDH-GM-100", name="MDH Garam Masala 100 g", qty=1, price_inr=92.5),
        ],
        status=status,
        payment_method="UPI",
        shipping_pincode="110017",
        placed_at=placed_at,
        expected_delivery=date(2026, 3, 5),
        updated_at=placed_at,
    )


# ------------------------------------------------------------------------------------------ client, indexes


async def test_create_mongo_client_has_sane_options() -> None:
    client = create_mongo_client("mongodb://127.0.0.1:1/")
    try:
        assert client.options.codec_options.tz_aware is True
        assert client.options.server_selection_timeout < 4.0  # inside the default tool timeout
        assert client.options.pool_options.metadata["application"]["name"] == "hinglish-voice-agent"
    finally:
        await client.close()


async def test_ensure_indexes_creates_unique_ids_and_can_run_again(db: Database) -> None:
    await db.ensure_indexes()  # a second start-up must not fail
    expected_unique = {
        "customers": "phone",
        "orders": "order_id",
        "products": "sku",
        "tickets": "ticket_id",
        "transfers": "call_sid",
    }
    for collection, field in expected_unique.items():
        indexes = await (await db.raw[collection].list_indexes()).to_list()
        unique_keys = [list(index["key"]) for index in indexes if index.get("unique")]
        assert [field] in unique_keys, (collection, indexes)
    order_indexes = await (await db.raw["orders"].list_indexes()).to_list()
    assert any(list(index["key"]) == ["customer_phone", "placed_at"] for index in order_indexes)
    call_indexes = await (await db.raw["calls"].list_indexes()).to_list()
    assert {("started_at",), ("status", "started_at")} <= {tuple(index["key"]) for index in call_indexes}


async def test_ping(db: Database, unreachable_db: Database) -> None:
    assert await db.ping() is True
    assert await unreachable_db.ping() is False


# ------------------------------------------------------------------------------------------ repositories


async def test_customer_upsert_and_get_round_trip(db: Database) -> None:
    customer = Customer(
        phone="+919000000001",
        name="Asha Verma",
        preferred_language="hindi",
        pincode="226001",
        city="Lucknow",
        created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    await db.customers.upsert(customer)
    await db.customers.upsert(customer)  # idempotent
    assert await db.customers.get("+919000000001") == customer
    assert await db.customers.count() == 1
    assert await db.customers.get("+919000000002") is None


async def test_order_round_trip_keeps_dates_and_computes_total(db: Database) -> None:
    placed = datetime(2026, 3, 1, 10, 30, tzinfo=UTC)
    order = _order("ORD-100001", "+919000000001", placed)
    await db.orders.upsert(order)
    loaded = await db.orders.get("ORD-100001")
    assert loaded == order
    assert loaded is not None and loaded.placed_at.tzinfo is not None
    assert loaded.expected_delivery == date(2026, 3, 5)
    assert loaded.total_inr == 148.5
    stored = await db.raw["orders"].find_one({"_id": "ORD-100001"})
    assert stored is not None and stored["expected_delivery"] == "2026-03-05" and stored["total_inr"] == 148.5


async def test_recent_orders_are_the_callers_newest_first(db: Database) -> None:
    phone, other = "+919000000001", "+919000000002"
    for day in range(1, 6):
        await db.orders.upsert(_order(f"ORD-10000{day}", phone, datetime(2026, 3, day, tzinfo=UTC)))
    await db.orders.upsert(_order("ORD-200001", other, datetime(2026, 3, 9, tzinfo=UTC)))
    recent = await db.orders.recent_for_phone(phone, limit=3)
    assert [order.order_id for order in recent] == ["ORD-100005", "ORD-100004", "ORD-100003"]
    assert await db.orders.recent_for_phone("+919000000003") == []


def test_order_model_rejects_bad_ids_and_phones() -> None:
    with pytest.raises(ValueError):
        _order("ORD-12345", "+919000000001", datetime(2026, 3, 1, tzinfo=UTC))
    with pytest.raises(ValueError):
        _order("ORD-123456", "9000000001", datetime(2026, 3, 1, tzinfo=UTC))


# ------------------------------------------------------------------------------------------ tickets


async def test_ticket_ids_are_readable_and_unique(db: Database) -> None:
    tickets = await asyncio.gather(
        *(db.tickets.create(category="refund", description=f"Refund issue {i}") for i in range(25))
    )
    ids = {ticket.ticket_id for ticket in tickets}
    assert len(ids) == 25
    assert all(re.fullmatch(r"TKT-\d{6}", ticket_id) for ticket_id in ids)
    stored = await db.tickets.get(tickets[0].ticket_id)
    assert stored is not None and stored.status == "open" and stored.description == "Refund issue 0"


async def test_ticket_creation_retries_on_duplicate_id(db: Database) -> None:
    ids = iter(["TKT-000001", "TKT-000001", "TKT-000001", "TKT-000002"])
    tickets = TicketRepository(db.raw["tickets"], id_factory=lambda: next(ids))
    first = await tickets.create(category="delivery", description="Late delivery")
    second = await tickets.create(category="delivery", description="Another late delivery")
    assert (first.ticket_id, second.ticket_id) == ("TKT-000001", "TKT-000002")
    assert await tickets.count() == 2


async def test_ticket_creation_gives_up_when_every_id_collides(db: Database) -> None:
    tickets = TicketRepository(db.raw["tickets"], id_factory=lambda: "TKT-424242")
    await tickets.create(category="other", description="First")
    with pytest.raises(TicketIdExhausted):
        await tickets.create(category="other", description="Second")


async def test_open_ticket_for_call(db: Database) -> None:
    ticket = await db.tickets.create(category="callback", description="Call me back", call_sid="CA1")
    assert await db.tickets.open_for_call("CA1", "callback") == ticket
    assert await db.tickets.open_for_call("CA1", "refund") is None
    assert await db.tickets.open_for_call("CA2", "callback") is None


# ------------------------------------------------------------------------------------------ transfers


async def test_one_transfer_per_call(db: Database) -> None:
    first, created = await db.transfers.request(
        call_sid="CA-T1", phone="+919876543210", reason="refund dispute", department="refunds", summary="s1"
    )
    again, created_again = await db.transfers.request(
        call_sid="CA-T1", phone="+919876543210", reason="other", department="general", summary="s2"
    )
    assert created and not created_again
    assert again.created_at == first.created_at
    assert again.reason == "refund dispute" and again.summary == "s1" and again.status == "requested"
    assert await db.raw["transfers"].count_documents({"call_sid": "CA-T1"}) == 1


async def test_concurrent_transfer_requests_record_one(db: Database) -> None:
    results = await asyncio.gather(
        *(
            db.transfers.request(call_sid="CA-T2", phone=None, reason=f"r{i}", department="general", summary="")
            for i in range(10)
        )
    )
    assert sum(created for _, created in results) == 1
    assert len({transfer.reason for transfer, _ in results}) == 1
    assert await db.raw["transfers"].count_documents({}) == 1


async def test_transfer_status_updates_and_never_raises(db: Database, unreachable_db: Database) -> None:
    await db.transfers.request(call_sid="CA-T3", phone=None, reason="help", department="general", summary="")
    assert await db.transfers.set_status("CA-T3", "dialing") is True
    transfer = await db.transfers.get("CA-T3")
    assert transfer is not None and transfer.status == "dialing"
    assert await db.transfers.set_status("CA-missing", "failed") is False
    assert await unreachable_db.transfers.set_status("CA-T3", "failed") is False


# ------------------------------------------------------------------------------------------ seed data


async def test_seed_loads_the_data_set_and_is_idempotent(db: Database) -> None:
    counts = await seed_database(db)
    assert counts == {"customers": 50, "products": 61, "orders": 200, "knowledge": 51}

    async def snapshot() -> dict[str, list[dict]]:
        return {
            name: await db.raw[name].find({}).sort("_id", 1).to_list()
            for name in ("customers", "products", "orders", "knowledge")
        }

    before = await snapshot()
    assert await seed_database(db) == counts
    assert await snapshot() == before
    assert {name: len(docs) for name, docs in before.items()} == counts


def test_seed_data_set_is_realistic() -> None:
    customers, products, orders = load_seed_records()
    assert len(products) >= 50 and len({product.category for product in products}) >= 10
    for product in products:
        assert product.hinglish_aliases, product.sku
        assert any(DEVANAGARI.search(alias) for alias in product.hindi_aliases), product.sku
    assert len(customers) == 50 and all(customer.phone.startswith("+91") for customer in customers)
    assert len({customer.phone for customer in customers}) == 50
    assert len(orders) == 200 and len({order.order_id for order in orders}) == 200
    assert {order.status for order in orders} == set(ORDER_STATUSES)
    assert {order.payment_method for order in orders} == {"COD", "UPI", "card"}
    phones = {customer.phone for customer in customers}
    assert all(order.customer_phone in phones for order in orders)
    skus = {product.sku for product in products}
    assert all(item.sku in skus for order in orders for item in order.items)
    out_of_stock = [product.sku for product in products if product.total_stock == 0]
    assert "PRS-CKR-5L" in out_of_stock


def test_demo_customers_are_in_the_data_set() -> None:
    customers, _, orders = load_seed_records()
    by_phone = {customer.phone: customer for customer in customers}
    assert by_phone[DEMO_PHONE].name == "Rahul Sharma" and by_phone[DEMO_PHONE].pincode == "110017"
    assert by_phone[OTHER_DEMO_PHONE].pincode == "560034"
    demo = {order.order_id: order for order in orders if order.customer_phone == DEMO_PHONE}
    assert set(demo) == set(DEMO_ORDER_IDS)
    assert {order.status for order in demo.values()} == {
        "shipped",
        "delivered",
        "out_for_delivery",
        "cancelled",
        "placed",
    }
    other = {order.order_id for order in orders if order.customer_phone == OTHER_DEMO_PHONE}
    assert other == set(OTHER_DEMO_ORDER_IDS)


def test_seed_files_are_what_the_generator_writes() -> None:
    """The JSON in the repo is exactly the deterministic generator's output."""
    spec = importlib.util.spec_from_file_location("generate_seed_data", DATA_DIR / "generate_seed_data.py")
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    rng = generator.random.Random(generator.SEED)
    products = generator.build_products(rng)
    customers = generator.build_customers(rng)
    orders = generator.build_orders(rng, customers, products)
    for name, records in (("products", products), ("customers", customers), ("orders", orders)):
        assert json.loads((DATA_DIR / f"{name}.json").read_text(encoding="utf-8")) == records, name


# ------------------------------------------------------------------------------------------ product search


@pytest.mark.parametrize(
    ("query", "sku"),
    [
        ("boAt Airdopes", "BOAT-AD141"),
        ("airdops", "BOAT-AD141"),  # misspelt
        ("pankha", "HVL-FAN-1200"),  # Hinglish
        ("पंखा", "HVL-FAN-1200"),  # Devanagari
        ("प्रेशर कुकर", "PRS-CKR-5L"),
        ("mujhe ek hawkins kukar chahiye", "HWK-CKR-5L"),  # filler words around the name
        ("chai patti", "TATA-TEA-1"),
        ("बासमती चावल", "IG-BASMATI-5"),
        ("saikil", "HERO-CYC-26"),
        ("redmi note terah", "RDM-N13-128"),
    ],
)
async def test_product_search_understands_names_and_aliases(seeded_db: Database, query: str, sku: str) -> None:
    matches = await seeded_db.products.search(query)
    assert matches and matches[0].sku == sku, matches


@pytest.mark.parametrize("query", ["washing machine", "refrigerator", "xyz", "", "   ", "?!"])
async def test_product_search_finds_nothing_for_unknown_products(seeded_db: Database, query: str) -> None:
    assert await seeded_db.products.search(query) == []


def test_match_score_does_not_match_inside_words() -> None:
    # "tel" (oil) must not match "Intel" in a laptop's name the way a substring search would.
    assert match_score("tel", fold_for_search("HP 15s Laptop Intel Core i5")) < 75
    assert match_score("tel", fold_for_search("khane ka tel")) == 100
    assert match_score("bat", fold_for_search("boAt Airdopes")) < 75
    assert match_score("presure cookar", fold_for_search("Pressure Cooker")) > 85
    assert fold_for_search("प्रेशर  कुकर!") == "प्रेशर कुकर"  # vowel signs kept, punctuation dropped


async def test_search_cache_sees_new_products_after_upsert(db: Database) -> None:
    await seed_database(db)
    assert await db.products.search("gas stove") == []
    stove = Product(
        sku="PGN-STOVE-2B",
        name="Pigeon 2 Burner Gas Stove",
        hinglish_aliases=["gas chulha"],
        hindi_aliases=["गैस चूल्हा"],
        category="kitchen",
        subcategory="gas_stove",
        price_inr=2499,
        stock={"GGN": 5},
    )
    await db.products.upsert_many([stove])
    assert (await db.products.search("गैस चूल्हा"))[0].sku == "PGN-STOVE-2B"


async def test_alternatives_are_the_same_kind_of_product(seeded_db: Database) -> None:
    cooker = await seeded_db.products.get("PRS-CKR-5L")
    assert cooker is not None
    alternatives = await seeded_db.products.alternatives_to(cooker)
    assert [product.sku for product in alternatives] == ["HWK-CKR-5L"]


def test_delivery_quote_uses_the_serving_warehouse() -> None:
    product = Product(
        sku="T-1",
        name="Test",
        category="c",
        subcategory="s",
        price_inr=10,
        stock={"GGN": 0, "BHW": 5},
        serviceable=[
            {"pincode": "110017", "warehouse": "GGN", "delivery_days": 1},
            {"pincode": "400076", "warehouse": "BHW", "delivery_days": 1},
        ],
    )
    assert product.delivery_quote("400076").delivery_days == 1
    assert product.delivery_quote("110017").delivery_days == 3  # shipped from the other warehouse
    assert product.delivery_quote("110017", quantity=6).in_stock is False
    assert product.delivery_quote("560034").deliverable is False
    assert product.delivery_quote(None).deliverable is None


def test_data_dir_holds_the_generator_and_files() -> None:
    names = {path.name for path in DATA_DIR.iterdir()}
    assert {"generate_seed_data.py", "customers.json", "products.json", "orders.json"} <= names
