"""What the call path's operations cost inside the running app, under load (`bridge_load --op-costs`).

`bench.audio_path_micro` times each operation in a hot loop. In the running app the same code runs
between thousands of other messages: a handled control event arrives once per turn, and its validator
and caches are cold every time. So the figures it costs there are several times the hot loop's
(bench/README.md, "Round nine"). With `python -m bench.app_server --op-costs PATH`, the launcher wraps a
few of the app's own functions before serving and adds up the thread CPU time (`time.thread_time`)
each call takes:

- `type: <event>`: `server_events.typed`, the SDK's model of a handled event;
- `handle: <event>`: that event's handler in `CallSession._control_handlers`;
- `audio delta`: `CallSession._on_audio_delta`, ledger to media frame written (and its mark);
- `append write`: `AiohttpRealtimeSocket.send_now`, one append framed, masked and written;
- `media write`: `TwilioMediaStream.send_audio`, a media frame (and its mark) written;
- `carrier frame`: `TapQueue.feed_data`, one parsed carrier frame through the stream port's tap (the
  caller's audio to `append_audio`, and the append's write when a batch is complete).

The rows nest where the calls do: `audio delta` includes its `media write`, `carrier frame` the
`append write`s, and `handle: response.done` the mark it writes.

An awaited operation that suspends would count the other tasks' work until it resumes. These almost
never do (a write waits only when the socket is flow-controlled), so read those rows as upper bounds.
The totals go to PATH as JSON about once a second while operations run (and when
`Instrumentation.dump` runs); the wrapping costs ~1 µs per call (two clock reads), which is included.
Instrumentation only: nothing in the product imports this.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

DUMP_EVERY_S = 1.0


class OpCosts:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.totals: dict[str, list[float]] = {}  # op -> [count, thread CPU seconds]
        self._last_dump = time.monotonic()

    def add(self, op: str, seconds: float) -> None:
        entry = self.totals.get(op)
        if entry is None:
            entry = self.totals[op] = [0, 0.0]
        entry[0] += 1
        entry[1] += seconds
        now = time.monotonic()
        if now - self._last_dump > DUMP_EVERY_S:
            self._last_dump = now
            self.dump()

    def dump(self) -> None:
        partial = self.path.with_name(self.path.name + ".tmp")
        partial.write_text(json.dumps(self.totals))
        os.replace(partial, self.path)

    def timed(self, op: str | Callable[..., str], function: Callable[..., Any]) -> Callable[..., Any]:
        """`function`, its calls counted under `op` (or under `op(*args)`, e.g. by event type)."""

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(op if isinstance(op, str) else op(*args), time.thread_time() - started)

        return wrapper

    def timed_async(self, op: str, function: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(function)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return await function(*args, **kwargs)
            finally:
                self.add(op, time.thread_time() - started)

        return wrapper


_installed: OpCosts | None = None


def install(path: Path) -> OpCosts:
    """Wrap the operations listed above (once per process, before the app serves)."""
    global _installed
    from api.frame_tap import TapQueue
    from services.call import server_events
    from services.call.session import CallSession
    from services.realtime.transport import AiohttpRealtimeSocket
    from services.telephony.twilio_stream import TwilioMediaStream

    costs = _installed = OpCosts(path)
    by_type = costs.timed(lambda event_type, _event: f"type: {event_type}", server_events.typed)
    server_events.typed = by_type  # session.py calls it as `ev.typed`
    handlers = CallSession._control_handlers
    for event_type, handler in list(handlers.items()):
        handlers[event_type] = costs.timed_async(f"handle: {event_type}", handler)
    CallSession._on_audio_delta = costs.timed_async("audio delta", CallSession._on_audio_delta)  # type: ignore[method-assign]
    AiohttpRealtimeSocket.send_now = costs.timed("append write", AiohttpRealtimeSocket.send_now)  # type: ignore[method-assign]
    TwilioMediaStream.send_audio = costs.timed_async("media write", TwilioMediaStream.send_audio)  # type: ignore[method-assign]
    TapQueue.feed_data = costs.timed("carrier frame", TapQueue.feed_data)  # type: ignore[method-assign]
    return costs


def dump_installed() -> None:
    if _installed is not None:
        _installed.dump()


def read(path: Path) -> dict[str, tuple[int, float]]:
    """op -> (count, thread CPU seconds); empty if the app wrote nothing."""
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {op: (int(count), float(seconds)) for op, (count, seconds) in raw.items()}


def table(costs: dict[str, tuple[int, float]], app_cpu_s: float) -> list[str]:
    """Markdown rows, most expensive first; the last column is the share of the app's CPU in the window."""
    lines = [
        "| operation | count | µs each (thread CPU) | total ms | % of app CPU |",
        "|---|---:|---:|---:|---:|",
    ]
    for op, (count, seconds) in sorted(costs.items(), key=lambda item: -item[1][1]):
        share = 100 * seconds / app_cpu_s if app_cpu_s > 0 else float("nan")
        lines.append(f"| {op} | {count} | {1e6 * seconds / max(count, 1):.1f} | {1e3 * seconds:.1f} | {share:.1f} |")
    return lines
