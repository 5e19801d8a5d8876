"""The playback ledger decides `audio_end_ms` for truncation: exercise its traps directly."""

from __future__ import annotations

import base64

from services.call.playback import PlaybackLedger, mulaw_b64_duration_ms


def b64(nbytes: int) -> str:
    return base64.b64encode(b"\xff" * nbytes).decode()


def test_duration_counts_bytes_from_base64_without_decoding() -> None:
    for nbytes in (1, 2, 3, 160, 799, 800, 801):
        assert mulaw_b64_duration_ms(b64(nbytes)) == nbytes / 8


def test_echoes_mark_audio_as_played_in_order() -> None:
    ledger = PlaybackLedger()
    first = ledger.on_audio_sent("resp_a", "item_a", 100, now=0.0)
    ledger.on_audio_sent("resp_a", "item_a", 100, now=0.0)
    assert ledger.has_unplayed_audio
    assert ledger.on_mark_echo(first, now=0.1) is not None
    assert ledger.items["item_a"].played_ms == 100
    assert not ledger.is_fully_played("item_a")


def test_interrupt_mid_chunk_interpolates_and_never_exceeds_chunk_end() -> None:
    ledger = PlaybackLedger()
    marks = [ledger.on_audio_sent("resp_a", "item_a", 100, now=0.0) for _ in range(10)]
    ledger.on_mark_echo(marks[0], now=0.100)
    ledger.on_mark_echo(marks[1], now=0.200)
    cut = ledger.interrupt(now=0.250)
    assert cut is not None and cut.item_id == "item_a"
    assert cut.audio_end_ms == 250
    # Estimate is capped at the end of the chunk playing (the next pending mark) even if echoes lag.
    ledger2 = PlaybackLedger()
    marks2 = [ledger2.on_audio_sent("resp_b", "item_b", 100, now=0.0) for _ in range(3)]
    ledger2.on_mark_echo(marks2[0], now=0.1)
    late = ledger2.interrupt(now=5.0)
    assert late is not None and late.audio_end_ms == 200


def test_marks_echoed_by_clear_are_not_playback() -> None:
    ledger = PlaybackLedger()
    marks = [ledger.on_audio_sent("resp_a", "item_a", 100, now=0.0) for _ in range(5)]
    ledger.on_mark_echo(marks[0], now=0.1)
    cut = ledger.interrupt(now=0.12)
    assert cut is not None and cut.audio_end_ms == 120
    # Twilio echoes every pending mark after `clear`: none of them may count as heard.
    for name in marks[1:]:
        assert ledger.on_mark_echo(name, now=0.13) is None
    assert ledger.items["item_a"].played_ms == 100
    assert not ledger.has_unplayed_audio


def test_interrupt_never_exceeds_audio_sent_for_the_item() -> None:
    ledger = PlaybackLedger()
    ledger.on_audio_sent("resp_a", "item_a", 40, now=0.0)
    cut = ledger.interrupt(now=10.0)
    assert cut is not None and cut.audio_end_ms <= 40


def test_second_item_starts_when_previous_finished_playing() -> None:
    ledger = PlaybackLedger()
    a = ledger.on_audio_sent("resp_a", "item_a", 1000, now=0.0)
    ledger.on_audio_sent("resp_b", "item_b", 1000, now=0.01)  # queued behind item_a at Twilio
    ledger.on_mark_echo(a, now=1.0)  # item_a finished at t=1.0, item_b starts then
    cut = ledger.interrupt(now=1.3)
    assert cut is not None and cut.item_id == "item_b"
    assert cut.audio_end_ms == 300


def test_nothing_to_truncate_when_all_audio_played() -> None:
    ledger = PlaybackLedger()
    name = ledger.on_audio_sent("resp_a", "item_a", 100, now=0.0)
    ledger.on_mark_echo(name, now=0.1)
    assert ledger.interrupt(now=0.5) is None
