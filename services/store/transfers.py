"""The `transfers` collection: at most one hand-off to a human agent per call, keyed by call sid."""

from __future__ import annotations

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError, PyMongoError

from models.commerce import CallerVerification, Department, Transfer, TransferStatus, utc_now
from services.metrics import DB_ERRORS
from services.store.base import Repository
from utils.logger import get_logger

log = get_logger(__name__)


class TransferRepository(Repository[Transfer]):
    model = Transfer
    key = "call_sid"
    # One transfer per call: the unique index makes a second request find the first.
    indexes = (IndexModel([("call_sid", ASCENDING)], unique=True, name="call_sid_unique"),)

    async def request(
        self,
        *,
        call_sid: str,
        phone: str | None,
        reason: str,
        department: Department,
        summary: str,
        verification: CallerVerification = "none",
    ) -> tuple[Transfer, bool]:
        """Record the call's transfer unless it has one; returns (transfer, created)."""
        now = utc_now()
        new = Transfer(
            call_sid=call_sid,
            phone=phone,
            reason=reason,
            department=department,
            summary=summary,
            verification=verification,
            created_at=now,
            updated_at=now,
        )
        document = self._document(new)
        try:
            before = await self.collection.find_one_and_update(
                {"_id": call_sid},
                {"$setOnInsert": {k: v for k, v in document.items() if k != "_id"}},
                upsert=True,
                return_document=ReturnDocument.BEFORE,
            )
        except DuplicateKeyError:  # two concurrent upserts: the other one inserted first
            before = await self.collection.find_one({"_id": call_sid})
        if before is None:
            return new, True
        return Transfer.model_validate(before), False

    async def set_status(self, call_sid: str, status: TransferStatus) -> bool:
        """Best effort, never raises: the bridge calls it while moving a live call, where a database
        outage must not stop the transfer. False when there is no such transfer or the write failed."""
        try:
            result = await self.collection.update_one(
                {"_id": call_sid}, {"$set": {"status": status, "updated_at": utc_now()}}
            )
        except PyMongoError as error:
            DB_ERRORS.labels(operation="transfer_status").inc()
            log.warning("transfer_status_write_failed", call_sid=call_sid, status=status, error=type(error).__name__)
            return False
        return result.matched_count > 0
