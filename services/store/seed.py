"""Load the sample data set in `data/*.json` (`python app.py seed`) and the knowledge base.

Idempotent: every record is replaced-or-inserted by its natural id, so a second run leaves the
same documents (same `_id`s too; a knowledge entry whose text did not change keeps its `updated_at`).
The commerce JSON files are produced by `data/generate_seed_data.py`; the knowledge entries are written
by hand in `data/knowledge.json` (or any JSON/YAML file the agent config's `knowledge_seed_file` names).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from models.commerce import Customer, Order, Product
from models.knowledge import KnowledgeEntry
from services.store.database import Database

DATA_DIR = Path(__file__).resolve().parents[2] / "data"  # the repository's data/
KNOWLEDGE_SEED_FILE = DATA_DIR / "knowledge.json"

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


def load_knowledge_entries(path: Path = KNOWLEDGE_SEED_FILE) -> list[KnowledgeEntry]:
    """Every entry of a JSON or YAML list, validated (a bad entry stops the seed before any write)."""
    text = path.read_text(encoding="utf-8")
    records = yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else json.loads(text)
    if not isinstance(records, list):
        raise ValueError(f"{path}: expected a list of knowledge entries")
    entries = [KnowledgeEntry.model_validate(item) for item in records]
    ids = [entry.entry_id for entry in entries]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: duplicate entry_id")
    return entries


async def _upsert_knowledge(db: Database, entries: list[KnowledgeEntry]) -> int:
    for entry in entries:
        stored = await db.knowledge.get(entry.entry_id)
        if stored is None or stored.model_dump(exclude={"updated_at"}) != entry.model_dump(exclude={"updated_at"}):
            await db.knowledge.upsert(entry)
    return len(entries)


async def seed_database(
    db: Database, data_dir: Path = DATA_DIR, knowledge_file: Path = KNOWLEDGE_SEED_FILE
) -> dict[str, int]:
    """Upsert the data set; returns how many records of each kind were loaded."""
    customers, products, orders = load_seed_records(data_dir)
    knowledge = load_knowledge_entries(knowledge_file)  # validated before anything is written
    await db.ensure_indexes()
    return {
        "customers": await db.customers.upsert_many(customers),
        "products": await db.products.upsert_many(products),
        "orders": await db.orders.upsert_many(orders),
        "knowledge": await _upsert_knowledge(db, knowledge),
    }
