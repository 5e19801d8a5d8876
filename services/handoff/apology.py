"""When the assistant is gone (Realtime failed for good), the carrier speaks a short apology and hangs up,
and a callback ticket keeps the caller from being left without help."""

from __future__ import annotations

import asyncio

from pymongo.errors import PyMongoError

from config.agent_config import AgentConfig
from services.handoff.ticket_sms import TicketTexter
from services.store.tickets import TicketIdExhausted, TicketRepository
from services.telephony.events import CallInfo
from services.telephony.twilio_rest import CallAlreadyEnded, TwilioRest
from services.telephony.twilio_voice import say_and_hangup_twiml
from utils.logger import get_logger

log = get_logger(__name__)

# SMS that must outlive the call that filed the ticket (the call ends right after the apology).
_TEXTING: set[asyncio.Task[bool]] = set()


class CarrierApology:
    def __init__(self, agent: AgentConfig, rest: TwilioRest, tickets: TicketRepository, texter: TicketTexter) -> None:
        self._agent = agent
        self._rest = rest
        self._tickets = tickets
        self._texter = texter

    async def file_callback(self, info: CallInfo, conversation: str) -> str | None:
        """The call could not go on: a callback ticket carries what was said, and the caller gets its number."""
        phone = self._texter.customer_number(info.caller, info.called)
        try:
            ticket = await self._tickets.create(
                category="callback",
                description=f"Call back: the assistant lost its connection mid-call. So far: {conversation}"[:1000],
                priority="high",
                call_sid=info.call_sid,
                phone=phone,
                order_id=None,
            )
        except (PyMongoError, TicketIdExhausted) as error:
            log.error("dropped_call_ticket_failed", call_sid=info.call_sid, error=type(error).__name__)
            return None
        log.info("dropped_call_ticket", call_sid=info.call_sid, ticket_id=ticket.ticket_id)
        if phone is not None:  # texted in the background: the caller must hear the apology now
            task = asyncio.create_task(self._texter.send(phone, ticket.ticket_id, "24 hours", call_sid=info.call_sid))
            _TEXTING.add(task)
            task.add_done_callback(_TEXTING.discard)
        return ticket.ticket_id

    async def apologise(self, call_sid: str) -> bool:
        try:
            await self._rest.redirect_call(
                call_sid, say_and_hangup_twiml(self._agent.apology_text, self._agent.apology_language)
            )
            return True
        except CallAlreadyEnded:
            return False
        except Exception as error:
            log.error("apology_redirect_failed", call_sid=call_sid, error=repr(error))
            return False
