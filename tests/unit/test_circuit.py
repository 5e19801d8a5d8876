"""The circuit breaker (services/telephony/circuit.py) on an injected clock, and which Twilio errors
count as transient (retried, and failures for the breaker)."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from twilio.base.exceptions import TwilioRestException

from services.telephony.circuit import CircuitBreaker, CircuitOpen, CircuitState
from services.telephony.twilio_rest import TwilioUnavailable, is_transient


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Down(Exception):
    """A failure (the dependency is unwell)."""


class Refused(Exception):
    """The dependency answered, with an error: not a failure."""


def make(clock: Clock, **kwargs) -> tuple[CircuitBreaker, list[tuple[CircuitState, CircuitState]]]:
    changes: list[tuple[CircuitState, CircuitState]] = []
    options = {"failure_threshold": 3, "window_s": 10.0, "cooldown_s": 5.0, **kwargs}
    breaker = CircuitBreaker(
        "dep",
        is_failure=lambda error: isinstance(error, Down),
        clock=clock,
        on_state_change=lambda old, new: changes.append((old, new)),
        **options,
    )
    return breaker, changes


class Dependency:
    """Counts calls; each call raises the next queued error, or returns "ok"."""

    def __init__(self) -> None:
        self.calls = 0
        self.errors: list[Exception] = []

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


async def fail(breaker: CircuitBreaker, dep: Dependency, times: int) -> None:
    for _ in range(times):
        dep.errors.append(Down())
        with pytest.raises(Down):
            await breaker.call(dep)


async def test_consecutive_failures_open_it_and_then_calls_fail_fast_without_running() -> None:
    clock, dep = Clock(), Dependency()
    breaker, changes = make(clock)
    await fail(breaker, dep, 2)
    assert breaker.state is CircuitState.CLOSED
    await fail(breaker, dep, 1)
    assert breaker.state is CircuitState.OPEN and changes == [(CircuitState.CLOSED, CircuitState.OPEN)]

    clock.now += 2
    with pytest.raises(CircuitOpen) as refused:
        await breaker.call(dep)
    assert dep.calls == 3, "not called while open"
    assert refused.value.retry_after_s == pytest.approx(3.0) and "dep unavailable" in str(refused.value)


async def test_a_success_or_an_answer_that_is_not_a_failure_resets_the_count() -> None:
    clock, dep = Clock(), Dependency()
    breaker, _ = make(clock)
    await fail(breaker, dep, 2)
    assert await breaker.call(dep) == "ok"
    await fail(breaker, dep, 2)
    dep.errors.append(Refused())  # e.g. a 404: the dependency is up and answering
    with pytest.raises(Refused):
        await breaker.call(dep)
    await fail(breaker, dep, 2)
    assert breaker.state is CircuitState.CLOSED


async def test_only_failures_within_the_window_count() -> None:
    clock, dep = Clock(), Dependency()
    breaker, _ = make(clock)
    await fail(breaker, dep, 1)
    clock.now += 6
    await fail(breaker, dep, 1)
    clock.now += 6  # the first failure is now 12 s old: outside the 10 s window
    await fail(breaker, dep, 1)
    assert breaker.state is CircuitState.CLOSED
    clock.now += 1
    await fail(breaker, dep, 1)  # three within 10 s (at 6, 12, 13)
    assert breaker.state is CircuitState.OPEN


async def test_after_the_cool_down_one_trial_goes_through_and_its_success_closes_it() -> None:
    clock, dep = Clock(), Dependency()
    breaker, changes = make(clock)
    await fail(breaker, dep, 3)
    clock.now += 5
    assert breaker.state is CircuitState.OPEN, "reads open until a call arrives"

    release = asyncio.Event()
    trial_started = asyncio.Event()

    async def slow_trial() -> str:
        trial_started.set()
        await release.wait()
        return "back"

    trial = asyncio.create_task(breaker.call(slow_trial))
    await trial_started.wait()
    assert breaker.state is CircuitState.HALF_OPEN
    with pytest.raises(CircuitOpen):  # a second call while the trial runs still fails fast
        await breaker.call(dep)
    assert dep.calls == 3
    release.set()
    assert await trial == "back"
    assert breaker.state is CircuitState.CLOSED
    assert await breaker.call(dep) == "ok"
    assert changes == [
        (CircuitState.CLOSED, CircuitState.OPEN),
        (CircuitState.OPEN, CircuitState.HALF_OPEN),
        (CircuitState.HALF_OPEN, CircuitState.CLOSED),
    ]


async def test_a_failed_trial_opens_it_for_another_full_cool_down() -> None:
    clock, dep = Clock(), Dependency()
    breaker, _ = make(clock)
    await fail(breaker, dep, 3)
    clock.now += 7
    await fail(breaker, dep, 1)  # the trial
    assert breaker.state is CircuitState.OPEN and dep.calls == 4
    clock.now += 4.9
    with pytest.raises(CircuitOpen):
        await breaker.call(dep)
    clock.now += 0.1
    assert await breaker.call(dep) == "ok" and breaker.state is CircuitState.CLOSED


async def test_an_answer_that_is_not_a_failure_closes_it_from_half_open() -> None:
    clock, dep = Clock(), Dependency()
    breaker, _ = make(clock)
    await fail(breaker, dep, 3)
    clock.now += 5
    dep.errors.append(Refused())
    with pytest.raises(Refused):
        await breaker.call(dep)
    assert breaker.state is CircuitState.CLOSED


async def test_a_cancelled_trial_gives_no_verdict_and_frees_the_slot() -> None:
    clock, dep = Clock(), Dependency()
    breaker, _ = make(clock)
    await fail(breaker, dep, 3)
    clock.now += 5
    trial = asyncio.create_task(breaker.call(asyncio.Event().wait))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    assert breaker.state is CircuitState.HALF_OPEN
    trial.cancel()
    with pytest.raises(asyncio.CancelledError):
        await trial
    assert breaker.state is CircuitState.HALF_OPEN
    assert await breaker.call(dep) == "ok" and breaker.state is CircuitState.CLOSED


async def test_calls_in_flight_when_it_opened_do_not_change_the_state() -> None:
    clock, dep = Clock(), Dependency()
    breaker, _ = make(clock)
    release = asyncio.Event()

    async def slow(outcome: Exception | None) -> str:
        await release.wait()
        if outcome is not None:
            raise outcome
        return "late"

    late_success = asyncio.create_task(breaker.call(lambda: slow(None)))
    await asyncio.sleep(0)
    await fail(breaker, dep, 3)
    assert breaker.state is CircuitState.OPEN
    release.set()
    assert await late_success == "late"
    assert breaker.state is CircuitState.OPEN, "a success from before the outage was noticed proves nothing"

    clock.now += 5
    release.clear()
    trial = asyncio.create_task(breaker.call(lambda: slow(None)))
    await asyncio.sleep(0)
    assert breaker.state is CircuitState.HALF_OPEN
    release.set()
    await trial
    assert breaker.state is CircuitState.CLOSED


async def test_the_owner_chooses_the_error_raised_when_open() -> None:
    clock, dep = Clock(), Dependency()
    breaker, _ = make(clock, failure_threshold=1, open_error=TwilioUnavailable)
    await fail(breaker, dep, 1)
    with pytest.raises(TwilioUnavailable) as refused:
        await breaker.call(dep)
    assert isinstance(refused.value, CircuitOpen) and refused.value.name == "dep"


def test_settings_are_checked() -> None:
    for bad in ({"failure_threshold": 0}, {"window_s": 0}, {"cooldown_s": -1}):
        with pytest.raises(ValueError):
            make(Clock(), **bad)


def test_which_twilio_errors_are_transient() -> None:
    def rest_error(status: int) -> TwilioRestException:
        return TwilioRestException(status, "https://api.twilio.com/x", msg="boom", code=20000 + status)

    connection_key = aiohttp.client_reqrep.ConnectionKey("api.twilio.com", 443, True, True, None, None, None)
    assert all(is_transient(rest_error(status)) for status in (429, 500, 502, 503, 504))
    assert not any(is_transient(rest_error(status)) for status in (400, 401, 403, 404, 409))
    assert is_transient(aiohttp.ClientConnectorError(connection_key, ConnectionRefusedError(111, "refused")))
    assert is_transient(aiohttp.ServerDisconnectedError())
    assert is_transient(aiohttp.ClientPayloadError("Response payload is not completed"))
    assert is_transient(ConnectionResetError()) and is_transient(TimeoutError())
    assert not is_transient(aiohttp.InvalidURL("not a url"))
    assert not is_transient(TwilioUnavailable("Twilio REST", 3.0)), "an open circuit is not retried"
    assert not is_transient(ValueError("bad argument"))
