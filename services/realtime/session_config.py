"""The Realtime session a phone call needs (GA `session.update`): μ-law both ways, server VAD."""

from __future__ import annotations

from typing import Any

from config.agent_config import AgentConfig
from config.agent_file import greeting_for
from config.settings import Settings


def build_session_config(settings: Settings, agent: AgentConfig, tools: list[dict[str, Any]]) -> dict[str, Any]:
    """The `session` object of `session.update` for a phone bridge."""
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


def greeting_instructions(
    agent: AgentConfig, direction: str, purpose: str | None, preferred_language: str | None = None
) -> str:
    """What the assistant opens the call with, in the customer's preferred language when their record
    says one; an outbound call states why we called."""
    greeting = greeting_for(agent, preferred_language)
    if direction == "outbound" and purpose:
        return f"This is an outbound call we placed. Purpose: {purpose}. {greeting}"
    return greeting
