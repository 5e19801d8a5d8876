"""What a call session needs from the rest of the process, as small typed collaborators.

The session depends on these protocols; the hand-off, apology and SMS code implement them and get
a `CallControl` — never the session itself — so nothing outside a call mutates its state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from config.agent_config import AgentConfig
from config.settings import Settings
from models.call_record import CallRecord
from models.tools import TicketFiled, TransferRequested
from services.call.record_writer import CallRecordWriter
from services.realtime.connector import RealtimeConnector
from services.realtime.preopen import PreopenedRealtime
from services.telephony.events import CallInfo
from services.tools.registry import ToolContext, ToolRegistry


class CallControl(Protocol):
    """The control surface a live call offers to actions run on its behalf."""

    @property
    def info(self) -> CallInfo: ...

    @property
    def record(self) -> CallRecord: ...

    def touch_record(self) -> None:
        """The record changed: its writer saves it soon (no I/O here)."""
        ...

    def end(self, reason: str) -> None: ...


class TransferExecutor(Protocol):
    async def transfer(self, call: CallControl, request: TransferRequested) -> bool:
        """Move the call to a human; False when that failed and the conversation must go on."""
        ...


class FailureNotice(Protocol):
    async def apologise(self, call_sid: str) -> bool:
        """The assistant is gone: have the carrier speak an apology and hang up. False if it could not."""
        ...

    async def file_callback(self, info: CallInfo, conversation: str) -> str | None:
        """A callback ticket with the conversation so far, texted to the caller; its id, or None."""
        ...


class TicketNotifier(Protocol):
    async def ticket_filed(self, info: CallInfo, ticket: TicketFiled) -> None:
        """Tell the caller their ticket number out of band (SMS); best effort, never raises."""
        ...


ToolContextFactory = Callable[[CallInfo, Callable[[], str]], ToolContext]
RecordWriterFactory = Callable[[CallRecord], CallRecordWriter]


@dataclass(frozen=True)
class CallDependencies:
    """Process-wide collaborators of every call; built once by the composition root."""

    settings: Settings
    agent: AgentConfig
    connector: RealtimeConnector
    preopened: PreopenedRealtime | None
    tools: ToolRegistry
    new_tool_context: ToolContextFactory
    new_record_writer: RecordWriterFactory
    transfers: TransferExecutor
    failure_notice: FailureNotice
    tickets: TicketNotifier
    # The language on the customer's record, for the greeting (bounded, never raises; None if unknown).
    preferred_language: Callable[[str | None], Awaitable[str | None]]
    # A block the event loop runs unpaced (services/loop_pacer.py): a call's set-up, its tool calls.
    unpaced: Callable[[], AbstractContextManager[None]]
