"""What happens to a live call outside the audio relay: hand-off to a human, hang-up, apology.

Each runs only after the assistant's announcing line has fully played (the session waits for the
last mark echo), so the caller never hears a cut-off sentence.

How a call ends: our TwiML has nothing after `<Connect><Stream>`, so closing the media stream ends
the call (`session.end`). A transfer replaces the call's TwiML through the REST API, which also ends
the stream; Twilio then sends `stop`, which the session records as "transferred", not a hang-up.

After the stream is gone, Twilio's callbacks (`api.twilio_callbacks`) finish the transfer here: the
whisper sentence for the agent, and the `<Dial action>` outcome (connected, or a callback ticket).
A ticket's number is also texted to the caller (`after_tool`), best effort.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pymongo.errors import PyMongoError
from twilio.twiml.voice_response import Dial, VoiceResponse

from models.call_record import TranscriptLine, TransferInfo, utc_now
from models.commerce import Ticket, Transfer, TransferStatus
from services import metrics
from services.call_records import patch_call_record
from services.database_service import TicketIdExhausted
from services.twilio_rest import CallAlreadyEnded
from services.twilio_service import StreamTokens, say_and_hangup_twiml
from utils.hinglish import mask_phone, normalize_order_id, normalize_phone, speak_digits
from utils.logger import get_logger

if TYPE_CHECKING:
    from services.call_session import CallSession
    from services.runtime import AppServices

log = get_logger(__name__)

IST = ZoneInfo("Asia/Kolkata")

# The whisper URL is fetched only once the agent answers: up to the <Dial> timeout after the redirect,
# plus Twilio's own set-up time. Far longer than a stream token, so it gets its own, scoped token.
WHISPER_TOKEN_TTL_S = 600
DIAL_TIMEOUT_S = 20
# `<Dial action>` DialCallStatus values meaning the agent picked up (the others: busy, no-answer, failed, canceled).
CONNECTED_DIAL_STATUSES = frozenset({"completed", "answered"})

# Tasks that must outlive the call session that started them (see `transfer`).
_BACKGROUND: set[asyncio.Task[None]] = set()


@dataclass(frozen=True)
class TransferOutcome:
    connected: bool
    ticket_id: str | None = None  # the callback ticket filed when nobody answered


def whisper_token_subject(call_sid: str) -> str:
    """What a whisper token is bound to: never valid as a media-stream token for the same call."""
    return f"whisper:{call_sid}"


def ticket_sms_text(ticket_id: str, response_within: str | None = None) -> str:
    within = f" within {response_within}" if response_within else " soon"
    return f"Your support ticket number is {ticket_id}. Our team will get back to you{within}. Thank you!"


class CallActions:
    def __init__(self, services: AppServices) -> None:
        self._services = services
        self._settings = services.settings
        self._whisper_tokens = StreamTokens(services.settings.twilio_auth_token.get_secret_value(), WHISPER_TOKEN_TTL_S)

    async def run(self, session: CallSession, action: str, result: Any) -> None:
        if action == "end_call":
            session.end(session.end_reason_after_action)
        elif action == "transfer":
            await self.transfer(session, result)

    async def after_tool(self, session: CallSession, result: Any) -> None:
        """Side effects after a tool call (runs as its own task): text the caller a new ticket's number."""
        output = result.output if isinstance(result.output, dict) else {}
        ticket_id = output.get("ticket_id")
        if not result.ok or not ticket_id or output.get("already_existed") or not self._settings.sms_on_ticket:
            return
        phone = self.customer_number(session.caller, session.record.to_number)
        if phone is None:
            log.info("ticket_sms_skipped", call_sid=session.call_sid, reason="caller_number_unknown")
            return
        await self.send_ticket_sms(phone, ticket_id, output.get("response_within"), call_sid=session.call_sid)

    def customer_number(self, *candidates: str | None) -> str | None:
        """The first usable number that is not our own (an outbound call's `From` is our number)."""
        for candidate in candidates:
            phone = normalize_phone(candidate) if candidate else None
            if phone is not None and phone != self._settings.twilio_phone_number:
                return phone
        return None

    async def send_ticket_sms(
        self, phone: str, ticket_id: str, response_within: str | None = None, *, call_sid: str | None = None
    ) -> bool:
        """Best effort: a failed SMS is logged, never raised (the ticket exists either way)."""
        try:
            await self._services.twilio_rest.send_sms(phone, ticket_sms_text(ticket_id, response_within))
        except Exception as error:
            log.warning(
                "ticket_sms_failed",
                call_sid=call_sid,
                to=mask_phone(phone),
                error=type(error).__name__,
                code=getattr(error, "code", None),
                detail=str(getattr(error, "msg", error))[:200],
            )
            return False
        log.info("ticket_sms_sent", call_sid=call_sid, to=mask_phone(phone), ticket_id=ticket_id)
        return True

    async def apologise(self, session: CallSession) -> bool:
        """Realtime failed: Twilio speaks a short apology (its own TTS) and hangs up."""
        agent = self._services.agent
        try:
            await self._services.twilio_rest.redirect_call(
                session.call_sid, say_and_hangup_twiml(agent.apology_text, agent.apology_language)
            )
            return True
        except CallAlreadyEnded:
            return False
        except Exception as error:
            log.error("apology_redirect_failed", call_sid=session.call_sid, error=repr(error))
            return False

    def dial_twiml(self, call_sid: str) -> str:
        """`<Dial>` the human agent; the whisper tells the agent who is calling before bridging."""
        settings = self._settings
        token = self._whisper_tokens.issue(whisper_token_subject(call_sid))
        response = VoiceResponse()
        dial = Dial(
            action=settings.public_url(f"/transfer-result?call_sid={call_sid}"),
            timeout=DIAL_TIMEOUT_S,
            caller_id=settings.twilio_phone_number,
            answer_on_bridge=True,
        )
        dial.number(
            settings.human_agent_number,
            url=settings.public_url(f"/whisper?call_sid={call_sid}&token={token}"),
        )
        response.append(dial)
        return str(response)

    async def transfer(self, session: CallSession, result: Any) -> None:
        output = result.output if isinstance(result.output, dict) else {}
        record = session.record
        # The record says "dialing" before the redirect: Twilio's `stop` (caused by the redirect) can end
        # the session, and cancel this task, before the REST reply arrives, and the final write must
        # already carry the transfer.
        record.transfer = TransferInfo(
            status="dialing",
            reason=output.get("reason") or result.arguments.get("reason"),
            department=output.get("department") or result.arguments.get("department"),
            summary=output.get("summary"),
            agent_number_masked=mask_phone(self._settings.human_agent_number or ""),
        )
        record.status = "transferred"
        session.transfer_in_progress = True
        session.recorder.touch()
        # Shielded: the bookkeeping after the redirect must finish even when the session closes first.
        task = asyncio.ensure_future(self._redirect_to_agent(session))
        _BACKGROUND.add(task)
        task.add_done_callback(_BACKGROUND.discard)
        await asyncio.shield(task)

    async def _redirect_to_agent(self, session: CallSession) -> None:
        record = session.record
        try:
            await self._services.twilio_rest.redirect_call(session.call_sid, self.dial_twiml(session.call_sid))
        except Exception as error:
            session.transfer_in_progress = False
            record.status = "in_progress"
            if record.transfer is not None:
                record.transfer.status = "failed"
            metrics.TRANSFERS.labels(outcome="redirect_failed").inc()
            await self._services.db.transfers.set_status(session.call_sid, "failed")
            log.error("transfer_redirect_failed", call_sid=session.call_sid, error=repr(error))
            record.transcript.append(TranscriptLine(role="system", text="Transfer failed to start"))
            session.recorder.touch()
            try:
                await session.tell_model(
                    "The transfer to a human agent failed. Apologise briefly and offer to create a callback "
                    "ticket instead."
                )
            except Exception as tell_error:  # the session may be closing (caller hung up meanwhile)
                log.warning("transfer_failure_not_told", call_sid=session.call_sid, error=repr(tell_error))
            return
        metrics.TRANSFERS.labels(outcome="dialing").inc()
        log.info("transfer_dialing", call_sid=session.call_sid)
        session.end("transferred")
        await self._services.db.transfers.set_status(session.call_sid, "dialing")

    # ------------------------------------------------------------- after the redirect (Twilio callbacks)

    def live_session(self, call_sid: str) -> CallSession | None:
        return next((s for s in self._services.sessions if s.call_sid == call_sid), None)

    async def _call_context(self, call_sid: str) -> tuple[dict[str, Any], Transfer | None]:
        """The call record (the live session's copy if it is still closing) and the transfer document."""
        session = self.live_session(call_sid)
        record: dict[str, Any] | None = session.record.model_dump() if session is not None else None
        transfer: Transfer | None = None
        try:
            if record is None:
                record = await self._services.calls.find_one({"_id": call_sid}, {"transcript": 0})
            transfer = await self._services.db.transfers.get(call_sid)
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
        session = self.live_session(call_sid)
        if session is not None and session.record.transfer is not None:  # its final write must not undo ours
            session.record.transfer.status = status
            session.record.transfer.dial_call_status = dial_status
            session.record.transfer.updated_at = utc_now()
            session.recorder.touch()
        await self._services.db.transfers.set_status(call_sid, status)
        await patch_call_record(
            self._services.calls,
            call_sid,
            {"transfer.status": status, "transfer.dial_call_status": dial_status, "transfer.updated_at": utc_now()},
        )
        if connected:
            return TransferOutcome(connected=True)
        return TransferOutcome(connected=False, ticket_id=await self._callback_ticket(call_sid, dial_status))

    async def _transfer_status(self, call_sid: str) -> str | None:
        try:
            transfer = await self._services.db.transfers.get(call_sid)
        except PyMongoError:
            return None
        return transfer.status if transfer is not None else None

    async def _callback_ticket(self, call_sid: str, dial_status: str) -> str | None:
        """The caller's callback ticket (an open one from this call is reused); None if it cannot be filed."""
        record, transfer = await self._call_context(call_sid)
        phone = self.customer_number(
            transfer.phone if transfer else None, record.get("from_number"), record.get("to_number")
        )
        order_id = order_id_from_record(record)
        reason = (transfer.reason if transfer else None) or (record.get("transfer") or {}).get("reason") or "not given"
        tickets = self._services.db.tickets
        try:
            # A retried action request, or a callback the assistant already filed on this call.
            existing = await tickets.collection.find_one(
                {"call_sid": call_sid, "category": "callback", "status": "open"}
            )
            ticket = Ticket.model_validate(existing) if existing is not None else None
            created = ticket is None
            if ticket is None:
                ticket = await tickets.create(
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
        if created and phone is not None and self._settings.sms_on_ticket:
            await self.send_ticket_sms(phone, ticket.ticket_id, "24 hours", call_sid=call_sid)
        return ticket.ticket_id

    async def _record_ticket(self, call_sid: str, ticket_id: str) -> None:
        session = self.live_session(call_sid)
        if session is not None and ticket_id not in session.record.tickets:
            session.record.tickets.append(ticket_id)
            session.recorder.touch()
        try:
            await self._services.calls.update_one(
                {"_id": call_sid}, {"$addToSet": {"tickets": ticket_id}, "$set": {"updated_at": utc_now()}}
            )
        except PyMongoError as error:
            metrics.DB_ERRORS.labels(operation="call_record_patch").inc()
            log.warning("call_record_ticket_failed", call_sid=call_sid, error=type(error).__name__)


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
