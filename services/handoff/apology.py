"""When the assistant is gone (Realtime failed), the carrier speaks a short apology and hangs up."""

from __future__ import annotations

from config.agent_config import AgentConfig
from services.telephony.twilio_rest import CallAlreadyEnded, TwilioRest
from services.telephony.twilio_voice import say_and_hangup_twiml
from utils.logger import get_logger

log = get_logger(__name__)


class CarrierApology:
    def __init__(self, agent: AgentConfig, rest: TwilioRest) -> None:
        self._agent = agent
        self._rest = rest

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
