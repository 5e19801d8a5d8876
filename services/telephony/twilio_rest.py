"""Twilio REST actions through the official SDK's async client: redirect/hang up a live call, place
outbound calls, send SMS. `TWILIO_API_BASE_URL` points it at Twilio (or a test double)."""

from __future__ import annotations

from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from config.settings import Settings
from utils.logger import get_logger

log = get_logger(__name__)


class CallAlreadyEnded(Exception):
    """Twilio answered 404 for the call: it has already ended."""


class TwilioRest:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._http = AsyncTwilioHttpClient(timeout=10)
        self._client = Client(
            settings.twilio_account_sid, settings.twilio_auth_token.get_secret_value(), http_client=self._http
        )
        # The SDK builds every v2010 URL from this domain's base_url.
        self._client.api.base_url = settings.twilio_api_base_url

    async def redirect_call(self, call_sid: str, twiml: str) -> None:
        """Replace the live call's TwiML (ends our media stream). Raises CallAlreadyEnded on 404."""
        try:
            await self._client.calls(call_sid).update_async(twiml=twiml)
        except TwilioRestException as error:
            if error.status == 404:
                raise CallAlreadyEnded(call_sid) from error
            raise

    async def hang_up(self, call_sid: str) -> bool:
        """`Status=completed`; False when Twilio says the call has already ended (404)."""
        try:
            await self._client.calls(call_sid).update_async(status="completed")
            return True
        except TwilioRestException as error:
            if error.status == 404:
                return False
            raise

    async def create_call(
        self,
        to: str,
        twiml: str | None = None,
        status_callback: str | None = None,
        *,
        url: str | None = None,
    ) -> tuple[str, str]:
        """Place an outbound call; returns (call sid, Twilio status, e.g. "queued").

        Exactly one of `twiml` (inline) or `url` (Twilio fetches our voice webhook when answered).
        """
        if (twiml is None) == (url is None):
            raise ValueError("pass exactly one of twiml or url")
        kwargs: dict[str, object] = {"to": to, "from_": self._settings.twilio_phone_number}
        if twiml is not None:
            kwargs["twiml"] = twiml
        else:
            kwargs["url"] = url
            kwargs["method"] = "POST"
        if status_callback:
            kwargs["status_callback"] = status_callback
            kwargs["status_callback_method"] = "POST"
            kwargs["status_callback_event"] = ["initiated", "ringing", "answered", "completed"]
        call = await self._client.calls.create_async(**kwargs)
        return str(call.sid), str(call.status or "queued")

    async def send_sms(self, to: str, body: str) -> str:
        message = await self._client.messages.create_async(to=to, from_=self._settings.twilio_phone_number, body=body)
        return str(message.sid)

    async def aclose(self) -> None:
        session = getattr(self._http, "session", None)
        if session is not None:
            await session.close()
