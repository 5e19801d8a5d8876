"""The carriers beside Twilio, each on when its settings are present: what their webhooks and calls use.

Each carrier's calls get the process-wide `CallDependencies` with that carrier's transfer and apology
(`services.handoff.plivo_handoff`, `exotel_handoff`); nothing else about a call differs by carrier.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from config.settings import Settings
from services.call.ports import CallDependencies
from services.handoff.apology import CarrierApology
from services.handoff.exotel_handoff import ExotelApology, ExotelTransfer
from services.handoff.plivo_handoff import PlivoApology, PlivoTransfer
from services.telephony.plivo_rest import PlivoRest
from services.telephony.plivo_voice import PlivoSignatures


@dataclass
class PlivoCarrier:
    signatures: PlivoSignatures
    rest: PlivoRest
    call_deps: CallDependencies


@dataclass
class ExotelCarrier:
    call_deps: CallDependencies


@dataclass
class Carriers:
    plivo: PlivoCarrier | None = None
    exotel: ExotelCarrier | None = None

    async def aclose(self) -> None:
        if self.plivo is not None:
            await self.plivo.rest.aclose()


def build_carriers(settings: Settings, deps: CallDependencies, tickets: CarrierApology) -> Carriers:
    carriers = Carriers()
    if settings.plivo_enabled and settings.plivo_auth_token is not None:
        rest = PlivoRest(settings)
        carriers.plivo = PlivoCarrier(
            signatures=PlivoSignatures(settings.plivo_auth_token.get_secret_value(), settings.public_base_url),
            rest=rest,
            call_deps=dataclasses.replace(
                deps, transfers=PlivoTransfer(settings, rest), failure_notice=PlivoApology(settings, rest, tickets)
            ),
        )
    if settings.exotel_enabled:
        carriers.exotel = ExotelCarrier(
            call_deps=dataclasses.replace(
                deps, transfers=ExotelTransfer(settings), failure_notice=ExotelApology(tickets)
            )
        )
    return carriers
