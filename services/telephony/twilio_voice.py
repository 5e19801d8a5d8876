"""Twilio's voice webhooks: request signatures (checked against our public URL) and the TwiML we answer."""

from __future__ import annotations

from collections.abc import Mapping

from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Connect, VoiceResponse

from config.settings import Settings

TWIML_MEDIA_TYPE = "application/xml"


class TwilioSignatures:
    """Twilio request validation, always against our public URL (never the Host header)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._validator = RequestValidator(settings.twilio_auth_token.get_secret_value())

    def webhook_is_valid(self, path: str, query: str, params: Mapping[str, str], signature: str | None) -> bool:
        if not signature:
            return False
        url = self._settings.public_url(path) + (f"?{query}" if query else "")
        return bool(self._validator.validate(url, dict(params), signature))

    def stream_handshake_is_valid(self, signature: str | None) -> bool:
        # Twilio signs the WebSocket upgrade over the wss:// URL exactly as written in the TwiML.
        if not signature:
            return False
        return bool(self._validator.validate(self._settings.media_stream_url, {}, signature))


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
