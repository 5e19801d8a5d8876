"""Console accounts on the real test database: argon2 hashes, the lockout window, resets, the create-user
command, and the shared live feed (one poll serves every listener)."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from models.call_record import utc_now
from services.console.accounts import AccountError, ConsoleAccounts
from services.console.live_feed import BOARD, LiveFeed
from services.store.client import create_mongo_client
from services.store.database import Database
from tests.console_client import live_record
from tests.stack import run_app_command

WINDOW = timedelta(seconds=900)


@pytest.fixture
async def db(mongo_uri: str) -> AsyncIterator[Database]:
    client = create_mongo_client(mongo_uri)
    database = Database(client, f"console_{uuid.uuid4().hex[:12]}")
    try:
        yield database
    finally:
        await client.drop_database(database.raw.name)
        await client.close()


def accounts_of(db: Database, max_failures: int = 3) -> ConsoleAccounts:
    return ConsoleAccounts(db.console_users, max_failures=max_failures, lockout_window_s=int(WINDOW.total_seconds()))


async def test_passwords_are_stored_as_argon2_hashes_and_checked(db: Database) -> None:
    accounts = accounts_of(db)
    assert await accounts.create_user("  Meera ", "staff", "correct-horse-1") is True
    stored = await db.console_users.collection.find_one({"_id": "meera"})
    assert stored is not None and stored["password_hash"].startswith("$argon2id$")
    assert "correct-horse-1" not in str(stored)
    assert (await accounts.login("MEERA", "correct-horse-1")).ok
    assert not (await accounts.login("meera", "correct-horse-2")).ok
    assert not (await accounts.login("meera", "")).ok
    for name, password in (("x", "long-enough-pw"), ("bad name", "long-enough-pw"), ("meera", "short")):
        with pytest.raises(AccountError):
            await accounts.create_user(name, "staff", password)


async def test_lockout_counts_within_the_window_then_opens_again(db: Database) -> None:
    accounts = accounts_of(db)
    await accounts.create_user("meera", "staff", "correct-horse-1")
    start = utc_now()
    assert (await accounts.login("meera", "wrong-1", now=start)).locked_until is None
    assert (await accounts.login("meera", "wrong-2", now=start + timedelta(seconds=1))).locked_until is None
    locked = await accounts.login("meera", "wrong-3", now=start + timedelta(seconds=2))
    assert locked.locked_until is not None
    assert abs((locked.locked_until - (start + timedelta(seconds=2) + WINDOW)).total_seconds()) < 0.01
    # While locked the right password is refused too.
    refused = await accounts.login("meera", "correct-horse-1", now=start + timedelta(seconds=60))
    assert not refused.ok and refused.locked_until is not None
    # After the window: the right password works and the count starts again.
    later = start + timedelta(seconds=2) + WINDOW + timedelta(seconds=1)
    assert (await accounts.login("meera", "correct-horse-1", now=later)).ok
    stored = await db.console_users.collection.find_one({"_id": "meera"})
    assert stored is not None and stored["failed_count"] == 0 and stored["locked_until"] is None


async def test_failures_spread_over_more_than_a_window_do_not_lock(db: Database) -> None:
    accounts = accounts_of(db)
    await accounts.create_user("meera", "staff", "correct-horse-1")
    start = utc_now()
    for step in range(6):  # one failure every two-thirds of a window: never three inside one window
        moment = start + WINDOW * (step * 2 / 3)
        assert (await accounts.login("meera", "wrong", now=moment)).locked_until is None


async def test_concurrent_failures_reach_the_lock(db: Database) -> None:
    accounts = accounts_of(db, max_failures=3)
    await accounts.create_user("meera", "staff", "correct-horse-1")
    # FerretDB (tests) may lose some of these concurrent increments (see services.store.calls); ten are
    # still well past the limit there, and MongoDB counts each one.
    await asyncio.gather(*(accounts.login("meera", f"wrong-{i}") for i in range(10)))
    assert not (await accounts.login("meera", "correct-horse-1")).ok


async def test_resetting_a_user_clears_its_lock(db: Database) -> None:
    accounts = accounts_of(db, max_failures=1)
    await accounts.create_user("meera", "staff", "correct-horse-1")
    assert (await accounts.login("meera", "wrong")).locked_until is not None
    assert await accounts.create_user("meera", "admin", "new-password-22") is False
    result = await accounts.login("meera", "new-password-22")
    assert result.ok and result.user is not None and result.user.role == "admin"


async def run_create_user(mongo_uri: str, database: str, *args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return await run_app_command(mongo_uri, database, "create-user", *args, stdin=stdin)


async def test_create_user_command_reads_the_password_from_stdin(mongo_uri: str, db: Database) -> None:
    name = db.raw.name
    created = await run_create_user(mongo_uri, name, "priya", "--role", "admin", stdin="first-admin-pw\n")
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == "created admin priya"
    result = await accounts_of(db).login("priya", "first-admin-pw")
    assert result.ok and result.user is not None and result.user.role == "admin"
    short = await run_create_user(mongo_uri, name, "ravi", "--role", "staff", stdin="short\n")
    assert short.returncode == 2 and "at least 10 characters" in short.stderr
    assert await db.console_users.get("ravi") is None
    bad_role = await run_create_user(mongo_uri, name, "ravi", "--role", "boss", stdin="long-enough-pw\n")
    assert bad_role.returncode == 2 and "invalid choice" in bad_role.stderr


async def test_one_shared_poll_serves_every_listener(db: Database) -> None:
    await db.calls.save(live_record("CA" + "a" * 32))
    feed = LiveFeed(db.calls, interval_s=30)  # long: only the first subscriber's wake-up polls
    try:
        async with feed.subscribe(BOARD) as first:
            snapshot = await asyncio.wait_for(first.get(), timeout=10)
            assert [document["call_sid"] for document in snapshot] == ["CA" + "a" * 32]
            listeners = [feed.subscribe(BOARD) for _ in range(5)]
            queues = [await listener.__aenter__() for listener in listeners]
            # Late subscribers get the current snapshot at once, without another query.
            assert [queue.get_nowait() for queue in queues] == [snapshot] * 5
            assert feed.polls == 1
            for listener in listeners:
                await listener.__aexit__(None, None, None)
    finally:
        await feed.aclose()
