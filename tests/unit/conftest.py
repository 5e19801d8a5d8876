"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.realtime_server import FakeRealtimeServer


@pytest.fixture
async def fake() -> AsyncIterator[FakeRealtimeServer]:
    """A fake OpenAI Realtime server on loopback, for one test."""
    async with FakeRealtimeServer() as server:
        yield server
