"""Twilio: TwiML, request/handshake signature checks, per-call stream tokens, outbound stream frames.

REST actions (transfer, hang-up, outbound, SMS) live in `services.twilio_rest`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping

import orjson
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Connect, VoiceResponse

from config.settings import Settings

STREAM_PATH = "/media-stream"


class StreamTokens:
    """Short-lived tokens that bind a media stream to the call whose webhook we answered.

    Stateless: token = expiry + HMAC(auth token, call_sid|expiry). Any node can verify it, and the
    TwiML `<Parameter>` carries it to `start.customParameters` without any PII.
    """

    def __init__(self, secret: str, ttl_s: int) -> None:
        self._key = hashlib.sha256(b"stream-token:" + secret.encode()).digest()
        self._ttl_s = ttl_s

    def _mac(self, call_sid: str, expires: int) -> str:
        return hmac.new(self._key, f"{call_sid}|{expires}".encode(), hashlib.sha256).hexdigest()[:32]

    def issue(self, call_sid: str, now: float | None = None) -> str:
        expires = int((now or time.time()) + self._ttl_s)
        return f"{expires}.{self._mac(call_sid, expires)}"

    def verify(self, call_sid: str, token: str, now: float | None = None) -> bool:
        expires_text, _, mac = token.partition(".")
        if not expires_text.isdigit() or not mac:
            return False
        expires = int(expires_text)
        if expires < (now or time.time()):
            return False
        return hmac.compare_digest(mac, self._mac(call_sid, expires))


class TwilioSignatures:
    """Twilio request validation, always against our public URL (never the Host header)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._validator = RequestValidator(settings.twilio_auth_token.get_secret_value())

    def webhook_is_valid(self, path: str, query: str, params: Mapping[str, str], signature: str | None) -> bool:
        if not signature:
            return False
        url = self._settings.public_url(path) + (f"?{query}" if query else "")
        return self._validator.validate(url, dict(params), signature)

    def stream_handshake_is_valid(self, signature: str | None) -> bool:
        # Twilio signs the WebSocket upgrade over the wss:// URL exactly as written in the TwiML.
        if not signature:
            return False
        return self._validator.validate(self._settings.media_stream_url, {}, signature)


def connect_stream_twiml(stream_url: str, parameters: Mapping[str, str]) -> str:
    """`<Connect><Stream>` with nothing after it: when we close the stream, the call ends."""
    response = VoiceResponse()
    connect = Connect()
    stream = connect.stream(url=stream_url)
    for name, value in parameters.items():
        stream.parameter(name=name, value=value)
    response.append(connect)
    return str(response)


def say_and_hangup_twiml(text: str, language: str) -> str:
    response = VoiceResponse()
    response.say(text, language=language)
    response.hangup()
    return str(response)


def new_stream_token_secret() -> str:
    return secrets.token_urlsafe(32)


# Outbound stream frames: exactly these keys (extra or missing keys are Twilio warning 31951).
# Built with orjson directly because they are on the audio path.
def media_frame(stream_sid: str, payload: str) -> str:
    return orjson.dumps({"event": "media", "streamSid": stream_sid, "media": {"payload": payload}}).decode()


def mark_frame(stream_sid: str, name: str) -> str:
    return orjson.dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}}).decode()


def clear_frame(stream_sid: str) -> str:
    return orjson.dumps({"event": "clear", "streamSid": stream_sid}).decode()
