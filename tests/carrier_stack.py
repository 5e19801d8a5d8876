"""The live stack (`tests.stack.live_stack`) with one carrier's double in front of it: Twilio, Plivo or Exotel.

`CarrierStack` gives the end-to-end scenarios one way to place a call, whatever the carrier; each
carrier's own checks (signatures, transfers) live in its double and are reached through `stack.carrier`.
"""

from __future__ import annotations

import contextlib
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from tests.fakes.exotel_sim import ExotelSimulator
from tests.fakes.plivo_sim import FakePlivoRest, PlivoSimulator
from tests.stack import DEMO_CALLER, PUBLIC_BASE_URL, LiveStack, live_stack, stream_base_url

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

    async def dialled_for_transfer(self, call: Any, timeout: float = 15.0) -> str:
        """What the carrier did to hand the call to a human: the number it dials (Twilio, Plivo, as E.164),
        or the branch the flow took (Exotel: "connect" is the Connect applet with the agents)."""
        if self.name == "twilio":
            update = await self.rest.wait_for_call_update(call.call_sid, timeout=timeout)
            return _dialled(update.form["Twiml"])
        if self.name == "plivo":
            await call.wait_for(lambda: call.transfer_xml is not None, timeout=timeout)
            assert [r.form["legs"] for r in self.rest.transfers(call.call_sid)] == ["aleg"]
            assert f'callerId="{call.to.lstrip("+")}"' in call.transfer_xml  # our number, not the caller's
            return "+" + _dialled(call.transfer_xml)
        await call.wait_for(lambda: call.passthru_branch is not None, timeout=timeout)
        return str(call.passthru_branch)

    async def ended_by_us(self, call: Any, timeout: float = 10.0) -> None:
        """The app ended the call, the way this carrier expects (closing the stream, plus what follows)."""
        await call.wait_closed(timeout=timeout)
        assert call.closed_by_app
        if self.name == "plivo":  # the socket closed, and the call was hung up through REST
            await call.wait_for(lambda: [r.status for r in self.rest.hangups(call.call_sid)] == [204], timeout=5)
            assert call.after_stream == ["Hangup"]  # and had it not been, the XML would hang up
        if self.name == "exotel":  # the flow's Passthru was told: no transfer, hang up
            await call.wait_for(lambda: call.passthru_branch == "hangup", timeout=5)


def _dialled(xml: str) -> str:
    root = ET.fromstring(xml)
    number = root.find("Dial/Number")
    assert root.tag == "Response" and number is not None, xml
    return (number.text or "").strip()


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
                sim.stream_base_url = stream_base_url(live.settings)
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
            sim.stream_base_url = stream_base_url(live.settings)
            try:
                yield CarrierStack(name, live, sim, None)
            finally:
                await sim.aclose()
        return
    raise ValueError(f"unknown carrier {name!r}")
