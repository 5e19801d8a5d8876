"""Plivo's side of a transfer and of the apology: both are a REST transfer of the caller's leg to our XML.

Plivo fetches `/plivo/transfer` (a `<Dial>` to the human agent, an Indian number: media anchoring, checked
at start-up) or `/plivo/apology` (`<Speak>` then `<Hangup/>`), signed like every Plivo request; the
stream stops on the way (`stop`), and the session reads that as "transferred" (`speech.ActionSlot`).
"""

from __future__ import annotations

from config.settings import Settings
from models.tools import TransferRequested
from services import metrics
from services.call.ports import CallControl
from services.handoff.apology import CarrierApology
from services.handoff.carrier_transfer import mark_dialing, mark_redirect_failed
from services.telephony.events import CallInfo
from services.telephony.plivo_rest import PlivoCallEnded, PlivoRest
from utils.logger import get_logger

log = get_logger(__name__)


class PlivoTransfer:
    def __init__(self, settings: Settings, rest: PlivoRest) -> None:
        self._settings = settings
        self._rest = rest

    async def transfer(self, call: CallControl, request: TransferRequested) -> bool:
        call_uuid = call.info.call_sid
        if not self._settings.human_agent_number:
            metrics.TRANSFERS.labels(outcome="unconfigured").inc()
            return False
        mark_dialing(call, request, self._settings.human_agent_number)
        try:
            await self._rest.transfer(call_uuid, self._settings.public_url("/plivo/transfer"))
        except Exception as error:
            mark_redirect_failed(call)
            log.error("plivo_transfer_failed", call_sid=call_uuid, error=type(error).__name__)
            return False
        metrics.TRANSFERS.labels(outcome="dialing").inc()
        log.info("transfer_dialing", call_sid=call_uuid, carrier="plivo")
        return True


class PlivoApology:
    """`FailureNotice` for Plivo calls: the callback ticket is the carrier-agnostic one."""

    def __init__(self, settings: Settings, rest: PlivoRest, tickets: CarrierApology) -> None:
        self._settings = settings
        self._rest = rest
        self._tickets = tickets

    async def apologise(self, call_sid: str) -> bool:
        try:
            await self._rest.transfer(call_sid, self._settings.public_url("/plivo/apology"))
            return True
        except PlivoCallEnded:
            return False
        except Exception as error:
            log.error("plivo_apology_failed", call_sid=call_sid, error=type(error).__name__)
            return False

    async def file_callback(self, info: CallInfo, conversation: str) -> str | None:
        return await self._tickets.file_callback(info, conversation)
