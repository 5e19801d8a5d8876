"""Verification limits across real calls: a stranger who failed three times and redials is still refused,
so is the order from another number, and staff unlock it through the admin API."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.fakes.mulaw import tone
from tests.fakes.realtime_server import Script, Turn
from tests.stack import ADMIN_TOKEN, LiveStack, live_stack, wait_for_greeting

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

PRIYA_ORDER = "ORD-731205"  # belongs to +919812345678, delivery pincode 560034
STRANGER, OTHER_STRANGER = "+919811100001", "+919811100002"


@pytest.fixture
async def stack(seeded: tuple[str, str]):
    async with live_stack(*seeded) as running:
        await running.services.db.verification_failures.collection.delete_many({})
        yield running


def pincode_turn(answer: str) -> Turn:
    return Turn(tool_calls=[("lookup_order", json.dumps({"order_id": PRIYA_ORDER, "verification": answer}))])


async def call_with(stack: LiveStack, caller: str, answers: list[str]) -> list[dict]:
    """One call from `caller`: a turn per pincode, each answered by `lookup_order`; the outputs."""
    stack.realtime.script = Script(greeting_ms=300, reply_ms=400, turns=[pincode_turn(a) for a in answers])
    before = len(stack.realtime.sessions)
    call = await stack.sim.place_call(from_=caller)
    await call.connect_stream()
    session = (await stack.realtime.wait_for_sessions(before + 1))[-1]
    await wait_for_greeting(call)
    for turn, _ in enumerate(answers, start=1):
        await call.say_and_wait(tone(500, 440))
        await session.wait_for(lambda n=turn: len(session.function_outputs) >= n, timeout=10, what="output")
        await session.wait_for(
            lambda: (
                session.responses[-1]["kind"] == "tool_followup" and session.responses[-1]["status"] != "in_progress"
            ),
            timeout=10,
            what="spoken follow-up",
        )
        await call.wait_playback_idle(timeout=10)
    await call.hangup()
    return [json.loads(output) for output in session.function_outputs.values()]


async def test_a_stranger_who_failed_three_times_and_redials_is_refused_until_staff_unlock(stack: LiveStack) -> None:
    first = await call_with(stack, STRANGER, ["110001", "400001", "700001"])
    assert [output["error"] for output in first] == [
        "verification_failed",
        "verification_failed",
        "verification_locked",
    ]

    # A new call from the same number, with the RIGHT pincode: still refused.
    (redial,) = await call_with(stack, STRANGER, ["560034"])
    # The same order from another number, with the right pincode: refused too, in the same words.
    (other,) = await call_with(stack, OTHER_STRANGER, ["560034"])
    for refused in (redial, other):
        assert refused["ok"] is False and refused["error"] == "verification_locked"
        assert refused == first[2] and "returned" not in json.dumps(refused)

    async with httpx.AsyncClient(base_url=stack.app_url) as admin:
        unlock = {"order_id": "ORD 731205", "phone": "+91 98111 00001"}
        assert (await admin.post("/verification-locks/unlock", json=unlock)).status_code == 401
        wrong = {"Authorization": "Bearer wrong-token-0123456789"}
        assert (await admin.post("/verification-locks/unlock", json=unlock, headers=wrong)).status_code == 401
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        for bad in ({}, {"order_id": "not an order"}, {"phone": "12"}):
            assert (await admin.post("/verification-locks/unlock", json=bad, headers=headers)).status_code == 422
        response = await admin.post("/verification-locks/unlock", json=unlock, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"order_id": PRIYA_ORDER, "phone": STRANGER, "cleared": 2}

    (after,) = await call_with(stack, STRANGER, ["560034"])
    assert after["ok"] is True and after["order"]["order_id"] == PRIYA_ORDER and after["order"]["status"] == "returned"
    stack.realtime.assert_clean()
