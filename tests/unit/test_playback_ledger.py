"""The playback ledger decides `audio_end_ms` for truncation: exercise its traps directly."""

from __future__ import annotations

import base64

from services.call.playback import MARK_EVERY_MS, PlaybackLedger, mulaw_b64_duration_ms


def b64(nbytes: int) -> str:
    return base64.b64encode(b"\xff" * nbytes).decode()


def test_duration_counts_bytes_from_base64_without_decoding() -> None:
    for nbytes in (1, 2, 3, 160, 799, 800, 801):
        assert mulaw_b64_duration_ms(b64(nbytes)) == nbytes / 8


# Most tests mark every chunk (`mark_every_ms=0`); the ones below them test the spacing itself.


def test_echoes_mark_audio_as_played_in_order() -> None:
    ledger = PlaybackLedger(mark_every_ms=0)
    first = ledger.on_audio_sent("resp_a", "item_a", 100, now=0.0)
    ledger.on_audio_sent("resp_a", "item_a", 100, now=0.0)
    assert ledger.has_unplayed_audio
    assert ledger.on_mark_echo(first, now=0.1) is not None
    assert ledger.items["item_a"].played_ms == 100
    assert not ledger.is_fully_played("item_a")


def test_interrupt_mid_chunk_interpolates_and_never_exceeds_chunk_end() -> None:
    ledger = PlaybackLedger(mark_every_ms=0)
    marks = [ledger.on_audio_sent("resp_a", "item_a", 100, now=0.0) for _ in range(10)]
    ledger.on_mark_echo(marks[0], now=0.100)
    ledger.on_mark_echo(marks[1], now=0.200)
    cut = ledger.interrupt(now=0.250)
    assert cut is not None and cut.item_id == "item_a"
    assert cut.audio_end_ms == 250
    # Estimate is capped at the end of the chunk playing (the next pending mark) even if echoes lag.
    ledger2 = PlaybackLedger(mark_every_ms=0)
    marks2 = [ledger2.on_audio_sent("resp_b", "item_b", 100, now=0.0) for _ in range(3)]
    ledger2.on_mark_echo(marks2[0], now=0.1)
    late = ledger2.interrupt(now=5.0)
    assert late is not None and late.audio_end_ms == 200


def test_marks_echoed_by_clear_are_not_playback() -> None:
    ledger = PlaybackLedger(mark_every_ms=0)
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
    ledger = PlaybackLedger(mark_every_ms=0)
    ledger.on_audio_sent("resp_a", "item_a", 40, now=0.0)
    cut = ledger.interrupt(now=10.0)
    assert cut is not None and cut.audio_end_ms <= 40


def test_second_item_starts_when_previous_finished_playing() -> None:
    ledger = PlaybackLedger(mark_every_ms=0)
    a = ledger.on_audio_sent("resp_a", "item_a", 1000, now=0.0)
    ledger.on_audio_sent("resp_b", "item_b", 1000, now=0.01)  # queued behind item_a at Twilio
    ledger.on_mark_echo(a, now=1.0)  # item_a finished at t=1.0, item_b starts then
    cut = ledger.interrupt(now=1.3)
    assert cut is not None and cut.item_id == "item_b"
    assert cut.audio_end_ms == 300


def test_nothing_to_truncate_when_all_audio_played() -> None:
    ledger = PlaybackLedger(mark_every_ms=0)
    name = ledger.on_audio_sent("resp_a", "item_a", 100, now=0.0)
    ledger.on_mark_echo(name, now=0.1)
    assert ledger.interrupt(now=0.5) is None


def test_a_mark_goes_out_once_per_interval_of_an_items_audio_not_per_chunk() -> None:
    ledger = PlaybackLedger()
    names = [ledger.on_audio_sent("resp_a", "item_a", 100, now=0.0) for _ in range(12)]
    due = [i for i, name in enumerate(names) if name is not None]
    step = int(MARK_EVERY_MS // 100)
    assert due == [step - 1, 2 * step - 1], "after every MARK_EVERY_MS of audio"
    assert [mark.cum_ms for mark in ledger.pending] == [MARK_EVERY_MS, 2 * MARK_EVERY_MS]
    assert ledger.tail is not None and ledger.tail.cum_ms == 1200, "the last 200 ms are not marked yet"


def test_the_unmarked_tail_is_unplayed_until_sealed_and_echoed() -> None:
    ledger = PlaybackLedger()
    assert ledger.on_audio_sent("resp_a", "item_a", 100, now=0.0) is None
    assert ledger.has_unplayed_audio and not ledger.response_fully_played("resp_a")
    closing = ledger.seal()
    assert closing is not None and ledger.seal() is None, "sealing twice marks nothing more"
    assert not ledger.response_fully_played("resp_a")
    assert ledger.on_mark_echo(closing, now=0.1) is not None
    assert ledger.response_fully_played("resp_a") and not ledger.has_unplayed_audio


def test_barge_in_between_sparse_marks_interpolates_from_the_last_echo() -> None:
    ledger = PlaybackLedger()
    names = [ledger.on_audio_sent("resp_a", "item_a", 100, now=0.0) for _ in range(15)]
    first = next(name for name in names if name is not None)
    ledger.on_mark_echo(first, now=MARK_EVERY_MS / 1000)
    cut = ledger.interrupt(now=MARK_EVERY_MS / 1000 + 0.33)
    assert cut is not None and cut.audio_end_ms == MARK_EVERY_MS + 330
    assert not ledger.has_unplayed_audio and ledger.tail is None, "the tail was cleared with the rest"
    late = PlaybackLedger()
    late.on_audio_sent("resp_b", "item_b", 100, now=0.0)
    cut = late.interrupt(now=9.0)
    assert cut is not None and cut.audio_end_ms == 100, "never past the audio sent, marked or not"
