"""Opening OpenAI Realtime (GA) connections with the openai SDK, and starting a conversation on one.

The SDK's `AsyncRealtimeConnection` does what it is good at here — its models of the events we send
(`session.update` by its `SessionUpdateEvent`, built once per process; `response.create` and the rest by
`services.realtime.client_events`), its auth headers — on an aiohttp socket
(`services.realtime.transport`: why). The per-frame audio path (`services.call.realtime_link`) uses the
raw send and read of the socket under the same connection instead, because the typed helpers cost ~60x
more per frame.
"""

from __future__ import annotations

import asyncio
from typing import Any

from openai import AsyncOpenAI
from openai.resources.realtime.realtime import AsyncRealtimeConnection
from openai.types.realtime import SessionUpdateEvent

from config.agent_config import AgentConfig
from config.settings import Settings
from services.realtime.client_events import client_event_text
from services.realtime.session_config import build_session_config
from services.realtime.transport import RealtimeTransport

MAX_MESSAGE_BYTES = 16 * 1024 * 1024


class RealtimeConnector:
    """Opens Realtime connections; the AsyncOpenAI client (and its settings) is shared by the process."""

    def __init__(self, settings: Settings, agent: AgentConfig, tools: list[dict[str, Any]]) -> None:
        self._settings = settings
        self._agent = agent
        self._tools = tools
        self._client = AsyncOpenAI(
            api_key=settings.openai_api_key.get_secret_value(),
            websocket_base_url=settings.openai_websocket_base_url,
        )
        self._transport = RealtimeTransport(
            self._client, settings.openai_websocket_base_url, max_message_bytes=MAX_MESSAGE_BYTES
        )
        self._session_update: str | None = None

    async def open(self) -> AsyncRealtimeConnection:
        """Connect within the configured timeout; raises on failure (the caller plays the apology)."""
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for loses a cancellation that arrives as the
        # connect completes, and the call's task would then go on (e.g. a rotation after hang-up).
        async with asyncio.timeout(self._settings.openai_connect_timeout_s):
            return await self._transport.connect(self._settings.openai_realtime_model)

    async def open_configured(self) -> AsyncRealtimeConnection:
        """A connection with our session configuration applied (the one place it is built)."""
        rt = await self.open()
        try:
            await rt.send_raw(self.session_update())
        except BaseException:
            await rt.close()
            raise
        return rt

    def session_update(self) -> str:
        """Our `session.update` as sent: validated by the SDK's own model of the event and serialised the
        first time, then reused. It is the same for every call of the process, and typing it per call
        (`rt.session.update`) cost ~1 ms of the event loop at every call start."""
        if self._session_update is None:
            session = build_session_config(self._settings, self._agent, self._tools)
            event = SessionUpdateEvent.model_validate({"type": "session.update", "session": session})
            self._session_update = event.to_json(use_api_names=True, exclude_unset=True, indent=None)
        return self._session_update

    async def open_conversation(self, greeting: str) -> AsyncRealtimeConnection:
        """A configured session whose greeting is already under way: the assistant speaks first.

        The one place a conversation is opened, whether at webhook time (pre-open) or by the stream.
        """
        rt = await self.open_configured()
        try:
            await rt.send_raw(client_event_text({"type": "response.create", "response": {"instructions": greeting}}))
        except BaseException:
            await rt.close()
            raise
        return rt

    async def aclose(self) -> None:
        await self._transport.aclose()
        await self._client.close()
