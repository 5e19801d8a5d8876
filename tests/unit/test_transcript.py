"""Interrupted assistant lines keep only what the caller heard, whichever arrives first."""

from __future__ import annotations

from services.call.transcript import Transcript


def test_cut_after_the_line_arrived() -> None:
    transcript = Transcript([])
    transcript.add_assistant("item_1", "one two three four five six seven eight nine ten")
    transcript.interrupted("item_1", heard_ms=300, sent_ms=1000)
    (line,) = transcript.lines
    assert line.text == "one two three" and line.interrupted


def test_cut_before_the_line_arrived() -> None:
    transcript = Transcript([])
    transcript.interrupted("item_1", heard_ms=500, sent_ms=1000)
    transcript.add_assistant("item_1", "a b c d")
    assert transcript.lines[0].text == "a b" and transcript.lines[0].interrupted


def test_caller_lines_blank_lines_and_summary() -> None:
    transcript = Transcript([])
    assert not transcript.add_caller("u1", "   ")
    assert transcript.add_caller("u1", "Mera order kahan hai?")
    transcript.add_assistant("a1", "Ek second, main check karti hoon.")
    assert not transcript.add_assistant("a1", "duplicate done event")
    assert transcript.summary() == "caller: Mera order kahan hai?\nassistant: Ek second, main check karti hoon."
    assert transcript.summary(max_lines=1) == "assistant: Ek second, main check karti hoon."
