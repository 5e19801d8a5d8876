"""Stream tokens, Twilio signatures, settings errors, phone masking and log redaction, without sockets."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from services.call_tokens import CallTokens, TokenPurpose
from services.telephony.twilio_voice import TwilioSignatures, connect_stream_twiml
from tests.stack import AUTH_TOKEN, make_settings
from utils.logger import configure_logging, flush_logging
from utils.privacy import (
    REDACTED,
    is_secret_key,
    mask_phone,
    mask_phones_in_text,
    redact,
    redact_fields,
    scrub_secrets_in_text,
    scrub_text,
)

SECRET = "s" * 32
PARAMS = {"call_sid": "CA1", "caller": "+919876543210", "called": "+918000000000", "direction": "inbound"}


def test_stream_token_binds_call_parameters_and_expires() -> None:
    issued = time.time()
    now = [issued]
    tokens = CallTokens(SECRET, TokenPurpose.STREAM, ttl_s=60, clock=lambda: now[0])
    token = tokens.issue("CA1", PARAMS)
    assert "9876543210" not in token, "the token carries a digest of the parameters, not the number"
    now[0] = issued + 30
    claims = tokens.verify("CA1", token, PARAMS)
    assert claims is not None and claims.subject == "CA1" and len(claims.nonce) >= 16
    assert tokens.verify("CA2", token, PARAMS) is None
    for tampered in ({**PARAMS, "caller": "+919812345678"}, {**PARAMS, "purpose": "x"}, {}):
        assert tokens.verify("CA1", token, tampered) is None
    assert tokens.verify("CA1", token[:-2] + ("AA" if token[-2:] != "AA" else "BB"), PARAMS) is None
    for garbage in ("garbage", "", "١٢٣.abc", "x" * 10_000, "1.2.3"):
        assert tokens.verify("CA1", garbage, PARAMS) is None
    now[0] = issued + 62
    assert tokens.verify("CA1", token, PARAMS) is None, "expired"


def test_each_purpose_has_its_own_key() -> None:
    stream = CallTokens(SECRET, TokenPurpose.STREAM, ttl_s=60)
    whisper = CallTokens(SECRET, TokenPurpose.WHISPER, ttl_s=60)
    assert stream.verify("CA1", whisper.issue("CA1")) is None
    assert whisper.verify("CA1", stream.issue("CA1")) is None
    assert whisper.verify("CA1", whisper.issue("CA1")) is not None
    assert CallTokens("t" * 32, TokenPurpose.STREAM, ttl_s=60).verify("CA1", stream.issue("CA1")) is None


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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (  # uvicorn's access line for the transfer whisper
            '127.0.0.1:5000 - "POST /whisper?call_sid=CA0123&token=1893456789.abc%3D HTTP/1.1" 403',
            '127.0.0.1:5000 - "POST /whisper?call_sid=CA0123&token=[redacted] HTTP/1.1" 403',
        ),
        (
            "/verify?otp=123456&code=98&otpCode=7&signature=s%2Fg",
            "/verify?otp=[redacted]&code=[redacted]&otpCode=[redacted]&signature=[redacted]",
        ),
        (
            "GET /x?api%5Fkey=sk-1&AccessToken=zz&sig=abc== x",
            "GET /x?api%5Fkey=[redacted]&AccessToken=[redacted]&sig=[redacted] x",
        ),
        # Kinds of codes that are not secrets, and ordinary parameters, stay readable.
        ("/calls?status=completed&status_code=200&error_code=21215&pincode=560034&limit=5", None),
        ("shipping=fast typing=slow", None),
        ("{'api_key': 'sk-live-1', 'name': 'Rahul'}", "{'api_key': '[redacted]', 'name': 'Rahul'}"),
        ('{"X-Twilio-Signature": "abc=", "CallSid": "CA1"}', '{"X-Twilio-Signature": "[redacted]", "CallSid": "CA1"}'),
        ("headers: Authorization: Basic dXNlcjpwYXNz, Accept: */*", "headers: Authorization: [redacted], Accept: */*"),
        ("sent Bearer admin-token-0123456789 to /calls", "sent Bearer [redacted] to /calls"),
        (
            "mongodb://voice:hunter2@db.example.com:27017/voice_agent",
            "mongodb://voice:[redacted]@db.example.com:27017/voice_agent",
        ),
        ("http://127.0.0.1:8000/path@x", None),  # a port is not a password
        ("the basic plan; bearer of good news", None),
        ("ts 2026-03-05T10:00:00Z, order ORD-482913", None),
        ("token=[redacted]", None),
        ("", None),
    ],
)
def test_secrets_inside_text_are_blanked(text: str, expected: str | None) -> None:
    expected = text if expected is None else expected
    assert scrub_secrets_in_text(text) == expected
    assert scrub_secrets_in_text(expected) == expected, "idempotent"


token_text = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~%+/=", min_size=1)


@settings(max_examples=300, deadline=None)
@given(token_text, st.sampled_from(["token", "Token", "access_token", "otp", "code", "signature", "key"]))
def test_no_query_secret_survives_scrubbing(secret: str, key: str) -> None:
    assert scrub_text(f"/whisper?call_sid=CA1&{key}={secret}") == f"/whisper?call_sid=CA1&{key}={REDACTED}"
    assert scrub_text(f'"GET /x?{key}={secret}&a=b HTTP/1.1" 200') == f'"GET /x?{key}={REDACTED}&a=b HTTP/1.1" 200'


def test_urls_mask_encoded_phone_numbers_and_keep_the_rest() -> None:
    assert scrub_text("/calls?to=%2B919812345678&limit=1") == "/calls?to=%2B91******5678&limit=1"
    assert mask_phones_in_text("%2b14155550100") == "%2b1******0100"
    assert scrub_text("GET /call/CA0123456789abcdef0123456789abcdef") == "GET /call/CA0123456789abcdef0123456789abcdef"


def test_strings_found_clean_are_remembered_and_nothing_to_hide_is() -> None:
    from utils import privacy

    privacy._CLEAN_TEXTS.clear()
    for _ in range(3):  # the second and third time the string is a known clean one: still itself
        assert scrub_text("stream_claim_local_only") == "stream_claim_local_only"
        assert scrub_text("call me on +91 98123 45678") == "call me on +91 ***** *5678"
        assert scrub_text("token=abc123") == f"token={REDACTED}"
    assert "stream_claim_local_only" in privacy._CLEAN_TEXTS
    assert privacy._CLEAN_TEXTS.isdisjoint({"call me on +91 98123 45678", "token=abc123"})  # never kept
    assert scrub_text("x" * 129) == "x" * 129 and "x" * 129 not in privacy._CLEAN_TEXTS  # long: not kept
    for n in range(privacy._CLEAN_KEPT + 10):  # bounded: a full set starts over
        scrub_text(f"event_{n}")
    assert len(privacy._CLEAN_TEXTS) <= privacy._CLEAN_KEPT


def test_secret_field_names() -> None:
    for key in ("otp", "OTP", "auth_token", "X-Twilio-Signature", "passcode", "Set-Cookie", "one_time_code"):
        assert is_secret_key(key), key
    for key in ("otp_attempts", "code", "status_code", "pincode", "call_sid", "event", 3):
        assert not is_secret_key(key), key  # a Twilio error `code` is worth seeing in the logs


def test_every_stdlib_logger_goes_through_the_privacy_processor() -> None:
    # A library logger with a handler of its own (as uvicorn's dictConfig sets up) is routed to ours.
    own = io.StringIO()
    library = logging.getLogger("tests.some_library")
    library.addHandler(logging.StreamHandler(own))
    library.propagate = False
    stream = io.StringIO()
    configure_logging(json_output=True, stream=stream)
    try:
        library.warning("GET %s from %s", "/whisper?call_sid=CA1&token=tok-SECRET", "+919876543210")
        try:
            raise RuntimeError("cannot reach mongodb://voice:pw-SECRET@db:27017 with otp=123456")
        except RuntimeError:
            logging.getLogger("pymongo.test").exception("lost %s", "Bearer bearer-SECRET-0123")
        flush_logging()
        lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        configure_logging(json_output=False)
        library.propagate = True
    assert own.getvalue() == "" and library.handlers == []
    first, second = lines
    assert first["logger"] == "tests.some_library" and first["level"] == "warning"
    assert first["event"] == f"GET /whisper?call_sid=CA1&token={REDACTED} from +91******3210"
    assert second["logger"] == "pymongo.test" and second["event"] == f"lost Bearer {REDACTED}"
    assert "RuntimeError" in second["exception"] and f"otp={REDACTED}" in second["exception"]
    for raw in ("SECRET", "123456", "9876543210"):
        assert raw not in stream.getvalue()
