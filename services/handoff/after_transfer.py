"""After the redirect: Twilio's callbacks finish the transfer here.

`/whisper` (the agent's leg, once answered) gets one sentence about the caller; `/transfer-result`
(`<Dial action>`) marks the transfer connected, or files a callback ticket and texts it. Any node can
answer these: the call's state is read from MongoDB, or from the live call if it is on this node.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pymongo.errors import PyMongoError

from models.call_record import CallRecord, TransferInfo, utc_now
from models.commerce import Ticket, Transfer, TransferStatus
from services import metrics
from services.call.live_calls import LiveCalls
from services.handoff.ticket_sms import TicketTexter
from services.store.calls import CallRepository
from services.store.tickets import TicketIdExhausted, TicketRepository
from services.store.transfers import TransferRepository
from utils.hinglish import normalize_order_id, speak_digits
from utils.logger import get_logger

log = get_logger(__name__)

# `<Dial action>` DialCallStatus values meaning the agent picked up (the others: busy, no-answer, failed, canceled).
CONNECTED_DIAL_STATUSES = frozenset({"completed", "answered"})


@dataclass(frozen=True)
class TransferOutcome:
    connected: bool
    ticket_id: str | None = None  # the callback ticket filed when nobody answered


class TransferCallbacks:
    def __init__(
        self,
        *,
        calls: CallRepository,
        transfers: TransferRepository,
        tickets: TicketRepository,
        live_calls: LiveCalls,
        texter: TicketTexter,
        sms_on_ticket: bool,
    ) -> None:
        self._calls = calls
        self._transfers = transfers
        self._tickets = tickets
        self._live = live_calls
        self._texter = texter
        self._sms_on_ticket = sms_on_ticket

    async def _call_context(self, call_sid: str) -> tuple[dict[str, Any], Transfer | None]:
        """The call record (the live call's copy if it is still closing here) and the transfer document."""
        live = self._live.get(call_sid)
        record: dict[str, Any] | None = live.record.model_dump() if live is not None else None
        transfer: Transfer | None = None
        try:
            if record is None:
                record = await self._calls.get(call_sid, with_transcript=False)
            transfer = await self._transfers.get(call_sid)
        except PyMongoError as error:
            log.warning("transfer_context_unavailable", call_sid=call_sid, error=type(error).__name__)
        return record or {}, transfer

    async def whisper_text(self, call_sid: str) -> str:
        """One sentence for the agent before bridging: why, which order, which ticket."""
        record, transfer = await self._call_context(call_sid)
        recorded = record.get("transfer") or {}
        reason = (transfer.reason if transfer else None) or recorded.get("reason") or "the caller asked for an agent"
        department = (transfer.department if transfer else None) or recorded.get("department")
        parts = [f"Transfer from the voice assistant: {reason.rstrip('. ')}"]
        summary = record.get("summary") or {}
        if summary.get("source") == "model" and summary.get("actions"):
            parts.append(str(summary["actions"]).rstrip(". ")[:200])  # what the assistant already did
        if department and department != "general":
            parts.append(f"{department} team")
        order_id = order_id_from_record(record)
        if order_id:
            parts.append(f"order {speak_digits(order_id)}")
        tickets = record.get("tickets") or []
        if tickets:
            parts.append(f"ticket {speak_digits(tickets[-1])}")
        return "; ".join(parts) + "."

    async def finish_transfer(self, call_sid: str, dial_status: str) -> TransferOutcome:
        """`<Dial action>`: mark the transfer connected or failed; on failure file a callback ticket."""
        connected = dial_status in CONNECTED_DIAL_STATUSES
        status: TransferStatus = "connected" if connected else "failed"
        if await self._transfer_status(call_sid) != status:  # a retried request is counted once
            metrics.TRANSFERS.labels(outcome=status).inc()
        log.info("transfer_finished", call_sid=call_sid, dial_status=dial_status, outcome=status)
        await self._transfers.set_status(call_sid, status)
        now = utc_now()

        def mark(record: CallRecord) -> None:
            transfer = record.transfer = record.transfer or TransferInfo()
            transfer.status = status
            transfer.dial_call_status = dial_status
            transfer.updated_at = now

        fields = {"transfer.status": status, "transfer.dial_call_status": dial_status, "transfer.updated_at": now}
        await self._change_record(call_sid, mark, lambda: self._calls.patch(call_sid, fields))
        if connected:
            return TransferOutcome(connected=True)
        return TransferOutcome(connected=False, ticket_id=await self._callback_ticket(call_sid, dial_status))

    async def _transfer_status(self, call_sid: str) -> str | None:
        try:
            transfer = await self._transfers.get(call_sid)
        except PyMongoError:
            return None
        return transfer.status if transfer is not None else None

    async def _callback_ticket(self, call_sid: str, dial_status: str) -> str | None:
        """The caller's callback ticket (an open one from this call is reused); None if it cannot be filed."""
        record, transfer = await self._call_context(call_sid)
        phone = self._texter.customer_number(
            transfer.phone if transfer else None, record.get("from_number"), record.get("to_number")
        )
        order_id = order_id_from_record(record)
        reason = (transfer.reason if transfer else None) or (record.get("transfer") or {}).get("reason") or "not given"
        try:
            # A retried action request, or a callback the assistant already filed on this call.
            ticket: Ticket | None = await self._tickets.open_for_call(call_sid, "callback")
            created = ticket is None
            if ticket is None:
                ticket = await self._tickets.create(
                    category="callback",
                    description=f"Call back: transfer to a human agent failed ({dial_status}). Reason: {reason}"[:1000],
                    priority="high",
                    call_sid=call_sid,
                    phone=phone,
                    order_id=order_id,
                )
        except (PyMongoError, TicketIdExhausted) as error:
            metrics.DB_ERRORS.labels(operation="callback_ticket").inc()
            log.error("callback_ticket_failed", call_sid=call_sid, error=type(error).__name__)
            return None
        log.info("callback_ticket", call_sid=call_sid, ticket_id=ticket.ticket_id, created=created)
        await self._record_ticket(call_sid, ticket.ticket_id)
        if created and phone is not None and self._sms_on_ticket:
            await self._texter.send(phone, ticket.ticket_id, "24 hours", call_sid=call_sid)
        return ticket.ticket_id

    async def _record_ticket(self, call_sid: str, ticket_id: str) -> None:
        def add(record: CallRecord) -> None:
            if ticket_id not in record.tickets:
                record.tickets.append(ticket_id)

        await self._change_record(call_sid, add, lambda: self._calls.add_ticket(call_sid, ticket_id))

    async def _change_record(
        self, call_sid: str, change: Callable[[CallRecord], None], write: Callable[[], Awaitable[bool]]
    ) -> None:
        """One writer at a time: a live call's record is changed through its writer; once that has
        written its final state (or the call is on another node), the change goes to the database."""
        live = self._live.get(call_sid)
        if live is not None:
            if live.update_record(change):
                return
            await live.record_saved()
        await write()  # best effort, never raises


def order_id_from_record(record: dict[str, Any]) -> str | None:
    """The order this call was about: the last one a successful tool call named."""
    for call in reversed(record.get("tool_calls") or []):
        if not call.get("ok"):
            continue  # e.g. an unverified lookup of someone else's order
        order = (call.get("output") or {}).get("order")
        if isinstance(order, dict) and order.get("order_id"):
            return str(order["order_id"])
        spoken = (call.get("arguments") or {}).get("order_id")
        order_id = normalize_order_id(spoken) if isinstance(spoken, str) else None
        if order_id:
            return order_id
    return None
