"""Stream tokens, Twilio signatures, settings errors and log masking, without sockets."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import structlog
from twilio.request_validator import RequestValidator

from config.settings import Settings
from services.twilio_service import StreamTokens, TwilioSignatures, connect_stream_twiml
from utils.hinglish import mask_phone
from utils.logger import configure_logging, flush_logging

AUTH_TOKEN = "a" * 32
BASE = {
    "openai_api_key": "sk-test-secret-key",
    "twilio_account_sid": "AC" + "1" * 32,
    "twilio_auth_token": AUTH_TOKEN,
    "twilio_phone_number": "+918000000000",
    "public_base_url": "https://voice.example.com/",
    "admin_api_token": "admin-token-0123456789",
}


def make_settings(**overrides: object) -> Settings:
    return Settings(_env_file=None, **{**BASE, **overrides})  # type: ignore[arg-type]


def test_stream_token_binds_call_and_expires() -> None:
    tokens = StreamTokens("secret", ttl_s=60)
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
