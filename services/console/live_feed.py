"""One shared poller per process for the console's live views, fanned out to every SSE client.

Live views read shared state (the `calls` collection), so they work on any node behind a load balancer.
Whatever the number of open browsers, each tick costs one bounded query for the board
(`CallRepository.live`) plus one `_id` read per call someone is following. The poller runs only while
someone listens. Each subscriber holds only the newest snapshot (a slow browser skips states, it never
queues them); a snapshot is published when it changed, and at least every `refresh_every` ticks so
durations move on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pymongo.errors import PyMongoError

from models.call_record import utc_now
from services.store.calls import CallRepository
from services.store.client import Document
from utils.logger import get_logger

log = get_logger(__name__)

BOARD = "board"
BOARD_LIMIT = 50
TRANSFER_LOOKBACK = timedelta(hours=2)  # a transfer card stays while its status is open, this long at most


@dataclass
class _Topic:
    subscribers: set[asyncio.Queue[Any]] = field(default_factory=set)
    last: Any = None
    fingerprint: str | None = None
    ticks_unchanged: int = 0


class LiveFeed:
    def __init__(self, calls: CallRepository, *, interval_s: float, refresh_every: int = 5) -> None:
        self._calls = calls
        self._interval = interval_s
        self._refresh_every = refresh_every
        self._topics: dict[str, _Topic] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.polls = 0  # ticks run (tests check that clients share them)

    @staticmethod
    def call_topic(call_sid: str) -> str:
        return f"call:{call_sid}"

    @contextlib.asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[asyncio.Queue[Any]]:
        """A queue that gets each new snapshot of `topic` (a list of documents for the board, one
        document or None for a call), the current one first."""
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=1)
        state = self._topics.setdefault(topic, _Topic())
        state.subscribers.add(queue)
        if state.fingerprint is not None:
            queue.put_nowait(state.last)
        else:
            self._wake.set()
        self._ensure_running()
        try:
            yield queue
        finally:
            state.subscribers.discard(queue)
            if not state.subscribers:
                self._topics.pop(topic, None)

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="console-live-feed")

    async def _run(self) -> None:
        while self._topics:
            try:
                await self._tick()
            except PyMongoError as error:  # the views go stale until the database is back
                log.warning("console_feed_poll_failed", error=type(error).__name__)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._interval)

    async def _tick(self) -> None:
        self.polls += 1
        for topic in list(self._topics):
            snapshot: Any
            if topic == BOARD:
                snapshot = await self._calls.live(limit=BOARD_LIMIT, recent_since=utc_now() - TRANSFER_LOOKBACK)
            else:
                snapshot = await self._calls.get(topic.removeprefix("call:"))
            self._publish(topic, snapshot)

    def _publish(self, topic: str, snapshot: list[Document] | Document | None) -> None:
        state = self._topics.get(topic)
        if state is None:
            return
        fingerprint = repr(snapshot)
        state.ticks_unchanged += 1
        if fingerprint == state.fingerprint and state.ticks_unchanged < self._refresh_every:
            return
        state.fingerprint, state.last, state.ticks_unchanged = fingerprint, snapshot, 0
        for queue in state.subscribers:
            if queue.full():
                queue.get_nowait()  # drop the state this client has not taken yet: newest wins
            queue.put_nowait(snapshot)

    async def aclose(self) -> None:
        self._topics.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
