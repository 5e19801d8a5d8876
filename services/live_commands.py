"""Commands for a live call (a staff note, a hang-up), from any node to the node holding its stream.

A call lives on one node for its whole life (its media WebSocket pins it there); its record names
that node's base URL (`CallRecord.node`). A command given to any node is run here when the call is
ours, otherwise forwarded once to the node the record names (`POST /internal/calls/{sid}/commands`,
with the shared admin token), which runs it only if the call is live there: never forwarded twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import httpx

from models.call_record import StaffNote
from services.call.live_calls import LiveCalls
from services.store.calls import CallRepository
from utils.logger import get_logger

log = get_logger(__name__)

FORWARD_TIMEOUT_S = 3.0
CommandKind = Literal["note", "hang_up"]
Outcome = Literal["done", "not_found", "not_live", "node_unreachable", "not_delivered"]


@dataclass(frozen=True)
class LiveCommand:
    kind: CommandKind
    author: str
    text: str = ""


class LiveCallCommands:
    def __init__(self, live_calls: LiveCalls, calls: CallRepository, own_node_url: str, admin_token: str) -> None:
        self._live_calls = live_calls
        self._calls = calls
        self._own_node_url = own_node_url
        self._admin_token = admin_token

    async def run(self, call_sid: str, command: LiveCommand) -> Outcome:
        """Run `command` for the call wherever it lives. A note is stored in the record first, so it is
        kept with its author even when it cannot reach the live session."""
        record = await self._calls.get(call_sid, with_transcript=False)
        if record is None:
            return "not_found"
        if record.get("ended_at") is not None:
            return "not_live"
        if command.kind == "note":
            await self._calls.add_staff_note(call_sid, StaffNote(text=command.text, author=command.author))
        return await self._deliver(call_sid, record, command)

    async def deliver_note(self, call_sid: str, note: StaffNote) -> None:
        """A note already stored in the record (the console's): into the live call, wherever it is."""
        record = await self._calls.get(call_sid, with_transcript=False)
        if record is not None and record.get("ended_at") is None:
            await self._deliver(call_sid, record, LiveCommand(kind="note", author=note.author, text=note.text))

    async def _deliver(self, call_sid: str, record: dict[str, object], command: LiveCommand) -> Outcome:
        if self._live_calls.get(call_sid) is not None:
            return await self.run_here(call_sid, command)
        node = record.get("node")
        if not isinstance(node, str) or not node or node == self._own_node_url:
            return "not_live"  # the record names us, but the call is not here (it just ended)
        return await self._forward(node, call_sid, command)

    async def run_here(self, call_sid: str, command: LiveCommand) -> Outcome:
        """Run a command for a call live on this node (what a forwarded command does)."""
        call = self._live_calls.get(call_sid)
        if call is None:
            return "not_live"
        if command.kind == "hang_up":
            log.info("live_call_hang_up", call_sid=call_sid, author=command.author)
            call.end("ended_by_staff")
            return "done"
        delivered = await call.add_staff_note(command.text, command.author)
        log.info("staff_note", call_sid=call_sid, author=command.author, delivered=delivered)
        return "done" if delivered else "not_delivered"

    async def _forward(self, node: str, call_sid: str, command: LiveCommand) -> Outcome:
        url = f"{node}/internal/calls/{call_sid}/commands"
        body = {"kind": command.kind, "author": command.author, "text": command.text}
        headers = {"Authorization": f"Bearer {self._admin_token}"}
        try:
            async with httpx.AsyncClient(timeout=FORWARD_TIMEOUT_S, trust_env=False) as client:
                response = await client.post(url, json=body, headers=headers)
        except httpx.HTTPError as error:
            log.warning("live_command_forward_failed", call_sid=call_sid, node=node, error=type(error).__name__)
            return "node_unreachable"
        if response.status_code == 200:
            outcome: Outcome = response.json().get("outcome", "done")
            return outcome
        if response.status_code == 409:
            return "not_live"
        log.warning("live_command_forward_refused", call_sid=call_sid, node=node, status=response.status_code)
        return "node_unreachable"
