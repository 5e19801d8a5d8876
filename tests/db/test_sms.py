"""`TicketTexter` on the real test database: SMS only to mobile numbers of the allowed countries, and at
most the daily cap per number (India day), counted in MongoDB."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from pymongo import AsyncMongoClient

from devtools.ferretdb import free_port
from models.tools import TicketFiled
from services import metrics
from services.handoff.ticket_sms import TicketTexter
from services.store.client import create_mongo_client
from services.store.database import Database
from services.telephony.events import CallInfo
from services.telephony.twilio_rest import TwilioRest
from tests.stack import make_settings

OUR_NUMBER = "+918000000000"


class FakeRest:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.fail = False

    async def send_sms(self, to: str, body: str) -> str:
        if self.fail:
            raise RuntimeError("twilio says no")
        self.sent.append((to, body))
        return "SM" + uuid.uuid4().hex


def at(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


@pytest.fixture
def rest() -> FakeRest:
    return FakeRest()


@pytest.fixture
def make_texter(seeded_db: Database, rest: FakeRest) -> Callable[..., TicketTexter]:
    def factory(
        db: Database | None = None, clock: Callable[[], datetime] | None = None, **settings: Any
    ) -> TicketTexter:
        quota = (db or seeded_db).sms_quota
        kwargs = {"clock": clock} if clock else {}
        return TicketTexter(make_settings(**settings), cast(TwilioRest, rest), quota, **kwargs)

    return factory


def sms_metric(kind: str, outcome: str) -> float:
    value = metrics.REGISTRY.get_sample_value("voice_sms_total", {"kind": kind, "outcome": outcome})
    return value or 0.0


def fresh_mobile() -> str:
    return f"+9198{uuid.uuid4().int % 10**8:08d}"


async def test_at_most_the_daily_cap_per_number_and_a_new_day_starts_again(
    make_texter: Callable[..., TicketTexter], rest: FakeRest
) -> None:
    phone = fresh_mobile()
    # 00:15 on 2 March in India, still 1 March in UTC.
    late = make_texter(clock=at(datetime(2026, 3, 1, 18, 45, tzinfo=UTC)), max_sms_per_number_per_day=5)
    capped_before = sms_metric("ticket", "daily_cap")
    results = [await late.send(phone, f"TKT-00000{n}", call_sid="CA1") for n in range(7)]
    assert results == [True] * 5 + [False] * 2
    assert [to for to, _ in rest.sent] == [phone] * 5
    assert sms_metric("ticket", "daily_cap") == capped_before + 2
    # Still 2 March in India: the same day's count.
    same_day = make_texter(clock=at(datetime(2026, 3, 2, 12, 0, tzinfo=UTC)), max_sms_per_number_per_day=5)
    assert not await same_day.send_text(phone, "code", call_sid="CA2", kind="verification_code")
    next_day = make_texter(clock=at(datetime(2026, 3, 2, 19, 0, tzinfo=UTC)))
    assert await next_day.send(phone, "TKT-000009", call_sid="CA3")
    assert len(rest.sent) == 6


async def test_ticket_and_code_sms_share_the_cap(make_texter: Callable[..., TicketTexter], rest: FakeRest) -> None:
    phone, texter = fresh_mobile(), make_texter(max_sms_per_number_per_day=2)
    assert await texter.send(phone, "TKT-000001", call_sid="CA1")
    assert await texter.send_text(phone, "ShopKart: 123456 ...", call_sid="CA1", kind="verification_code")
    assert not await texter.send_text(phone, "ShopKart: 654321 ...", call_sid="CA1", kind="verification_code")
    assert len(rest.sent) == 2


@pytest.mark.parametrize(
    "phone",
    [
        "+14155550100",  # US
        "+447400123456",  # UK mobile
        "+442071838750",  # UK landline
        "+917933459944",  # an Indian landline (Ahmedabad) that looks like a mobile to a digit count
        "+911800123456",  # Indian toll-free
        "+91123",  # not a number
    ],
)
async def test_no_sms_outside_the_allowed_countries_or_to_non_mobiles(
    make_texter: Callable[..., TicketTexter], rest: FakeRest, seeded_db: Database, phone: str
) -> None:
    refused_before = sms_metric("ticket", "number_not_allowed")
    assert not await make_texter().send(phone, "TKT-000001", call_sid="CA1")
    assert rest.sent == [] and sms_metric("ticket", "number_not_allowed") == refused_before + 1
    assert await seeded_db.sms_quota.collection.count_documents({"phone": phone}) == 0  # no quota used


async def test_configured_countries_are_honoured(make_texter: Callable[..., TicketTexter], rest: FakeRest) -> None:
    texter = make_texter(sms_countries=["IN", "GB"])
    assert await texter.send("+447400123456", "TKT-000001", call_sid="CA1")
    assert not await texter.send("+14155550100", "TKT-000001", call_sid="CA1")
    assert [to for to, _ in rest.sent] == ["+447400123456"]


async def test_ticket_filed_texts_the_caller_but_not_a_sip_caller(
    make_texter: Callable[..., TicketTexter], rest: FakeRest
) -> None:
    texter = make_texter()
    ticket = TicketFiled(ticket_id="TKT-123456", response_within="24 hours")
    phone = fresh_mobile()
    await texter.ticket_filed(CallInfo("CA1", "MZ1", phone, OUR_NUMBER, "inbound"), ticket)
    for caller in ("sip:alice@example.com", "client:alice", None):
        await texter.ticket_filed(CallInfo("CA2", "MZ2", caller, OUR_NUMBER, "inbound"), ticket)
    assert rest.sent == [(phone, rest.sent[0][1])] and "TKT-123456" in rest.sent[0][1]
    assert texter.customer_number("sip:+919876543210@trunk.example.com", OUR_NUMBER) is None


async def test_a_failed_send_counts_and_never_raises(make_texter: Callable[..., TicketTexter], rest: FakeRest) -> None:
    rest.fail = True
    failed_before = sms_metric("ticket", "failed")
    assert not await make_texter().send(fresh_mobile(), "TKT-000001", call_sid="CA1")
    assert sms_metric("ticket", "failed") == failed_before + 1


@pytest.fixture
async def unreachable_db() -> AsyncIterator[Database]:
    client: AsyncMongoClient = create_mongo_client(f"mongodb://127.0.0.1:{free_port()}/", serverSelectionTimeoutMS=200)
    try:
        yield Database(client, "unreachable")
    finally:
        await client.close()


async def test_without_the_counter_nothing_is_sent(
    make_texter: Callable[..., TicketTexter], rest: FakeRest, unreachable_db: Database
) -> None:
    assert not await make_texter(db=unreachable_db).send(fresh_mobile(), "TKT-000001", call_sid="CA1")
    assert rest.sent == []
