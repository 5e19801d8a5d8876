"""The calls live on this node, by call sid (callbacks and admin reads find a call here, not by scanning)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from typing import Protocol

from models.call_record import CallRecord


class LiveCall(Protocol):
    @property
    def call_sid(self) -> str: ...

    @property
    def record(self) -> CallRecord: ...

    def update_record(self, change: Callable[[CallRecord], None]) -> bool:
        """Apply a change to the live record (its writer saves it); False once the record is sealed."""
        ...

    async def record_saved(self) -> None:
        """Until the call's final record write is done."""
        ...

    def end(self, reason: str) -> None: ...

    async def add_staff_note(self, text: str, author: str) -> bool:
        """Context for the assistant only (never read out); False if the Realtime link is down."""
        ...

    async def close(self, reason: str) -> None: ...


class LiveCalls:
    def __init__(self, on_added: Callable[[], None] | None = None) -> None:
        """`on_added`: told each time a call is added (the loop pacer starts with the first)."""
        self._calls: dict[str, LiveCall] = {}
        self._on_added = on_added

    def add(self, call: LiveCall) -> None:
        self._calls[call.call_sid] = call
        if self._on_added is not None:
            self._on_added()

    def remove(self, call: LiveCall) -> None:
        if self._calls.get(call.call_sid) is call:
            del self._calls[call.call_sid]

    def get(self, call_sid: str) -> LiveCall | None:
        return self._calls.get(call_sid)

    def __len__(self) -> int:
        return len(self._calls)

    def __iter__(self) -> Iterator[LiveCall]:
        return iter(list(self._calls.values()))

    async def drain(self, reason: str = "server_shutdown", timeout_s: float = 10.0) -> None:
        """End every live call through its normal close path (bounded): the last step of any shutdown.

        After a SIGTERM drain (`services.admission.Drain`) nothing is left to end here."""
        calls = list(self._calls.values())
        for call in calls:
            call.end(reason)
        if calls:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(*(call.close(reason) for call in calls), return_exceptions=True), timeout_s
                )
