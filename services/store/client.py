"""The process-wide MongoDB client."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from pymongo import AsyncMongoClient

APP_NAME = "hinglish-voice-agent"

Document = dict[str, Any]
"""A raw MongoDB document as pymongo reads and writes it (the client's document class)."""


def create_mongo_client(uri: str, **overrides: Any) -> AsyncMongoClient[Document]:
    """The process-wide client. Server selection gives up well inside a tool's timeout (4 s by default),
    so an unreachable database surfaces as a database error the assistant can speak about."""
    options: dict[str, Any] = {
        "tz_aware": True,
        "tzinfo": UTC,
        "appname": APP_NAME,
        "serverSelectionTimeoutMS": 2500,
        "connectTimeoutMS": 2500,
        "socketTimeoutMS": 10_000,
        "maxPoolSize": 100,
    }
    options.update(overrides)
    return AsyncMongoClient(uri, **options)
