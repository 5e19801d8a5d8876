"""Exotel's side of a transfer and of the apology. Exotel has no REST call to move a call in a flow: the
bot ends its part by closing the stream, and the flow's next applet, a Passthru to `/exotel/passthru`,
reads the call record and branches — 200 to a Connect applet (the agents), 302 to Hangup.

So a transfer here only writes "transfer wanted" (`status: transferred`, `transfer.status: dialing`) on
the record; the session then ends with reason "transferred", closes the stream, and its final record
write is what the Passthru handler waits for (https://developer.exotel.com/docs/voice-v1/applets/passthru).
"""

from __future__ import annotations

from config.settings import Settings
from models.tools import TransferRequested
from services import metrics
from services.call.ports import CallControl
from services.handoff.apology import CarrierApology
from services.handoff.carrier_transfer import mark_dialing
from services.telephony.events import CallInfo
from utils.logger import get_logger

log = get_logger(__name__)


class ExotelTransfer:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def transfer(self, call: CallControl, request: TransferRequested) -> bool:
        mark_dialing(call, request, self._settings.human_agent_number)
        metrics.TRANSFERS.labels(outcome="dialing").inc()
        log.info("transfer_wanted", call_sid=call.info.call_sid, carrier="exotel")
        return True


class ExotelApology:
    """Nothing can be spoken through Exotel without the stream: ending it sends the caller to the flow's
    Passthru, which answers "hang up" for a call that did not want a transfer."""

    def __init__(self, tickets: CarrierApology) -> None:
        self._tickets = tickets

    async def apologise(self, call_sid: str) -> bool:
        return True

    async def file_callback(self, info: CallInfo, conversation: str) -> str | None:
        return await self._tickets.file_callback(info, conversation)
