"""A protocol-faithful Exotel double: the caller's phone, the Voicebot applet and the Passthru after it.

- The Voicebot applet's dynamic URL is fetched with GET (`CallSid`, `CallFrom`, `CallTo`, `Direction`)
  and must answer `{"url": "wss://user:secret@…?sample-rate=8000…"}`; the stream is opened with the URL's
  userinfo as `Authorization: Basic …`, as Exotel does.
- The stream sends `connected`, `start` (snake_case, numbers as strings, `custom_parameters`), then
  16-bit PCM `media` every 100 ms paced like a phone, `dtmf`, and `stop` (`reason: callended`).
- Every outbound `media` must be base64 PCM in a multiple of 320 bytes, 3 200 to 100 000 (else a
  violation); a `mark` is echoed once the audio before it has played; `clear` drops queued audio, and
  whether pending marks are echoed then is a switch (`echo_marks_on_clear`: undocumented for Exotel).
- When the bot closes the socket, the flow's Passthru is requested (`Stream[DisconnectedBy]=bot`) and
  its branch recorded: 200 → "connect" (the agents), 302 → "hangup".
The phone model (playback clock, marks) is the Twilio double's (`SimulatedCall`), in μ-law bytes: PCM
is companded on the way in and out with the reference tables in `tests.fakes.mulaw`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import secrets
import struct
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.fakes.mulaw import mulaw_decode, mulaw_encode
from tests.fakes.plivo_sim import with_query
from tests.fakes.twilio_sim import AUTO, SimulatedCall, TwilioSimError

CHUNK_STEP, CHUNK_MIN, CHUNK_MAX = 320, 3200, 100_000
_ENCODE = bytes(mulaw_encode(value) for value in range(-32768, 32768))  # index: sample + 32768
_APP_EVENTS = {"media": {"payload"}, "mark": {"name"}, "clear": None}


def pcm_from_ulaw(ulaw: bytes) -> bytes:
    return struct.pack(f"<{len(ulaw)}h", *(mulaw_decode(byte) for byte in ulaw))


def ulaw_from_pcm(pcm: bytes) -> bytes:
    return bytes(_ENCODE[sample + 32768] for sample in struct.unpack(f"<{len(pcm) // 2}h", pcm))


def basic(user: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


class ExotelCall(SimulatedCall):
    frame_ms = 100  # Exotel sends audio about every 100 ms
    start_rate = "8000"  # what `start.media_format.sample_rate` says (tests may make it disagree)

    def _parse_twiml(self, answer: str) -> None:
        try:
            url = json.loads(answer)["url"]
        except (ValueError, KeyError, TypeError) as exc:
            raise TwilioSimError(f"dynamic URL answer is not {{'url': …}}: {answer[:300]!r}") from exc
        parts = urlsplit(url)
        if parts.scheme != "wss" or not parts.username:
            raise TwilioSimError(f"stream URL must be wss:// with Basic auth credentials, got {parts.scheme}://")
        if dict(parse_qsl(parts.query)).get("sample-rate") != "8000":
            raise TwilioSimError("stream URL must ask for ?sample-rate=8000")
        self.stream_url = url
        self.custom_parameters = {}
        self.echoes_flushed_marks = self.sim.echo_marks_on_clear
        self.passthru_branch: str | None = None
        self.stream_status_callback = None

    async def connect_stream(  # type: ignore[override]
        self, *, authorization: str | None = AUTO, tamper_query: Mapping[str, str | None] | None = None
    ) -> None:
        if self.ws is not None:
            raise TwilioSimError("stream already connected")
        parts = urlsplit(self.stream_url)
        headers = {}
        if authorization is AUTO:
            headers["Authorization"] = basic(unquote(parts.username or ""), unquote(parts.password or ""))
        elif authorization is not None:
            headers["Authorization"] = authorization
        bare = with_query(self.stream_url, tamper_query, keep_userinfo=False)
        self.ws = await connect(self.sim.local_url(bare), additional_headers=headers, proxy=None, ping_interval=None)
        self.stream_sid = secrets.token_hex(16)
        start = {
            "stream_sid": self.stream_sid,
            "call_sid": self.call_sid,
            "account_sid": self.account_sid,
            "from": self.from_,
            "to": self.to,
            "custom_parameters": {},
            "media_format": {"encoding": "audio/x-raw", "sample_rate": self.start_rate, "bit_rate": "16"},
        }
        self.start_message = {"event": "start", "sequence_number": "1", "stream_sid": self.stream_sid, "start": start}
        self._seq = 1
        with contextlib.suppress(ConnectionClosed):
            await self.ws.send(json.dumps({"event": "connected"}))
            await self.ws.send(json.dumps(self.start_message))
            self.sent.append(self.start_message)
        self.t0 = self._loop.time()
        self._tasks = [
            asyncio.create_task(self._reader(), name=f"exotel-sim-reader-{self.call_sid}"),
            asyncio.create_task(self._media_pump(), name=f"exotel-sim-media-{self.call_sid}"),
            asyncio.create_task(self._playback_loop(), name=f"exotel-sim-playback-{self.call_sid}"),
        ]

    def _media_message(self, seq: str, chunk: int, timestamp: int, audio: bytes) -> dict[str, Any]:
        payload = base64.b64encode(pcm_from_ulaw(audio)).decode("ascii")
        media = {"chunk": str(chunk), "timestamp": str(timestamp), "payload": payload}
        return {"event": "media", "sequence_number": seq, "stream_sid": self.stream_sid, "media": media}

    def _mark_echo_message(self, seq: str, name: str) -> dict[str, Any]:
        return {"event": "mark", "sequence_number": seq, "stream_sid": self.stream_sid, "mark": {"name": name}}

    def _stop_message(self, seq: str) -> dict[str, Any]:
        stop = {"call_sid": self.call_sid, "account_sid": self.account_sid, "reason": "callended"}
        return {"event": "stop", "sequence_number": seq, "stream_sid": self.stream_sid, "stop": stop}

    async def send_dtmf(self, digit: str) -> None:
        await self._send(
            lambda seq: {
                "event": "dtmf",
                "sequence_number": seq,
                "stream_sid": self.stream_sid,
                "dtmf": {"digit": digit, "duration": "100"},
            }
        )

    def _handle(self, raw: str | bytes) -> None:
        now = self._loop.time()
        try:
            msg = json.loads(raw)
        except ValueError:
            self._violation("message is not JSON", raw)
            return
        event = msg.get("event") if isinstance(msg, dict) else None
        if event not in _APP_EVENTS:
            self._violation("unknown Exotel event", raw)
            return
        self.received.append(msg)
        self.received_times.append(now)
        if msg.get("stream_sid", self.stream_sid) != self.stream_sid:
            self._violation(f"{event}: wrong stream_sid", raw)
            return
        inner_keys = _APP_EVENTS[event]
        body = msg.get(event)
        if inner_keys is not None and (not isinstance(body, dict) or set(body) != inner_keys):
            self._violation(f"{event}.{event} must be an object with exactly {inner_keys}", raw)
            return
        if event == "media":
            try:
                pcm = base64.b64decode(body["payload"], validate=True)
            except (binascii.Error, ValueError, TypeError):
                self._violation("media.payload is not base64", raw)
                return
            if len(pcm) % CHUNK_STEP or not CHUNK_MIN <= len(pcm) <= CHUNK_MAX:
                self._violation(f"media chunk of {len(pcm)} bytes breaks Exotel's 320/3200/100000 rule", "")
                return
            self._on_media(ulaw_from_pcm(pcm), now)
        elif event == "mark":
            self._on_mark(body["name"], now)
        else:
            self._on_clear(now)

    async def _reader(self) -> None:
        await super()._reader()
        if self.closed_by_app and not self.ended:
            self.passthru_branch = await self.sim.passthru(self)


class ExotelSimulator:
    """Exotel + callers for the app at `app_base_url`; the flow's applets point at `public_base_url`."""

    def __init__(self, app_base_url: str, public_base_url: str, account_sid: str, user: str, secret: str) -> None:
        self.app_base_url = app_base_url.rstrip("/")
        self.stream_base_url: str | None = None  # WebSocket URLs go here when set (the app's STREAM_PORT)
        self.public_base_url = public_base_url.rstrip("/")
        self.account_sid = account_sid
        self.user, self.secret = user, secret
        self.echo_marks_on_clear = False
        self.calls: list[ExotelCall] = []
        self.passthru_log: list[tuple[str, int]] = []
        self._http = httpx.AsyncClient(timeout=10.0, trust_env=False, follow_redirects=False)

    def local_url(self, url: str) -> str:
        parts, app = urlsplit(url), urlsplit(self.app_base_url)
        scheme = ("wss" if app.scheme == "https" else "ws") if parts.scheme in ("ws", "wss") else app.scheme
        if parts.scheme in ("ws", "wss") and self.stream_base_url:
            app = urlsplit(self.stream_base_url)  # the load balancer's stream route (STREAM_PORT)
        return urlunsplit((scheme, app.netloc, parts.path, parts.query, ""))

    async def get(self, path: str, params: Mapping[str, str], *, authorization: str | None = AUTO) -> httpx.Response:
        headers = {"Authorization": basic(self.user, self.secret)} if authorization is AUTO else {}
        if isinstance(authorization, str):
            headers["Authorization"] = authorization
        return await self._http.get(self.app_base_url + path, params=dict(params), headers=headers)

    @staticmethod
    def applet_params(call_sid: str, from_: str, to: str) -> dict[str, str]:
        """What Exotel's applets send: numbers in the national format, `Direction=incoming`."""
        national = lambda number: "0" + number[3:] if number.startswith("+91") else number  # noqa: E731
        return {"CallSid": call_sid, "CallFrom": national(from_), "CallTo": national(to), "Direction": "incoming"}

    async def place_call(self, from_: str = "+919876543210", to: str = "+918047491899") -> ExotelCall:
        call_sid = secrets.token_hex(16)
        response = await self.get("/exotel/voicebot", self.applet_params(call_sid, from_, to))
        if response.status_code != 200:
            raise TwilioSimError(f"dynamic URL answered {response.status_code}: {response.text[:300]!r}")
        call = ExotelCall(self, call_sid=call_sid, from_=from_, to=to, twiml=response.text)  # type: ignore[arg-type]
        self.calls.append(call)
        return call

    async def passthru(self, call: ExotelCall) -> str:
        params = {
            **self.applet_params(call.call_sid, call.from_, call.to),
            "Stream[StreamSID]": call.stream_sid or "",
            "Stream[Status]": "completed",
            "Stream[DisconnectedBy]": "bot",
        }
        response = await self.get("/exotel/passthru", params)
        self.passthru_log.append((call.call_sid, response.status_code))
        return {200: "connect", 302: "hangup"}.get(response.status_code, f"HTTP {response.status_code}")

    async def aclose(self) -> None:
        for call in list(self.calls):
            await call.aclose()
        await self._http.aclose()
