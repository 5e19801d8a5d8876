"""The `customers` collection, keyed by E.164 phone number."""

from __future__ import annotations

from pymongo import ASCENDING, IndexModel

from models.commerce import Customer
from services.store.base import Repository


class CustomerRepository(Repository[Customer]):
    model = Customer
    key = "phone"
    indexes = (IndexModel([("phone", ASCENDING)], unique=True, name="phone_unique"),)
