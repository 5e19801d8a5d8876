"""A small circuit breaker for one remote dependency (Twilio's REST API), one per process.

When a dependency is down, every call to it waits for a timeout or an error while tasks pile up behind
it. The breaker notices the outage and, for a while, fails calls at once instead:

- **closed** (normal): calls go through. A failure — what counts is the owner's `is_failure`; for Twilio
  a transient error: 5xx, 429, timeout, network — is remembered and a success forgets them all. When
  `failure_threshold` consecutive failures all happened within the last `window_s` seconds, it opens.
- **open**: calls fail at once with `CircuitOpen` (nothing is sent) until `cooldown_s` have passed.
- **half-open**: the first call after the cool-down is let through as a trial; while it runs, other
  calls still fail fast. The trial's success closes the circuit; its failure opens it for another
  cool-down. A trial that ends without a verdict (cancelled) frees the slot for the next call.

An error that is not a failure (a 404 or a 400: the dependency answered) counts as a success. A call
admitted before the last state change (in flight when the circuit opened) does not change the state
when it finishes. All state changes are synchronous (no await between a check and its update), so
one event loop needs no lock. The clock is injectable for tests.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable
from enum import IntEnum
from typing import TypeVar

T = TypeVar("T")


class CircuitState(IntEnum):
    """Values are what the state gauge shows."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class CircuitOpen(Exception):
    """The circuit is open (or its trial call is in flight): the call was not made."""

    def __init__(self, name: str, retry_after_s: float) -> None:
        super().__init__(f"{name} unavailable: circuit open, next trial in {retry_after_s:.1f}s")
        self.name = name
        self.retry_after_s = retry_after_s


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        is_failure: Callable[[Exception], bool],
        failure_threshold: int = 5,
        window_s: float = 30.0,
        cooldown_s: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
        on_state_change: Callable[[CircuitState, CircuitState], None] | None = None,
        open_error: Callable[[str, float], CircuitOpen] = CircuitOpen,
    ) -> None:
        if failure_threshold < 1 or window_s <= 0 or cooldown_s < 0:
            raise ValueError("failure_threshold >= 1, window_s > 0 and cooldown_s >= 0 are required")
        self.name = name
        self.failure_threshold = failure_threshold
        self.window_s = window_s
        self.cooldown_s = cooldown_s
        self._is_failure = is_failure
        self._clock = clock
        self._on_state_change = on_state_change
        self._open_error = open_error
        self._state = CircuitState.CLOSED
        self._generation = 0  # bumped on every state change: outcomes of older calls are ignored
        self._failures: deque[float] = deque()  # times of the current run of consecutive failures
        self._opened_at = 0.0
        self._trial_running = False

    @property
    def state(self) -> CircuitState:
        """The current state. An open circuit whose cool-down has passed still reads OPEN until the
        next call arrives and becomes the trial."""
        return self._state

    async def call(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run `operation()` if the circuit allows it, record its outcome and return or raise it.
        Raises `CircuitOpen` (or the owner's `open_error`) without calling it otherwise."""
        generation, trial = self._admit()
        try:
            result = await operation()
        except Exception as error:
            if self._is_failure(error):
                self._failed(generation)
            else:
                self._succeeded(generation)
            raise
        except BaseException:  # cancelled: no verdict on the dependency
            if trial and generation == self._generation:
                self._trial_running = False
            raise
        self._succeeded(generation)
        return result

    # ---- transitions --------------------------------------------------------------------------
    def _admit(self) -> tuple[int, bool]:
        if self._state is CircuitState.OPEN:
            remaining = self._opened_at + self.cooldown_s - self._clock()
            if remaining > 0:
                raise self._open_error(self.name, remaining)
            self._move(CircuitState.HALF_OPEN)
        if self._state is CircuitState.HALF_OPEN:
            if self._trial_running:
                raise self._open_error(self.name, 0.0)
            self._trial_running = True
            return self._generation, True
        return self._generation, False

    def _succeeded(self, generation: int) -> None:
        if generation != self._generation:
            return
        self._failures.clear()
        if self._state is CircuitState.HALF_OPEN:
            self._move(CircuitState.CLOSED)

    def _failed(self, generation: int) -> None:
        if generation != self._generation:
            return
        now = self._clock()
        if self._state is CircuitState.HALF_OPEN:
            self._open(now)
            return
        self._failures.append(now)
        while self._failures and self._failures[0] <= now - self.window_s:
            self._failures.popleft()
        if len(self._failures) >= self.failure_threshold:
            self._open(now)

    def _open(self, now: float) -> None:
        self._opened_at = now
        self._move(CircuitState.OPEN)

    def _move(self, new: CircuitState) -> None:
        old, self._state = self._state, new
        self._generation += 1
        self._failures.clear()
        self._trial_running = False
        if self._on_state_change is not None:
            self._on_state_change(old, new)
