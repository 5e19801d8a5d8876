"""Stream tokens, Twilio signatures, settings errors, phone masking and log redaction, without sockets."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Callable

import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from services.call_tokens import CallTokens
from services.telephony.twilio_voice import TwilioSignatures, connect_stream_twiml
from tests.stack import AUTH_TOKEN, make_settings
from utils.logger import configure_logging, flush_logging
from utils.privacy import REDACTED, mask_phone, mask_phones_in_text, redact, redact_fields


def test_stream_token_binds_call_and_expires() -> None:
    tokens = CallTokens("secret", ttl_s=60)
    token = tokens.issue("CA1", now=1000)
    assert tokens.verify("CA1", token, now=1030)
    assert not tokens.verify("CA2", token, now=1030)
    assert not tokens.verify("CA1", token, now=1061)
    assert not tokens.verify("CA1", token.replace(".", ".0"), now=1030)
    assert not tokens.verify("CA1", "garbage", now=1030)


def test_webhook_signature_uses_public_url_not_host() -> None:
    settings = make_settings()
    signatures = TwilioSignatures(settings)
    params = {"CallSid": "CA123", "From": "+919876543210"}
    validator = RequestValidator(AUTH_TOKEN)
    good = validator.compute_signature("https://voice.example.com/incoming-call", params)
    assert signatures.webhook_is_valid("/incoming-call", "", params, good)
    spoofed_host = validator.compute_signature("https://evil.example.com/incoming-call", params)
    assert not signatures.webhook_is_valid("/incoming-call", "", params, spoofed_host)
    assert not signatures.webhook_is_valid("/incoming-call", "", {**params, "From": "+910000000000"}, good)
    assert not signatures.webhook_is_valid("/incoming-call", "", params, None)


def test_stream_handshake_signature_is_over_the_wss_url() -> None:
    settings = make_settings()
    signature = RequestValidator(AUTH_TOKEN).compute_signature("wss://voice.example.com/media-stream", {})
    assert TwilioSignatures(settings).stream_handshake_is_valid(signature)
    assert not TwilioSignatures(settings).stream_handshake_is_valid("x" + signature)


def test_twiml_connects_stream_with_parameters() -> None:
    twiml = connect_stream_twiml("wss://voice.example.com/media-stream", {"call_sid": "CA1", "token": "t"})
    assert '<Connect><Stream url="wss://voice.example.com/media-stream">' in twiml
    assert '<Parameter name="call_sid" value="CA1" />' in twiml


def test_missing_setting_stops_startup_with_one_clear_line() -> None:
    env = {"PATH": "/usr/bin:/bin", "OPENAI_API_KEY": "x", "TWILIO_ACCOUNT_SID": "nope"}
    result = subprocess.run(
        [sys.executable, "-c", "from config.settings import load_settings; load_settings()"],
        capture_output=True,
        text=True,
        env=env,
        cwd=".",
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "TWILIO_ACCOUNT_SID is invalid" in lines[0]
    assert "TWILIO_AUTH_TOKEN is required" in lines[0]
    assert "Traceback" not in result.stderr


def test_logs_mask_phones_and_redact_secrets() -> None:
    stream = io.StringIO()
    configure_logging(json_output=True, stream=stream)
    try:
        structlog.get_logger("t").info(
            "incoming",
            caller="+919876543210",
            note="call me on 98765 43210",
            api_key="sk-live-123",
            auth_token="tok",
        )
        flush_logging()
        line = json.loads(stream.getvalue().strip().splitlines()[-1])
    finally:
        configure_logging(json_output=False)
    assert line["caller"] == "+91******3210"
    assert "98765 43210" not in line["note"] and line["note"].endswith("3210")
    assert line["api_key"] == "[redacted]" and line["auth_token"] == "[redacted]"
    masked_us = mask_phone("+14155550100")
    assert masked_us.endswith("0100") and "5555" not in masked_us and "*" in masked_us


# --------------------------------------------------------------------------------------------------
# utils.privacy: phone masking and secret redaction
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "expected"),
    [
        ("+919876543210", "+91******3210"),  # E.164, two-digit country code
        ("+14155550100", "+1******0100"),  # one-digit country code
        ("+8613800138000", "+86*******8000"),
        ("+971501234567", "+971*****4567"),  # three-digit country code
        ("+91 98765 43210", "+91 ***** *3210"),  # layout kept
        ("9876543210", "******3210"),  # bare 10 digits: no country code assumed
        ("09876543210", "*******3210"),
        ("+९१९८७६५४३२१०", "+९१******३२१०"),  # Devanagari digits are digits too
        ("12345", "***45"),  # short: only the last two
        ("+91", "+91"),
        ("7", "7"),
        ("", ""),
        (None, ""),
        ("unknown", "unknown"),
    ],
)
def test_mask_phone(phone: str | None, expected: str) -> None:
    assert mask_phone(phone) == expected


mobiles = st.builds(
    lambda first, rest: first + rest, st.sampled_from("6789"), st.from_regex(r"[0-9]{9}", fullmatch=True)
)


PHONE_LAYOUTS: list[Callable[[str], str]] = [
    lambda m: f"+91{m}",
    lambda m: f"+91 {m[:5]} {m[5:]}",
    lambda m: f"+91-{m[:5]}-{m[5:]}",
    lambda m: f"+91 ({m[:5]}) {m[5:]}",
    lambda m: m,
    lambda m: f"0{m}",
]


@settings(max_examples=300, deadline=None)
@given(mobiles, st.sampled_from(PHONE_LAYOUTS))
def test_mask_phone_never_reveals_more_than_last_four_national_digits(
    mobile: str, layout: Callable[[str], str]
) -> None:
    phone = layout(mobile)
    masked = mask_phone(phone)
    assert len(masked) == len(phone)
    visible = "".join(ch for ch in masked if ch.isdigit())
    country = "91" if phone.startswith("+") else ""
    assert visible == country + mobile[-4:]


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_mask_phone_shows_at_most_country_code_and_four_digits(text: str) -> None:
    masked = mask_phone(text)
    assert len(masked) == len(text)
    visible = sum(ch.isdecimal() for ch in masked)
    limit = 4 + 3 if text.lstrip().startswith("+") else 4
    assert visible <= min(limit, sum(ch.isdecimal() for ch in text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call me on 98765 43210", "call me on ***** *3210"),
        ("from +919876543210 to +14155550100", "from +91******3210 to +1******0100"),
        ("caller 0-98765-43210 again", "caller *-*****-*3210 again"),
        ("order ORD-482913 costs 1499", "order ORD-482913 costs 1499"),  # ids and amounts stay
        ("pincode 560001, otp 1234", "pincode 560001, otp 1234"),
        ("ts 2026-03-05", "ts 2026-03-05"),
        ("CA0123456789abcdef0123456789abcdef", "CA0123456789abcdef0123456789abcdef"),  # inside a word
        ("", ""),
    ],
)
def test_mask_phones_in_text(text: str, expected: str) -> None:
    assert mask_phones_in_text(text) == expected


def test_redact_walks_nested_values_and_redacts_secret_keys() -> None:
    fields = {
        "event": "twilio_request",
        "X-Twilio-Signature": "abc=",
        "Authorization": "Bearer admin-token-0123456789",
        "nested": {"OPENAI_API_KEY": "sk-1", "password": "hunter2", "to": "+919876543210"},
        "numbers": ["9876543210", ("+14155550100", 3)],
        "count": 7,
        "missing": None,
    }
    out = redact_fields(fields)
    assert out == {
        "event": "twilio_request",
        "X-Twilio-Signature": REDACTED,
        "Authorization": REDACTED,
        "nested": {"OPENAI_API_KEY": REDACTED, "password": REDACTED, "to": "+91******3210"},
        "numbers": ["******3210", ("+1******0100", 3)],
        "count": 7,
        "missing": None,
    }
    assert fields["nested"]["password"] == "hunter2"  # the input is not modified
    assert redact("no phone here") == "no phone here" and redact(3.5) == 3.5
