"""G.711 μ-law helpers for test fakes (8 kHz, one byte per sample).

Pure Python on purpose: ``audioop`` is gone in Python 3.13, and tests only need small amounts of
audio. The tables follow the classic Sun/ITU reference implementation, so the results agree with
``audioop.lin2ulaw`` / ``audioop.ulaw2lin`` bit for bit.
"""

from __future__ import annotations

import math

SAMPLE_RATE = 8000
BYTES_PER_MS = SAMPLE_RATE // 1000  # μ-law: one byte per sample, so ms = bytes / 8
SILENCE_BYTE = 0xFF  # encodes linear 0

_BIAS = 0x84
_CLIP14 = 8159  # encoder works on 14-bit magnitudes, like the ITU reference / audioop
_SEG_END = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)


def _decode_uncached(byte: int) -> int:
    byte = ~byte & 0xFF
    sign = byte & 0x80
    exponent = (byte >> 4) & 0x07
    mantissa = byte & 0x0F
    sample = (((mantissa << 3) + _BIAS) << exponent) - _BIAS
    return -sample if sign else sample


_DECODE: list[int] = [_decode_uncached(b) for b in range(256)]


def mulaw_encode(pcm16_sample: int) -> int:
    """Encode one signed 16-bit linear sample to a μ-law byte (same result as ``audioop.lin2ulaw``)."""
    value = max(-32768, min(32767, int(pcm16_sample))) >> 2  # 14-bit, arithmetic shift
    mask = 0x7F if value < 0 else 0xFF
    magnitude = min(-value if value < 0 else value, _CLIP14) + (_BIAS >> 2)
    segment = next((i for i, end in enumerate(_SEG_END) if magnitude <= end), 8)
    if segment == 8:  # beyond the last segment: the largest code
        return 0x7F ^ mask
    return ((segment << 4) | ((magnitude >> (segment + 1)) & 0x0F)) ^ mask


def mulaw_decode(byte: int) -> int:
    """Decode one μ-law byte to a signed 16-bit linear sample."""
    return _DECODE[byte & 0xFF]


def tone(ms: int, freq_hz: float, amplitude: int = 8000) -> bytes:
    """A sine tone as μ-law 8 kHz bytes (``ms * 8`` bytes), starting at phase 0."""
    n = int(ms) * BYTES_PER_MS
    step = 2.0 * math.pi * freq_hz / SAMPLE_RATE
    return bytes(mulaw_encode(round(amplitude * math.sin(step * i))) for i in range(n))


def silence(ms: int) -> bytes:
    """Digital silence as μ-law bytes (0xFF decodes to linear 0)."""
    return bytes([SILENCE_BYTE]) * (int(ms) * BYTES_PER_MS)


def frame_energy(frame: bytes) -> float:
    """Mean absolute linear amplitude of a μ-law frame (0.0 for an empty frame).

    A sine of amplitude A has mean |x| = 2A/π, so ``tone(..., amplitude=8000)`` scores ≈ 5100.
    """
    if not frame:
        return 0.0
    return sum(abs(_DECODE[b]) for b in frame) / len(frame)
