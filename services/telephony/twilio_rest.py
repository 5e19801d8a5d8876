"""Twilio REST actions through the official SDK's async client: redirect/hang up a live call, fetch a
call, place outbound calls, send SMS. `TWILIO_API_BASE_URL` points it at Twilio (or a test double).

Robustness (one policy for every caller):

- **Retries, idempotent operations only.** Updating a live call (redirect, hang-up) and fetching one
  give the same result when repeated, so a transient failure — 5xx, 429, a timeout, a network error —
  is retried (stamina: exponential backoff with jitter, `RETRY_ATTEMPTS` attempts within
  `RETRY_BUDGET_S`). Creating a call and sending an SMS are not idempotent (Twilio may have acted on a
  request whose reply was lost): they are sent once, and a failure is the caller's to handle.
- **Per-attempt timeout.** The SDK's async client sets none (its `timeout` is not passed on to
  aiohttp), so every attempt runs under `asyncio.timeout`.
- **Circuit breaker** (`circuit.py`, one per process): after `CIRCUIT_FAILURES` consecutive transient
  failures within `CIRCUIT_WINDOW_S`, every call fails fast with `TwilioUnavailable` for
  `CIRCUIT_COOLDOWN_S`, then one trial call is let through. A 404 (the call has ended) or another 4xx
  means Twilio answered: not a failure. A retry that meets an open circuit stops there.

Retries and circuit changes are counted in `services.metrics`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiohttp
import stamina
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from config.settings import Settings
from services import metrics
from services.telephony.circuit import CircuitBreaker, CircuitOpen, CircuitState
from utils.logger import get_logger

log = get_logger(__name__)

T = TypeVar("T")

# Idempotent operations: 3 attempts (two retries) after 0.2 s and 0.4 s, each plus up to 0.3 s of jitter.
# A transfer's caller waits in silence meanwhile, so the whole retry budget stays short.
RETRY_ATTEMPTS = 3
RETRY_WAIT_INITIAL_S = 0.2
RETRY_WAIT_MAX_S = 2.0
RETRY_WAIT_JITTER_S = 0.3
RETRY_BUDGET_S = 10.0  # no retry starts after this long
# Twilio answers call updates in well under a second; a request that takes 5 s is treated as lost.
# Non-idempotent requests wait longer: a timeout there leaves it unknown whether Twilio acted.
ATTEMPT_TIMEOUT_S = 5.0
ONE_SHOT_TIMEOUT_S = 10.0
# Five failures in a row is more than one call's retries (three) and isolated blips, but an outage
# reaches it within seconds; a trial every 15 s finds Twilio back soon after it returns.
CIRCUIT_FAILURES = 5
CIRCUIT_WINDOW_S = 30.0
CIRCUIT_COOLDOWN_S = 15.0


class CallAlreadyEnded(Exception):
    """Twilio answered 404 for the call: it has already ended."""


class TwilioUnavailable(CircuitOpen):
    """Twilio's REST API has been failing: the request was not sent (the circuit breaker is open)."""


def is_transient(error: Exception) -> bool:
    """Worth another try: Twilio's 5xx / 429, a timeout or the network. A 4xx will not change on retry."""
    if isinstance(error, TwilioRestException):
        status = int(error.status)
        return status >= 500 or status == 429
    if isinstance(error, aiohttp.InvalidURL):  # configuration, not the network
        return False
    return isinstance(error, aiohttp.ClientError | TimeoutError | ConnectionError)


def _on_circuit_change(old: CircuitState, new: CircuitState) -> None:
    metrics.TWILIO_CIRCUIT_STATE.set(int(new))
    metrics.TWILIO_CIRCUIT_CHANGES.labels(state=new.name.lower()).inc()
    if new is CircuitState.OPEN:
        log.error("twilio_circuit_open", previous=old.name.lower())
    else:
        log.warning("twilio_circuit_change", previous=old.name.lower(), state=new.name.lower())


def twilio_circuit(clock: Callable[[], float] = time.monotonic) -> CircuitBreaker:
    """The breaker `TwilioRest` uses by default (a test may build one with its own clock)."""
    metrics.TWILIO_CIRCUIT_STATE.set(int(CircuitState.CLOSED))
    return CircuitBreaker(
        "Twilio REST",
        is_failure=is_transient,
        failure_threshold=CIRCUIT_FAILURES,
        window_s=CIRCUIT_WINDOW_S,
        cooldown_s=CIRCUIT_COOLDOWN_S,
        clock=clock,
        on_state_change=_on_circuit_change,
        open_error=TwilioUnavailable,
    )


class TwilioRest:
    def __init__(
        self,
        settings: Settings,
        *,
        circuit: CircuitBreaker | None = None,
        attempt_timeout_s: float = ATTEMPT_TIMEOUT_S,
        one_shot_timeout_s: float = ONE_SHOT_TIMEOUT_S,
    ) -> None:
        self._settings = settings
        self._http = AsyncTwilioHttpClient()
        self._client = Client(
            settings.twilio_account_sid, settings.twilio_auth_token.get_secret_value(), http_client=self._http
        )
        # The SDK builds every v2010 URL from this domain's base_url.
        self._client.api.base_url = settings.twilio_api_base_url
        self.circuit = circuit or twilio_circuit()
        self._attempt_timeout_s = attempt_timeout_s
        self._one_shot_timeout_s = one_shot_timeout_s
        self._retrying = stamina.AsyncRetryingCaller(
            attempts=RETRY_ATTEMPTS,
            timeout=RETRY_BUDGET_S,
            wait_initial=RETRY_WAIT_INITIAL_S,
            wait_max=RETRY_WAIT_MAX_S,
            wait_jitter=RETRY_WAIT_JITTER_S,
        ).on(is_transient)

    async def redirect_call(self, call_sid: str, twiml: str) -> None:
        """Replace the live call's TwiML (ends our media stream). Raises CallAlreadyEnded on 404."""
        try:
            await self._idempotent("redirect", lambda: self._client.calls(call_sid).update_async(twiml=twiml))
        except TwilioRestException as error:
            if error.status == 404:
                raise CallAlreadyEnded(call_sid) from error
            raise

    async def hang_up(self, call_sid: str) -> bool:
        """`Status=completed`; False when Twilio says the call has already ended (404)."""
        try:
            await self._idempotent("hang_up", lambda: self._client.calls(call_sid).update_async(status="completed"))
            return True
        except TwilioRestException as error:
            if error.status == 404:
                return False
            raise

    async def fetch_call_status(self, call_sid: str) -> str | None:
        """The call's Twilio status ("in-progress", "completed", …); None when Twilio does not know it."""
        try:
            call = await self._idempotent("fetch_call", lambda: self._client.calls(call_sid).fetch_async())
        except TwilioRestException as error:
            if error.status == 404:
                return None
            raise
        return str(call.status) if call.status is not None else None

    async def create_call(
        self,
        to: str,
        twiml: str | None = None,
        status_callback: str | None = None,
        *,
        url: str | None = None,
    ) -> tuple[str, str]:
        """Place an outbound call; returns (call sid, Twilio status, e.g. "queued"). Never retried.

        Exactly one of `twiml` (inline) or `url` (Twilio fetches our voice webhook when answered).
        """
        if (twiml is None) == (url is None):
            raise ValueError("pass exactly one of twiml or url")
        kwargs: dict[str, object] = {"to": to, "from_": self._settings.twilio_phone_number}
        if twiml is not None:
            kwargs["twiml"] = twiml
        else:
            kwargs["url"] = url
            kwargs["method"] = "POST"
        if status_callback:
            kwargs["status_callback"] = status_callback
            kwargs["status_callback_method"] = "POST"
            kwargs["status_callback_event"] = ["initiated", "ringing", "answered", "completed"]
        call = await self._once("create_call", lambda: self._client.calls.create_async(**kwargs))
        return str(call.sid), str(call.status or "queued")

    async def send_sms(self, to: str, body: str) -> str:
        """Send one SMS; never retried (a lost reply may hide a sent message: a caller gets it at most once)."""
        message = await self._once(
            "send_sms",
            lambda: self._client.messages.create_async(to=to, from_=self._settings.twilio_phone_number, body=body),
        )
        return str(message.sid)

    async def aclose(self) -> None:
        session = getattr(self._http, "session", None)
        if session is not None:
            await session.close()

    # ---- policy -------------------------------------------------------------------------------
    async def _attempt(self, operation: str, request: Callable[[], Awaitable[T]], timeout_s: float) -> T:
        """One request through the circuit breaker, under a timeout."""

        async def timed() -> T:
            async with asyncio.timeout(timeout_s):
                return await request()

        try:
            return await self.circuit.call(timed)
        except CircuitOpen:
            metrics.TWILIO_REST_REJECTED.labels(operation=operation).inc()
            raise

    async def _once(self, operation: str, request: Callable[[], Awaitable[T]]) -> T:
        return await self._attempt(operation, request, self._one_shot_timeout_s)

    async def _idempotent(self, operation: str, request: Callable[[], Awaitable[T]]) -> T:
        attempts = 0

        async def attempt() -> T:
            nonlocal attempts
            attempts += 1
            if attempts > 1:  # stamina has logged why ("stamina.retry_scheduled"); this says what
                metrics.TWILIO_REST_RETRIES.labels(operation=operation).inc()
                log.warning("twilio_rest_retry", operation=operation, attempt=attempts)
            return await self._attempt(operation, request, self._attempt_timeout_s)

        result: T = await self._retrying(attempt)
        return result
