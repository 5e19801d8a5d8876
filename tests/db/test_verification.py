"""One-time codes on the real test database: what a caller ID, a pincode and a code each unlock; codes
that lock, expire and work once; and no oracle for someone else's order."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from models.commerce import utc_now
from services.store.database import Database
from services.store.seed import DEMO_PHONE, OTHER_DEMO_PHONE
from services.tools import ToolContext, ToolRegistry, ToolResult
from services.tools.verification import MAX_CODE_REQUESTS_PER_CALL, code_hash
from tests.db.conftest import Outbox
from tests.stack import make_settings

RAHUL_ORDER = "ORD-482913"  # shipped, UPI, tracked
RAHUL_REFUND_ORDER = "ORD-482916"  # cancelled, refund processed
PRIYA_ORDER = "ORD-731205"  # returned, refund pending
STRANGER = "+919811100001"  # no orders on this number
SENSITIVE = {"total", "payment", "courier", "tracking_id", "refund"}

pytestmark = pytest.mark.usefixtures("no_verification_failures")


@pytest.fixture
def make_ctx(seeded_db: Database, outbox: Outbox) -> Callable[..., ToolContext]:
    def factory(caller: str | None = DEMO_PHONE, **kwargs: Any) -> ToolContext:
        return ToolContext(
            call_sid=kwargs.pop("call_sid", f"CA{uuid.uuid4().hex}"),
            caller_phone=caller,
            db=seeded_db,
            settings=kwargs.pop("settings", None) or make_settings(),
            conversation_summary=lambda: "",
            send_sms=kwargs.pop("send_sms", outbox),
            **kwargs,
        )

    return factory


async def run(registry: ToolRegistry, ctx: ToolContext, name: str, args: dict[str, Any]) -> ToolResult:
    return await registry.execute(f"call_{uuid.uuid4().hex[:8]}", name, json.dumps(args), ctx, 4.0)


async def lookup(registry: ToolRegistry, ctx: ToolContext, order_id: str, **extra: str) -> ToolResult:
    return await run(registry, ctx, "lookup_order", {"order_id": order_id, **extra})


# ------------------------------------------------------------------------------------------ what unlocks what


async def test_a_caller_id_match_hears_the_status_but_tracking_and_refunds_need_a_code(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext], outbox: Outbox
) -> None:
    ctx = make_ctx()
    basic = await lookup(registry, ctx, RAHUL_ORDER)
    assert basic.ok and basic.output["order"]["status"] == "shipped" and "expected_delivery" in basic.output["order"]
    assert not SENSITIVE & set(basic.output["order"])
    refund = await lookup(registry, ctx, RAHUL_REFUND_ORDER)
    assert refund.output["order"]["status"] == "cancelled" and "refund" not in refund.output["order"]

    sent = await run(registry, ctx, "send_verification_code", {"order_id": "ORD 482913"})
    assert sent.ok and sent.output["code_sent"] is True and sent.output["expires_in_minutes"] == 5
    ((to, body),) = outbox.sent
    assert to == DEMO_PHONE and RAHUL_ORDER in body and "never call" in body
    code = outbox.code_for(DEMO_PHONE)

    spoken = " ".join("shunya ek do teen chaar paanch chhe saat aath nau".split()[int(digit)] for digit in code)
    detailed = await lookup(registry, ctx, RAHUL_ORDER, verification_code=spoken)
    assert detailed.ok, detailed.output
    order = detailed.output["order"]
    assert order["tracking_id"] and order["courier"] and order["total"] == "₹3,897" and order["payment"] == "UPI"
    assert ctx.verification == "otp" and DEMO_PHONE in ctx.verified_phones
    # The code proved the number: every order of it now comes with its details, no second code.
    refund = await lookup(registry, ctx, RAHUL_REFUND_ORDER)
    assert refund.output["order"]["refund"] == "Refund of ₹2,980 is done"
    recent = await run(registry, ctx, "lookup_order", {})
    assert all("total" in listed for listed in recent.output["orders"])
    again = await run(registry, ctx, "send_verification_code", {"order_id": RAHUL_ORDER})
    assert again.ok and again.output["already_verified"] is True and len(outbox.sent) == 1
    # The agent the caller is transferred to is told how the caller was verified.
    transfer = await run(registry, ctx, "transfer_to_human", {"reason": "wants to talk about the refund"})
    assert transfer.ok and transfer.output["verification"] == "otp"


async def test_someone_elses_order_can_be_verified_only_by_the_code_sent_to_its_owner(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext], outbox: Outbox
) -> None:
    ctx = make_ctx()
    foreign = await run(registry, ctx, "send_verification_code", {"order_id": PRIYA_ORDER})
    missing = await run(registry, ctx, "send_verification_code", {"order_id": "ORD-999999"})
    # The same answer for an order that exists and one that does not; not `ok`, so nothing downstream
    # (the agent's whisper reads orders of successful tool calls) takes the order as the caller's.
    assert foreign.output == missing.output and foreign.error == "code_requested" and not foreign.ok
    assert [to for to, _ in outbox.sent] == [OTHER_DEMO_PHONE]  # to the number on file, never the caller

    wrong_foreign = await lookup(registry, ctx, PRIYA_ORDER, verification_code="000000")
    # The same first wrong code for the missing order, from another caller's call (a wrong code counts for
    # the caller's number across calls, so a second try from this one has fewer attempts left).
    elsewhere = make_ctx(STRANGER)
    await run(registry, elsewhere, "send_verification_code", {"order_id": "ORD-999999"})
    wrong_missing = await lookup(registry, elsewhere, "ORD-999999", verification_code="000000")
    if outbox.code_for(OTHER_DEMO_PHONE) != "000000":
        assert wrong_foreign.output == wrong_missing.output and wrong_foreign.error == "code_incorrect"
        assert wrong_foreign.output["attempts_left"] == 2
    verified = await lookup(registry, ctx, PRIYA_ORDER, verification_code=outbox.code_for(OTHER_DEMO_PHONE))
    assert verified.ok and verified.output["order"]["refund"].startswith("Refund of")
    assert "Priya" not in json.dumps(verified.output) and ctx.verification == "otp"


async def test_codes_per_call_are_limited_for_every_order_alike(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext], outbox: Outbox
) -> None:
    ctx = make_ctx()
    for n in range(MAX_CODE_REQUESTS_PER_CALL):
        await run(registry, ctx, "send_verification_code", {"order_id": f"ORD-99999{n}"})
    limited = await run(registry, ctx, "send_verification_code", {"order_id": RAHUL_ORDER})
    assert limited.error == "code_limit_reached" and outbox.sent == []


async def test_a_code_that_could_not_be_sent_is_said_so_for_the_callers_own_order(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext], outbox: Outbox
) -> None:
    outbox.accept = False  # e.g. the daily cap, or a number we may not text
    result = await run(registry, make_ctx(), "send_verification_code", {"order_id": RAHUL_ORDER})
    assert result.error == "code_not_sent" and result.output["message_for_caller"]
    without_sms = await run(registry, make_ctx(send_sms=None), "send_verification_code", {"order_id": RAHUL_ORDER})
    assert without_sms.error == "code_not_sent"


# ------------------------------------------------------------------------------------------ limits on a code


async def test_wrong_codes_lock_after_the_limit(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext], outbox: Outbox
) -> None:
    ctx = make_ctx()
    await run(registry, ctx, "send_verification_code", {"order_id": RAHUL_ORDER})
    right = outbox.code_for(DEMO_PHONE)
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    results = [await lookup(registry, ctx, RAHUL_ORDER, verification_code=wrong) for _ in range(3)]
    assert [r.error for r in results] == ["code_incorrect", "code_incorrect", "code_locked"]
    assert [r.output.get("attempts_left") for r in results[:2]] == [2, 1]
    # Locked: the right code no longer works, and no new code is sent. Three wrong codes are also three
    # failures of this number across calls, so it is refused like any lock, on this call and the next.
    assert (await lookup(registry, ctx, RAHUL_ORDER, verification_code=right)).error == "verification_locked"
    assert (
        await run(registry, ctx, "send_verification_code", {"order_id": RAHUL_ORDER})
    ).error == "verification_locked"
    redial = make_ctx()
    assert (await run(registry, redial, "send_verification_code", {"order_id": RAHUL_ORDER})).error == (
        "verification_locked"
    )
    assert len(outbox.sent) == 1 and ctx.verified_phones == set() and ctx.verification == "none"
    # The caller ID still hears its own order's status: that needs no check, so no lock applies to it.
    assert (await lookup(registry, redial, RAHUL_ORDER)).ok


async def test_unclear_codes_are_not_attempts(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext], outbox: Outbox
) -> None:
    ctx = make_ctx()
    await run(registry, ctx, "send_verification_code", {"order_id": RAHUL_ORDER})
    for unclear in ("pata nahi", "1234", "12345678"):
        assert (await lookup(registry, ctx, RAHUL_ORDER, verification_code=unclear)).error == "code_unclear"
    assert (await lookup(registry, ctx, RAHUL_ORDER, verification_code=outbox.code_for(DEMO_PHONE))).ok


async def test_an_expired_code_fails(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext], outbox: Outbox, seeded_db: Database
) -> None:
    ctx = make_ctx()
    await run(registry, ctx, "send_verification_code", {"order_id": RAHUL_ORDER})
    past = utc_now() - timedelta(seconds=1)
    await seeded_db.otp_codes.collection.update_one(
        {"_id": f"{ctx.call_sid}|{RAHUL_ORDER}"}, {"$set": {"code_expires_at": past}}
    )
    expired = await lookup(registry, ctx, RAHUL_ORDER, verification_code=outbox.code_for(DEMO_PHONE))
    assert expired.error == "code_expired" and "new one" in expired.output["message_for_caller"]
    # A resend replaces it with a fresh code.
    await run(registry, ctx, "send_verification_code", {"order_id": RAHUL_ORDER})
    assert (await lookup(registry, ctx, RAHUL_ORDER, verification_code=outbox.code_for(DEMO_PHONE))).ok


async def test_a_code_works_once(registry: ToolRegistry, make_ctx: Callable[..., ToolContext], outbox: Outbox) -> None:
    ctx = make_ctx()
    await run(registry, ctx, "send_verification_code", {"order_id": RAHUL_ORDER})
    code = outbox.code_for(DEMO_PHONE)
    assert (await lookup(registry, ctx, RAHUL_ORDER, verification_code=code)).ok
    # The same call's code, used again (another tool context of the call, which remembers nothing).
    replay = make_ctx(call_sid=ctx.call_sid)
    assert (await lookup(registry, replay, RAHUL_ORDER, verification_code=code)).error == "code_expired"
    # Another call cannot use it either: codes are bound to the call that asked for them.
    other_call = make_ctx()
    assert (await lookup(registry, other_call, RAHUL_ORDER, verification_code=code)).error == "code_expired"


async def test_codes_are_stored_hashed_with_a_ttl_index(
    registry: ToolRegistry, make_ctx: Callable[..., ToolContext], outbox: Outbox, seeded_db: Database
) -> None:
    ctx = make_ctx()
    await run(registry, ctx, "send_verification_code", {"order_id": RAHUL_ORDER})
    code = outbox.code_for(DEMO_PHONE)
    key = f"{ctx.call_sid}|{RAHUL_ORDER}"
    document = await seeded_db.otp_codes.collection.find_one({"_id": key})
    assert document is not None and code not in json.dumps(document, default=str)
    assert document["code_hash"] == code_hash(ctx.settings, key, code)
    assert code_hash(make_settings(token_secret="x" * 32), key, code) != document["code_hash"]
    # Declared for MongoDB (FerretDB has no TTL indexes: `code_expires_at` is checked on every attempt).
    (ttl,) = seeded_db.otp_codes.indexes
    assert ttl.document["key"] == {"expires_at": 1} and ttl.document["expireAfterSeconds"] == 0


# ------------------------------------------------------------------------------------------ the repository


async def test_the_repository_counts_every_attempt_and_marks_a_code_used(seeded_db: Database) -> None:
    codes = seeded_db.otp_codes
    key = f"CA{uuid.uuid4().hex}|ORD-000001"
    assert await codes.issue(key, "h1", ttl_s=300, max_attempts=3, max_codes=2)
    assert (await codes.check(key, "nope", max_attempts=3)).outcome == "wrong"
    check = await codes.check(key, "h1", max_attempts=3)
    assert (check.outcome, check.attempts_left) == ("verified", 1)
    assert (await codes.check(key, "h1", max_attempts=3)).outcome == "expired"  # used
    assert await codes.issue(key, "h2", ttl_s=300, max_attempts=3, max_codes=2)  # the resend
    assert not await codes.issue(key, "h3", ttl_s=300, max_attempts=3, max_codes=2)  # no third code
    # Attempts are not reset by a resend: this is the third and last.
    last = await codes.check(key, "h2", max_attempts=3)
    assert (last.outcome, last.attempts_left) == ("verified", 0)
    document = await codes.collection.find_one({"_id": key})
    assert document is not None and (document["attempts"], document["codes"], document["used"]) == (3, 2, True)
    unknown = await codes.check(f"CA{uuid.uuid4().hex}|ORD-000002", "h", max_attempts=3)
    assert (unknown.outcome, unknown.attempts_left) == ("expired", 3)


async def test_sequential_and_parallel_checks_never_pass_the_attempt_limit(seeded_db: Database) -> None:
    codes = seeded_db.otp_codes
    key = f"CA{uuid.uuid4().hex}|ORD-000003"
    assert await codes.issue(key, "right", ttl_s=300, max_attempts=3, max_codes=2)
    outcomes = [(await codes.check(key, f"wrong{n}", max_attempts=3)).outcome for n in range(3)]
    assert outcomes == ["wrong", "wrong", "locked"]
    results = await asyncio.gather(*(codes.check(key, "right", max_attempts=3) for _ in range(5)))
    assert {result.outcome for result in results} == {"locked"}
