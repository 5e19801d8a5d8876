"""A protocol-faithful Plivo double: the caller's phone, Plivo's webhooks and stream, and its REST API.

- Webhooks are POSTed form-encoded and signed with X-Plivo-Signature-V3, computed here from the
  documented algorithm (not the SDK the app uses), over the *public* URL.
- The answer must be Plivo XML with `<Stream bidirectional="true" keepCallAlive="true"
  contentType="audio/x-mulaw;rate=8000">wss://…</Stream>`; the stream then sends `start`, 20 ms μ-law
  `media` frames paced like a phone (camelCase, `timestamp` a string), `dtmf`, and `stop` at hang-up.
- Outbound `playAudio` must say `audio/x-mulaw` at 8000; `checkpoint` is answered by `playedStream`
  only once the audio before it has played; `clearAudio` drops queued audio and every pending
  checkpoint (never answered), and is answered by `clearedAudio`.
- REST (`FakePlivoRest`): Basic auth `auth_id:auth_token`; `DELETE …/Call/{uuid}/` 204 or 404;
  `POST …/Call/{uuid}/` (legs=aleg, aleg_url) 202, then Plivo fetches `aleg_url` (signed) and the
  stream stops. The phone model (playback clock, marks) is the Twilio double's (`SimulatedCall`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import secrets
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from devtools.ferretdb import free_port
from tests.fakes.twilio_sim import AUTO, SimulatedCall, TwilioSimError

STREAM_CONTENT_TYPE = "audio/x-mulaw;rate=8000"
_APP_EVENTS = {
    "playAudio": ({"event", "media"}, {"streamId"}),
    "checkpoint": ({"event", "name"}, {"streamId"}),
    "clearAudio": ({"event"}, {"streamId"}),
    "sendDTMF": ({"event", "dtmf"}, {"streamId"}),
}


def signature_v3(auth_token: str, method: str, url: str, params: Mapping[str, str], nonce: str) -> str:
    """Plivo's X-Plivo-Signature-V3 (https://docs.plivo.com/docs/voice/xml/request/validation)."""
    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}{parts.path}"
    query = sorted(parse_qsl(parts.query, keep_blank_values=True))
    if method == "POST" and params:
        query_text = "&".join(f"{k}={v}" for k, v in query)
        body = "".join(f"{k}{params[k]}" for k in sorted(params))
        signed = base + "?" + query_text + ("." if query_text else "") + body
    else:
        merged = sorted([*query, *((k, v) for k, v in params.items())])
        signed = base + ("?" + "&".join(f"{k}={v}" for k, v in merged) if merged else "")
    digest = hmac.new(auth_token.encode(), f"{signed}.{nonce}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def with_query(url: str, changes: Mapping[str, str | None] | None, *, keep_userinfo: bool = True) -> str:
    """`url` with query values replaced (None removes one): what a test sends instead of the real URL."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    for key, value in (changes or {}).items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    netloc = parts.netloc if keep_userinfo else parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query), ""))


class PlivoCall(SimulatedCall):
    """One call on Plivo: the answer XML, then (after `connect_stream`) the audio stream."""

    echoes_flushed_marks = False  # a cleared checkpoint is never answered

    def _parse_twiml(self, xml: str) -> None:
        try:
            root = ET.fromstring(xml)
        except ET.ParseError as exc:
            raise TwilioSimError(f"answer is not XML: {exc}; body={xml[:300]!r}") from exc
        stream = root.find("Stream")
        if root.tag != "Response" or stream is None:
            raise TwilioSimError(f"answer has no <Response><Stream>: {xml[:300]!r}")
        wanted = {"bidirectional": "true", "keepCallAlive": "true", "contentType": STREAM_CONTENT_TYPE}
        for name, value in wanted.items():
            if stream.get(name) != value:
                raise TwilioSimError(f"<Stream {name}> is {stream.get(name)!r}, expected {value!r}")
        url = (stream.text or "").strip()
        if urlsplit(url).scheme != "wss":
            raise TwilioSimError(f"<Stream> text must be a wss:// URL, got {url!r}")
        self.stream_url = url
        self.custom_parameters = {}  # Plivo's start carries none: what the app needs is in the URL
        self.stream_query = dict(parse_qsl(urlsplit(url).query))
        self.after_stream = [child.tag for child in root if child is not stream]
        self.stream_status_callback = stream.get("statusCallbackUrl")
        self.twiml_root = root
        self.transfer_xml: str | None = None
        self.cleared_answers = 0

    async def connect_stream(  # type: ignore[override]
        self,
        *,
        tamper_query: Mapping[str, str | None] | None = None,
        open_timeout: float = 10.0,
        call_id: str | None = None,
    ) -> None:
        """Open the stream like Plivo (the handshake signed over the GET URL) and send `start`."""
        if self.ws is not None:
            raise TwilioSimError("stream already connected")
        url = with_query(self.stream_url, tamper_query)
        nonce = str(secrets.randbelow(10**20)).zfill(20)
        headers = {
            "X-Plivo-Signature-V3": signature_v3(self.sim.auth_token, "GET", url, {}, nonce),
            "X-Plivo-Signature-V3-Nonce": nonce,
        }
        self.ws = await connect(
            self.sim.local_url(url), additional_headers=headers, proxy=None, open_timeout=open_timeout,
            ping_interval=None, max_size=2**24,
        )  # fmt: skip
        self.stream_sid = str(uuid.uuid4())
        self.start_message = {
            "event": "start",
            "sequenceNumber": 1,
            "start": {
                "callId": call_id or self.call_sid,
                "streamId": self.stream_sid,
                "accountId": self.account_sid,
                "tracks": ["inbound"],
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000},
            },
            "extra_headers": "",
        }
        self._seq = 1
        with contextlib.suppress(ConnectionClosed):
            await self.ws.send(json.dumps(self.start_message))
            self.sent.append(self.start_message)
        self.t0 = self._loop.time()
        self._start_tasks()

    def _start_tasks(self) -> None:
        self._tasks = [
            asyncio.create_task(self._reader(), name=f"plivo-sim-reader-{self.call_sid}"),
            asyncio.create_task(self._media_pump(), name=f"plivo-sim-media-{self.call_sid}"),
            asyncio.create_task(self._playback_loop(), name=f"plivo-sim-playback-{self.call_sid}"),
        ]

    def _media_message(self, seq: str, chunk: int, timestamp: int, audio: bytes) -> dict[str, Any]:
        return {
            "event": "media",
            "sequenceNumber": int(seq),
            "streamId": self.stream_sid,
            "media": {
                "track": "inbound",
                "timestamp": str(timestamp),
                "chunk": chunk,
                "payload": base64.b64encode(audio).decode("ascii"),
            },
            "extra_headers": "",
        }

    def _mark_echo_message(self, seq: str, name: str) -> dict[str, Any]:
        return {"event": "playedStream", "sequenceNumber": int(seq), "streamId": self.stream_sid, "name": name}

    def _stop_message(self, seq: str) -> dict[str, Any]:
        return {"event": "stop", "sequenceNumber": int(seq), "streamId": self.stream_sid}

    def _clear_answered(self) -> None:
        task = asyncio.ensure_future(self._answer_clear())
        self._tasks.append(task)

    async def _answer_clear(self) -> None:
        with contextlib.suppress(ConnectionClosed, TwilioSimError):
            await self._send(
                lambda seq: {"event": "clearedAudio", "sequenceNumber": int(seq), "streamId": self.stream_sid}
            )
            self.cleared_answers += 1

    async def send_dtmf(self, digit: str) -> None:
        await self._send(
            lambda seq: {
                "event": "dtmf",
                "sequenceNumber": int(seq),
                "streamId": self.stream_sid,
                "dtmf": {"track": "inbound", "digit": digit, "timestamp": str(int(self.stream_ms()))},
                "extra_headers": "",
            }
        )

    def _handle(self, raw: str | bytes) -> None:
        now = self._loop.time()
        try:
            msg = json.loads(raw)
        except ValueError:
            self._violation("message is not JSON", raw)
            return
        if not isinstance(msg, dict) or msg.get("event") not in _APP_EVENTS:
            self._violation("unknown Plivo event", raw)
            return
        self.received.append(msg)
        self.received_times.append(now)
        event = msg["event"]
        required, optional = _APP_EVENTS[event]
        if not required <= set(msg) <= required | optional:
            self._violation(f"{event}: wrong keys {sorted(msg)}", raw)
            return
        if "streamId" in msg and msg["streamId"] != self.stream_sid:
            self._violation(f"{event}: wrong streamId", raw)
            return
        if event == "playAudio":
            media = msg["media"]
            if not isinstance(media, dict) or set(media) != {"contentType", "sampleRate", "payload"}:
                self._violation("playAudio.media must have contentType, sampleRate, payload", raw)
                return
            if media["contentType"] != "audio/x-mulaw" or media["sampleRate"] != 8000:
                self._violation("playAudio: the stream is audio/x-mulaw at 8000 (no codec switch)", raw)
                return
            try:
                audio = base64.b64decode(media["payload"], validate=True)
            except (binascii.Error, ValueError, TypeError):
                self._violation("playAudio.payload is not base64", raw)
                return
            self._on_media(audio, now)
        elif event == "checkpoint":
            if not isinstance(msg["name"], str) or not msg["name"]:
                self._violation("checkpoint.name must be a non-empty string", raw)
                return
            self._on_mark(msg["name"], now)
        elif event == "clearAudio":
            self._on_clear(now)


class PlivoSimulator:
    """Plivo + callers, driving the app at `app_base_url` while signing for `public_base_url`."""

    def __init__(self, app_base_url: str, public_base_url: str, auth_id: str, auth_token: str) -> None:
        self.app_base_url = app_base_url.rstrip("/")
        self.stream_base_url: str | None = None  # WebSocket URLs go here when set (the app's STREAM_PORT)
        self.public_base_url = public_base_url.rstrip("/")
        self.account_sid = auth_id
        self.auth_token = auth_token
        self.calls: list[PlivoCall] = []
        self._http = httpx.AsyncClient(timeout=10.0, trust_env=False)

    def public_url(self, path_or_url: str) -> str:
        return path_or_url if "://" in path_or_url else self.public_base_url + path_or_url

    def local_url(self, path_or_url: str) -> str:
        if "://" not in path_or_url:
            return self.app_base_url + path_or_url
        parts, app = urlsplit(path_or_url), urlsplit(self.app_base_url)
        scheme = ("wss" if app.scheme == "https" else "ws") if parts.scheme in ("ws", "wss") else app.scheme
        if parts.scheme in ("ws", "wss") and self.stream_base_url:
            app = urlsplit(self.stream_base_url)  # the load balancer's stream route (STREAM_PORT)
        return urlunsplit((scheme, app.netloc, parts.path, parts.query, ""))

    def sign(self, url: str, params: Mapping[str, str], nonce: str) -> str:
        return signature_v3(self.auth_token, "POST", self.public_url(url), params, nonce)

    async def post(
        self, path: str, params: Mapping[str, str], *, signature: str | None = AUTO, nonce: str | None = None
    ) -> httpx.Response:
        """A signed form POST to `path` (or a public URL); `signature=None` sends no signature headers."""
        nonce = nonce or str(secrets.randbelow(10**20)).zfill(20)
        headers = {"User-Agent": "PlivoHTTP/1.0"}
        if signature is not None:
            headers["X-Plivo-Signature-V3"] = self.sign(path, params, nonce) if signature is AUTO else signature
            headers["X-Plivo-Signature-V3-Nonce"] = nonce
        return await self._http.post(self.local_url(path), data=dict(params), headers=headers)

    @staticmethod
    def answer_params(call_uuid: str, from_: str, to: str, status: str = "ringing") -> dict[str, str]:
        """What Plivo POSTs to answer_url (numbers as digits, no "+")."""
        return {
            "CallUUID": call_uuid,
            "From": from_.lstrip("+"),
            "To": to.lstrip("+"),
            "CallStatus": status,
            "Direction": "inbound",
            "Event": "StartApp",
        }

    async def place_call(
        self, from_: str = "+919876543210", to: str = "+918045678900", call_uuid: str | None = None
    ) -> PlivoCall:
        call_uuid = call_uuid or str(uuid.uuid4())
        response = await self.post("/plivo/answer", self.answer_params(call_uuid, from_, to))
        if response.status_code != 200 or "xml" not in response.headers.get("content-type", ""):
            raise TwilioSimError(f"answer_url answered {response.status_code}: {response.text[:300]!r}")
        call = PlivoCall(self, call_sid=call_uuid, from_=from_, to=to, twiml=response.text)  # type: ignore[arg-type]
        self.calls.append(call)
        return call

    def find(self, call_uuid: str) -> PlivoCall | None:
        return next((call for call in self.calls if call.call_sid == call_uuid), None)

    async def aclose(self) -> None:
        for call in list(self.calls):
            await call.aclose()
        await self._http.aclose()


@dataclass
class RestRequest:
    method: str
    call_uuid: str
    form: dict[str, str]
    status: int


@dataclass
class FakePlivoRest:
    """Plivo's REST API for live calls, on loopback; hang-ups end the simulated call, transfers fetch XML."""

    auth_id: str
    auth_token: str
    sim: PlivoSimulator | None = None  # attached once the app's URL is known
    requests: list[RestRequest] = field(default_factory=list)
    fail_transfers: bool = False
    port: int = 0
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None
    _background: set[asyncio.Task[Any]] = field(default_factory=set)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FakePlivoRest:
        prefix = f"/v1/Account/{self.auth_id}/Call/{{call_uuid}}/"
        app = Starlette(routes=[Route(prefix, self._call, methods=["POST", "DELETE"])])
        self.port = free_port()
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self._task = asyncio.create_task(self._server.serve())
        for _ in range(500):
            if self._server.started:
                break
            await asyncio.sleep(0.01)
        return self

    async def stop(self) -> None:
        for task in list(self._background):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 5)
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task

    def _authorised(self, request: Request) -> bool:
        expected = "Basic " + base64.b64encode(f"{self.auth_id}:{self.auth_token}".encode()).decode()
        return hmac.compare_digest(request.headers.get("authorization", ""), expected)

    async def _call(self, request: Request) -> Response:
        call_uuid = request.path_params["call_uuid"]
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        assert self.sim is not None, "attach the simulator first"
        call = self.sim.find(call_uuid)
        if not self._authorised(request):
            status, body = 401, {"error": "authentication failed"}
        elif call is None or call.ended:
            status, body = 404, {"error": "call not found"}
        elif request.method == "DELETE":
            status, body = 204, None
            call.ended = True
            self._spawn(call.stop_stream(reason="rest_hangup"))
        elif self.fail_transfers:
            status, body = 500, {"error": "internal error"}
        elif form.get("legs") != "aleg" or not form.get("aleg_url", "").startswith("https://"):
            status, body = 400, {"error": "legs=aleg and an aleg_url are required"}
        else:
            status, body = 202, {"message": "call transferred", "api_id": str(uuid.uuid4())}
            self._spawn(self._run_transfer(call, form["aleg_url"]))
        self.requests.append(RestRequest(request.method, call_uuid, form, status))
        return Response(status_code=204) if body is None else JSONResponse(body, status_code=status)

    async def _run_transfer(self, call: PlivoCall, url: str) -> None:
        assert self.sim is not None
        params = self.sim.answer_params(call.call_sid, call.from_, call.to, status="in-progress")
        response = await self.sim.post(url, params)
        call.transfer_xml = response.text if response.status_code == 200 else f"HTTP {response.status_code}"
        await call.stop_stream(reason="redirect")

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def transfers(self, call_uuid: str) -> list[RestRequest]:
        return [r for r in self.requests if r.call_uuid == call_uuid and r.method == "POST" and r.status == 202]

    def hangups(self, call_uuid: str) -> list[RestRequest]:
        return [r for r in self.requests if r.call_uuid == call_uuid and r.method == "DELETE"]
