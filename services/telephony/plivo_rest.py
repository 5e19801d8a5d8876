"""Plivo's REST API for a live call: hang it up, or transfer it (Plivo fetches our XML and runs it).

HTTP Basic `auth_id:auth_token` on `https://api.plivo.com/v1/Account/{auth_id}/`
(https://docs.plivo.com/docs/voice/api/call/transfer-a-call, …/hangup-a-call). Both requests are
idempotent for a live call, so a transient failure (5xx, 429, the network) is retried briefly.
"""

from __future__ import annotations

from collections import OrderedDict

import httpx
import stamina

from config.settings import Settings
from utils.logger import get_logger

log = get_logger(__name__)

ATTEMPT_TIMEOUT_S = 5.0
MOVED_KEPT = 10_000


class PlivoCallEnded(Exception):
    """Plivo answered 404: the call has already ended."""


class PlivoTransient(Exception):
    """A 5xx or 429 from Plivo: worth another try."""


class PlivoRest:
    def __init__(self, settings: Settings) -> None:
        token = settings.plivo_auth_token.get_secret_value() if settings.plivo_auth_token else ""
        self._http = httpx.AsyncClient(
            base_url=f"{settings.plivo_api_base_url}/v1/Account/{settings.plivo_auth_id}/",
            auth=httpx.BasicAuth(settings.plivo_auth_id or "", token),
            timeout=ATTEMPT_TIMEOUT_S,
            trust_env=False,
        )
        self._moved: OrderedDict[str, None] = OrderedDict()  # calls we transferred: not ours to hang up

    def moved(self, call_uuid: str) -> bool:
        return call_uuid in self._moved

    async def hang_up(self, call_uuid: str) -> None:
        """End the call (204); `PlivoCallEnded` if it already has (404)."""
        await self._send("DELETE", f"Call/{call_uuid}/", None, ok=204)

    async def transfer(self, call_uuid: str, xml_url: str) -> None:
        """Have Plivo fetch `xml_url` (POST, signed) and run it on the caller's leg (202)."""
        self._moved[call_uuid] = None
        while len(self._moved) > MOVED_KEPT:
            self._moved.popitem(last=False)
        form = {"legs": "aleg", "aleg_url": xml_url, "aleg_method": "POST"}
        try:
            await self._send("POST", f"Call/{call_uuid}/", form, ok=202)
        except Exception:
            self._moved.pop(call_uuid, None)
            raise

    @stamina.retry(on=(PlivoTransient, httpx.TransportError), attempts=3, timeout=10.0, wait_initial=0.2)
    async def _send(self, method: str, path: str, form: dict[str, str] | None, *, ok: int) -> None:
        response = await self._http.request(method, path, data=form)
        if response.status_code == 404:
            raise PlivoCallEnded(path)
        if response.status_code >= 500 or response.status_code == 429:
            raise PlivoTransient(f"{method} {path}: HTTP {response.status_code}")
        if response.status_code != ok:
            raise httpx.HTTPStatusError(
                f"Plivo {method} answered {response.status_code}", request=response.request, response=response
            )
        log.info("plivo_rest", method=method, status=response.status_code)

    async def aclose(self) -> None:
        await self._http.aclose()
