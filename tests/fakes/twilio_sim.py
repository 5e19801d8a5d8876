"""Twilio call simulator: the caller's phone plus Twilio's side of a bidirectional Media Stream.

Protocol-faithful test double of Twilio for end-to-end tests (see docs PROTOCOLS.md §2, §3):

* Voice webhooks are POSTed form-encoded to the *local* app URL but signed, exactly like Twilio does
  (`RequestValidator.compute_signature`), over the *public* URL (`public_base_url` + same path).
* `place_call()` POSTs the standard inbound voice webhook to `/incoming-call`, requires TwiML with
  `<Connect><Stream url="wss://...">` and keeps its `<Parameter>`s.
* `SimulatedCall.connect_stream()` maps the `wss://public/...` stream URL onto the local app
  (`ws://127.0.0.1:PORT/...`), signs the handshake over the wss:// URL exactly as written in the TwiML
  with params `{}`, then sends `connected`, `start` and one inbound `media` frame every 20 ms
  (absolute-deadline pacing; silence unless audio was queued with `say()`).
* `call.on_send`, if set, observes every message the simulator writes to the stream (timing hook).
* `call.send_raw()` writes any frame as is, binary, fragmented or not even UTF-8 (hostile-input tests).
* Outbound audio from the app is played by a real-time phone playback model (8 bytes per ms).
  `mark`s echo only once everything queued before them has played; `clear` drops unplayed audio and
  echoes every pending mark immediately. Every message from the app is validated strictly; problems
  are recorded in `call.violations` (the socket stays open, as Twilio only warns with 31951/31950).
  Invalid messages are ignored (not played / not echoed).

Everything here runs on the caller's event loop; `await call.aclose()` / `await sim.aclose()` cancel
every task this module started.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import email.utils
import json
import math
import secrets
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import urlsplit, urlunsplit

import httpx
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

__all__ = [
    "AUTO",
    "BYTES_PER_MS",
    "FRAME_BYTES",
    "FRAME_MS",
    "ClearRecord",
    "MarkEcho",
    "SimulatedCall",
    "SpeechRecord",
    "TwilioCallSimulator",
    "TwilioSimError",
    "TwilioSimulator",
    "new_call_sid",
    "new_stream_sid",
]

FRAME_MS = 20
BYTES_PER_MS = 8  # mu-law 8 kHz: 1 byte = 1 sample = 0.125 ms
FRAME_BYTES = FRAME_MS * BYTES_PER_MS  # 160
SILENCE_BYTE = 0xFF
API_VERSION = "2010-04-01"
DTMF_DIGITS = frozenset("0123456789*#ABCD")
_IDLE_QUIET_S = 0.3

_APP_EVENT_KEYS: dict[str, frozenset[str]] = {
    "media": frozenset({"event", "streamSid", "media"}),
    "mark": frozenset({"event", "streamSid", "mark"}),
    "clear": frozenset({"event", "streamSid"}),
}
_APP_INNER_KEYS: dict[str, frozenset[str]] = {"media": frozenset({"payload"}), "mark": frozenset({"name"})}


class _Auto:
    """Sentinel: compute the correct Twilio signature."""

    _instance: _Auto | None = None

    def __new__(cls) -> _Auto:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "AUTO"


AUTO: Any = _Auto()


class TwilioSimError(AssertionError):
    """The app did something real Twilio would reject (bad webhook reply, bad TwiML, ...)."""


def new_call_sid() -> str:
    return "CA" + secrets.token_hex(16)


def new_stream_sid() -> str:
    return "MZ" + secrets.token_hex(16)


def _country_of(number: str) -> str:
    for prefix, country in (("+91", "IN"), ("+1", "US"), ("+44", "GB"), ("+61", "AU")):
        if number.startswith(prefix):
            return country
    return ""


def _rfc2822_now() -> str:
    return email.utils.format_datetime(datetime.now(UTC), usegmt=True)


class ClearRecord(NamedTuple):
    time: float  # loop.time() when the clear was processed
    played_bytes_total: int  # bytes played on the phone up to the clear
    dropped_bytes: int  # queued audio that never played
    marks_flushed: tuple[str, ...]  # pending marks echoed because of this clear


class MarkEcho(NamedTuple):
    name: str
    time: float  # loop.time() when the echo was written to the socket
    by_clear: bool  # True: echoed because of a clear (the audio before it did NOT all play)


@dataclass
class SpeechRecord:
    """One `say()`: where in the inbound stream the caller's audio went."""

    nbytes: int
    queued_at: float
    start_offset: int  # offset of the first byte in the stream of say()-audio
    first_frame_at: float | None = None  # loop.time() the first frame carrying it was sent
    first_timestamp_ms: int | None = None  # its media.timestamp
    last_frame_at: float | None = None
    last_timestamp_ms: int | None = None  # media.timestamp of the frame holding the last byte
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    @property
    def end_offset(self) -> int:
        return self.start_offset + self.nbytes

    @property
    def duration_ms(self) -> float:
        return self.nbytes / BYTES_PER_MS

    @property
    def end_stream_ms(self) -> int | None:
        """Stream-clock ms at which the last byte of this speech ends."""
        if self.last_timestamp_ms is None:
            return None
        return self.last_timestamp_ms + FRAME_MS


class TwilioSimulator:
    """Twilio + caller, driving the app at `app_base_url` while signing for `public_base_url`."""

    def __init__(
        self,
        app_base_url: str,
        public_base_url: str,
        account_sid: str,
        auth_token: str,
        *,
        http_timeout: float = 10.0,
    ) -> None:
        self.app_base_url = app_base_url.rstrip("/")
        self.public_base_url = public_base_url.rstrip("/")
        # Where WebSocket URLs go when the app serves streams on their own port (STREAM_PORT), as a load
        # balancer routes the stream paths there; None: the app's base URL, like everything else.
        self.stream_base_url: str | None = None
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.validator = RequestValidator(auth_token)
        self.calls: list[SimulatedCall] = []
        self.webhook_log: list[tuple[str, dict[str, str], httpx.Response]] = []
        self._call_listeners: list[Callable[[SimulatedCall], None]] = []
        self._http = httpx.AsyncClient(timeout=http_timeout, trust_env=False, follow_redirects=False)

    # ---- URLs and signatures ---------------------------------------------------------------
    def sign(self, url: str, params: Mapping[str, str] | None = None) -> str:
        """X-Twilio-Signature for `url` (full URL incl. query) and POST `params`."""
        return self.validator.compute_signature(url, dict(params or {}))

    def public_url(self, path_or_url: str) -> str:
        if "://" in path_or_url:
            return path_or_url
        return self.public_base_url + "/" + path_or_url.lstrip("/")

    def local_url(self, path_or_url: str) -> str:
        """Map a path or a public absolute URL (http/https/ws/wss) onto the local app, same path+query."""
        if "://" not in path_or_url:
            return self.app_base_url + "/" + path_or_url.lstrip("/")
        parts = urlsplit(path_or_url)
        app = urlsplit(self.app_base_url)
        scheme = app.scheme
        if parts.scheme in ("ws", "wss"):
            scheme = "wss" if app.scheme == "https" else "ws"
            app = urlsplit(self.stream_base_url or self.app_base_url)  # the load balancer's stream route
        return urlunsplit((scheme, app.netloc, parts.path, parts.query, ""))

    def add_call_listener(self, listener: Callable[[SimulatedCall], None]) -> None:
        """`listener(call)` runs for every call `place_call` creates (used by FakeTwilioRest.attach)."""
        self._call_listeners.append(listener)

    # ---- webhooks --------------------------------------------------------------------------
    async def post_webhook(
        self, path: str, params: Mapping[str, str], *, signature: str | None = AUTO
    ) -> httpx.Response:
        """POST form-encoded `params` to the app at `path` (or a public absolute URL), signed over the
        public URL. `signature=None` omits the header; any string (e.g. "" or garbage) is sent as is."""
        params = {k: str(v) for k, v in params.items()}
        public = self.public_url(path)
        headers = {"User-Agent": "TwilioProxy/1.1", "Accept": "*/*"}
        if signature is AUTO:
            headers["X-Twilio-Signature"] = self.sign(public, params)
        elif signature is not None:
            headers["X-Twilio-Signature"] = signature
        response = await self._http.post(self.local_url(path), data=params, headers=headers)
        self.webhook_log.append((path, params, response))
        return response

    def voice_webhook_params(
        self, call_sid: str, from_: str, to: str, *, call_status: str = "ringing", direction: str = "inbound"
    ) -> dict[str, str]:
        """The parameters Twilio POSTs for an incoming call."""
        from_country, to_country = _country_of(from_), _country_of(to)
        return {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": call_sid,
            "CallStatus": call_status,
            "CallToken": secrets.token_hex(24),
            "Called": to,
            "CalledCity": "",
            "CalledCountry": to_country,
            "CalledState": "",
            "CalledZip": "",
            "Caller": from_,
            "CallerCity": "",
            "CallerCountry": from_country,
            "CallerState": "",
            "CallerZip": "",
            "Direction": direction,
            "From": from_,
            "FromCity": "",
            "FromCountry": from_country,
            "FromState": "",
            "FromZip": "",
            "StirVerstat": "TN-Validation-Passed-A",
            "To": to,
            "ToCity": "",
            "ToCountry": to_country,
            "ToState": "",
            "ToZip": "",
        }

    async def place_call(
        self,
        from_: str = "+919876543210",
        to: str = "+918000000000",
        call_sid: str | None = None,
        *,
        path: str = "/incoming-call",
        extra_params: Mapping[str, str | None] | None = None,
    ) -> SimulatedCall:
        """Ring the app: POST the voice webhook, require 200 + `<Connect><Stream>` TwiML.

        `extra_params` adds/overrides webhook params (value None removes one). Raises TwilioSimError if
        the reply is not what Twilio needs to start a bidirectional stream."""
        call_sid = call_sid or new_call_sid()
        params = self.voice_webhook_params(call_sid, from_, to)
        for key, value in (extra_params or {}).items():
            if value is None:
                params.pop(key, None)
            else:
                params[key] = value
        response = await self.post_webhook(path, params)
        if response.status_code != 200:
            raise TwilioSimError(f"voice webhook {path} answered HTTP {response.status_code}: {response.text[:500]!r}")
        content_type = response.headers.get("content-type", "")
        if "xml" not in content_type:
            raise TwilioSimError(f"voice webhook reply has Content-Type {content_type!r}, expected text/xml")
        call = SimulatedCall(self, call_sid=call_sid, from_=from_, to=to, twiml=response.text)
        call.webhook_params = params
        self.calls.append(call)
        for listener in self._call_listeners:
            listener(call)
        return call

    async def post_status_callback(
        self,
        call: SimulatedCall,
        status: str = "completed",
        duration: int | None = 42,
        *,
        path: str = "/call-status",
        extra_params: Mapping[str, str | None] | None = None,
        signature: str | None = AUTO,
    ) -> httpx.Response:
        """POST a signed call-progress status callback (§2.8). SequenceNumber counts per call from 0."""
        params = self.voice_webhook_params(call.call_sid, call.from_, call.to, call_status=status)
        params.pop("CallToken", None)
        params.update(
            {
                "CallbackSource": "call-progress-events",
                "SequenceNumber": str(call._status_seq),
                "Timestamp": _rfc2822_now(),
            }
        )
        call._status_seq += 1
        terminal = status in ("completed", "busy", "failed", "no-answer", "canceled")
        if terminal and duration is not None:
            params["CallDuration"] = str(duration)
            if status == "completed":
                params["Duration"] = str(max(1, math.ceil(duration / 60)))
        for key, value in (extra_params or {}).items():
            if value is None:
                params.pop(key, None)
            else:
                params[key] = value
        return await self.post_webhook(path, params, signature=signature)

    async def post_stream_status(
        self, call: SimulatedCall, event: str = "stream-stopped", *, error: str | None = None
    ) -> httpx.Response:
        """POST a `<Stream statusCallback>` request (⚠ field list unconfirmed). Needs the attribute."""
        if not call.stream_status_callback:
            raise TwilioSimError("the TwiML <Stream> has no statusCallback")
        params = {
            "AccountSid": self.account_sid,
            "CallSid": call.call_sid,
            "StreamSid": call.stream_sid or "",
            "StreamName": call.stream_name or call.stream_sid or "",
            "StreamEvent": event,
            "Timestamp": datetime.now(UTC).isoformat(),
        }
        if error is not None:
            params["StreamError"] = error
        return await self.post_webhook(call.stream_status_callback, params)

    async def aclose(self) -> None:
        for call in list(self.calls):
            await call.aclose()
        await self._http.aclose()

    async def __aenter__(self) -> TwilioSimulator:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


TwilioCallSimulator = TwilioSimulator


class SimulatedCall:
    """One phone call: TwiML from the webhook, then (after `connect_stream`) the media stream."""

    def __init__(self, sim: TwilioSimulator, *, call_sid: str, from_: str, to: str, twiml: str) -> None:
        self.sim = sim
        self.call_sid = call_sid
        self.from_ = from_
        self.to = to
        self.account_sid = sim.account_sid
        self.twiml = twiml
        self.webhook_params: dict[str, str] = {}
        self._status_seq = 0
        self._loop = asyncio.get_running_loop()
        self._parse_twiml(twiml)

        # stream state
        self.stream_sid: str | None = None
        self.start_message: dict[str, Any] | None = None
        self.ws: ClientConnection | None = None
        self.t0: float | None = None  # loop.time() of stream start (media timestamp 0)
        self.sent: list[dict[str, Any]] = []  # every non-media message we sent
        # Observer hook: `on_send(message, sent_at)` runs for every message written to the stream
        # (connected, start, each media frame, marks, dtmf, stop), right after the write, with the
        # loop.time() then. Set it before `connect_stream()`; it must be quick (it runs in the pacing loop).
        self.on_send: Callable[[dict[str, Any], float], None] | None = None
        self.inbound_frames_sent = 0
        self._seq = 0
        self._send_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[Any]] = []
        self._closed = asyncio.Event()
        self._local_close = False
        self.closed_by_app = False
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.stream_stopped_by: str | None = None  # "app" | "hangup" | "redirect" | "aclose"
        self.ended = False
        self.redirected_to: dict[str, str] | None = None  # REST update form (Twiml/Url) if redirected

        # inbound (caller -> app) audio
        self._inbound = bytearray()
        self._speech_queued = 0  # cumulative say() bytes queued
        self._speech_sent = 0  # cumulative say() bytes sent
        self.speech: list[SpeechRecord] = []

        # outbound (app -> phone) playback model
        self.received: list[dict[str, Any]] = []
        self.received_times: list[float] = []
        self.received_media_bytes = 0
        self.received_audio = bytearray()  # every valid outbound byte, played or not
        self.violations: list[str] = []
        self.clears: list[ClearRecord] = []
        self.marks_echoed: list[MarkEcho] = []
        self.marks_received: list[tuple[str, float]] = []
        self._played = bytearray()
        self._queue: deque[tuple[str, Any]] = deque()  # ("audio", bytes) | ("mark", name)
        self._head_offset = 0
        self._queued_audio = 0
        self._ref_time = 0.0
        self._ref_consumed = 0
        self._echo_outbox: deque[tuple[str, bool]] = deque()
        self._wake = asyncio.Event()
        self.last_media_at: float | None = None
        self.first_media_at: float | None = None

    # ---- TwiML ---------------------------------------------------------------------------
    def _parse_twiml(self, twiml: str) -> None:
        try:
            root = ET.fromstring(twiml)
        except ET.ParseError as exc:
            raise TwilioSimError(f"webhook reply is not XML: {exc}; body={twiml[:500]!r}") from exc
        if root.tag != "Response":
            raise TwilioSimError(f"TwiML root is <{root.tag}>, expected <Response>: {twiml[:500]!r}")
        connect_el = root.find("Connect")
        stream = connect_el.find("Stream") if connect_el is not None else None
        if connect_el is None or stream is None:
            raise TwilioSimError(f"TwiML has no <Connect><Stream> (bidirectional stream): {twiml[:500]!r}")
        url = stream.get("url")
        if not url:
            raise TwilioSimError("<Stream> has no url attribute")
        if url.startswith("/"):
            host = urlsplit(self.sim.public_base_url).netloc
            url = f"wss://{host}{url}"
        parts = urlsplit(url)
        if parts.scheme != "wss":
            raise TwilioSimError(f"<Stream url> must be wss://, got {url!r}")
        if parts.query:
            raise TwilioSimError(f"<Stream url> must not have a query string (unsupported by Twilio): {url!r}")
        params: dict[str, str] = {}
        for p in stream.findall("Parameter"):
            name, value = p.get("name"), p.get("value")
            if name is None or value is None:
                raise TwilioSimError(f"<Parameter> needs name and value: {ET.tostring(p)!r}")
            if len(name) + len(value) >= 500:
                raise TwilioSimError(f"<Parameter {name}> name+value must be under 500 characters")
            params[name] = value
        self.stream_url = url
        self.custom_parameters = params
        self.connect_action = connect_el.get("action")
        self.stream_name = stream.get("name")
        self.stream_track = stream.get("track")
        self.stream_status_callback = stream.get("statusCallback")
        self.twiml_root = root

    # ---- stream lifecycle ------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self.ws is not None and not self._closed.is_set()

    async def connect_stream(
        self,
        *,
        signature: str | None = AUTO,
        tamper_params: Mapping[str, str | None] | None = None,
        open_timeout: float = 10.0,
    ) -> None:
        """Open the media WebSocket like Twilio and send `connected` + `start`, then stream.

        `signature=None` omits X-Twilio-Signature; a string is sent as is. `tamper_params` overrides
        customParameters (None removes a key). A rejected handshake raises websockets'
        `InvalidStatus` (Twilio: error 31920)."""
        if self.ws is not None:
            raise TwilioSimError("stream already connected")
        loop = asyncio.get_running_loop()
        headers: dict[str, str] = {}
        if signature is AUTO:
            headers["X-Twilio-Signature"] = self.sim.sign(self.stream_url, {})
        elif signature is not None:
            headers["X-Twilio-Signature"] = signature
        self.ws = await connect(
            self.sim.local_url(self.stream_url),
            additional_headers=headers,
            user_agent_header="Twilio.TmeWs/1.0",
            proxy=None,
            open_timeout=open_timeout,
            ping_interval=None,
            max_size=2**24,
        )
        self.stream_sid = new_stream_sid()
        custom = dict(self.custom_parameters)
        for key, value in (tamper_params or {}).items():
            if value is None:
                custom.pop(key, None)
            else:
                custom[key] = value
        try:
            async with self._send_lock:
                connected = {"event": "connected", "protocol": "Call", "version": "1.0.0"}
                await self.ws.send(json.dumps(connected))
                self.sent.append(connected)
                self._notify_send(connected)
                self._seq += 1
                self.start_message = {
                    "event": "start",
                    "sequenceNumber": str(self._seq),
                    "start": {
                        "accountSid": self.account_sid,
                        "streamSid": self.stream_sid,
                        "callSid": self.call_sid,
                        "tracks": ["inbound"],
                        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                        "customParameters": custom,
                    },
                    "streamSid": self.stream_sid,
                }
                await self.ws.send(json.dumps(self.start_message))
                self.sent.append(self.start_message)
                self.t0 = loop.time()
                self._notify_send(self.start_message)
        except ConnectionClosed:
            pass  # the reader notices and records the close
        self._tasks = [
            asyncio.create_task(self._reader(), name=f"twilio-sim-reader-{self.call_sid}"),
            asyncio.create_task(self._media_pump(), name=f"twilio-sim-media-{self.call_sid}"),
            asyncio.create_task(self._playback_loop(), name=f"twilio-sim-playback-{self.call_sid}"),
        ]

    def stream_ms(self) -> float:
        """Current stream-clock ms (what media.timestamp means)."""
        if self.t0 is None:
            return 0.0
        return (self._loop.time() - self.t0) * 1000

    async def _send(self, build: Callable[[str], dict[str, Any]], *, record: bool = True) -> dict[str, Any]:
        if self.ws is None:
            raise TwilioSimError("media stream not connected: call connect_stream() first")
        async with self._send_lock:
            self._seq += 1
            msg = build(str(self._seq))
            await self.ws.send(json.dumps(msg))
            if record:
                self.sent.append(msg)
            self._notify_send(msg)
            return msg

    async def send_raw(self, frame: str | bytes | tuple[str, ...], *, text: bool | None = None) -> None:
        """Write one WebSocket message exactly as given, which real Twilio never would (hostile-input
        tests): a str is a text frame, bytes a binary one — or, with `text=True`, a text frame whether
        or not the bytes are UTF-8 — and a tuple of str one text message in that many fragments.
        Written under the send lock (never inside a media frame); not recorded in `sent`. Raises
        websockets' `ConnectionClosed` once the socket is closed."""
        if self.ws is None:
            raise TwilioSimError("media stream not connected: call connect_stream() first")
        async with self._send_lock:
            await self.ws.send(list(frame) if isinstance(frame, tuple) else frame, text=text)

    def _notify_send(self, message: dict[str, Any]) -> None:
        if self.on_send is not None:
            self.on_send(message, self._loop.time())

    async def send_dtmf(self, digit: str) -> None:
        """Send a `dtmf` message (track inbound_track) now."""
        if digit not in DTMF_DIGITS:
            raise ValueError(f"not a DTMF digit: {digit!r}")
        await self._send(
            lambda seq: {
                "event": "dtmf",
                "streamSid": self.stream_sid,
                "sequenceNumber": seq,
                "dtmf": {"track": "inbound_track", "digit": digit},
            }
        )

    async def stop_stream(self, *, reason: str = "hangup") -> None:
        """Send `stop` and close the socket (what Twilio does when the call ends or is redirected)."""
        if self.ws is None or self._closed.is_set():
            return
        self._local_close = True
        if self.stream_stopped_by is None:
            self.stream_stopped_by = reason
        await self._cancel_task("media")
        with contextlib.suppress(ConnectionClosed):
            await self._send(self._stop_message)
        with contextlib.suppress(Exception):
            await self.ws.close(code=1000)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._closed.wait(), 5)
        self._record_close()

    async def hangup(self) -> None:
        """The caller hangs up: `stop`, close the socket, call ended."""
        self.ended = True
        await self.stop_stream(reason="hangup")

    async def wait_closed(self, timeout: float = 5.0) -> int | None:
        """Wait until the stream socket is closed (by either side); returns the close code.
        Raises TimeoutError. Check `closed_by_app` to know who closed it."""
        try:
            await asyncio.wait_for(self._closed.wait(), timeout)
        except TimeoutError:
            raise TimeoutError(f"stream of {self.call_sid} still open after {timeout}s") from None
        return self.close_code

    async def aclose(self) -> None:
        """Cancel all tasks and close the socket (no `stop` sent). Idempotent."""
        if self.ws is not None and not self._closed.is_set():
            self._local_close = True
            if self.stream_stopped_by is None:
                self.stream_stopped_by = "aclose"
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 2)
            self._record_close()
            self._closed.set()
        for record in self.speech:
            if not record.done.done():
                record.done.cancel()

    async def _cancel_task(self, kind: str) -> None:
        for task in self._tasks:
            if kind in task.get_name() and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def _record_close(self) -> None:
        if self.ws is not None and self.close_code is None:
            self.close_code = self.ws.close_code
            self.close_reason = self.ws.close_reason

    # ---- inbound audio ---------------------------------------------------------------------
    async def say(self, audio: bytes) -> SpeechRecord:
        """Queue mu-law 8 kHz audio as the caller's voice; returns once queued.
        `await record.done` (or use `say_and_wait`) to wait until it has all been sent."""
        if not isinstance(audio, bytes | bytearray | memoryview):
            raise TypeError("say() takes mu-law bytes")
        audio = bytes(audio)
        loop = asyncio.get_running_loop()
        record = SpeechRecord(nbytes=len(audio), queued_at=loop.time(), start_offset=self._speech_queued)
        self._speech_queued += len(audio)
        self._inbound.extend(audio)
        self.speech.append(record)
        if not audio:
            record.done.set_result(None)
        return record

    async def say_and_wait(self, audio: bytes, timeout: float | None = None) -> SpeechRecord:
        """Queue audio and return once its last frame has been sent."""
        record = await self.say(audio)
        if timeout is None:
            timeout = record.duration_ms / 1000 + len(self._inbound) / 8000 + 10
        await asyncio.wait_for(asyncio.shield(record.done), timeout)
        return record

    @property
    def inbound_pending_ms(self) -> float:
        """Caller audio queued by say() and not yet sent."""
        return len(self._inbound) / BYTES_PER_MS

    async def _media_pump(self) -> None:
        loop = self._loop
        if self.t0 is None:  # the app closed the socket before `start` went out
            return
        n = 0
        try:
            while True:
                delay = self.t0 + n * self.frame_ms / 1000 - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                take = min(self.frame_bytes, len(self._inbound))
                frame = bytes(self._inbound[:take]) + bytes([SILENCE_BYTE]) * (self.frame_bytes - take)
                del self._inbound[:take]
                chunk, timestamp = n + 1, n * self.frame_ms
                await self._send(
                    lambda seq, chunk=chunk, timestamp=timestamp, frame=frame: self._media_message(
                        seq, chunk, timestamp, frame
                    ),
                    record=False,
                )
                self.inbound_frames_sent += 1
                if take:
                    self._account_speech(take, loop.time(), timestamp)
                n += 1
        except ConnectionClosed:
            return

    # ---- wire format (another carrier's double overrides these; the phone model stays) ----------------
    frame_ms = FRAME_MS  # caller audio per inbound frame
    echoes_flushed_marks = True  # Twilio echoes every pending mark on `clear`

    @property
    def frame_bytes(self) -> int:
        return self.frame_ms * BYTES_PER_MS

    def _media_message(self, seq: str, chunk: int, timestamp: int, audio: bytes) -> dict[str, Any]:
        return {
            "event": "media",
            "sequenceNumber": seq,
            "media": {
                "track": "inbound",
                "chunk": str(chunk),
                "timestamp": str(timestamp),
                "payload": base64.b64encode(audio).decode("ascii"),
            },
            "streamSid": self.stream_sid,
        }

    def _mark_echo_message(self, seq: str, name: str) -> dict[str, Any]:
        return {"event": "mark", "sequenceNumber": seq, "streamSid": self.stream_sid, "mark": {"name": name}}

    def _stop_message(self, seq: str) -> dict[str, Any]:
        return {
            "event": "stop",
            "sequenceNumber": seq,
            "streamSid": self.stream_sid,
            "stop": {"accountSid": self.account_sid, "callSid": self.call_sid},
        }

    def _clear_answered(self) -> None:
        """Twilio does not acknowledge a `clear` (Plivo does: `clearedAudio`)."""

    def _account_speech(self, take: int, now: float, timestamp: int) -> None:
        before = self._speech_sent
        self._speech_sent += take
        for record in self.speech:
            if record.done.done() or record.end_offset <= before:
                continue
            if record.start_offset >= self._speech_sent:
                break
            if record.first_frame_at is None:
                record.first_frame_at, record.first_timestamp_ms = now, timestamp
            if record.end_offset <= self._speech_sent:
                record.last_frame_at, record.last_timestamp_ms = now, timestamp
                record.done.set_result(None)

    # ---- outbound: reading and validating ---------------------------------------------------
    async def _reader(self) -> None:
        assert self.ws is not None
        try:
            async for raw in self.ws:
                self._handle(raw)
                await self._flush_echoes()
        except ConnectionClosed:
            pass
        finally:
            if not self._local_close:
                self.closed_by_app = True
                self.stream_stopped_by = self.stream_stopped_by or "app"
            self._record_close()
            self._closed.set()
            for task in self._tasks:
                if task is not asyncio.current_task():
                    task.cancel()

    def _violation(self, text: str, raw: object) -> None:
        shown = raw if isinstance(raw, str) else repr(raw)
        self.violations.append(f"{text}: {shown[:300]}")

    def _handle(self, raw: str | bytes) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        if isinstance(raw, bytes):
            self._violation("binary WebSocket frame (Twilio 31950)", raw)
            return
        try:
            msg = json.loads(raw)
        except ValueError:
            self._violation("message is not JSON (31951)", raw)
            return
        if not isinstance(msg, dict):
            self._violation("message is not a JSON object (31951)", raw)
            return
        self.received.append(msg)
        self.received_times.append(now)
        event = msg.get("event")
        if event not in _APP_EVENT_KEYS:
            self._violation(f"unknown event {event!r} (31951)", raw)
            return
        keys = set(msg)
        if keys != _APP_EVENT_KEYS[event]:
            extra = sorted(keys - _APP_EVENT_KEYS[event])
            missing = sorted(_APP_EVENT_KEYS[event] - keys)
            self._violation(f"{event}: wrong keys, extra={extra} missing={missing} (31951)", raw)
            return
        if msg["streamSid"] != self.stream_sid:
            self._violation(f"{event}: wrong streamSid {msg['streamSid']!r} (31951)", raw)
            return
        if event in _APP_INNER_KEYS:
            inner = msg[event]
            if not isinstance(inner, dict) or set(inner) != _APP_INNER_KEYS[event]:
                self._violation(f"{event}.{event} must be an object with exactly {_APP_INNER_KEYS[event]}", raw)
                return
        if event == "media":
            payload = msg["media"]["payload"]
            if not isinstance(payload, str):
                self._violation("media.payload is not a string", raw)
                return
            try:
                audio = base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError):
                self._violation("media.payload is not valid base64", raw)
                return
            self._on_media(audio, now)
        elif event == "mark":
            name = msg["mark"]["name"]
            if not isinstance(name, str) or not name:
                self._violation("mark.name must be a non-empty string", raw)
                return
            self._on_mark(name, now)
        else:
            self._on_clear(now)

    # ---- playback model ---------------------------------------------------------------------
    def _advance(self, now: float | None = None) -> None:
        """Play everything due by `now`; marks reached go to the echo outbox."""
        if not self._queue:
            return
        if now is None:
            now = self._loop.time()
        budget = int((now - self._ref_time) * 8000) - self._ref_consumed
        while self._queue:
            kind, value = self._queue[0]
            if kind == "mark":
                self._queue.popleft()
                self._echo_outbox.append((value, False))
                continue
            remaining = len(value) - self._head_offset
            take = min(remaining, max(budget, 0))
            if take:
                self._played += value[self._head_offset : self._head_offset + take]
                self._head_offset += take
                self._ref_consumed += take
                self._queued_audio -= take
                budget -= take
            if self._head_offset < len(value):
                break
            self._queue.popleft()
            self._head_offset = 0
        if self._echo_outbox:
            self._wake.set()

    def _on_media(self, audio: bytes, now: float) -> None:
        self.received_media_bytes += len(audio)
        self.received_audio += audio
        self.last_media_at = now
        if self.first_media_at is None:
            self.first_media_at = now
        if not audio:
            return
        self._advance(now)
        if self._queued_audio == 0:
            # Nothing playing: playback of this audio starts now.
            self._ref_time, self._ref_consumed = now, 0
        self._queue.append(("audio", audio))
        self._queued_audio += len(audio)
        self._wake.set()

    def _on_mark(self, name: str, now: float) -> None:
        self.marks_received.append((name, now))
        self._advance(now)
        if self._queued_audio == 0 and not self._queue:
            self._echo_outbox.append((name, False))
        else:
            self._queue.append(("mark", name))
        self._wake.set()

    def _on_clear(self, now: float) -> None:
        self._advance(now)
        flushed = tuple(value for kind, value in self._queue if kind == "mark")
        self.clears.append(
            ClearRecord(
                time=now,
                played_bytes_total=len(self._played),
                dropped_bytes=self._queued_audio,
                marks_flushed=flushed,
            )
        )
        self._queue.clear()
        self._head_offset = 0
        self._queued_audio = 0
        if self.echoes_flushed_marks:
            self._echo_outbox.extend((name, True) for name in flushed)
        self._clear_answered()
        self._wake.set()

    async def _flush_echoes(self) -> None:
        while self._echo_outbox:
            name, by_clear = self._echo_outbox.popleft()
            try:
                await self._send(lambda seq, name=name: self._mark_echo_message(seq, name))
            except ConnectionClosed:
                return
            self.marks_echoed.append(MarkEcho(name, self._loop.time(), by_clear))

    def _next_due(self) -> float | None:
        """loop.time() of the next mark boundary or the end of queued audio."""
        if not self._queue:
            return None
        pending = 0
        for index, (kind, value) in enumerate(self._queue):
            if kind == "mark":
                break
            pending += len(value) - (self._head_offset if index == 0 else 0)
        return self._ref_time + (self._ref_consumed + pending) / 8000

    async def _playback_loop(self) -> None:
        loop = asyncio.get_running_loop()
        # Until the socket closes (nothing can be echoed then), not `while True`: on Python 3.11 `wait_for`
        # swallows a cancellation that lands as `_wake` is set, and `aclose()` would wait for this forever.
        while not self._closed.is_set():
            self._wake.clear()
            self._advance(loop.time())
            await self._flush_echoes()
            due = self._next_due()
            timeout = None if due is None else max(0.0, due - loop.time()) + 0.0005
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    @property
    def played_audio(self) -> bytearray:
        """Every outbound byte that actually played on the phone, in order (up to now)."""
        if self._queue:
            self._advance()
        return self._played

    @property
    def played_ms(self) -> float:
        return len(self.played_audio) / BYTES_PER_MS

    @property
    def queued_ms(self) -> float:
        """Outbound audio received but not yet played."""
        if self._queue:
            self._advance()
        return self._queued_audio / BYTES_PER_MS

    @property
    def is_playing(self) -> bool:
        return self.queued_ms > 0

    @property
    def pending_marks(self) -> list[str]:
        if self._queue:
            self._advance()
        return [value for kind, value in self._queue if kind == "mark"]

    # ---- waiting helpers --------------------------------------------------------------------
    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0, *, interval: float = 0.01) -> Any:
        """Poll `predicate()` until truthy; return its value. Raises TimeoutError."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if loop.time() >= deadline:
                raise TimeoutError(f"condition not met within {timeout}s ({self.call_sid})")
            await asyncio.sleep(interval)

    async def wait_playback_idle(self, timeout: float = 10.0, *, quiet: float = _IDLE_QUIET_S) -> None:
        """Wait until nothing is queued for playback and no outbound media arrived for `quiet` s."""
        loop = asyncio.get_running_loop()

        def idle() -> bool:
            if self.queued_ms > 0:
                return False
            return self.last_media_at is None or loop.time() - self.last_media_at >= quiet

        await self.wait_for(idle, timeout)

    async def wait_for_media(self, timeout: float = 5.0, *, min_bytes: int = 1) -> None:
        """Wait until the app has sent at least `min_bytes` of outbound audio (total)."""
        await self.wait_for(lambda: self.received_media_bytes >= min_bytes, timeout)

    def received_events(self, event: str) -> list[dict[str, Any]]:
        return [m for m in self.received if m.get("event") == event]

    def __repr__(self) -> str:
        return f"<SimulatedCall {self.call_sid} stream={self.stream_sid} closed={self._closed.is_set()}>"
