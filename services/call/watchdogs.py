"""Watchdogs of a call: a silent caller is prompted then politely hung up on; no call outlives its cap.

Our own silence watchdog rather than server VAD's idle timeout, so the goodbye can be armed to end the
call once it has played.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from config.agent_config import AgentConfig
from utils.logger import get_logger

log = get_logger(__name__)

POLL_S = 0.25


class SilenceHost(Protocol):
    def conversation_is_idle(self) -> bool:
        """Nobody speaking, nothing playing, no tool or action running."""
        ...

    def caller_turns(self) -> int:
        """How many times the caller has started speaking."""
        ...

    async def tell_model(self, instruction: str) -> None: ...

    async def say_goodbye_and_hang_up(self, instruction: str, end_reason: str) -> None: ...

    def end(self, reason: str) -> None: ...


async def watch_silence(host: SilenceHost, agent: AgentConfig) -> None:
    """Prompt after `silence_prompt_after_s` of idle conversation; after the last prompt, say goodbye."""
    prompts = 0
    turns = host.caller_turns()
    last_activity = time.monotonic()
    # A quarter of the silence window, at most a second: a prompt comes at most that late, and the
    # caller's speech is counted (`caller_turns`), never missed between two looks.
    poll_s = min(1.0, agent.silence_prompt_after_s / 4)
    while True:
        await asyncio.sleep(poll_s)
        if host.caller_turns() != turns:  # the caller spoke: the next silence starts from the first prompt
            turns, prompts = host.caller_turns(), 0
        if not host.conversation_is_idle():
            last_activity = time.monotonic()
            continue
        if time.monotonic() - last_activity < agent.silence_prompt_after_s:
            continue
        last_activity = time.monotonic()
        if prompts < agent.silence_prompts_before_hangup:
            prompts += 1
            log.info("caller_silent_prompt")
            await host.tell_model(agent.silence_prompt_instruction)
        else:
            log.info("caller_silent_goodbye")
            await host.say_goodbye_and_hang_up(agent.silence_goodbye_instruction, "caller_silent")
            prompts = 0  # if the goodbye is called off (the caller spoke), start over


async def enforce_max_duration(host: SilenceHost, max_duration_s: float) -> None:
    await asyncio.sleep(max_duration_s)
    log.warning("max_call_duration_reached")
    host.end("max_duration")


class RotationHost(Protocol):
    def conversation_is_idle(self) -> bool: ...

    async def rotate_session(self) -> None: ...


class SessionAge(Protocol):
    @property
    def age_s(self) -> float: ...

    @property
    def down(self) -> bool: ...


async def rotate_before_cap(host: RotationHost, link: SessionAge, max_age_s: float) -> None:
    """Once the Realtime session is `max_age_s` old, move the call to a new one at a quiet moment."""
    while True:
        # Nothing to watch before the cap (a wake-up per call every POLL_S for an hour, otherwise).
        await asyncio.sleep(max(max_age_s - link.age_s, POLL_S))
        if link.age_s >= max_age_s and not link.down and host.conversation_is_idle():
            await host.rotate_session()
