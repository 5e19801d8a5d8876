"""All repositories of one database."""

from __future__ import annotations

from datetime import UTC

from bson.codec_options import CodecOptions
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from services.store.base import IndexedCollection
from services.store.call_counters import CallCounterRepository
from services.store.calls import CALLS_COLLECTION, CallRepository
from services.store.client import Document
from services.store.console_users import ConsoleUserRepository
from services.store.customers import CustomerRepository
from services.store.knowledge import KNOWLEDGE_COLLECTION, KnowledgeRepository
from services.store.orders import OrderRepository
from services.store.otp_codes import OtpCodeRepository
from services.store.products import ProductRepository
from services.store.sms_quota import SmsQuotaRepository
from services.store.stream_claims import StreamClaimRepository
from services.store.tickets import TicketRepository
from services.store.transfers import TransferRepository
from services.store.verification_failures import VerificationFailureRepository


class Database:
    """The repositories of one database, one per collection; `raw` is the database itself (tests and
    maintenance scripts; application code goes through the repositories)."""

    def __init__(
        self, client: AsyncMongoClient[Document], database_name: str, *, call_record_retention_days: int | None = None
    ) -> None:
        self.client = client
        # Aware UTC datetimes whatever options the client was built with.
        self.raw: AsyncDatabase[Document] = client.get_database(
            database_name, codec_options=CodecOptions(tz_aware=True, tzinfo=UTC)
        )
        self.customers = CustomerRepository(self.raw["customers"])
        self.orders = OrderRepository(self.raw["orders"])
        self.products = ProductRepository(self.raw["products"])
        self.tickets = TicketRepository(self.raw["tickets"])
        self.transfers = TransferRepository(self.raw["transfers"])
        self.calls = CallRepository(self.raw[CALLS_COLLECTION])
        if call_record_retention_days is not None:  # a TTL index; none: records are kept until deleted
            self.calls.indexes = (*CallRepository.indexes, CallRepository.retention_index(call_record_retention_days))
        self.stream_claims = StreamClaimRepository(self.raw["stream_claims"])
        self.otp_codes = OtpCodeRepository(self.raw["otp_codes"])
        self.sms_quota = SmsQuotaRepository(self.raw["sms_quota"])
        self.call_counters = CallCounterRepository(self.raw["call_counters"])
        self.verification_failures = VerificationFailureRepository(self.raw["verification_failures"])
        self.console_users = ConsoleUserRepository(self.raw["console_users"])
        self.knowledge = KnowledgeRepository(self.raw[KNOWLEDGE_COLLECTION])

    @property
    def repositories(self) -> tuple[IndexedCollection, ...]:
        return (
            self.customers,
            self.orders,
            self.products,
            self.tickets,
            self.transfers,
            self.calls,
            self.stream_claims,
            self.otp_codes,
            self.sms_quota,
            self.call_counters,
            self.verification_failures,
            self.console_users,
            self.knowledge,
        )

    async def ensure_indexes(self) -> None:
        for repository in self.repositories:
            await repository.ensure_indexes()

    async def ping(self) -> bool:
        try:
            await self.raw.command("ping")
            return True
        except PyMongoError:
            return False
