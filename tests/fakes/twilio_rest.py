"""Fake Twilio REST API (2010-04-01 Calls / Messages) on a real loopback HTTP server.

Runs uvicorn in a background thread (its own event loop), so both the sync twilio client (requests)
and the async one (aiohttp) work, even when called from the test's event loop.

Pointing the official SDK (twilio 9.13) at it
---------------------------------------------
Every v2010 resource builds its URL from ``client.api.base_url`` (``twilio.base.domain.Domain``,
default ``"https://api.twilio.com"``) at request time, and edge/region rewriting only happens when
``edge``/``region`` (or TWILIO_EDGE / TWILIO_REGION) are set, so the app must do::

    from twilio.rest import Client

    client = Client(settings.twilio_account_sid, settings.twilio_auth_token.get_secret_value())
    client.api.base_url = settings.twilio_api_base_url.rstrip("/")   # e.g. "http://127.0.0.1:54321"
    # async variant: Client(sid, token, http_client=AsyncTwilioHttpClient()) + the same line,
    # then `await client.calls(sid).update_async(twiml=...)`, `await client.messages.create_async(...)`

``client.calls(...)``, ``client.messages``, ``client.api.account.calls`` … all go through
``client.api``. Do not set ``edge``/``region`` (they rewrite the host to ``api.<edge>.<region>.twilio.com``
style names). No trailing path: the SDK appends ``/2010-04-01/Accounts/{sid}/...``.

Usage::

    async with FakeTwilioRest(ACCOUNT_SID, AUTH_TOKEN) as rest:
        rest.attach(sim)                    # optional: calls placed by the simulator are known here,
                                            # and a REST redirect/hang-up stops their media stream
        settings.twilio_api_base_url = rest.base_url
        ...
        assert rest.call_updates(call.call_sid)[0].form["Twiml"].startswith("<?xml")

Faults: ``fail_next(kind, status=503, count=3)`` answers the next requests with a Twilio error;
``drop_next(kind, processed=...)`` cuts the connection mid-reply (the status line and headers are sent,
then the socket closes before the body: aiohttp raises ``ClientPayloadError``), before or after the
fake acted on the request — a client cannot tell which, which is why an SMS or a call creation must
not be retried. A refused connection needs no fake: point the client at a port nothing listens on.

Error bodies follow Twilio's legacy JSON (``code``, ``message``, ``more_info``, ``status``), so the SDK
raises ``TwilioRestException`` with ``.status`` and ``.code``. ⚠ Validation error codes for missing
parameters (21201, 21205, 21602-21604) are best-effort, not checked against Twilio.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email.utils
import inspect
import json
import logging
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import uvicorn

if TYPE_CHECKING:
    from tests.fakes.twilio_sim import SimulatedCall, TwilioSimulator

__all__ = ["CallUpdate", "FakeCall", "FakeTwilioRest", "RecordedRequest"]

API_VERSION = "2010-04-01"
_CALLS_RE = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Calls\.json$")
_CALL_RE = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Calls/(?P<call>[^/]+)\.json$")
_MESSAGES_RE = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages\.json$")
_ENDED = frozenset({"completed", "canceled", "failed", "busy", "no-answer"})


class _ConnectionDropped(Exception):
    """Raised by the ASGI app after the response headers: uvicorn then closes the socket mid-reply."""


class _QuietDrops(logging.Filter):
    """uvicorn logs every exception from an ASGI app; a drop we asked for is not one worth showing."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], _ConnectionDropped))


_QUIET_DROPS = _QuietDrops()


@dataclass
class RecordedRequest:
    method: str
    path: str
    form: dict[str, str]  # last value per key
    auth_ok: bool
    form_multi: dict[str, list[str]] = field(default_factory=dict)  # repeated keys (StatusCallbackEvent)
    query: str = ""
    status_code: int = 0
    response: dict[str, Any] | None = None
    time: float = 0.0  # time.monotonic()
    kind: str = ""  # "call_update" | "call_create" | "call_fetch" | "message" | "unknown"
    call_sid: str | None = None
    dropped: bool = False  # the connection was cut before the reply's body (see `drop_next`)


@dataclass
class FakeCall:
    sid: str
    from_: str
    to: str
    status: str = "in-progress"
    direction: str = "inbound"
    date_created: str = ""
    twiml: str | None = None  # latest TwiML set via REST (create or update)
    url: str | None = None
    form: dict[str, str] = field(default_factory=dict)  # create form, for created calls


@dataclass
class CallUpdate:
    """Passed to `on_call_update` (on the loop that called `start()`)."""

    call_sid: str
    form: dict[str, str]
    twiml: str | None
    url: str | None
    status: str | None
    call_status_after: str
    time: float


def _rfc2822(ts: float | None = None) -> str:
    return email.utils.format_datetime(datetime.fromtimestamp(ts or time.time(), UTC), usegmt=True)


class FakeTwilioRest:
    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        api_keys: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.api_keys = dict(api_keys or {})  # optional SK... -> secret credentials also accepted
        self.host = host
        self.port: int | None = None
        self.requests: list[RecordedRequest] = []
        self.messages: list[dict[str, Any]] = []  # message resources created (as returned)
        self.created_calls: list[dict[str, Any]] = []  # call resources created via Calls.json
        self.calls: dict[str, FakeCall] = {}
        self.latency: float = 0.0  # seconds added before every response
        self.hook_errors: list[BaseException] = []
        self.on_call_update: Callable[[CallUpdate], Any] | None = None
        self.on_call_create: Callable[[dict[str, Any]], Any] | None = None
        self.on_message: Callable[[dict[str, Any]], Any] | None = None
        self._failures: list[dict[str, Any]] = []
        self._drops: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._owner_loop: asyncio.AbstractEventLoop | None = None
        self._hook_tasks: set[asyncio.Task[Any]] = set()
        self._sims: list[TwilioSimulator] = []
        self._stop_stream_on_update = True

    # ---- lifecycle --------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("FakeTwilioRest not started")
        return f"http://{self.host}:{self.port}"

    async def start(self) -> FakeTwilioRest:
        if self._server is not None:
            return self
        self._owner_loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._asgi,
            lifespan="off",
            log_level="warning",
            access_log=False,
            loop="asyncio",
            http="h11",
            ws="none",
            interface="asgi3",
        )
        self._server = uvicorn.Server(config)
        logging.getLogger("uvicorn.error").addFilter(_QUIET_DROPS)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="fake-twilio-rest", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("fake Twilio REST server did not start")
            await asyncio.sleep(0.01)
        return self

    async def stop(self) -> None:
        for task in list(self._hook_tasks):
            task.cancel()
        for task in list(self._hook_tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            await asyncio.to_thread(self._thread.join, 10)
        self._server = None
        self._thread = None

    async def __aenter__(self) -> FakeTwilioRest:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---- test-side state --------------------------------------------------------------------
    def register_call(
        self, call_sid: str, *, from_: str = "", to: str = "", status: str = "in-progress", direction: str = "inbound"
    ) -> FakeCall:
        """Make a call known (updates to unknown calls get 404)."""
        with self._lock:
            call = FakeCall(sid=call_sid, from_=from_, to=to, status=status, direction=direction)
            call.date_created = _rfc2822()
            self.calls[call_sid] = call
            return call

    def end_call(self, call_sid: str, status: str = "completed") -> None:
        """Mark a call ended: further updates get 404."""
        with self._lock:
            if call_sid in self.calls:
                self.calls[call_sid].status = status
            else:
                self.calls[call_sid] = FakeCall(sid=call_sid, from_="", to="", status=status)

    def set_call_status(self, call_sid: str, status: str) -> None:
        with self._lock:
            self.calls[call_sid].status = status

    def call_status(self, call_sid: str) -> str | None:
        call = self.calls.get(call_sid)
        return call.status if call else None

    def call_updates(self, call_sid: str) -> list[RecordedRequest]:
        """Authenticated, successful (2xx) updates of `call_sid`, in order."""
        return [
            r
            for r in list(self.requests)
            if r.kind == "call_update" and r.call_sid == call_sid and 200 <= r.status_code < 300
        ]

    def fail_next(
        self, kind: str, *, status: int = 500, code: int = 20500, message: str = "Internal Server Error", count: int = 1
    ) -> None:
        """Make the next `count` requests of `kind` ("call_update" | "call_create" | "message" | "*")
        fail with a Twilio-style error (after auth)."""
        with self._lock:
            self._failures.append({"kind": kind, "status": status, "code": code, "message": message, "count": count})

    def clear_faults(self) -> None:
        """Forget every pending `fail_next` / `drop_next`."""
        with self._lock:
            self._failures.clear()
            self._drops.clear()

    def drop_next(self, kind: str, *, processed: bool = False, count: int = 1) -> None:
        """Cut the connection of the next `count` requests of `kind` (after auth) mid-reply: the status
        line and headers are sent, then the socket closes before the body. With `processed`, the fake
        acted on the request first (the message was created, the call updated: the reply was lost);
        without, it did nothing (recorded with status 0). Either way the record has `dropped=True`."""
        with self._lock:
            self._drops.append({"kind": kind, "processed": processed, "count": count})

    def attach(self, sim: TwilioSimulator, *, stop_stream_on_update: bool = True) -> None:
        """Register every call the simulator places; with `stop_stream_on_update`, a REST update that
        redirects (Twiml/Url) or ends (Status=completed/canceled) the call makes the simulated Twilio
        send `stop` and close the media stream, as real Twilio does."""
        self._sims.append(sim)
        self._stop_stream_on_update = stop_stream_on_update
        sim.add_call_listener(
            lambda call: self.register_call(call.call_sid, from_=call.from_, to=call.to, status="in-progress")
        )

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Poll `predicate()` until truthy and return its value; raises TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise TimeoutError(f"REST condition not met within {timeout}s; requests={self.requests!r}")
            await asyncio.sleep(0.01)

    async def wait_for_call_update(self, call_sid: str, timeout: float = 5.0) -> RecordedRequest:
        return (await self.wait_for(lambda: self.call_updates(call_sid), timeout))[-1]

    async def wait_for_message(self, timeout: float = 5.0, *, count: int = 1) -> dict[str, Any]:
        await self.wait_for(lambda: len(self.messages) >= count, timeout)
        return self.messages[count - 1]

    # ---- hook dispatch (owner loop) ---------------------------------------------------------
    def _dispatch(self, hook: Callable[[Any], Any] | None, arg: Any) -> None:
        if hook is None or self._owner_loop is None:
            return

        def run() -> None:
            try:
                result = hook(arg)
                if inspect.isawaitable(result):
                    task = asyncio.ensure_future(result)
                    self._hook_tasks.add(task)
                    task.add_done_callback(self._hook_done)
            except Exception as exc:
                self.hook_errors.append(exc)

        with contextlib.suppress(RuntimeError):  # owner loop closed
            self._owner_loop.call_soon_threadsafe(run)

    def _hook_done(self, task: asyncio.Task[Any]) -> None:
        self._hook_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.hook_errors.append(task.exception())  # type: ignore[arg-type]

    def _sim_call(self, call_sid: str) -> SimulatedCall | None:
        for sim in self._sims:
            for call in sim.calls:
                if call.call_sid == call_sid:
                    return call
        return None

    async def _stop_sim_stream(self, update: CallUpdate) -> None:
        call = self._sim_call(update.call_sid)
        if call is None:
            return
        if update.twiml is not None or update.url is not None:
            call.redirected_to = {k: v for k, v in update.form.items() if k in ("Twiml", "Url", "Method")}
            await call.stop_stream(reason="redirect")
        elif update.call_status_after in _ENDED:
            call.ended = True
            await call.stop_stream(reason="rest-" + update.call_status_after)

    def _after_call_update(self, update: CallUpdate) -> None:
        if self._sims and self._stop_stream_on_update:
            self._dispatch(self._stop_sim_stream, update)
        self._dispatch(self.on_call_update, update)

    # ---- HTTP -------------------------------------------------------------------------------
    def _auth_ok(self, headers: dict[str, str]) -> bool:
        value = headers.get("authorization", "")
        scheme, _, encoded = value.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        if user == self.account_sid:
            return secrets.compare_digest(password, self.auth_token)
        if user in self.api_keys:
            return secrets.compare_digest(password, self.api_keys[user])
        return False

    def _error(self, status: int, code: int, message: str) -> tuple[int, dict[str, Any]]:
        return status, {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }

    def _not_found(self, path: str) -> tuple[int, dict[str, Any]]:
        return self._error(404, 20404, f"The requested resource {path} was not found")

    def _take_drop(self, kind: str) -> dict[str, Any] | None:
        with self._lock:
            for drop in self._drops:
                if drop["kind"] in (kind, "*"):
                    drop["count"] -= 1
                    if drop["count"] <= 0:
                        self._drops.remove(drop)
                    return drop
        return None

    def _take_failure(self, kind: str) -> tuple[int, dict[str, Any]] | None:
        with self._lock:
            for failure in self._failures:
                if failure["kind"] in (kind, "*"):
                    failure["count"] -= 1
                    if failure["count"] <= 0:
                        self._failures.remove(failure)
                    return self._error(failure["status"], failure["code"], failure["message"])
        return None

    def _call_resource(self, call: FakeCall) -> dict[str, Any]:
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{call.sid}"
        now = _rfc2822()
        ended = call.status in _ENDED
        return {
            "sid": call.sid,
            "account_sid": self.account_sid,
            "parent_call_sid": None,
            "date_created": call.date_created or now,
            "date_updated": now,
            "to": call.to,
            "to_formatted": call.to,
            "from": call.from_,
            "from_formatted": call.from_,
            "phone_number_sid": None,
            "status": call.status,
            "start_time": call.date_created or now,
            "end_time": now if ended else None,
            "duration": "0" if ended else None,
            "price": None,
            "price_unit": "USD",
            "direction": call.direction,
            "answered_by": None,
            "annotation": None,
            "api_version": API_VERSION,
            "forwarded_from": None,
            "group_sid": None,
            "caller_name": None,
            "queue_time": "0",
            "trunk_sid": None,
            "uri": base + ".json",
            "subresource_uris": {
                "notifications": base + "/Notifications.json",
                "recordings": base + "/Recordings.json",
                "events": base + "/Events.json",
                "payments": base + "/Payments.json",
            },
        }

    def _handle(self, method: str, path: str, form: dict[str, str], kind: str, match: re.Match[str] | None):
        """Returns (status, body, record_call_sid, after) — `after` runs once the request is recorded."""
        if match is None:
            return (*self._not_found(path), None, None)
        if match.group("account") != self.account_sid:
            return (*self._not_found(path), None, None)
        expected_method = "GET" if kind == "call_fetch" else "POST"
        if method != expected_method:
            return (*self._error(405, 20004, "Method not allowed"), None, None)
        failure = self._take_failure(kind)
        if failure is not None:
            return (*failure, match.groupdict().get("call"), None)

        if kind in ("call_update", "call_fetch"):
            sid = match.group("call")
            with self._lock:
                call = self.calls.get(sid)
                if call is None or call.status in _ENDED:
                    return (*self._not_found(path), sid, None)
                if kind == "call_fetch":
                    return 200, self._call_resource(call), sid, None
                twiml, url, status = form.get("Twiml"), form.get("Url"), form.get("Status")
                if twiml is not None and url is not None:
                    return (*self._error(400, 20001, "Twiml and Url are mutually exclusive"), sid, None)
                if status is not None and status not in ("completed", "canceled"):
                    return (*self._error(400, 21218, f"Invalid Status: {status}"), sid, None)
                if twiml is None and url is None and status is None:
                    return (*self._error(400, 21205, "Url, Twiml or Status is required"), sid, None)
                if twiml is not None:
                    call.twiml, call.url = twiml, None
                if url is not None:
                    call.url, call.twiml = url, None
                if status is not None:
                    call.status = status
                body = self._call_resource(call)
                update = CallUpdate(sid, dict(form), twiml, url, status, call.status, time.monotonic())
            return 200, body, sid, lambda: self._after_call_update(update)

        if kind == "call_create":
            if not form.get("To"):
                return (*self._error(400, 21201, "No 'To' number is specified"), None, None)
            if not form.get("From"):
                return (*self._error(400, 21213, "No 'From' number is specified"), None, None)
            if not (form.get("Twiml") or form.get("Url") or form.get("ApplicationSid")):
                return (*self._error(400, 21205, "Url, Twiml or ApplicationSid is required"), None, None)
            sid = "CA" + secrets.token_hex(16)
            with self._lock:
                call = FakeCall(sid=sid, from_=form["From"], to=form["To"], status="queued", direction="outbound-api")
                call.date_created = _rfc2822()
                call.twiml, call.url, call.form = form.get("Twiml"), form.get("Url"), dict(form)
                self.calls[sid] = call
                body = self._call_resource(call)
                self.created_calls.append(body)
            return 201, body, sid, lambda: self._dispatch(self.on_call_create, body)

        # message
        if not form.get("To"):
            return (*self._error(400, 21604, "A 'To' phone number is required."), None, None)
        if not (form.get("From") or form.get("MessagingServiceSid")):
            return (*self._error(400, 21603, "A 'From' phone number is required."), None, None)
        if not form.get("Body") and not form.get("MediaUrl") and not form.get("ContentSid"):
            return (*self._error(400, 21602, "Message body is required."), None, None)
        sid = "SM" + secrets.token_hex(16)
        now = _rfc2822()
        body = {
            "sid": sid,
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": form.get("Body", ""),
            "date_created": now,
            "date_updated": now,
            "date_sent": None,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "status": "queued" if form.get("From") else "accepted",
            "subresource_uris": {"media": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}/Media.json"},
            "to": form["To"],
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json",
        }
        with self._lock:
            self.messages.append(body)
        return 201, body, None, lambda: self._dispatch(self.on_message, body)

    async def _asgi(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        raw = b"".join(chunks).decode("utf-8", "replace")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        method, path = scope["method"], scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        pairs = parse_qsl(raw, keep_blank_values=True)
        form_multi: dict[str, list[str]] = {}
        for key, value in pairs:
            form_multi.setdefault(key, []).append(value)
        form = {key: values[-1] for key, values in form_multi.items()}

        if match := _CALLS_RE.match(path):
            kind = "call_create"
        elif match := _CALL_RE.match(path):
            kind = "call_update" if method == "POST" else "call_fetch"
        elif match := _MESSAGES_RE.match(path):
            kind = "message"
        else:
            kind = "unknown"

        auth_ok = self._auth_ok(headers)
        after: Callable[[], None] | None = None
        call_sid = match.groupdict().get("call") if match else None
        drop = self._take_drop(kind) if auth_ok and match is not None else None
        if not auth_ok:
            status, body = self._error(401, 20003, "Authentication Error - invalid username")
            body["detail"] = "Your AccountSid or AuthToken was incorrect."
        elif drop is not None and not drop["processed"]:
            status, body = 0, {}
        else:
            try:
                status, body, call_sid, after = self._handle(method, path, form, kind, match)
            except Exception as exc:  # a bug in the fake must not look like a network error
                status, body = self._error(500, 20500, f"fake Twilio REST error: {exc!r}")
        record = RecordedRequest(
            method=method,
            path=path,
            form=form,
            auth_ok=auth_ok,
            form_multi=form_multi,
            query=query,
            status_code=status,
            response=body,
            time=time.monotonic(),
            kind=kind,
            call_sid=call_sid,
            dropped=drop is not None,
        )
        with self._lock:
            self.requests.append(record)
        if after is not None:
            after()
        if self.latency:
            await asyncio.sleep(self.latency)
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status or 502,
                "headers": [
                    (b"content-type", b"application/json; charset=utf-8"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"twilio-request-id", ("RQ" + secrets.token_hex(16)).encode()),
                ],
            }
        )
        if drop is not None:
            raise _ConnectionDropped(path)  # uvicorn closes the socket: the declared body never arrives
        await send({"type": "http.response.body", "body": payload})
