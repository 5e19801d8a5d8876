"""OpenAI Realtime (GA): the session configuration and opening the connection with the openai SDK.

The SDK does what it is good at here — URL, auth headers, typed `session.update` and
`response.create`. The per-frame audio path in `call_session` uses the same connection's raw
send / `recv_bytes()` instead, because the typed helpers cost ~60x more per frame.
"""

from __future__ import annotations

import asyncio
from typing import Any

from openai import AsyncOpenAI
from openai.resources.realtime.realtime import AsyncRealtimeConnection

from config.agent_config import AgentConfig
from config.settings import Settings


def build_session_config(settings: Settings, agent: AgentConfig, tools: list[dict[str, Any]]) -> dict[str, Any]:
    """The `session` object of `session.update` for a phone bridge: μ-law both ways, server VAD."""
    vad = agent.vad
    turn_detection: dict[str, Any] = {
        "type": "server_vad",
        "threshold": vad.threshold,
        "prefix_padding_ms": vad.prefix_padding_ms,
        "silence_duration_ms": vad.silence_duration_ms,
        "create_response": True,
        "interrupt_response": True,
    }
    if vad.idle_timeout_ms:
        turn_detection["idle_timeout_ms"] = vad.idle_timeout_ms
    audio_input: dict[str, Any] = {
        "format": {"type": "audio/pcmu"},
        "turn_detection": turn_detection,
        "transcription": {
            "model": agent.transcription_model,
            "languages": agent.transcription_languages,
            "keywords": agent.transcription_keywords,
        },
        "noise_reduction": {"type": agent.noise_reduction} if agent.noise_reduction else None,
    }
    return {
        "type": "realtime",
        "model": settings.openai_realtime_model,
        "output_modalities": ["audio"],
        "instructions": agent.instructions,
        "audio": {
            "input": audio_input,
            "output": {"format": {"type": "audio/pcmu"}, "voice": settings.openai_realtime_voice},
        },
        "tools": tools,
        "tool_choice": "auto" if tools else "none",
        "max_output_tokens": agent.max_output_tokens,
    }


def greeting_instructions(agent: AgentConfig, direction: str, purpose: str | None) -> str:
    if direction == "outbound" and purpose:
        return f"This is an outbound call we placed. Purpose: {purpose}. {agent.greeting_instructions}"
    return agent.greeting_instructions


async def start_conversation(
    rt: AsyncRealtimeConnection, settings: Settings, agent: AgentConfig, tools: list[dict[str, Any]], greeting: str
) -> None:
    """Configure the session, then ask for the greeting: the assistant speaks first."""
    await rt.session.update(session=build_session_config(settings, agent, tools))  # type: ignore[arg-type]
    await rt.response.create(response={"instructions": greeting})


class RealtimeConnector:
    """Opens one Realtime connection per call; the AsyncOpenAI client is shared by the process."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client = AsyncOpenAI(
            api_key=settings.openai_api_key.get_secret_value(),
            websocket_base_url=settings.openai_websocket_base_url,
        )

    async def open(self) -> AsyncRealtimeConnection:
        """Connect within the configured timeout; raises on failure (the caller plays the apology)."""
        manager = self._client.realtime.connect(
            model=self._settings.openai_realtime_model,
            # Phone calls end cleanly instead of reconnecting: a new socket would be a new conversation.
            # No permessage-deflate: compressing base64 audio costs CPU per frame and saves little.
            websocket_connection_options={"max_size": 16 * 1024 * 1024, "compression": None},
        )
        return await asyncio.wait_for(manager.enter(), timeout=self._settings.openai_connect_timeout_s)

    async def aclose(self) -> None:
        await self._client.close()
