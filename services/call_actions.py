"""What happens to a live call outside the audio relay: hand-off to a human, hang-up, apology.

Each runs only after the assistant's announcing line has fully played (the session waits for the
last mark echo), so the caller never hears a cut-off sentence.

How a call ends: our TwiML has nothing after `<Connect><Stream>`, so closing the media stream ends
the call (`session.end`). A transfer replaces the call's TwiML through the REST API, which also ends
the stream; Twilio then sends `stop`, which the session records as "transferred", not a hang-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from twilio.twiml.voice_response import Dial, VoiceResponse

from models.call_record import TranscriptLine, TransferInfo
from services import metrics
from services.twilio_rest import CallAlreadyEnded
from services.twilio_service import say_and_hangup_twiml
from utils.hinglish import mask_phone
from utils.logger import get_logger

if TYPE_CHECKING:
    from services.call_session import CallSession
    from services.runtime import AppServices

log = get_logger(__name__)

IST = ZoneInfo("Asia/Kolkata")


class CallActions:
    def __init__(self, services: AppServices) -> None:
        self._services = services
        self._settings = services.settings

    async def run(self, session: CallSession, action: str, result: Any) -> None:
        if action == "end_call":
            session.end(session.end_reason_after_action)
        elif action == "transfer":
            await self.transfer(session, result)

    async def after_tool(self, session: CallSession, result: Any) -> None:
        """Side effects after a tool call (runs as its own task)."""

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
        token = self._services.stream_tokens.issue(call_sid)
        response = VoiceResponse()
        dial = Dial(
            action=settings.public_url(f"/transfer-result?call_sid={call_sid}"),
            timeout=20,
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
        record.transfer = TransferInfo(
            status="requested",
            reason=output.get("reason") or result.arguments.get("reason"),
            department=output.get("department") or result.arguments.get("department"),
            summary=output.get("summary"),
            agent_number_masked=mask_phone(self._settings.human_agent_number or ""),
        )
        session.transfer_in_progress = True
        try:
            await self._services.twilio_rest.redirect_call(session.call_sid, self.dial_twiml(session.call_sid))
        except Exception as error:
            session.transfer_in_progress = False
            record.transfer.status = "failed"
            metrics.TRANSFERS.labels(outcome="redirect_failed").inc()
            await self._services.db.transfers.set_status(session.call_sid, "failed")
            log.error("transfer_redirect_failed", call_sid=session.call_sid, error=repr(error))
            record.transcript.append(TranscriptLine(role="system", text="Transfer failed to start"))
            session.recorder.touch()
            await session.tell_model(
                "The transfer to a human agent failed. Apologise briefly and offer to create a callback ticket instead."
            )
            return
        record.transfer.status = "dialing"
        record.status = "transferred"
        metrics.TRANSFERS.labels(outcome="dialing").inc()
        await self._services.db.transfers.set_status(session.call_sid, "dialing")
        session.recorder.touch()
        log.info("transfer_dialing", call_sid=session.call_sid)
        session.end("transferred")
