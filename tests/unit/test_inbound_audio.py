"""`InboundCoalescer`: which appends caller audio becomes, frame by frame."""

from __future__ import annotations

import base64

from hypothesis import given, settings
from hypothesis import strategies as st

from services.call.inbound_audio import FRAME_BYTES, ONSET_FRAMES, InboundCoalescer, _mulaw_to_linear, is_loud
from tests.fakes.mulaw import mulaw_decode, silence, tone


def b64(audio: bytes) -> str:
    return base64.b64encode(audio).decode()


def frames(audio: bytes) -> list[str]:
    return [b64(audio[i : i + FRAME_BYTES]) for i in range(0, len(audio), FRAME_BYTES)]


def feed(coalescer: InboundCoalescer, payloads: list[str]) -> list[str]:
    return [chunk for payload in payloads if (chunk := coalescer.add(payload)) is not None]


def test_the_loudness_table_is_g711_mu_law() -> None:
    assert [_mulaw_to_linear(byte) for byte in range(256)] == [mulaw_decode(byte) for byte in range(256)]
    assert is_loud(tone(20, 440)) and not is_loud(silence(20)) and not is_loud(tone(20, 440, amplitude=300))


def test_silence_goes_in_batches_of_the_configured_length_with_the_same_bytes() -> None:
    coalescer = InboundCoalescer(batch_ms=100)
    audio = silence(1000)
    appends = feed(coalescer, frames(audio))
    assert len(appends) == 10 and all(len(base64.b64decode(chunk)) == 800 for chunk in appends)
    assert b"".join(base64.b64decode(chunk) for chunk in appends) == audio


def test_speech_onset_flushes_the_batch_at_once_and_frames_then_pass_untouched() -> None:
    coalescer = InboundCoalescer(batch_ms=100)
    quiet, speech = frames(silence(60)), frames(tone(200, 440))
    assert feed(coalescer, quiet) == [], "60 ms of silence is held for the batch"
    first, *rest = feed(coalescer, speech)
    assert base64.b64decode(first) == silence(60) + base64.b64decode(speech[0]), "held audio goes with the onset"
    assert rest == speech[1:], "then every frame as the carrier sent it"


def test_while_the_server_hears_the_caller_nothing_is_batched_not_even_quiet_frames() -> None:
    coalescer = InboundCoalescer(batch_ms=100)
    coalescer.caller_speaking(True)
    quiet = frames(silence(400))  # the pause that ends a turn must reach the VAD frame by frame
    assert feed(coalescer, quiet) == quiet
    coalescer.caller_speaking(False)
    assert feed(coalescer, frames(silence(80))) == []


def test_while_the_caller_talks_loud_frames_are_batched_and_the_first_pause_sends_them_at_once() -> None:
    coalescer = InboundCoalescer(batch_ms=100, speech_batch_ms=100)
    coalescer.caller_speaking(True)
    speech = tone(340, 440)
    appends = feed(coalescer, frames(speech))
    assert [len(base64.b64decode(chunk)) for chunk in appends] == [800, 800, 800], "300 ms sent, 40 ms held"
    pause = frames(silence(100))
    first, *rest = feed(coalescer, pause)
    assert base64.b64decode(first) == speech[2400:] + silence(20), "the held speech goes with the first quiet frame"
    assert rest == pause[1:], "then the pause frame by frame: the end of the turn reaches the VAD undelayed"
    assert feed(coalescer, frames(tone(40, 440))) == [], "speech again: batched again"
    coalescer.caller_speaking(False)  # the server ended the turn while loud audio was held
    assert feed(coalescer, frames(silence(20))) == [], "held audio goes on in the silence batch, in order"


def test_a_pause_is_batched_on_the_vads_silence_window_so_the_frame_that_ends_the_turn_goes_at_once() -> None:
    coalescer = InboundCoalescer(batch_ms=100, speech_batch_ms=100, silence_ms=500)  # 25 quiet frames end a turn
    coalescer.caller_speaking(True)
    speech = tone(320, 440)
    assert len(feed(coalescer, frames(speech))) == 3  # 300 ms sent, 20 ms held
    pause = frames(silence(600))
    appends: list[tuple[int, int]] = []  # (quiet frames fed, frames in the append) for each append
    for fed, frame in enumerate(pause, start=1):
        if (chunk := coalescer.add(frame)) is not None:
            appends.append((fed, len(base64.b64decode(chunk)) // FRAME_BYTES))
    assert appends[0] == (1, 2), "the held speech goes with the first quiet frame"
    assert appends[1:6] == [(5, 4), (10, 5), (15, 5), (20, 5), (25, 5)], "batches end on the window's last frame"
    assert appends[6:] == [(fed, 1) for fed in range(26, 31)], "past the window (the VAD is late): frame by frame"


def test_speech_resuming_in_a_pause_goes_after_the_quiet_frames_held_before_it() -> None:
    coalescer = InboundCoalescer(batch_ms=100, speech_batch_ms=100, silence_ms=500)
    coalescer.caller_speaking(True)
    quiet, speech = silence(60), tone(100, 440)
    assert len(feed(coalescer, frames(quiet))) == 1  # the first quiet frame; two are held
    (chunk,) = feed(coalescer, frames(speech))
    assert base64.b64decode(chunk) == quiet[FRAME_BYTES:] + speech[: 3 * FRAME_BYTES], "in order, one batch"


def test_speech_batch_of_twenty_ms_passes_the_callers_speech_frame_by_frame() -> None:
    coalescer = InboundCoalescer(batch_ms=100, speech_batch_ms=20)
    coalescer.caller_speaking(True)
    speech = frames(tone(200, 440))
    assert feed(coalescer, speech) == speech


def test_speech_held_when_batching_is_off_is_not_overtaken() -> None:
    coalescer = InboundCoalescer(batch_ms=20, speech_batch_ms=100)
    coalescer.caller_speaking(True)
    speech = tone(40, 440)
    assert feed(coalescer, frames(speech)) == []
    coalescer.caller_speaking(False)
    (chunk,) = feed(coalescer, frames(silence(20)))
    assert base64.b64decode(chunk) == speech + silence(20)


def test_a_loud_noise_the_server_does_not_call_speech_goes_back_to_batching() -> None:
    coalescer = InboundCoalescer(batch_ms=100)
    bang = frames(tone(20, 2000))
    after = frames(silence(20 * ONSET_FRAMES))
    assert feed(coalescer, bang) == bang
    assert feed(coalescer, after) == after, "passed through for a while after the onset"
    assert feed(coalescer, frames(silence(80))) == [], "then batched again"


def test_flush_sends_what_is_held_and_twenty_ms_means_no_batching() -> None:
    coalescer = InboundCoalescer(batch_ms=100)
    assert feed(coalescer, frames(silence(40))) == []
    held = coalescer.flush()
    assert held is not None and base64.b64decode(held) == silence(40)
    assert coalescer.flush() is None
    off = InboundCoalescer(batch_ms=20)
    quiet = frames(silence(100))
    assert feed(off, quiet) == quiet


@settings(deadline=None, max_examples=60)  # synthesising tones is slow on a loaded machine; no timing here
@given(
    st.lists(st.tuples(st.sampled_from(["quiet", "loud", "started", "stopped"]), st.integers(1, 30)), max_size=30),
    st.sampled_from([20, 40, 60, 100, 200]),
    st.sampled_from([20, 40, 100, 200]),
    st.sampled_from([0, 200, 500, 510]),
)
def test_every_byte_arrives_once_in_order_whatever_the_speech_pattern(
    pattern: list[tuple[str, int]], batch_ms: int, speech_batch_ms: int, silence_ms: int
) -> None:
    coalescer = InboundCoalescer(batch_ms=batch_ms, speech_batch_ms=speech_batch_ms, silence_ms=silence_ms)
    sent, appended = bytearray(), bytearray()
    for kind, count in pattern:
        if kind in ("started", "stopped"):
            coalescer.caller_speaking(kind == "started")
            continue
        audio = (tone if kind == "loud" else lambda ms, hz: silence(ms))(20 * count, 440 + count)
        sent += audio
        for chunk in feed(coalescer, frames(audio)):
            appended += base64.b64decode(chunk)
    if (rest := coalescer.flush()) is not None:
        appended += base64.b64decode(rest)
    assert appended == sent
