"""CALL_RECORD_RETENTION_DAYS: a TTL index on the call records' start time, created with the others;
changing the setting changes the expiry in place (MongoDB) and never stops start-up (FerretDB has no TTL)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from pymongo import AsyncMongoClient

from services.store.calls import CallRepository
from services.store.database import Database
from tests.stack import make_settings


def test_the_setting_is_optional_and_bounded() -> None:
    assert make_settings().call_record_retention_days is None
    assert make_settings(call_record_retention_days="30").call_record_retention_days == 30
    for bad in (0, -1, 3651, "forever"):
        with pytest.raises(ValidationError, match="call_record_retention_days"):
            make_settings(call_record_retention_days=bad)


def test_the_index_expires_records_days_after_their_start(mongo_client: AsyncMongoClient) -> None:
    plain = Database(mongo_client, "unused")
    assert all("expireAfterSeconds" not in index.document for index in plain.calls.indexes)
    kept = Database(mongo_client, "unused", call_record_retention_days=90)
    (ttl,) = [index.document for index in kept.calls.indexes if "expireAfterSeconds" in index.document]
    assert ttl["key"] == {"started_at": 1} and ttl["expireAfterSeconds"] == 90 * 86_400
    assert ttl["name"] == "started_at_retention"
    # The class's own declaration is untouched: another Database without retention gets no TTL.
    assert CallRepository.indexes == plain.calls.indexes and len(kept.calls.indexes) == len(plain.calls.indexes) + 1


async def test_start_up_creates_it_and_a_changed_setting_changes_it(
    mongo_client: AsyncMongoClient, database_name: str
) -> None:
    await Database(mongo_client, database_name, call_record_retention_days=30).ensure_indexes()
    # A restart with another retention: the same index name with another expiry must not fail start-up.
    changed = Database(mongo_client, database_name, call_record_retention_days=90)
    await changed.ensure_indexes()
    await changed.ensure_indexes()  # and again (every start)
    indexes = {index["name"]: index async for index in await changed.raw["calls"].list_indexes()}
    assert {"started_at_-1", "status_1_started_at_-1"} <= set(indexes)  # the other indexes were created
    build = await changed.raw.command("buildInfo")
    if "ferretdbVersion" in build:  # no TTL indexes there (code 238): skipped, nothing expires
        assert "started_at_retention" not in indexes
    else:
        assert indexes["started_at_retention"]["expireAfterSeconds"] == 90 * 86_400
