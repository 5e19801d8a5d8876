"""Load the sample data set in `data/*.json` (`python app.py seed`).

Idempotent: every record is replaced-or-inserted by its natural id, so a second run leaves the
same documents (same `_id`s too). The JSON files are produced by `data/generate_seed_data.py`.
"""

from __future__ import annotations

import json
from pathlib import Path

from models.commerce import Customer, Order, Product
from services.store.database import Database

DATA_DIR = Path(__file__).resolve().parents[2] / "data"  # the repository's data/

DEMO_PHONE = "+919876543210"  # Rahul Sharma, pincode 110017
DEMO_ORDER_IDS = ("ORD-482913", "ORD-482914", "ORD-482915", "ORD-482916", "ORD-482917")
OTHER_DEMO_PHONE = "+919812345678"  # Priya Nair, pincode 560034
OTHER_DEMO_ORDER_IDS = ("ORD-731205", "ORD-731206")


def _read(name: str, data_dir: Path) -> list[object]:
    """The records of one JSON file, unvalidated (the caller validates each into its model)."""
    records = json.loads((data_dir / name).read_text(encoding="utf-8"))
    if not isinstance(records, list):
        raise ValueError(f"{data_dir / name}: expected a JSON array of records")
    return records


def load_seed_records(data_dir: Path = DATA_DIR) -> tuple[list[Customer], list[Product], list[Order]]:
    """Parse and validate every record before touching the database, so a bad file writes nothing."""
    customers = [Customer.model_validate(item) for item in _read("customers.json", data_dir)]
    products = [Product.model_validate(item) for item in _read("products.json", data_dir)]
    orders = [Order.model_validate(item) for item in _read("orders.json", data_dir)]
    return customers, products, orders


async def seed_database(db: Database, data_dir: Path = DATA_DIR) -> dict[str, int]:
    """Upsert the data set; returns how many records of each kind were loaded."""
    customers, products, orders = load_seed_records(data_dir)
    await db.ensure_indexes()
    return {
        "customers": await db.customers.upsert_many(customers),
        "products": await db.products.upsert_many(products),
        "orders": await db.orders.upsert_many(orders),
    }
