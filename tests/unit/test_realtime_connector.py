"""RealtimeConnector's `session.update`: built and typed once, sent as the SDK would send it, applied by the
server (the fake Realtime server validates every client event against the GA protocol)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from openai._utils import async_maybe_transform
from openai.types.realtime.realtime_client_event_param import RealtimeClientEventParam

from config.agent_config import DEFAULT_AGENT_CONFIG
from services.realtime.connector import RealtimeConnector
from services.realtime.session_config import build_session_config
from services.tools import build_tool_registry
from tests.fakes.realtime_server import FakeRealtimeServer
from tests.stack import make_settings

TOOLS = build_tool_registry().session_tools()


@pytest.fixture
async def connector(fake: FakeRealtimeServer) -> AsyncIterator[RealtimeConnector]:
    connector = RealtimeConnector(make_settings(openai_websocket_base_url=fake.url), DEFAULT_AGENT_CONFIG, TOOLS)
    yield connector
    await connector.aclose()


async def test_session_update_is_the_event_the_sdks_typed_send_would_write(connector: RealtimeConnector) -> None:
    session = build_session_config(make_settings(), DEFAULT_AGENT_CONFIG, TOOLS)
    event = {"type": "session.update", "session": session}
    # What `rt.session.update(session=...)` serialises (AsyncRealtimeConnection.send of a TypedDict).
    typed: Any = await async_maybe_transform(event, RealtimeClientEventParam)
    sent = connector.session_update()
    assert json.loads(sent) == typed
    assert connector.session_update() is sent  # built once per process, not per call


async def test_every_connection_gets_the_session_applied(
    fake: FakeRealtimeServer, connector: RealtimeConnector
) -> None:
    for _ in range(2):  # the second one reuses the text built for the first
        rt = await connector.open_configured()
        await rt.close()
    sessions = await fake.wait_for_sessions(2)
    for session in sessions:
        await session.wait_for_event("session.updated")
        assert session.state["audio"]["input"]["format"] == {"type": "audio/pcmu"}
        assert session.state["audio"]["output"]["format"] == {"type": "audio/pcmu"}
        assert session.state["instructions"] == DEFAULT_AGENT_CONFIG.instructions
        assert {tool["name"] for tool in session.state["tools"]} == {tool["name"] for tool in TOOLS}
    assert not fake.violations
