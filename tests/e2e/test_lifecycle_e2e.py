"""Lifecycle: calls end through one path, leave no task or socket behind, and shutdown drains them."""

from __future__ import annotations

import asyncio

import pytest

from devtools.ferretdb import free_port
from services import metrics
from services.store.database import Database
from tests.fakes.realtime_server import Script
from tests.stack import LiveStack, live_stack

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
async def stack(mongo_uri: str, database_name: str):
    async with live_stack(mongo_uri, database_name) as running:
        yield running


def call_tasks() -> list[asyncio.Task]:
    """The app's per-call tasks (the session names them after the call sid; the simulator's are "twilio-sim-")."""
    return [
        t
        for t in asyncio.all_tasks()
        if "-CA" in t.get_name() and not t.get_name().startswith("twilio-sim") and not t.done()
    ]


async def caller_hangs_up(stack: LiveStack, index: int) -> None:
    call = await stack.sim.place_call(from_=f"+9191{index:08d}")
    await call.connect_stream()
    await call.wait_for(lambda: call.received_media_bytes > 0, timeout=15)
    await call.hangup()


async def realtime_drops(stack: LiveStack, index: int) -> None:
    """The other side goes first: the Realtime session drops and cannot be reopened, so the app
    apologises and ends the call (every reconnect attempt is refused)."""
    known = len(stack.realtime.sessions)
    call = await stack.sim.place_call(from_=f"+9191{index:08d}")
    await call.connect_stream()
    (*_, session) = await stack.realtime.wait_for_sessions(known + 1, timeout=10)
    await call.wait_for(lambda: call.received_media_bytes > 0, timeout=15)
    stack.realtime.fail_connect = True
    try:
        await session.disconnect(code=1011)
        await call.wait_closed(timeout=10)
    finally:
        stack.realtime.fail_connect = False


async def test_fifty_calls_leave_nothing_behind(stack: LiveStack) -> None:
    stack.realtime.script = Script(greeting_ms=200)
    active_before = metrics.ACTIVE_CALLS._value.get()
    for batch in range(4):
        await asyncio.gather(*(caller_hangs_up(stack, batch * 10 + i) for i in range(10)))
    for index in range(40, 50):
        await realtime_drops(stack, index)
    await stack.sim.calls[-1].wait_for(lambda: len(stack.services.live_calls) == 0, timeout=10)

    assert len(stack.realtime.sessions) == 50
    await asyncio.wait_for(asyncio.gather(*(s.closed.wait() for s in stack.realtime.sessions)), timeout=10)
    assert len(stack.services.live_calls) == 0
    assert call_tasks() == []
    assert metrics.ACTIVE_CALLS._value.get() == active_before
    # uvicorn's own view: no connection is still open to the app.
    await stack.sim.aclose()
    for _ in range(100):
        if not stack.server.server_state.connections:
            break
        await asyncio.sleep(0.05)
    assert not stack.server.server_state.connections
    stack.realtime.assert_clean()


@pytest.mark.parametrize("listener", ["uvicorn", "stream-port"])
async def test_shutdown_ends_live_calls_cleanly(
    mongo_uri: str, database_name: str, mongo_client, listener: str
) -> None:
    overrides = {"stream_port": free_port()} if listener == "stream-port" else {}
    async with live_stack(mongo_uri, database_name, **overrides) as stack:
        calls = []
        for i in range(3):
            call = await stack.sim.place_call(from_=f"+9192{i:08d}")
            await call.connect_stream()
            calls.append(call)
        await stack.realtime.wait_for_sessions(3)
        stack.server.should_exit = True
        for call in calls:
            assert await call.wait_closed(timeout=15) == 1012, "closed as a service restart, on either listener"
    # After the server has stopped, every record was finalised with the reason.
    repository = Database(mongo_client, database_name).calls
    records = [await repository.get(c.call_sid) for c in calls]
    assert [r and r.get("end_reason") for r in records] == ["server_shutdown"] * 3
    assert all(r["ended_at"] is not None for r in records)
    assert call_tasks() == []
