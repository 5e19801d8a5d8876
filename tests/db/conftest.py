"""What the tool tests share: the registry, a clean slate of verification failures, an SMS outbox."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

from services.store.database import Database
from services.tools import ToolRegistry, build_tool_registry


@dataclass
class Outbox:
    """Stands in for `TicketTexter.send_text` (which tests/db/test_sms.py tests on its own)."""

    sent: list[tuple[str, str]] = field(default_factory=list)
    accept: bool = True

    async def __call__(self, phone: str, body: str) -> bool:
        self.sent.append((phone, body))
        return self.accept

    def code_for(self, phone: str) -> str:
        bodies = [body for to, body in self.sent if to == phone]
        assert bodies, f"no SMS to {phone}"
        match = re.search(r"\b(\d{6})\b", bodies[-1])
        assert match is not None
        return match.group(1)


@pytest.fixture
def outbox() -> Outbox:
    return Outbox()


@pytest.fixture(scope="module")
def registry() -> ToolRegistry:
    return build_tool_registry()


@pytest.fixture
async def no_verification_failures(seeded_db: Database) -> None:
    """Failures count across calls (per order and caller number) and the seeded database is shared by a
    module: each test that uses this starts with none."""
    await seeded_db.verification_failures.collection.delete_many({})
