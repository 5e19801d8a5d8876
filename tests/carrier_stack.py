"""The live stack (`tests.stack.live_stack`) with one carrier's double in front of it: Twilio, Plivo or Exotel.

`CarrierStack` gives the end-to-end scenarios one way to place a call, whatever the carrier; each
carrier's own checks (signatures, transfers) live in its double and are reached through `stack.carrier`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from tests.fakes.exotel_sim import ExotelSimulator
from tests.fakes.plivo_sim import FakePlivoRest, PlivoSimulator
from tests.stack import DEMO_CALLER, PUBLIC_BASE_URL, LiveStack, live_stack

PLIVO_AUTH_ID = "MAZDQ1ZDU0YTQ0MZJMZT"
PLIVO_AUTH_TOKEN = "plivo-test-auth-token-0123456789"
EXOTEL_ACCOUNT_SID = "acmesupport1"
EXOTEL_USER = "exotel"
EXOTEL_SECRET = "exotel-stream-secret-0123456789abcdef"
CARRIERS = ("twilio", "plivo", "exotel")


@dataclass
class CarrierStack:
    name: str
    live: LiveStack
    carrier: Any  # the carrier's simulator (TwilioSimulator, PlivoSimulator, ...)
    rest: Any  # the carrier's REST double (None where the carrier has none)

    async def place_call(self, caller: str = DEMO_CALLER) -> Any:
        """Ring the app and connect the media stream; returns the simulated call."""
        if self.name == "twilio":
            call = await self.live.sim.place_call(from_=caller)
        else:
            call = await self.carrier.place_call(from_=caller)
        await call.connect_stream()
        return call


@contextlib.asynccontextmanager
async def carrier_stack(name: str, mongo_uri: str, database_name: str, **overrides: Any) -> AsyncIterator[CarrierStack]:
    if name == "twilio":
        async with live_stack(mongo_uri, database_name, **overrides) as live:
            yield CarrierStack(name, live, live.sim, live.rest)
        return
    if name == "plivo":
        rest = await FakePlivoRest(PLIVO_AUTH_ID, PLIVO_AUTH_TOKEN).start()
        settings = {"plivo_auth_id": PLIVO_AUTH_ID, "plivo_auth_token": PLIVO_AUTH_TOKEN, **overrides}
        try:
            async with live_stack(mongo_uri, database_name, plivo_api_base_url=rest.base_url, **settings) as live:
                sim = PlivoSimulator(live.app_url, PUBLIC_BASE_URL, PLIVO_AUTH_ID, PLIVO_AUTH_TOKEN)
                rest.sim = sim
                try:
                    yield CarrierStack(name, live, sim, rest)
                finally:
                    await sim.aclose()
        finally:
            await rest.stop()
        return
    if name == "exotel":
        settings = {"exotel_account_sid": EXOTEL_ACCOUNT_SID, "exotel_stream_secret": EXOTEL_SECRET, **overrides}
        async with live_stack(mongo_uri, database_name, **settings) as live:
            sim = ExotelSimulator(live.app_url, PUBLIC_BASE_URL, EXOTEL_ACCOUNT_SID, EXOTEL_USER, EXOTEL_SECRET)
            try:
                yield CarrierStack(name, live, sim, None)
            finally:
                await sim.aclose()
        return
    raise ValueError(f"unknown carrier {name!r}")
