"""Who gets a call on this node, and how the node lets its calls go on SIGTERM.

Capacity (`CallAdmission`): a node carries at most `MAX_CONCURRENT_CALLS` calls. A call holds a slot
from the moment its voice webhook is answered — a *reservation*, kept until its stream starts or the
stream token expires (`STREAM_TOKEN_TTL_S`) — so a burst of webhooks cannot overshoot before their
streams arrive. Past the limit the webhook is answered with a polite Hinglish `<Say>` and `<Hangup/>`
(and, for an inbound caller, a callback ticket texted to them); no Realtime session is opened. A stream
whose webhook was answered elsewhere (another node) takes a free slot or is refused the same way.

Repeat callers: one number may place `REPEAT_CALL_LIMIT` calls per `REPEAT_CALL_WINDOW_S` (toll abuse;
inbound calls only), counted in MongoDB (`services.store.call_counters`) so the limit holds across nodes,
and once per call: a webhook retried (concurrently, or on another node) is not a second call.
When the database cannot count within a second, the call is let in (a support line should not go dark
with its database).

Drain (`Drain`): on SIGTERM the node stops being ready (`/health` 503), keeps answering webhooks while it
has capacity (a webhook is never refused with an error or silence), and waits for its calls — live or
reserved — to end. At `DRAIN_TIMEOUT_S` each remaining call gets a callback ticket (texted) and is ended
through its own close path (`LiveCall.end("drain_timeout")`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Literal

from pymongo.errors import PyMongoError

from config.settings import Settings
from models.call_record import CallRecord
from models.commerce import TicketPriority
from services import metrics
from services.call.live_calls import LiveCall, LiveCalls
from services.handoff.after_transfer import order_id_from_record
from services.handoff.ticket_sms import TicketTexter
from services.store.call_counters import CallCounterRepository
from services.store.calls import CallRepository
from services.store.tickets import TicketIdExhausted, TicketRepository
from services.telephony.twilio_voice import say_and_hangup_twiml
from utils.logger import get_logger
from utils.privacy import mask_phone

log = get_logger(__name__)

Refusal = Literal["over_capacity", "repeat_caller", "shutting_down"]

BUSY_LANGUAGE = "hi-IN"
BUSY_TEXT = "Namaste! Abhi hamari saari lines busy hain. Kripya thodi der baad dobara call karein. Dhanyavaad."
CALLBACK_TEXT = (
    "Namaste! Abhi hamari saari lines busy hain. Hum aapko jald hi call back karenge, "
    "aapka ticket number SMS par aa jayega. Dhanyavaad."
)
COUNTER_TIMEOUT_S = 1.0  # the repeat-caller count; past it the call is let in
TICKET_TIMEOUT_S = 2.0  # filing a callback ticket (the webhook waits for it: the message depends on it)
REDIRECT_TIMEOUT_S = 3.0  # asking Twilio to play the busy message on a refused stream
SMS_TIMEOUT_S = 12.0  # a text still being sent when the process stops
CLOSE_TIMEOUT_S = 10.0  # a call ended at the drain timeout closing (its record's final write)
DRAIN_POLL_S = 0.1


def repeat_key(caller: str) -> str:
    """The `call_counters` key of a caller number (the raw `From`: withheld numbers share one key)."""
    return f"caller|{caller}"


class CallbackTickets:
    """Callback tickets for callers we could not serve (turned away, or cut by a deploy), texted to them."""

    def __init__(self, tickets: TicketRepository, calls: CallRepository, texter: TicketTexter, sms: bool) -> None:
        self._tickets = tickets
        self._calls = calls
        self._texter = texter
        self._sms = sms
        self._texts: set[asyncio.Task[Any]] = set()

    def customer_number(self, *candidates: str | None) -> str | None:
        return self._texter.customer_number(*candidates)

    async def file(
        self, call_sid: str, phone: str | None, description: str, *, priority: TicketPriority, order_id: str | None
    ) -> str | None:
        """The call's callback ticket (reused if it already has an open one); None if it cannot be filed."""
        try:
            async with asyncio.timeout(TICKET_TIMEOUT_S):
                ticket = await self._tickets.open_for_call(call_sid, "callback")
                if ticket is None:
                    ticket = await self._tickets.create(
                        category="callback",
                        description=description[:1000],
                        priority=priority,
                        call_sid=call_sid,
                        phone=phone,
                        order_id=order_id,
                    )
        except (PyMongoError, TicketIdExhausted, TimeoutError) as error:
            metrics.DB_ERRORS.labels(operation="callback_ticket").inc()
            log.error("callback_ticket_failed", call_sid=call_sid, error=type(error).__name__)
            return None
        log.info("callback_ticket", call_sid=call_sid, ticket_id=ticket.ticket_id, to=mask_phone(phone))
        return ticket.ticket_id

    async def text(self, call_sid: str, phone: str | None, ticket_id: str) -> None:
        """Text the ticket number (country and daily-cap rules apply); bounded, never raises."""
        if phone is None or not self._sms:
            return
        try:
            await asyncio.wait_for(self._texter.send(phone, ticket_id, call_sid=call_sid), SMS_TIMEOUT_S)
        except Exception as error:
            log.warning("callback_sms_failed", call_sid=call_sid, error=type(error).__name__)

    def text_later(self, call_sid: str, phone: str | None, ticket_id: str) -> None:
        """The same in the background (a webhook answers without waiting for Twilio's SMS API)."""
        task = asyncio.create_task(self.text(call_sid, phone, ticket_id), name=f"callback-sms-{call_sid}")
        self._texts.add(task)
        task.add_done_callback(self._texts.discard)

    async def record_on_call(self, call: LiveCall, ticket_id: str) -> None:
        """Add the ticket to the call's record: through its writer while it is live, then in the database."""

        def add(record: CallRecord) -> None:
            if ticket_id not in record.tickets:
                record.tickets.append(ticket_id)

        if not call.update_record(add):
            await call.record_saved()
            await self._calls.add_ticket(call.call_sid, ticket_id)

    async def aclose(self) -> None:
        """Let texts under way finish (bounded by their own timeout)."""
        if self._texts:
            await asyncio.gather(*self._texts, return_exceptions=True)


class CallAdmission:
    """Capacity and repeat-caller limits of this node, and whether it is draining."""

    def __init__(
        self,
        settings: Settings,
        live_calls: LiveCalls,
        counters: CallCounterRepository,
        callbacks: CallbackTickets,
        redirect_call: Callable[[str, str], Awaitable[None]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_calls = settings.max_concurrent_calls
        self._reservation_s = float(settings.stream_token_ttl_s)
        self._repeat_limit = settings.repeat_call_limit
        self._repeat_window = timedelta(seconds=settings.repeat_call_window_s)
        self._live = live_calls
        self._counters = counters
        self._callbacks = callbacks
        self._redirect_call = redirect_call
        self._clock = clock
        self._reserved: dict[str, float] = {}  # call sid -> when its slot is given up (no stream by then)
        self.draining = False  # SIGTERM received: not ready for new traffic, calls go on
        self.closing = False  # the drain timed out: the process is about to stop, every new call is turned away

    @property
    def reserved(self) -> int:
        now = self._clock()
        for call_sid in [sid for sid, until in self._reserved.items() if until <= now]:
            del self._reserved[call_sid]
        return len(self._reserved)

    def in_use(self) -> int:
        """Slots taken: live calls plus webhooks answered whose stream has not started."""
        return len(self._live) + self.reserved

    async def admit_call(self, call_sid: str, caller: str, *, inbound: bool) -> Refusal | None:
        """At the voice webhook: None and a reserved slot, or why the call is turned away."""
        if call_sid in self._reserved:  # Twilio retried a webhook we answered: same slot, counted once
            self._reserved[call_sid] = self._clock() + self._reservation_s
            return None
        if inbound and caller and not await self._repeat_allowed(caller, call_sid):
            return self._refuse("repeat_caller", call_sid, caller)
        if self.closing:
            return self._refuse("shutting_down", call_sid, caller)
        if self.in_use() >= self._max_calls:
            return self._refuse("over_capacity", call_sid, caller)
        self._reserved[call_sid] = self._clock() + self._reservation_s
        return None

    async def admit_webhook(
        self, call_sid: str, caller: str, *, inbound: bool, stream_started: Awaitable[bool]
    ) -> Refusal | Literal["stream_started"] | None:
        """`admit_call`, side by side with the check that the call's stream has not started already (a
        late or replayed webhook): two database round trips at once rather than one after the other, as
        in a burst of call starts each is a wait in the database's queue before the caller hears a thing.
        Counting a replay is harmless (a call is counted once), and the slot it took is given back."""
        started, refusal = await asyncio.gather(stream_started, self.admit_call(call_sid, caller, inbound=inbound))
        if started:
            self._reserved.pop(call_sid, None)
            return "stream_started"
        return refusal

    def admit_stream(self, call_sid: str) -> bool:
        """At stream start, synchronously (the caller adds the call to `LiveCalls` before awaiting anything):
        the call's reserved slot, or a free one for a stream whose webhook another node answered."""
        if self._reserved.pop(call_sid, None) is not None:
            return True
        return not self.closing and self.in_use() < self._max_calls

    async def busy_twiml(self, call_sid: str, customer: str, reason: Refusal, *, inbound: bool) -> str:
        """What a turned-away caller hears; a caller we had no room for also gets a callback ticket (SMS)."""
        ticket_id: str | None = None
        phone = self._callbacks.customer_number(customer) if inbound else None  # withheld: no one to call back
        if phone is not None and reason != "repeat_caller":  # no tickets (nor texts) for a number calling too often
            description = "Call back: the caller reached us while every line was busy and was asked to call again."
            ticket_id = await self._callbacks.file(call_sid, phone, description, priority="medium", order_id=None)
            if ticket_id is not None:
                self._callbacks.text_later(call_sid, phone, ticket_id)
        return say_and_hangup_twiml(CALLBACK_TEXT if ticket_id else BUSY_TEXT, BUSY_LANGUAGE)

    async def turn_away_stream(self, call_sid: str, customer: str, *, inbound: bool) -> None:
        """A stream refused for capacity: have Twilio say the busy message instead of a silent hang-up."""
        twiml = await self.busy_twiml(call_sid, customer, "over_capacity", inbound=inbound)
        try:
            await asyncio.wait_for(self._redirect_call(call_sid, twiml), REDIRECT_TIMEOUT_S)
        except Exception as error:  # the call has ended, or Twilio is unreachable: the stream is refused anyway
            log.warning("busy_redirect_failed", call_sid=call_sid, error=type(error).__name__)

    async def wait_idle(self, timeout_s: float) -> bool:
        """Until no call is live or reserved here (True), or `timeout_s` passed (False)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self.in_use() > 0:
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(min(DRAIN_POLL_S, max(0.0, deadline - loop.time())))
        return True

    async def _repeat_allowed(self, caller: str, call_sid: str) -> bool:
        counted = self._counters.take(repeat_key(caller), self._repeat_limit, self._repeat_window, call_id=call_sid)
        try:
            return await asyncio.wait_for(counted, COUNTER_TIMEOUT_S)
        except (PyMongoError, TimeoutError) as error:  # cannot count: let the call in
            metrics.DB_ERRORS.labels(operation="call_counter").inc()
            log.warning("repeat_count_unavailable", error=type(error).__name__)
            return True

    def _refuse(self, reason: Refusal, call_sid: str, caller: str) -> Refusal:
        metrics.STREAMS_REJECTED.labels(reason=reason).inc()
        log.warning(
            "incoming_call_turned_away",
            call_sid=call_sid,
            reason=reason,
            caller=mask_phone(caller),
            in_use=self.in_use(),
            limit=self._max_calls,
        )
        return reason


class Drain:
    """SIGTERM on this node: not ready, calls go on to their natural end, stragglers end at the timeout."""

    def __init__(
        self, admission: CallAdmission, live_calls: LiveCalls, callbacks: CallbackTickets, timeout_s: float
    ) -> None:
        self._admission = admission
        self._live = live_calls
        self._callbacks = callbacks
        self._timeout_s = timeout_s

    async def run(self) -> None:
        """Returns once this node has no call left (the process may then stop)."""
        admission = self._admission
        admission.draining = True
        log.info("drain_started", live_calls=len(self._live), reserved=admission.reserved, timeout_s=self._timeout_s)
        if await admission.wait_idle(self._timeout_s):
            log.info("drain_finished", outcome="calls_ended")
            return
        admission.closing = True
        calls = list(self._live)
        log.warning("drain_timeout", live_calls=len(calls), reserved=admission.reserved)
        await asyncio.gather(*(self._end_with_callback(call) for call in calls), return_exceptions=True)
        log.info("drain_finished", outcome="timeout", ended=len(calls))

    async def _end_with_callback(self, call: LiveCall) -> None:
        record = call.record
        phone = self._callbacks.customer_number(record.from_number, record.to_number)
        ticket_id = await self._callbacks.file(
            call.call_sid,
            phone,
            _drain_ticket_description(record),
            priority="high",
            order_id=order_id_from_record(record.model_dump()),
        )
        if ticket_id is not None:
            await self._callbacks.record_on_call(call, ticket_id)
        call.end("drain_timeout")
        with contextlib.suppress(TimeoutError):
            # Shielded: the call's close path (its final record write) is never cut short.
            await asyncio.wait_for(asyncio.shield(call.close("drain_timeout")), CLOSE_TIMEOUT_S)
        if ticket_id is not None:
            await self._callbacks.text(call.call_sid, phone, ticket_id)


def _drain_ticket_description(record: CallRecord) -> str:
    lines = [f"{line.role}: {line.text}" for line in record.transcript[-4:] if line.role != "system"]
    said = (" Last lines: " + " | ".join(lines)) if lines else ""
    return f"Call back: the call was ended by a server restart (drain timeout) before it had finished.{said}"
