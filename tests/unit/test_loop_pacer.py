"""The loop pacer on a real event loop: one iteration per tick while busy, none of its sleeps once idle.

Counted in loop iterations (a callback that re-queues itself runs once per iteration), not timed: an
unpaced loop runs such a callback thousands of times in the window, a paced one at most once per tick.
"""

from __future__ import annotations

import asyncio
import time

from services.loop_pacer import LoopPacer
from services.metrics import REGISTRY

TICK_MS = 5.0
WINDOW_S = 0.2


def overruns() -> float:
    return REGISTRY.get_sample_value("voice_loop_tick_overruns_total") or 0.0


async def iterations_in(window_s: float, work_s: float = 0.0) -> int:
    """How many loop iterations run in `window_s` (each doing `work_s` of blocking work)."""
    loop = asyncio.get_running_loop()
    count = 0
    done = loop.create_future()
    end = time.monotonic() + window_s

    def spin() -> None:
        nonlocal count
        count += 1
        if work_s:
            time.sleep(work_s)
        if time.monotonic() < end:
            loop.call_soon(spin)
        else:
            done.set_result(None)

    loop.call_soon(spin)
    await done
    return count


async def test_while_busy_the_loop_runs_one_iteration_per_tick() -> None:
    busy = True
    pacer = LoopPacer(TICK_MS, busy=lambda: busy)
    unpaced = await iterations_in(WINDOW_S)
    pacer.wake()
    pacer.wake()  # a second call starting changes nothing
    try:
        paced = await iterations_in(WINDOW_S)
    finally:
        busy = False
    ticks = WINDOW_S * 1000 / TICK_MS
    assert paced <= ticks + 2, f"{paced} iterations in {ticks:.0f} ticks: the pacer did not sleep"
    assert paced >= ticks / 4, "paced, the loop still runs"
    assert unpaced > 10 * ticks  # the count measures the pacer, not a slow machine


async def test_with_no_call_left_it_stops_and_the_loop_is_its_own_again() -> None:
    busy = True
    pacer = LoopPacer(TICK_MS, busy=lambda: busy)
    pacer.wake()
    await asyncio.sleep(0.02)
    assert pacer.running
    busy = False
    await asyncio.sleep(2 * TICK_MS / 1000)
    assert not pacer.running
    assert await iterations_in(WINDOW_S) > 10 * WINDOW_S * 1000 / TICK_MS
    busy = True
    pacer.wake()  # the next call starts it again
    try:
        assert pacer.running and await iterations_in(WINDOW_S) <= WINDOW_S * 1000 / TICK_MS + 2
    finally:
        busy = False


async def test_turned_off_it_never_runs() -> None:
    pacer = LoopPacer(0, busy=lambda: True)
    pacer.wake()
    assert not pacer.running
    assert await iterations_in(WINDOW_S) > 10 * WINDOW_S * 1000 / TICK_MS


async def test_a_tick_the_work_overruns_is_not_slept_and_is_counted() -> None:
    busy = True
    pacer = LoopPacer(1.0, busy=lambda: busy)
    before = overruns()
    pacer.wake()
    try:
        work_s = 0.004  # four ticks of work per iteration
        iterations = await iterations_in(WINDOW_S, work_s=work_s)
    finally:
        busy = False
    overran = overruns() - before
    # No sleep on top of the work: the iterations are as many as the work allows, and each overran.
    assert iterations >= 0.8 * WINDOW_S / work_s
    assert overran >= iterations - 2


async def test_an_unpaced_block_stops_the_ticks_until_the_last_one_closes() -> None:
    busy = True
    pacer = LoopPacer(TICK_MS, busy=lambda: busy)
    pacer.wake()
    ticks = WINDOW_S * 1000 / TICK_MS
    try:
        with pacer.unpaced():  # e.g. a tool call
            with pacer.unpaced():  # another call's tool, at the same time
                await asyncio.sleep(2 * TICK_MS / 1000)
                assert not pacer.running
                pacer.wake()  # a call starting meanwhile does not start it under the blocks
                assert not pacer.running
                assert await iterations_in(WINDOW_S) > 10 * ticks
            assert not pacer.running  # one block still open
        assert pacer.running  # the last block closed, calls are live: paced again
        assert await iterations_in(WINDOW_S) <= ticks + 2
    finally:
        busy = False
    await asyncio.sleep(2 * TICK_MS / 1000)
    with pacer.unpaced():
        pass
    assert not pacer.running  # no call live: closing a block does not start it
