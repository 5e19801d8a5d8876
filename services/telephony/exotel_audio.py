"""Exotel's audio: 16-bit signed little-endian PCM at 8 kHz, which this bridge turns into G.711 μ-law (and
back) so the Realtime session stays on `audio/pcmu` like every other carrier's.

Both directions are one numpy table look-up over the whole frame (C speed, no Python loop per sample):
decoding indexes a 256-entry table with the μ-law bytes, encoding a 65 536-entry table with the PCM
samples seen as unsigned. The tables follow the ITU G.711 reference and agree with `audioop` bit for
bit; a μ-law byte decoded and encoded again is the same byte (but 0x7F, "minus zero": 0xFF).

Outbound PCM is re-chunked to Exotel's rules
(https://support.exotel.com/support/solutions/articles/3000108630): every `media` payload a multiple
of 320 bytes (20 ms), at least 3 200 (200 ms), at most 100 000; the last one padded with silence.
"""

from __future__ import annotations

import base64
import binascii

import numpy as np
import numpy.typing as npt

CHUNK_STEP = 320
CHUNK_MIN = 3200
CHUNK_MAX = 100_000 // CHUNK_STEP * CHUNK_STEP
_BIAS = 0x84
_CLIP14 = 8159
_SEG_END = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)


def _decode_table() -> npt.NDArray[np.int16]:
    byte = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (byte >> 4) & 0x07
    magnitude = ((((byte & 0x0F) << 3) + _BIAS) << exponent) - _BIAS
    return np.where(byte & 0x80, -magnitude, magnitude).astype(np.int16)


def _encode_table() -> npt.NDArray[np.uint8]:
    # The reference encoder works on 14-bit magnitudes: an arithmetic shift by 2, a bias of 33.
    value = np.arange(65536, dtype=np.int32).astype(np.uint16).view(np.int16).astype(np.int32) >> 2
    mask = np.where(value < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(value), _CLIP14) + (_BIAS >> 2)
    segment = np.searchsorted(_SEG_END, magnitude)  # first segment whose end is >= the magnitude
    code = (segment << 4) | ((magnitude >> (segment + 1)) & 0x0F)
    return (np.where(segment >= 8, 0x7F, code) ^ mask).astype(np.uint8)


ULAW_TO_PCM = _decode_table()
PCM_TO_ULAW = _encode_table()


def pcm16_to_ulaw(pcm: bytes) -> bytes:
    samples = np.frombuffer(pcm, dtype="<u2", count=len(pcm) // 2)
    return bytes(PCM_TO_ULAW[samples].tobytes())


def ulaw_to_pcm16(ulaw: bytes) -> bytes:
    return ULAW_TO_PCM[np.frombuffer(ulaw, dtype=np.uint8)].astype("<i2").tobytes()


def pcm16_b64_to_ulaw_b64(payload: str) -> str | None:
    """One inbound frame; None when it is not base64 of whole 16-bit samples."""
    try:
        pcm = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(pcm) % 2:
        return None
    return base64.b64encode(pcm16_to_ulaw(pcm)).decode("ascii")


class Rechunker:
    """Outbound PCM in, Exotel-sized chunks out; `tail` pads what is left into one last valid chunk."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def feed(self, pcm: bytes) -> list[bytes]:
        self._buffer += pcm
        chunks = []
        while len(self._buffer) >= CHUNK_MIN:
            size = min(len(self._buffer) // CHUNK_STEP * CHUNK_STEP, CHUNK_MAX)
            chunks.append(bytes(self._buffer[:size]))
            del self._buffer[:size]
        return chunks

    def tail(self) -> bytes | None:
        if not self._buffer:
            return None
        size = max(CHUNK_MIN, -(-len(self._buffer) // CHUNK_STEP) * CHUNK_STEP)
        chunk = bytes(self._buffer) + bytes(size - len(self._buffer))  # zeros: linear silence
        self._buffer.clear()
        return chunk

    def clear(self) -> None:
        self._buffer.clear()
