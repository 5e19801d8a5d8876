"""The commands a client sends to the server, through pymongo's command monitoring: what a test asserts
when the subject is how many round trips something costs, or which collections it touches."""

from __future__ import annotations

from typing import Any

from pymongo import monitoring


class Commands(monitoring.CommandListener):
    """Every command started: its name, and the collection it names (None for commands without one)."""

    def __init__(self) -> None:
        self.targets: list[tuple[str, str | None]] = []

    @property
    def names(self) -> list[str]:
        """The names of every command sent, in order."""
        return [name for name, _ in self.targets]

    def started(self, event: Any) -> None:
        target = event.command.get(event.command_name)
        self.targets.append((event.command_name, target if isinstance(target, str) else None))

    def succeeded(self, event: Any) -> None:
        pass

    def failed(self, event: Any) -> None:
        pass

    def clear(self) -> None:
        self.targets.clear()

    def on(self, collection: str) -> list[str]:
        """The names of the commands sent to `collection`, in order."""
        return [name for name, target in self.targets if target == collection]
