"""Realtime sessions opened at webhook time, so the greeting is ready when the media stream starts.

The OpenAI handshake, `session.update` and the greeting's generation then overlap Twilio's own stream
set-up instead of following it (see bench/README.md for the measured gain). A session not claimed by
its stream within the TTL is closed. Behind a load balancer the webhook and the stream can land on
different nodes; the stream then simply opens its own session and the orphan expires.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

from openai.resources.realtime.realtime import AsyncRealtimeConnection

from services import metrics
from utils.logger import get_logger

log = get_logger(__name__)

Opener = Callable[[], Coroutine[Any, Any, AsyncRealtimeConnection]]


class PreopenedRealtime:
    def __init__(self, ttl_s: float = 20.0) -> None:
        self._ttl_s = ttl_s
        self._pending: dict[str, asyncio.Task[AsyncRealtimeConnection]] = {}
        self._expiry: dict[str, asyncio.TimerHandle] = {}
        self._closing: set[asyncio.Task[None]] = set()

    def start(self, call_sid: str, opener: Opener) -> None:
        """Begin opening a session for this call (idempotent: Twilio may retry the webhook)."""
        if call_sid in self._pending:
            return
        task = asyncio.create_task(opener(), name=f"preopen-{call_sid}")
        task.add_done_callback(_consume_failure)
        self._pending[call_sid] = task
        self._expiry[call_sid] = asyncio.get_running_loop().call_later(self._ttl_s, self._expire, call_sid)

    async def claim(self, call_sid: str) -> AsyncRealtimeConnection | None:
        """The call's pre-opened session, or None (none started, or it failed: open a fresh one)."""
        task = self._pending.pop(call_sid, None)
        timer = self._expiry.pop(call_sid, None)
        if timer is not None:
            timer.cancel()
        if task is None:
            return None
        try:
            return await task
        except Exception as error:
            metrics.REALTIME_ERRORS.labels(code="preopen_failed").inc()
            log.warning("realtime_preopen_failed", call_sid=call_sid, error=repr(error))
            return None

    def _expire(self, call_sid: str) -> None:
        self._expiry.pop(call_sid, None)
        task = self._pending.pop(call_sid, None)
        if task is not None:
            log.info("realtime_preopen_expired", call_sid=call_sid)
            closer = asyncio.create_task(_close_when_done(task))
            self._closing.add(closer)
            closer.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        for timer in self._expiry.values():
            timer.cancel()
        tasks = list(self._pending.values())
        self._pending.clear()
        self._expiry.clear()
        await asyncio.gather(*(_close_when_done(task) for task in tasks), *self._closing)


async def _close_when_done(task: asyncio.Task[AsyncRealtimeConnection]) -> None:
    with contextlib.suppress(Exception, asyncio.CancelledError):
        rt = await asyncio.wait_for(task, timeout=10)
        await rt.close()


def _consume_failure(task: asyncio.Task[AsyncRealtimeConnection]) -> None:
    # Failures are reported by claim(); this only stops "exception was never retrieved" noise.
    if not task.cancelled():
        task.exception()
