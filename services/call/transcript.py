"""The call's transcript as the caller experienced it.

Caller lines come from input transcription; assistant lines from the output transcript. An assistant
line the caller interrupted keeps only the share of it they heard (proportional to audio heard), and
the transcript may arrive before the interruption (audio is generated faster than it plays) or after
it (the cancelled response's transcript), so the heard share is remembered for either order.
"""

from __future__ import annotations

from collections.abc import Callable

from models.call_record import TranscriptLine


def _ignore(line: TranscriptLine) -> None:
    pass


class Transcript:
    def __init__(self, lines: list[TranscriptLine], on_change: Callable[[TranscriptLine], None] = _ignore) -> None:
        self.lines = lines  # the call record's list, appended in place
        self._on_change = on_change  # a line already in the list changed in place (the writer resends it)
        self._assistant: dict[str, TranscriptLine] = {}
        self._caller: dict[str, TranscriptLine] = {}  # turns whose transcription has not arrived yet
        self._heard_share: dict[str, float] = {}

    def caller_turn(self, item_id: str) -> None:
        """The caller finished a turn: hold its place, so the transcript keeps the spoken order even
        though transcription arrives after the answer has begun."""
        if item_id not in self._caller:
            line = self._caller[item_id] = TranscriptLine(role="caller", text="", item_id=item_id)
            self.lines.append(line)

    def add_caller(self, item_id: str | None, text: str | None) -> bool:
        text = (text or "").strip()
        if not text:
            return False
        line = self._caller.pop(item_id, None) if item_id else None
        if line is None:
            self.lines.append(TranscriptLine(role="caller", text=text, item_id=item_id))
        else:
            line.text = text
            self._on_change(line)
        return True

    def add_assistant(self, item_id: str, text: str | None) -> bool:
        text = (text or "").strip()
        if not text or item_id in self._assistant:
            return False
        line = TranscriptLine(role="assistant", text=text, item_id=item_id)
        self._assistant[item_id] = line
        self.lines.append(line)
        if item_id in self._heard_share:
            _cut(line, self._heard_share[item_id])
        return True

    def interrupted(self, item_id: str, heard_ms: int, sent_ms: float) -> None:
        share = min(max(heard_ms / sent_ms, 0.0), 1.0) if sent_ms else 0.0
        self._heard_share[item_id] = share
        line = self._assistant.get(item_id)
        if line is not None:
            _cut(line, share)
            self._on_change(line)

    def caller_is_waiting(self) -> bool:
        """The caller's line is the last one: nobody has answered it yet."""
        spoken = [line for line in self.lines if line.role != "system" and line.text]
        return bool(spoken) and spoken[-1].role == "caller"

    def summary(self, max_lines: int = 12) -> str:
        """The last lines of the conversation, e.g. for a transfer summary."""
        return _summary(self.lines, max_lines)


def _summary(lines: list[TranscriptLine], max_lines: int) -> str:
    spoken = [f"{line.role}: {line.text}" for line in lines if line.text]
    return "\n".join(spoken[-max_lines:])


def _cut(line: TranscriptLine, share: float) -> None:
    words = line.text.split()
    line.text = " ".join(words[: round(len(words) * share)])
    line.interrupted = True
