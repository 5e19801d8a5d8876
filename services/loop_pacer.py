"""While calls are live, the event loop wakes on a fixed tick instead of once per carrier frame.

Every call's carrier sends a 20 ms frame at its own phase, so with N calls the loop thread is woken
~50·N times a second, each time for one frame: at 50 calls a wake-up (epoll, a context switch, the
scheduler) cost about as much as the frame's own Python, and the kernel was a third of the process
(bench/README.md, rounds ten and eleven). The pacer ends each loop iteration by sleeping to the next
tick boundary, so one wake-up serves every socket that became readable meanwhile: at a 2 ms tick the
wake-ups stop growing with the number of calls (at most 500 a second), and measured under load the
process used about a third less CPU.

The cost is latency, bounded by the tick: a frame (or an OpenAI event) waits at most one tick to be
read, a timer fires at most one tick late, and so does a task woken by another task. So a chain of
hand-offs that never waits for I/O runs one step per tick: code that hops between tasks many times in
a row (not the audio path, where frames are handled in the socket's read callback) pays a tick each.
2 ms is a tenth of a frame, well inside every jitter buffer on the way. The sleep is the wait the loop
would otherwise spend in `epoll_wait`, moved to a fixed clock: the iteration's work runs first, and a
tick the work overruns is not slept at all (counted in `voice_loop_tick_overruns_total`, a saturated
node's signal). With no call live, the pacer stops and
the loop sleeps in `epoll_wait` as usual, so an idle node stays idle. `LOOP_TICK_MS=0` turns it off.

Work that is a chain of hops runs `with pacer.unpaced():` — a tool call and a stream's set-up (several
database round trips, each a few task hand-offs inside pymongo: measured at 50 calls, the tick tripled a
lookup's median and nearly tripled the greeting's, bench/README.md round twelve). While any such block
is open the pacer stops, and the loop wakes on every event as it would without it; the last block to
close starts it again. Tools and set-ups are a few per cent of a call's time, so the saving on the
frames stays.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator

from services.metrics import LOOP_TICK_OVERRUNS


class LoopPacer:
    def __init__(self, tick_ms: float, busy: Callable[[], bool]) -> None:
        """`busy`: whether to keep pacing (calls are live); checked once per tick."""
        self._tick_s = tick_ms / 1000
        self._busy = busy
        self._loop: asyncio.AbstractEventLoop | None = None
        self._next_at = 0.0
        self._holds = 0  # open `unpaced()` blocks
        self.running = False

    def wake(self) -> None:
        """Start pacing this loop (a call started); a no-op when already running, held or turned off."""
        if self.running or self._holds or self._tick_s <= 0:
            return
        self._loop = asyncio.get_running_loop()
        self._next_at = time.monotonic()
        self.running = True
        self._loop.call_soon(self._tick)

    @contextlib.contextmanager
    def unpaced(self) -> Iterator[None]:
        """No pacing while the block runs (latency-bound work made of many hops, see above)."""
        self._holds += 1
        try:
            yield
        finally:
            self._holds -= 1
            if not self._holds and self._busy():
                self.wake()

    def _tick(self) -> None:
        # Runs once per loop iteration, among the iteration's callbacks; re-queued for the next one.
        if self._holds or not self._busy():
            self.running = False
            return
        self._next_at += self._tick_s
        delay = self._next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:  # the iteration took longer than a tick: no sleep, and the clock starts again from now
            LOOP_TICK_OVERRUNS.inc()
            self._next_at = time.monotonic()
        assert self._loop is not None
        self._loop.call_soon(self._tick)
