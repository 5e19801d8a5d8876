"""Texting callers: ticket numbers and one-time codes (best effort: a failed SMS never disturbs a call).

Every SMS goes through `TicketTexter.send_text`, which sends only to mobile numbers of `sms_countries`
(no premium, toll-free or landline ranges: an SMS-pumping target) and at most
`max_sms_per_number_per_day` a day to one number (India day, counted in MongoDB so every node
shares the count). A refused SMS is logged and counted in `voice_sms_total`, never sent.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from pymongo.errors import PyMongoError

from config.agent_config import COMPANY_NAME, TICKET_SMS_TEXT
from config.settings import Settings
from models.commerce import utc_now
from models.tools import TicketFiled
from services import metrics
from services.store.sms_quota import SmsQuotaRepository
from services.telephony.events import CallInfo
from services.telephony.twilio_rest import TwilioRest
from utils.logger import get_logger
from utils.phone import e164_or_none, may_text
from utils.privacy import mask_phone

log = get_logger(__name__)

SmsKind = Literal["ticket", "verification_code"]


def ticket_sms_text(
    ticket_id: str, response_within: str | None = None, template: str = TICKET_SMS_TEXT, company: str = COMPANY_NAME
) -> str:
    """The ticket SMS; `template` is the agent file's `sms.ticket` (placeholders checked when it was loaded)."""
    within = f" within {response_within}" if response_within else " soon"
    return template.format(ticket_id=ticket_id, within=within, company=company)


class TicketTexter:
    def __init__(
        self,
        settings: Settings,
        rest: TwilioRest,
        quota: SmsQuotaRepository,
        clock: Callable[[], datetime] = utc_now,
        *,
        ticket_text: str = TICKET_SMS_TEXT,
        company: str = COMPANY_NAME,
    ) -> None:
        self._settings = settings
        self._ticket_text, self._company = ticket_text, company
        self._rest = rest
        self._quota = quota
        self._clock = clock

    def customer_number(self, *candidates: str | None) -> str | None:
        """The first E.164 number that is not our own (an outbound call's `From` is our number). A SIP
        URI or client identity is no number: nothing is texted for it."""
        for candidate in candidates:
            phone = e164_or_none(candidate)
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
        text = ticket_sms_text(ticket_id, response_within, self._ticket_text, self._company)
        sent = await self.send_text(phone, text, call_sid=call_sid, kind="ticket")
        if sent:
            log.info("ticket_sms_sent", call_sid=call_sid, to=mask_phone(phone), ticket_id=ticket_id)
        return sent

    async def send_text(self, phone: str, body: str, *, call_sid: str, kind: SmsKind) -> bool:
        """Text `body` to `phone` if the rules allow; True when Twilio accepted it. Never raises."""
        if not may_text(phone, self._settings.sms_countries):
            return self._refused(kind, "number_not_allowed", call_sid, phone)
        try:
            within_cap = await self._quota.take(phone, self._today(), self._settings.max_sms_per_number_per_day)
        except PyMongoError as error:  # cannot count: do not send (the cap must hold during an outage)
            metrics.DB_ERRORS.labels(operation="sms_quota").inc()
            log.warning("sms_quota_unavailable", call_sid=call_sid, error=type(error).__name__)
            return self._refused(kind, "quota_unavailable", call_sid, phone)
        if not within_cap:
            return self._refused(kind, "daily_cap", call_sid, phone)
        try:
            await self._rest.send_sms(phone, body)
        except Exception as error:
            metrics.SMS_MESSAGES.labels(kind=kind, outcome="failed").inc()
            log.warning(
                "sms_failed",
                call_sid=call_sid,
                kind=kind,
                to=mask_phone(phone),
                error=type(error).__name__,
                code=getattr(error, "code", None),
                detail=str(getattr(error, "msg", error))[:200],
            )
            return False
        metrics.SMS_MESSAGES.labels(kind=kind, outcome="sent").inc()
        return True

    def _today(self) -> date:
        return self._clock().astimezone(ZoneInfo(self._settings.support_timezone)).date()

    def _refused(self, kind: SmsKind, reason: str, call_sid: str, phone: str) -> Literal[False]:
        metrics.SMS_MESSAGES.labels(kind=kind, outcome=reason).inc()
        log.warning("sms_refused", call_sid=call_sid, kind=kind, reason=reason, to=mask_phone(phone))
        return False
