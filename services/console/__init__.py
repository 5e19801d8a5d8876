"""The staff console's services: accounts, sessions, the shared live feed, note delivery, views' queries."""

from __future__ import annotations

from dataclasses import dataclass

from config.settings import Settings
from services.console.accounts import ConsoleAccounts
from services.console.live_feed import LiveFeed
from services.console.notes import LoggingNoteDelivery, NoteDelivery
from services.console.sessions import SessionCodec
from services.store.database import Database


@dataclass
class ConsoleServices:
    accounts: ConsoleAccounts
    sessions: SessionCodec
    feed: LiveFeed
    # Replace with the call path's delivery (a node-aware one) to get notes into live calls.
    note_delivery: NoteDelivery

    async def aclose(self) -> None:
        await self.feed.aclose()


def build_console(settings: Settings, db: Database, note_delivery: NoteDelivery | None = None) -> ConsoleServices:
    return ConsoleServices(
        accounts=ConsoleAccounts(
            db.console_users,
            max_failures=settings.console_login_max_failures,
            lockout_window_s=settings.console_lockout_window_s,
        ),
        sessions=SessionCodec(settings),
        feed=LiveFeed(db.calls, interval_s=settings.console_poll_interval_s),
        note_delivery=note_delivery or LoggingNoteDelivery(),
    )
