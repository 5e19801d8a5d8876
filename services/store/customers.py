"""The `customers` collection, keyed by E.164 phone number."""

from __future__ import annotations

import asyncio

from pymongo import ASCENDING, IndexModel
from pymongo.errors import PyMongoError

from models.commerce import Customer, PreferredLanguage
from services.store.base import Repository
from utils.logger import get_logger
from utils.phone import e164_or_none

log = get_logger(__name__)

# The greeting waits on this lookup: past it, the caller hears the default language instead.
PREFERRED_LANGUAGE_TIMEOUT_S = 0.3


class CustomerRepository(Repository[Customer]):
    model = Customer
    key = "phone"
    indexes = (IndexModel([("phone", ASCENDING)], unique=True, name="phone_unique"),)

    async def preferred_language(
        self, phone: str | None, timeout_s: float = PREFERRED_LANGUAGE_TIMEOUT_S
    ) -> PreferredLanguage | None:
        """The language on the caller's customer record, for the greeting (`config.agent_file.greeting_for`).

        None when unknown: no E.164 number (SIP, client), no record, or the database slow or down. Never
        raises: a greeting must not fail because of it. One `_id` read (fast on FerretDB too).
        """
        number = e164_or_none(phone)
        if number is None:
            return None
        try:
            async with asyncio.timeout(timeout_s):
                document = await self.collection.find_one({"_id": number}, {"preferred_language": 1})
        except (PyMongoError, TimeoutError) as error:
            log.warning("preferred_language_unavailable", error=type(error).__name__)
            return None
        if document is None:
            return None
        language = document.get("preferred_language")
        return language if language in ("hinglish", "hindi", "english") else None
