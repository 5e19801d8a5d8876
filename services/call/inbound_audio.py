"""Caller audio on its way to OpenAI: the carrier's 20 ms frames coalesced into fewer, larger appends.

Each `input_audio_buffer.append` costs the same fixed work whatever its size (JSON, WebSocket framing
and masking, a syscall): profiled under load it was ~40 % of the process's CPU at one append per 20 ms
frame. So frames are gathered into appends of `batch_ms` (same μ-law bytes, base64 re-encoded once per
batch), except where a batch would move a moment the server VAD acts on:
- **onset**: a frame that sounds like speech (a cheap loudness test, C-speed `bytes.translate`) while
  the server has not heard speech flushes the batch at once and passes frames through for a while, so
  `speech_started` (and barge-in) is not held back by a batch; if the server does not hear speech
  within `ONSET_FRAMES`, batching resumes;
- **the end of a turn**: from `speech_started` to `speech_stopped` (the server's own VAD, told by the
  session) loud frames are gathered into appends of `speech_batch_ms`, but the first quiet frame sends
  what is held at once, and quiet frames then pass one by one: the pause that ends the turn reaches the
  VAD without delay, as the speech before it did. Only the loud middle of an utterance is batched, which
  the VAD acts on no sooner for getting it sooner. `speech_batch_ms` = 20 passes all of it one by one.
The loudness test only steers batching; it never decides what is sent. Should it call loud what the VAD
calls silence (a loud non-speech noise right after speech), the end of the turn reaches the VAD at
most `speech_batch_ms` - 20 ms late.

Twilio sends media continuously (silence included), so a batch always fills within `batch_ms`.
"""

from __future__ import annotations

import binascii

FRAME_BYTES = 160  # 20 ms of 8 kHz μ-law
ONSET_FRAMES = 50  # pass-through after a loud frame (1 s) unless the server confirms speech
LOUD_LINEAR = 1000  # |amplitude| (of 32767) counted as loud; a frame is loud if > 1/5 of it is


def _mulaw_to_linear(byte: int) -> int:
    """ITU-T G.711 μ-law expansion of one byte to a 16-bit linear sample."""
    byte = ~byte & 0xFF
    magnitude = (((byte & 0x0F) << 3) + 0x84) << ((byte & 0x70) >> 4)
    return (0x84 - magnitude) if byte & 0x80 else (magnitude - 0x84)


_LOUD = bytes(1 if abs(_mulaw_to_linear(byte)) > LOUD_LINEAR else 0 for byte in range(256))


def is_loud(audio: bytes) -> bool:
    return audio.translate(_LOUD).count(1) * 5 > len(audio)


class InboundCoalescer:
    """Turns carrier frames (base64 μ-law) into the appends to send. Pure: no I/O, no clock."""

    def __init__(self, batch_ms: int, speech_batch_ms: int = FRAME_BYTES // 8) -> None:
        self._batch_bytes = batch_ms * 8
        self._speech_batch_bytes = speech_batch_ms * 8
        self._buffer = bytearray()
        self._caller_speaking = False  # the server VAD says so
        self._onset_frames = 0  # frames left to pass through after a local onset

    @property
    def enabled(self) -> bool:
        return self._batch_bytes > FRAME_BYTES

    def caller_speaking(self, speaking: bool) -> None:
        """The server VAD's view (`speech_started` / `speech_stopped`)."""
        self._caller_speaking = speaking
        self._onset_frames = 0

    def add(self, payload: str, audio: bytes | None = None) -> str | None:
        """The append to send for this frame (`audio`: its bytes, if the carrier decoded them already): the
        frame itself, a completed batch, or None (held)."""
        if self._caller_speaking and self._speech_batch_bytes > FRAME_BYTES:
            return self._during_speech(payload, audio)
        if not self.enabled:
            return self._with_buffer(payload, audio)  # untouched, unless speech is still held
        if self._caller_speaking or self._onset_frames:
            self._onset_frames = max(self._onset_frames - 1, 0)
            return self._with_buffer(payload, audio)
        audio = binascii.a2b_base64(payload) if audio is None else audio
        if is_loud(audio):
            self._onset_frames = ONSET_FRAMES
            return self._with_buffer(payload, audio)
        return self._hold(audio, self._batch_bytes)

    def _during_speech(self, payload: str, audio: bytes | None) -> str | None:
        audio = binascii.a2b_base64(payload) if audio is None else audio
        if not is_loud(audio):
            return self._with_buffer(payload, audio)  # a pause may be the end: nothing held back
        return self._hold(audio, self._speech_batch_bytes)

    def _hold(self, audio: bytes, batch_bytes: int) -> str | None:
        """Add to the batch; the batch once it holds `batch_bytes`."""
        self._buffer += audio
        return self.flush() if len(self._buffer) >= batch_bytes else None

    def flush(self) -> str | None:
        """Whatever is held, as one append (e.g. at the end of the stream)."""
        if not self._buffer:
            return None
        chunk = binascii.b2a_base64(self._buffer, newline=False).decode("ascii")
        self._buffer.clear()
        return chunk

    def _with_buffer(self, payload: str, audio: bytes | None = None) -> str:
        if not self._buffer:
            return payload  # untouched
        self._buffer += binascii.a2b_base64(payload) if audio is None else audio
        chunk = self.flush()
        assert chunk is not None
        return chunk
