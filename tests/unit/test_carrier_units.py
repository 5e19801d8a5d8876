"""Plivo's signature and Exotel's audio rules, checked against the carriers' documented examples and the
reference G.711 tables (no sockets needed: these are pure functions)."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from pydantic import ValidationError

from services.telephony.events import checked_audio
from services.telephony.exotel_audio import (
    CHUNK_MAX,
    CHUNK_MIN,
    Rechunker,
    pcm16_b64_to_ulaw_b64,
    pcm16_to_ulaw,
    ulaw_to_pcm16,
)
from services.telephony.plivo_voice import PlivoSignatures
from tests.carrier_stack import PLIVO_AUTH_ID, PLIVO_AUTH_TOKEN
from tests.fakes.mulaw import mulaw_decode, mulaw_encode
from tests.fakes.plivo_sim import signature_v3
from tests.stack import make_settings

# Plivo's documented example (X-Plivo-Signature-V3, POST).
VECTOR_TOKEN, VECTOR_NONCE = "my_auth_token", "05429567804466091622"
VECTOR_PARAMS = {"CallUUID": "abc-123", "Direction": "inbound", "From": "919876543210", "To": "918045678900"}
VECTOR_SIGNATURE = "bMl/ygrxnRYYiKSvAYjvzeTMFS+6uXXK1JTouL8l4+Q="


def test_the_plivo_double_signs_like_the_documented_example() -> None:
    signed = signature_v3(VECTOR_TOKEN, "POST", "https://example.com/answer", VECTOR_PARAMS, VECTOR_NONCE)
    assert signed == VECTOR_SIGNATURE


def test_the_app_accepts_plivo_signatures_and_nothing_else() -> None:
    signatures = PlivoSignatures(VECTOR_TOKEN, "https://example.com")
    assert signatures.is_valid("/answer", "", VECTOR_PARAMS, VECTOR_SIGNATURE, VECTOR_NONCE)
    # Plivo may send several signatures (comma-separated): one valid is enough.
    assert signatures.is_valid("/answer", "", VECTOR_PARAMS, "AAAA," + VECTOR_SIGNATURE, VECTOR_NONCE)
    assert not signatures.is_valid(
        "/answer", "", {**VECTOR_PARAMS, "From": "910000000000"}, VECTOR_SIGNATURE, VECTOR_NONCE
    )
    assert not signatures.is_valid("/answer", "", VECTOR_PARAMS, VECTOR_SIGNATURE, "1" + VECTOR_NONCE)
    assert not signatures.is_valid("/other", "", VECTOR_PARAMS, VECTOR_SIGNATURE, VECTOR_NONCE)
    assert not signatures.is_valid("/answer", "", VECTOR_PARAMS, "", VECTOR_NONCE)
    assert not signatures.is_valid("/answer", "", VECTOR_PARAMS, "%%%not-base64", VECTOR_NONCE)


def test_plivo_needs_an_indian_agent_number_at_start_up() -> None:
    plivo = {"plivo_auth_id": PLIVO_AUTH_ID, "plivo_auth_token": PLIVO_AUTH_TOKEN}
    assert make_settings(**plivo, human_agent_number="+919000000000").plivo_enabled
    with pytest.raises(ValidationError, match="media anchoring"):
        make_settings(**plivo, human_agent_number="+14155550100")
    assert not make_settings(human_agent_number="+14155550100").plivo_enabled  # Twilio alone: no such rule
    with pytest.raises(ValidationError):
        make_settings(plivo_auth_id="not-an-auth-id", plivo_auth_token=PLIVO_AUTH_TOKEN)


def test_exotel_is_on_only_with_its_account_and_a_long_stream_secret() -> None:
    assert not make_settings().exotel_enabled
    assert make_settings(exotel_account_sid="acme1", exotel_stream_secret="s" * 32).exotel_enabled
    with pytest.raises(ValidationError):
        make_settings(exotel_account_sid="acme1", exotel_stream_secret="short")
    assert make_settings(exotel_allowed_ips="10.0.0.1, 10.0.0.2").exotel_allowed_ips == ["10.0.0.1", "10.0.0.2"]


def test_mulaw_tables_match_the_reference_codec_for_every_value() -> None:
    every_sample = np.arange(-32768, 32768, dtype="<i2")
    expected = bytes(mulaw_encode(int(sample)) for sample in every_sample)
    assert pcm16_to_ulaw(every_sample.tobytes()) == expected
    every_byte = bytes(range(256))
    decoded = np.frombuffer(ulaw_to_pcm16(every_byte), dtype="<i2")
    assert decoded.tolist() == [mulaw_decode(byte) for byte in every_byte]
    # μ-law → PCM → μ-law is lossless, but for 0x7F ("minus zero"), which comes back as 0xFF.
    assert pcm16_to_ulaw(ulaw_to_pcm16(every_byte)) == every_byte.replace(b"\x7f", b"\xff")


def test_inbound_pcm_that_is_not_base64_of_whole_samples_is_refused() -> None:
    assert (
        pcm16_b64_to_ulaw_b64(base64.b64encode(b"\x00\x00" * 800).decode()) == base64.b64encode(b"\xff" * 800).decode()
    )
    assert pcm16_b64_to_ulaw_b64(base64.b64encode(b"\x00" * 3).decode()) is None  # half a sample
    assert pcm16_b64_to_ulaw_b64("not base64!") is None


def test_outbound_audio_is_rechunked_to_exotels_rules() -> None:
    chunker = Rechunker()
    assert chunker.feed(b"\x01" * 1600) == []  # under the 3 200-byte minimum: held
    (first,) = chunker.feed(b"\x02" * 1700)  # 3 300 buffered: 3 200 out, 100 held
    assert len(first) == 3200 and chunker.buffered == 100
    (big, *rest) = chunker.feed(b"\x03" * 250_000)
    assert len(big) == CHUNK_MAX and all(len(c) % 320 == 0 and CHUNK_MIN <= len(c) <= CHUNK_MAX for c in rest)
    last = chunker.tail()
    assert last is not None and len(last) % 320 == 0 and len(last) >= CHUNK_MIN
    left = 100 + 250_000 - sum(len(c) for c in [big, *rest])  # what was held, padded with silence
    assert 0 < left < CHUNK_MIN and last == b"\x03" * left + bytes(len(last) - left)
    assert chunker.tail() is None and chunker.buffered == 0
    chunker.feed(b"\x04" * 500)
    chunker.clear()
    assert chunker.tail() is None


@pytest.mark.parametrize("payload", ["AAA", "A===", "AA=A", "AAAA\n", "AB?D", "AA-_", "\x80AAA", "AAAA====", "AAAA="])
def test_checked_audio_refuses_what_openai_would_reject_as_an_append(payload: str) -> None:
    assert checked_audio(payload) is None


def test_checked_audio_keeps_the_payload_and_decodes_it_once() -> None:
    payload = base64.b64encode(bytes(range(160))).decode()
    audio = checked_audio(payload)
    assert audio is not None and audio.payload == payload and audio.audio == bytes(range(160))
