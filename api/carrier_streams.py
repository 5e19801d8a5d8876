"""What the Plivo and Exotel stream endpoints share: the per-call values their stream URL carries (bound
to it by the token), and running the call once the stream is admitted."""

from __future__ import annotations

import re
from typing import Literal

from starlette.datastructures import QueryParams

from services.call.ports import CallDependencies
from services.call.session import CallSession
from services.container import AppServices
from services.telephony.events import CallInfo, MediaStream

Direction = Literal["inbound", "outbound"]


def stream_parameters(call_sid: str, caller: str, called: str, direction: str, carrier: str) -> dict[str, str]:
    """What the token binds: the stream's URL hands these back, and they must be exactly these."""
    return {"call_sid": call_sid, "caller": caller, "called": called, "direction": direction, "carrier": carrier}


def url_fields(parameters: dict[str, str], token: str) -> dict[str, str]:
    """The stream URL's query: the parameters (the carrier is implied by the path) and the token."""
    return {**{k: v for k, v in parameters.items() if k != "carrier"}, "t": token}


def from_query(query: QueryParams, carrier: str) -> tuple[dict[str, str], str, Direction]:
    """The parameters and token a stream URL carries back (checked against the token by the caller)."""
    direction: Direction = "outbound" if query.get("direction") == "outbound" else "inbound"
    call_sid = query.get("call_sid", "")
    parameters = stream_parameters(call_sid, query.get("caller", ""), query.get("called", ""), direction, carrier)
    return parameters, query.get("t", ""), direction


def call_info(parameters: dict[str, str], stream_sid: str, direction: Direction) -> CallInfo:
    caller, called = parameters["caller"] or None, parameters["called"] or None
    return CallInfo(
        call_sid=parameters["call_sid"], stream_sid=stream_sid, caller=caller, called=called, direction=direction
    )


async def run_call(services: AppServices, deps: CallDependencies, media: MediaStream) -> None:
    session = CallSession(deps, media)
    services.live_calls.add(session)
    try:
        await session.run()
    finally:
        services.live_calls.remove(session)


async def claim(services: AppServices, parameters: dict[str, str], token: str, call_id: re.Pattern[str]) -> str | None:
    """Why the stream may not start (None: it may): the single-use claim of its token, then a free line."""
    call_sid, carrier = parameters["call_sid"], parameters["carrier"]
    with services.loop_pacer.unpaced():  # database round trips while the caller waits (services/loop_pacer.py)
        reason = await services.stream_gate.admit(call_sid, parameters, token, carrier, call_id=call_id)
    if reason is None and not services.admission.admit_stream(call_sid):  # synchronous: the call is added next
        reason = "over_capacity"
    return reason
