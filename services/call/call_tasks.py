"""The background tasks one call owns: started by name, all cancelled (bounded) when the call closes."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable
from typing import Any

from utils.logger import get_logger

log = get_logger(__name__)

CANCEL_GRACE_S = 3.0


class CallTasks:
    def __init__(self, call_sid: str) -> None:
        self._call_sid = call_sid
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coroutine: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.create_task(coroutine, name=f"{name}-{self._call_sid}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self, others: Iterable[asyncio.Task[Any]] = ()) -> None:
        """Cancel every task (and `others`, e.g. running tools) but the caller's own, and wait for them."""
        current = asyncio.current_task()
        to_cancel = [t for t in [*self._tasks, *others] if t is not current]
        for task in to_cancel:
            task.cancel()
        if to_cancel:
            # Bounded: a library that swallows a cancellation must not keep the call open forever.
            _, stuck = await asyncio.wait(to_cancel, timeout=CANCEL_GRACE_S)
            for task in stuck:
                log.error("task_did_not_stop", task=task.get_name(), call_sid=self._call_sid)
