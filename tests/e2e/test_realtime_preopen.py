"""Pre-opened Realtime sessions: claimed by their stream, closed when nobody claims them, None on failure."""

from __future__ import annotations

import asyncio

import pytest

from config.agent_config import DEFAULT_AGENT_CONFIG
from services.realtime.connector import RealtimeConnector
from services.realtime.preopen import PreopenedRealtime
from tests.fakes.realtime_server import FakeRealtimeServer
from tests.stack import make_settings

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
async def fake():
    async with FakeRealtimeServer() as server:
        yield server


async def test_claimed_in_time_gives_the_open_connection(fake: FakeRealtimeServer) -> None:
    connector = RealtimeConnector(make_settings(openai_websocket_base_url=fake.url), DEFAULT_AGENT_CONFIG, [])
    registry = PreopenedRealtime(ttl_s=5)
    registry.start("CA1", connector.open)
    registry.start("CA1", connector.open)  # a retried webhook does not open a second session
    rt = await registry.claim("CA1")
    assert rt is not None
    assert await registry.claim("CA1") is None, "a session is claimed once"
    assert len(fake.sessions) == 1
    await rt.close()
    await connector.aclose()


async def test_unclaimed_session_is_closed_after_the_ttl(fake: FakeRealtimeServer) -> None:
    connector = RealtimeConnector(make_settings(openai_websocket_base_url=fake.url), DEFAULT_AGENT_CONFIG, [])
    registry = PreopenedRealtime(ttl_s=0.2)
    registry.start("CA2", connector.open)
    (session,) = await fake.wait_for_sessions(1)
    await asyncio.wait_for(session.closed.wait(), timeout=3)
    assert await registry.claim("CA2") is None
    await registry.aclose()
    await connector.aclose()


async def test_failed_preopen_claims_none(fake: FakeRealtimeServer) -> None:
    fake.fail_connect = True
    connector = RealtimeConnector(make_settings(openai_websocket_base_url=fake.url), DEFAULT_AGENT_CONFIG, [])
    registry = PreopenedRealtime(ttl_s=5)
    registry.start("CA3", connector.open)
    assert await registry.claim("CA3") is None
    await registry.aclose()
    await connector.aclose()
