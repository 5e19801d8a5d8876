"""Texting a caller their ticket number (best effort: a failed SMS never disturbs a call)."""

from __future__ import annotations

from config.settings import Settings
from models.tools import TicketFiled
from services.telephony.events import CallInfo
from services.telephony.twilio_rest import TwilioRest
from utils.hinglish import normalize_phone
from utils.logger import get_logger
from utils.privacy import mask_phone

log = get_logger(__name__)


def ticket_sms_text(ticket_id: str, response_within: str | None = None) -> str:
    within = f" within {response_within}" if response_within else " soon"
    return f"Your support ticket number is {ticket_id}. Our team will get back to you{within}. Thank you!"


class TicketTexter:
    def __init__(self, settings: Settings, rest: TwilioRest) -> None:
        self._settings = settings
        self._rest = rest

    def customer_number(self, *candidates: str | None) -> str | None:
        """The first usable number that is not our own (an outbound call's `From` is our number)."""
        for candidate in candidates:
            phone = normalize_phone(candidate) if candidate else None
            if phone is not None and phone != self._settings.twilio_phone_number:
                return phone
        return None

    async def ticket_filed(self, info: CallInfo, ticket: TicketFiled) -> None:
        """A tool filed a ticket on a live call: text its number to the caller."""
        if not self._settings.sms_on_ticket:
            return
        phone = self.customer_number(info.caller, info.called)
        if phone is None:
            log.info("ticket_sms_skipped", call_sid=info.call_sid, reason="caller_number_unknown")
            return
        await self.send(phone, ticket.ticket_id, ticket.response_within, call_sid=info.call_sid)

    async def send(self, phone: str, ticket_id: str, response_within: str | None = None, *, call_sid: str) -> bool:
        try:
            await self._rest.send_sms(phone, ticket_sms_text(ticket_id, response_within))
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
