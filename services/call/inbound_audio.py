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
  session) loud frames are gathered into appends of `speech_batch_ms`, and the first quiet frame sends
  what is held at once. The pause after it is batched too, but aligned on the VAD's silence window
  (`silence_duration_ms`, the session's own setting): a batch ends exactly on the frame that completes
  the window, and from then on frames pass one by one. The VAD decides on the audio it has, so frames
  held mid-pause cannot make it stop early, and the frame that ends the turn is never held back. Without
  the window (`silence_ms` 0) the pause goes frame by frame. `speech_batch_ms` = 20 passes all of the
  caller's speech and pauses one by one.
The loudness test only steers batching; it never decides what is sent. Should it call loud what the VAD
calls silence (a loud non-speech noise right after speech, a breathy tail), the VAD's silence window
starts before ours and the end of the turn reaches it at most `speech_batch_ms` - 20 ms late.

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

    def __init__(self, batch_ms: int, speech_batch_ms: int = FRAME_BYTES // 8, silence_ms: int = 0) -> None:
        """`silence_ms`: the server VAD's `silence_duration_ms` (0: pauses in speech pass frame by frame)."""
        self._batch_bytes = batch_ms * 8
        self._speech_batch_bytes = speech_batch_ms * 8
        self._group = max(speech_batch_ms // 20, 1)  # frames per append in a pause
        self._pause_frames = silence_ms // 20  # quiet frames that end the turn for the VAD
        self._buffer = bytearray()
        self._caller_speaking = False  # the server VAD says so
        self._onset_frames = 0  # frames left to pass through after a local onset
        self._quiet = 0  # quiet frames in a row while the caller speaks

    @property
    def enabled(self) -> bool:
        return self._batch_bytes > FRAME_BYTES

    def caller_speaking(self, speaking: bool) -> None:
        """The server VAD's view (`speech_started` / `speech_stopped`)."""
        self._caller_speaking = speaking
        self._onset_frames = self._quiet = 0

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
        if is_loud(audio):
            self._quiet = 0
            return self._hold(audio, self._speech_batch_bytes)
        self._quiet += 1
        left = self._pause_frames - self._quiet  # quiet frames the VAD still needs to end the turn
        if self._quiet == 1 or left <= 0 or left % self._group == 0:
            return self._with_buffer(payload, audio)  # the speech held, or a batch ending on the window's end
        self._buffer += audio
        return None

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
