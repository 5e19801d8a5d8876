"""Keypad entry (DTMF): digits the caller types reach the model as one caller input.

Phone lines garble spoken digits, so callers may type an order number, pincode or code instead. Keys
are gathered into an entry that ends on the terminator key (`#`) or after a pause; `*` starts the
entry over. The entry goes to the model as a user message ("Caller typed on the keypad: 482913")
followed by a response, so the tools get the digits exactly as typed.

A key alone is a shortcut when the key map names it (default `0` → a human agent through the normal
transfer tool, `9` → repeat the last answer); within a longer entry it is just a digit. The first
key pressed while the assistant speaks interrupts it, as speech would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Literal, Protocol

from utils.logger import get_logger

log = get_logger(__name__)

KeypadCommand = Literal["agent", "repeat"]
MAX_DIGITS = 32
TYPED = "Caller typed on the keypad: {digits}"
COMMAND_NOTES: dict[KeypadCommand, str] = {
    "agent": "The caller pressed {key} on the keypad to reach a human agent. Call transfer_to_human now "
    "with the reason 'caller pressed {key} for an agent'.",
    "repeat": "The caller pressed {key} on the keypad to hear your last answer again. Repeat it briefly.",
}


class KeypadHost(Protocol):
    """What the keypad needs from the call."""

    @property
    def assistant_speaking(self) -> bool: ...

    async def barge_in(self, *, cancel_generation: bool) -> None: ...

    async def caller_typed(self, text: str) -> None:
        """The entry as the caller's input: a user message, then a response."""
        ...

    async def tell_model(self, instruction: str) -> None: ...


class Keypad:
    def __init__(
        self,
        host: KeypadHost,
        *,
        pause_s: float,
        key_map: Mapping[Any, KeypadCommand],
    ) -> None:
        self._host = host
        self._pause_s = pause_s
        self._key_map = dict(key_map)
        self._entry: list[str] = []
        self._timer: asyncio.TimerHandle | None = None
        self._pending: set[asyncio.Task[None]] = set()

    async def press(self, key: str) -> None:
        if not self._entry and self._host.assistant_speaking:
            await self._host.barge_in(cancel_generation=True)
        if key == "*":
            self._reset()
        elif key == "#":
            await self.submit()
        elif key.isdigit() and len(self._entry) < MAX_DIGITS:
            self._entry.append(key)
            self._restart_timer()

    async def submit(self) -> None:
        """End the entry now (terminator, or the pause ran out)."""
        entry = "".join(self._entry)
        self._reset()
        if not entry:
            return
        command = self._key_map.get(entry)
        if command is not None:
            log.info("keypad_command", command=command)
            await self._host.tell_model(COMMAND_NOTES[command].format(key=entry))
            return
        log.info("keypad_entry", digits=len(entry))  # never the digits: codes and numbers
        await self._host.caller_typed(TYPED.format(digits=entry))

    def close(self) -> None:
        self._reset()
        for task in self._pending:
            task.cancel()

    def _reset(self) -> None:
        self._entry.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _restart_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(self._pause_s, self._pause_over)

    def _pause_over(self) -> None:
        self._timer = None
        task = asyncio.create_task(self.submit(), name="keypad-submit")
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
