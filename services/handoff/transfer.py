"""Moving a live call to a human agent.

The session runs `HumanHandoff.transfer` once the line announcing it has played. A transfer replaces
the call's TwiML through the REST API with a `<Dial>` of the agent; that also ends our media stream,
and Twilio's `stop` is recorded as "transferred", not a hang-up. `TwilioRest` retries a redirect
Twilio refuses (transient errors only, `REDIRECT_ATTEMPTS` attempts) and fails fast while its circuit
breaker is open; when it still fails, the call goes back to the conversation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from twilio.twiml.voice_response import Dial, VoiceResponse

from config.agent_file import agent_number_for
from config.settings import Settings
from models.tools import TransferRequested
from services import metrics
from services.call.ports import CallControl
from services.call_tokens import CallTokens
from services.handoff.carrier_transfer import mark_dialing, mark_redirect_failed
from services.store.transfers import TransferRepository
from services.telephony.twilio_rest import RETRY_ATTEMPTS, TwilioRest
from utils.logger import get_logger

log = get_logger(__name__)

# The whisper URL is fetched only once the agent answers: up to the <Dial> timeout after the redirect,
# plus Twilio's own set-up time. Far longer than a stream token, so it gets its own, scoped token.
WHISPER_TOKEN_TTL_S = 600
DIAL_TIMEOUT_S = 20
REDIRECT_ATTEMPTS = RETRY_ATTEMPTS  # the retry policy is TwilioRest's, for every idempotent request

# Bookkeeping that must outlive the call session that started it (see `transfer`).
_BACKGROUND: set[asyncio.Task[bool]] = set()


class HumanHandoff:
    def __init__(
        self,
        settings: Settings,
        rest: TwilioRest,
        transfers: TransferRepository,
        whisper_tokens: CallTokens,
        departments: Mapping[str, str] | None = None,
    ) -> None:
        self._settings = settings
        self._departments = dict(departments or {})  # department -> agent number (agent file)
        self._rest = rest
        self._transfers = transfers
        self.whisper_tokens = whisper_tokens  # their own key: never valid as a stream token

    def agent_number(self, department: str | None) -> str | None:
        return agent_number_for(self._departments, department, self._settings.human_agent_number)

    def dial_twiml(self, call_sid: str, department: str | None = None) -> str:
        """`<Dial>` the department's agent; the whisper tells the agent who is calling before bridging."""
        settings = self._settings
        token = self.whisper_tokens.issue(call_sid)
        response = VoiceResponse()
        dial = Dial(
            action=settings.public_url(f"/transfer-result?call_sid={call_sid}"),
            timeout=DIAL_TIMEOUT_S,
            caller_id=settings.twilio_phone_number,
            answer_on_bridge=True,
        )
        dial.number(
            self.agent_number(department),
            url=settings.public_url(f"/whisper?call_sid={call_sid}&token={token}"),
        )
        response.append(dial)
        return str(response)

    async def transfer(self, call: CallControl, request: TransferRequested) -> bool:
        # The record says "dialing" before the redirect: Twilio's `stop` (caused by the redirect) can end
        # the session, and cancel this task, before the REST reply arrives, and the final write must
        # already carry the transfer.
        mark_dialing(call, request, self.agent_number(request.department))
        # Shielded: the bookkeeping after the redirect must finish even when the session closes first.
        task = asyncio.ensure_future(self._redirect_to_agent(call))
        _BACKGROUND.add(task)
        task.add_done_callback(_BACKGROUND.discard)
        return await asyncio.shield(task)

    async def _redirect_to_agent(self, call: CallControl) -> bool:
        call_sid, record = call.info.call_sid, call.record
        try:
            department = record.transfer.department if record.transfer is not None else None
            await self._rest.redirect_call(call_sid, self.dial_twiml(call_sid, department))
        except Exception as error:
            mark_redirect_failed(call)
            log.error("transfer_redirect_failed", call_sid=call_sid, error=repr(error)[:300])
            await self._transfers.set_status(call_sid, "failed")  # best effort, never raises
            return False
        metrics.TRANSFERS.labels(outcome="dialing").inc()
        log.info("transfer_dialing", call_sid=call_sid)
        await self._transfers.set_status(call_sid, "dialing")
        return True
