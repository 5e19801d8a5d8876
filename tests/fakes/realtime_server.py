"""A protocol-faithful fake of the OpenAI Realtime API (GA, WebSocket transport) for end-to-end tests.

The fake is a real WebSocket server, so the app under test talks to it through the real ``openai`` SDK
(``AsyncOpenAI(websocket_base_url=server.url)``). It is deliberately *stricter* than the SDK: every
client event is validated against ``openai.types.realtime.RealtimeClientEvent`` and unknown fields are
rejected like the real API does (the SDK models silently accept extra keys). Load benchmarks can tune
that and observe traffic through the hooks documented on ``FakeRealtimeServer``. Anything our bridge does
wrong is recorded in ``violations`` so a test can assert the list is empty.

Audio is G.711 μ-law (8 kHz, ms = bytes / 8). Server VAD is simulated on frame energy, driven by the
audio clock (not wall time), so it is deterministic however fast audio is appended. A reply to a user
turn *echoes* the caller's speech, which lets concurrency tests check each call got its own audio back.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import copy
import dataclasses
import inspect
import itertools
import json
import logging
import time
import typing
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import pydantic
from openai.types.realtime import RealtimeClientEvent, RealtimeServerEvent
from openai.types.realtime.response_item_reference import ResponseItemReference
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from .mulaw import BYTES_PER_MS, frame_energy, tone

__all__ = ["FakeRealtimeServer", "FakeServerBug", "FakeSession", "Script", "Turn", "UserTurn"]

log = logging.getLogger(__name__)

FRAME_MS = 20
FRAME_BYTES = FRAME_MS * BYTES_PER_MS
ResponseKind = Literal["greeting", "reply", "tool_followup", "out_of_band"]


def _members_by_type(union: Any) -> dict[str, type[pydantic.BaseModel]]:
    """``type`` literal -> model for an SDK event union (``Annotated[Union[...], ...]``)."""
    members = typing.get_args(typing.get_args(union)[0])
    return {typing.get_args(cls.model_fields["type"].annotation)[0]: cls for cls in members}


_CLIENT_ADAPTER: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(RealtimeClientEvent)
_SERVER_ADAPTER: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(RealtimeServerEvent)
# The union members have distinct `type` literals, so validating against the member picked by `type`
# is equivalent to validating against the union: used for focused error messages and, on the hot
# outgoing path, for speed (~10x faster than the 46-member smart union).
_CLIENT_MODELS = _members_by_type(RealtimeClientEvent)
_SERVER_MODELS = _members_by_type(RealtimeServerEvent)
_BETA_NAMES = {  # beta-era names -> GA names, only to make error messages helpful
    "response.audio.delta": "response.output_audio.delta",
    "response.audio_transcript.delta": "response.output_audio_transcript.delta",
    "response.text.delta": "response.output_text.delta",
    "transcription_session.update": "session.update with session.type='transcription'",
}
# The real API puts these in session objects; the SDK model does not declare them.
_ALLOWED_OUTGOING_EXTRAS = {"session.id", "session.object", "session.expires_at"}
_VAD_DEFAULTS: dict[str, dict[str, Any]] = {
    "server_vad": {
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 500,
        "idle_timeout_ms": None,
        "create_response": True,
        "interrupt_response": True,
    },
    "semantic_vad": {"eagerness": "auto", "create_response": True, "interrupt_response": True},
}
_RATE_LIMITS = [
    {"name": "requests", "limit": 10000, "remaining": 9999, "reset_seconds": 0.006},
    {"name": "tokens", "limit": 2000000, "remaining": 1995000, "reset_seconds": 0.15},
]
_SEMANTIC_SILENCE_MS = {"low": 1000, "medium": 500, "auto": 500, "high": 250}


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def find_extras(obj: Any, path: str = "") -> list[str]:
    """Dotted paths of every key a pydantic model tree accepted as an *extra* (undeclared) field."""
    found: list[str] = []
    if isinstance(obj, pydantic.BaseModel):
        found += [f"{path}.{key}".lstrip(".") for key in obj.model_extra or {}]
        for name in type(obj).model_fields:
            found += find_extras(getattr(obj, name), f"{path}.{name}")
    elif isinstance(obj, list | tuple):
        for i, value in enumerate(obj):
            found += find_extras(value, f"{path}[{i}]")
    elif isinstance(obj, dict):
        for key, value in obj.items():
            found += find_extras(value, f"{path}.{key}")
    return found


class FakeServerBug(AssertionError):
    """The fake itself emitted an event that does not match the SDK's server-event models."""


class _ProtocolError(Exception):
    """A client event the real API would answer with an ``error`` event (the socket stays open)."""

    def __init__(self, code: str, message: str, param: str | None = None, *, violation: bool = True):
        super().__init__(message)
        self.code, self.message, self.param, self.violation = code, message, param, violation


@dataclass
class Turn:
    """What happens on one user turn: what the caller 'said' and how the model answers."""

    transcript: str = "I have a question about my order."
    reply_transcript: str = "Sure, I can help with that."
    reply_ms: int | None = None  # None -> Script.reply_ms
    tool_calls: list[tuple[str, str]] = field(default_factory=list)  # (name, arguments JSON)
    # The tool-calling response also speaks first (a message item, then the function_call items), as
    # the real model often does for "Goodbye!" + end_call. Its audio is `reply_ms` of the reply.
    speaks_before_tools: bool = False


@dataclass
class Script:
    """Per-connection behaviour. Each session gets a deep copy, so ``turns`` are consumed per call."""

    greeting_ms: int = 1500  # audio length of a response that does not answer a user turn
    reply_ms: int = 2000
    greeting_transcript: str = "Hello! Thanks for calling. How can I help you today?"
    turns: list[Turn] = field(default_factory=list)  # one per user turn; default Turn() when exhausted
    # Text items the client creates (a user or system message with input_text, e.g. keys typed on the
    # keypad) that the model treats as a turn to answer, in order; other text items are context only.
    text_turns: list[Turn] = field(default_factory=list)
    # What an out-of-band response (`conversation: "none"`, e.g. a call summary) says; None: the greeting.
    out_of_band_text: str | None = None
    chunk_ms: int = 100  # audio per response.output_audio.delta
    audio_speedup: float = 10.0  # chunk_ms of audio every chunk_ms / audio_speedup of wall time
    response_latency_s: float = 0.0  # model "thinking" time between response.created and output
    transcription_delay_s: float = 0.05
    vad_energy_threshold: float = 1000.0  # mean |linear amplitude| of a 20 ms frame counted as speech
    tone_hz: float | None = None  # tone for non-echo audio; None -> per-session 300 + 40 * (index % 25)


@dataclass
class UserTurn:
    """A committed user audio item and the scripted behaviour attached to it."""

    item_id: str
    audio: bytes  # μ-law speech segment (onset .. last voiced frame); echoed by the reply
    audio_start_ms: int
    audio_end_ms: int
    script: Turn
    answered: bool = False
    call_ids: list[str] = field(default_factory=list)


@dataclass
class _Response:
    """An in-flight response; cancellation is cooperative so the ``*.done`` tail is always sent."""

    id: str
    record: dict[str, Any]
    in_conversation: bool
    audio: bytes
    transcript: str
    text_only: bool
    turn: UserTurn | None
    overrides: dict[str, Any]
    cancel_reason: str | None = None
    cancel_event: asyncio.Event = field(default_factory=asyncio.Event)
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    async def pause(self, seconds: float) -> bool:
        """Sleep (or just yield), waking early on cancellation. Returns True if cancelled."""
        if seconds <= 0:
            await asyncio.sleep(0)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.cancel_event.wait(), seconds)
        return self.cancel_event.is_set()


class FakeSession:
    """Server side of one Realtime WebSocket connection. Attributes are meant for test assertions."""

    def __init__(self, server: FakeRealtimeServer, ws: ServerConnection, index: int, model: str, script: Script):
        self.server, self._ws, self.index, self.model, self.script = server, ws, index, model, script
        self.id = _new_id("sess")
        self.conversation_id = _new_id("conv")
        self.received: list[dict[str, Any]] = []  # every client event as parsed JSON (valid or not)
        self.sent: list[dict[str, Any]] = []  # every server event, in wire order
        self.violations: list[str] = []
        self.errors_sent: list[dict[str, Any]] = []  # the `error` objects of error events
        self.closed = asyncio.Event()
        self.state: dict[str, Any] = self._default_state()
        self.items: dict[str, dict[str, Any]] = {}  # conversation items in order (no audio)
        self.user_turns: list[UserTurn] = []
        self.responses: list[dict[str, Any]] = []  # responses in the conversation (what the caller hears)
        self.out_of_band_responses: list[dict[str, Any]] = []  # `conversation: "none"` (e.g. summaries)
        self.cancelled_responses: list[dict[str, Any]] = []
        self.item_audio_ms: dict[str, int] = {}
        self.truncations: list[dict[str, Any]] = []
        self.truncate_errors: list[dict[str, Any]] = []
        self.function_outputs: dict[str, str] = {}
        self.issued_calls: dict[str, str] = {}  # call_id -> function name
        self.appended_bytes = 0
        self._active: _Response | None = None  # the one response writing to the conversation
        self._out_of_band: dict[str, _Response] = {}
        self._tool_turn: UserTurn | None = None  # function calls awaiting outputs + response.create
        self._truncated_to: dict[str, int] = {}
        self._buffer = bytearray()  # input audio not yet committed/cleared
        self._pending = bytearray()  # partial VAD frame
        self._frames_ms = 0  # audio clock: ms of complete frames seen this session
        self._in_speech = False
        self._speech = bytearray()
        self._speech_voiced_len = 0
        self._silence_ms = 0
        self._speech_item_id = ""
        self._speech_start_ms = 0
        self._once: set[str] = set()
        self._send_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()

    # ----------------------------------------------------------------------------------- public helpers
    @property
    def tone_hz(self) -> float:
        """Frequency of this session's non-echo audio (greetings): distinct per session by default."""
        return self.script.tone_hz or 300.0 + 40.0 * (self.index % 25)

    @property
    def appended_ms(self) -> float:
        return self.appended_bytes / BYTES_PER_MS

    @property
    def vad_clock_ms(self) -> int:
        """How much appended audio the VAD has consumed (complete 20 ms frames): at a VAD event, the end
        of the frame that triggered it."""
        return self._frames_ms

    @property
    def turn_detection(self) -> dict[str, Any] | None:
        return self.state["audio"]["input"].get("turn_detection")

    @property
    def ws_extensions(self) -> str | None:
        """The WebSocket extensions the handshake agreed (e.g. ``permessage-deflate``), None for none."""
        response = self._ws.response
        value = response.headers.get("Sec-WebSocket-Extensions") if response is not None else None
        return str(value) if value is not None else None

    def events(self, event_type: str) -> list[dict[str, Any]]:
        """Server events of one type that were sent, in order."""
        return [e for e in self.sent if e["type"] == event_type]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
        """Poll ``predicate`` until true; TimeoutError naming ``what`` otherwise."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not predicate():
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"session {self.index}: {what} not met within {timeout}s")
            await asyncio.sleep(0.005)

    async def wait_for_event(self, event_type: str, count: int = 1, timeout: float = 5.0) -> dict[str, Any]:
        """Wait until ``count`` events of ``event_type`` were sent; returns the ``count``-th."""
        await self.wait_for(lambda: len(self.events(event_type)) >= count, timeout, f"{count}x {event_type}")
        return self.events(event_type)[count - 1]

    async def send_error(self, code: str, message: str, type: str = "server_error") -> None:
        """Inject an ``error`` event (the connection stays open, like most real errors)."""
        await self._error(code, message, error_type=type)

    async def send_event(self, event: dict[str, Any]) -> None:
        """Inject an arbitrary server event (``event_id`` is added; validated like all output)."""
        await self._send(event)

    async def disconnect(self, code: int | None = 1011, reason: str = "fake: injected disconnect") -> None:
        """Close the socket with ``code``; ``code=None`` drops TCP without a close frame (client sees 1006)."""
        if code is None:
            self._ws.transport.abort()
        else:
            await self._ws.close(code, reason)

    # ------------------------------------------------------------------------------------ connection
    async def _expire_at_cap(self, max_s: float) -> None:
        await asyncio.sleep(max_s)
        self.expired = True
        with contextlib.suppress(ConnectionClosed):
            minutes = max_s / 60
            await self._error(
                "session_expired",
                f"Your session hit the maximum duration of {minutes:g} minutes.",
                error_type="invalid_request_error",
            )
            await self._ws.close(1001, "session expired")

    async def _run(self) -> None:
        """Greet like the real server, then handle client events until the socket closes."""
        self.expired = False
        if self.server.session_max_s is not None:
            self._spawn(self._expire_at_cap(self.server.session_max_s))
        await self._send({"type": "session.created", "session": copy.deepcopy(self.state)})
        await self._send(
            {
                "type": "conversation.created",
                "conversation": {"id": self.conversation_id, "object": "realtime.conversation"},
            }
        )
        with contextlib.suppress(ConnectionClosed):
            async for message in self._ws:
                try:
                    await self._on_message(message)
                except ConnectionClosed:
                    raise
                except Exception as exc:  # one bad event must not kill the session or the server
                    self.server._internal_error(self, exc)
                    with contextlib.suppress(Exception):
                        await self._error("server_error", f"fake server crashed: {exc!r}", error_type="server_error")

    async def _shutdown(self) -> None:
        """Cancel and await every task this session started."""
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.closed.set()

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)

        def _done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() and not isinstance(t.exception(), ConnectionClosed):
                self.server._internal_error(self, t.exception())  # type: ignore[arg-type]

        task.add_done_callback(_done)
        return task

    async def _send(self, event: dict[str, Any]) -> None:
        """Send one server event; ids are assigned under the lock so they increase in wire order."""
        async with self._send_lock:
            event = {"event_id": f"event_{next(self.server._event_ids)}", **event}
            text = json.dumps(event)
            if self.server.validate_outgoing:
                _check_outgoing(event["type"], text)
            self.sent.append(json.loads(text))  # a copy: later state changes must not rewrite the log
            await self._ws.send(text)
            observer = self.server.on_server_event
            if observer is not None:
                observer(self, self.sent[-1], asyncio.get_running_loop().time())

    async def _error(
        self,
        code: str | None,
        message: str,
        *,
        param: str | None = None,
        client_event_id: str | None = None,
        error_type: str = "invalid_request_error",
    ) -> None:
        error = {"type": error_type, "code": code, "message": message, "param": param, "event_id": client_event_id}
        self.errors_sent.append(error)
        await self._send({"type": "error", "error": error})

    def _violation(self, message: str, once_key: str | None = None) -> None:
        """Record a bridge mistake (session + server aggregate); ``once_key`` de-duplicates."""
        if once_key is not None:
            if once_key in self._once:
                return
            self._once.add(once_key)
        self.violations.append(message)
        self.server.violations.append(f"[session {self.index}] {message}")
        log.warning("fake realtime session %d: violation: %s", self.index, message)

    # ------------------------------------------------------------------------------- client events
    async def _on_message(self, message: str | bytes) -> None:
        observer = self.server.on_client_event
        received_at = asyncio.get_running_loop().time() if observer is not None else 0.0
        if isinstance(message, bytes):
            self._violation("binary WebSocket frame (the API takes JSON text frames)")
            await self._error("invalid_value", "Binary frames are not supported.")
            return
        try:
            data = json.loads(message)
        except ValueError:
            self._violation(f"invalid JSON: {message[:80]!r}")
            await self._error("invalid_json", "The server could not parse the client event as JSON.")
            return
        self.received.append(data)
        if observer is not None:
            observer(self, data, received_at)
        event_id = data.get("event_id") if isinstance(data, dict) else None
        etype = data.get("type") if isinstance(data, dict) else None
        try:
            self._validate_client_event(data, message)
            await getattr(self, "_on_" + str(etype).replace(".", "_"))(data)
        except _ProtocolError as err:
            if err.violation:
                self._violation(f"{etype}: {err.message}")
            await self._error(
                err.code, err.message, param=err.param, client_event_id=event_id if isinstance(event_id, str) else None
            )

    def _validate_client_event(self, data: Any, text: str) -> None:
        """Validate with the SDK's client-event union (strict types), then reject unknown keys.

        The object-with-a-known-``type`` check always runs; the schema check only when the server's
        ``validate_incoming`` asks for it (by default always)."""
        if not isinstance(data, dict):
            raise _ProtocolError("invalid_value", "A client event must be a JSON object.")
        etype = data.get("type")
        if etype not in _CLIENT_MODELS:
            hint = f" (beta-era name; GA uses {_BETA_NAMES[etype]})" if etype in _BETA_NAMES else ""
            raise _ProtocolError(
                "invalid_value",
                f"Invalid value: '{etype}'. Supported values are: {', '.join(sorted(_CLIENT_MODELS))}.{hint}",
                "type",
            )
        policy = self.server.validate_incoming
        if not (policy if isinstance(policy, bool) else policy(self, data)):
            return
        without_refs = self._split_item_references(data)
        if without_refs is not data:
            text = json.dumps(without_refs)
        try:
            model = _CLIENT_ADAPTER.validate_json(text, strict=True)
        except pydantic.ValidationError:
            try:  # re-validate against the one matching model: the union's errors list every member
                _CLIENT_MODELS[etype].model_validate_json(text, strict=True)
            except pydantic.ValidationError as exc:
                first = exc.errors()[0]
                param = ".".join(str(p) for p in first["loc"])
                raise _ProtocolError("invalid_value", f"Invalid '{param}': {first['msg']}.", param) from None
            raise
        extras = find_extras(model)
        if extras:
            raise _ProtocolError("unknown_parameter", f"Unknown parameter: '{extras[0]}'.", extras[0])

    @staticmethod
    def _split_item_references(data: dict[str, Any]) -> dict[str, Any]:
        """``response.create`` may reference items by id, which the SDK's model union cannot express:
        validate those separately and return the event without them."""
        response = data.get("response")
        if data.get("type") != "response.create" or not isinstance(response, dict):
            return data
        if not isinstance(response.get("input"), list):
            return data
        kept = []
        for entry in response["input"]:
            if isinstance(entry, dict) and entry.get("type") == "item_reference":
                try:
                    extras = find_extras(ResponseItemReference.model_validate(entry, strict=True))
                except pydantic.ValidationError as exc:
                    raise _ProtocolError(
                        "invalid_value", f"Invalid item_reference {entry}: {exc}", "response.input"
                    ) from None
                if extras:
                    raise _ProtocolError(
                        "unknown_parameter", f"Unknown parameter in item_reference: {entry}", "response.input"
                    )
            else:
                kept.append(entry)
        return {**data, "response": {**response, "input": kept}}

    async def _on_session_update(self, event: dict[str, Any]) -> None:
        update = event["session"]
        if update.get("type") != "realtime":
            raise _ProtocolError("invalid_value", "session.type must be 'realtime' for this bridge.", "session.type")
        if "model" in update and update["model"] != self.state["model"]:
            raise _ProtocolError("invalid_value", "Cannot change the model of a session.", "session.model")
        voice = ((update.get("audio") or {}).get("output") or {}).get("voice")
        if voice is not None and voice != self.state["audio"]["output"]["voice"] and any(self.item_audio_ms.values()):
            raise _ProtocolError(
                "invalid_value",
                "Cannot update a conversation's voice if assistant audio is present.",
                "session.audio.output.voice",
            )
        state = copy.deepcopy(self.state)  # all-or-nothing, like the real API
        for key, value in update.items():
            if key != "audio":
                state[key] = value
                continue
            for direction, config in (value or {}).items():
                for sub_key, sub_value in (config or {}).items():
                    if sub_key == "format" and sub_value is None:
                        raise _ProtocolError(
                            "invalid_value", "Audio format cannot be null.", f"session.audio.{direction}.format"
                        )
                    state["audio"][direction][sub_key] = _normalize_audio(sub_key, sub_value)
        self.state = state
        for direction in ("input", "output"):
            fmt = state["audio"][direction]["format"]
            if fmt.get("type") != "audio/pcmu":
                self._violation(
                    f"session.update: audio.{direction}.format is {fmt}, the bridge must use audio/pcmu",
                    once_key=f"format-{direction}",
                )
        await self._send({"type": "session.updated", "session": copy.deepcopy(self.state)})

    async def _on_input_audio_buffer_append(self, event: dict[str, Any]) -> None:
        try:
            audio = base64.b64decode(event["audio"], validate=True)
        except (binascii.Error, ValueError):
            raise _ProtocolError("invalid_value", "Invalid 'audio': not valid base64.", "audio") from None
        if self.state["audio"]["input"]["format"].get("type") != "audio/pcmu":
            self._violation("input_audio_buffer.append before audio.input.format was set to audio/pcmu", "fmt")
        self.appended_bytes += len(audio)
        self._buffer.extend(audio)
        await self._feed_vad(audio)

    async def _on_input_audio_buffer_commit(self, event: dict[str, Any]) -> None:
        audio, ms = bytes(self._buffer), len(self._buffer) / BYTES_PER_MS
        if ms < 100:
            raise _ProtocolError(
                "input_audio_buffer_commit_empty",
                "Error committing input audio buffer: buffer "
                f"too small. Expected at least 100ms of audio, but buffer only has {ms:.2f}ms of "
                "audio.",
                violation=False,
            )
        voiced = b"".join(
            audio[i : i + FRAME_BYTES]
            for i in range(0, len(audio), FRAME_BYTES)
            if self.server.frame_energy(audio[i : i + FRAME_BYTES]) > self.script.vad_energy_threshold
        )
        end_ms = int(self.appended_ms)
        self._reset_input()
        await self._commit_user_turn(_new_id("item"), voiced or audio, max(0, end_ms - int(ms)), end_ms)

    async def _on_input_audio_buffer_clear(self, event: dict[str, Any]) -> None:
        self._reset_input()
        await self._send({"type": "input_audio_buffer.cleared"})

    async def _on_output_audio_buffer_clear(self, event: dict[str, Any]) -> None:
        raise _ProtocolError(
            "invalid_value",
            "output_audio_buffer.clear is only supported for WebRTC/SIP "
            "connections; over WebSocket clear the playback buffer (Twilio `clear`).",
        )

    async def _on_conversation_item_create(self, event: dict[str, Any]) -> None:
        item = copy.deepcopy(event["item"])
        previous = event.get("previous_item_id")
        if previous not in (None, "root") and previous not in self.items:
            raise _ProtocolError("invalid_value", f"Previous item with id '{previous}' not found.", "previous_item_id")
        if item.get("id") in self.items:
            raise _ProtocolError("invalid_value", f"Item with id '{item['id']}' already exists.", "item.id")
        if item["type"] == "function_call_output":
            if item["call_id"] not in self.issued_calls:
                raise _ProtocolError(
                    "invalid_value",
                    f"No function call with call_id '{item['call_id']}' was issued in this conversation.",
                    "item.call_id",
                )
            self.function_outputs[item["call_id"]] = item["output"]
        elif item["type"] == "message" and item["role"] == "assistant":
            if any(part.get("type") == "output_audio" for part in item["content"]):
                raise _ProtocolError("invalid_value", "Assistant audio cannot be created by the client.", "item")
        for part in item.get("content") or []:
            part.pop("audio", None)  # item events never carry audio bytes
        item.setdefault("id", _new_id("item"))
        item.update(object="realtime.item", status="completed")
        await self._add_item(item, previous_item_id=previous if previous is not None else self._last_item_id)
        is_text = any(part.get("type") == "input_text" for part in item.get("content") or [])
        if item["type"] == "message" and item["role"] in ("user", "system") and is_text and self.script.text_turns:
            self.user_turns.append(UserTurn(item["id"], b"", 0, 0, self.script.text_turns.pop(0)))

    async def _on_conversation_item_truncate(self, event: dict[str, Any]) -> None:
        item_id, end_ms = event["item_id"], event["audio_end_ms"]
        record = {
            "item_id": item_id,
            "content_index": event["content_index"],
            "audio_end_ms": end_ms,
            "at_monotonic": time.monotonic(),
            "at_wall": time.time(),
            "item_audio_ms": self.item_audio_ms.get(item_id),
        }
        item = self.items.get(item_id)
        limit = min(self.item_audio_ms.get(item_id, 0), self._truncated_to.get(item_id, 1 << 62))
        if item is None:
            problem = f"Item with id '{item_id}' not found."
        elif item.get("type") != "message" or item.get("role") != "assistant":
            problem = "Only assistant message items can be truncated."
        elif event["content_index"] != 0:
            problem = f"Invalid content_index {event['content_index']}: the item has one content part."
        elif end_ms < 0 or end_ms > limit:
            problem = f"Audio content of {limit}ms is already shorter than {end_ms}ms"
        else:
            self._truncated_to[item_id] = end_ms
            self.truncations.append(record)
            await self._send(
                {"type": "conversation.item.truncated", "item_id": item_id, "content_index": 0, "audio_end_ms": end_ms}
            )
            return
        self.truncate_errors.append({**record, "error": problem})
        raise _ProtocolError("invalid_value", problem, "audio_end_ms", violation=False)

    async def _on_conversation_item_delete(self, event: dict[str, Any]) -> None:
        if self.items.pop(event["item_id"], None) is None:
            raise _ProtocolError("invalid_value", f"Item with id '{event['item_id']}' not found.", "item_id")
        await self._send({"type": "conversation.item.deleted", "item_id": event["item_id"]})

    async def _on_conversation_item_retrieve(self, event: dict[str, Any]) -> None:
        if event["item_id"] not in self.items:
            raise _ProtocolError("invalid_value", f"Item with id '{event['item_id']}' not found.", "item_id")
        await self._send({"type": "conversation.item.retrieved", "item": self.items[event["item_id"]]})

    async def _on_response_create(self, event: dict[str, Any]) -> None:
        overrides = event.get("response") or {}
        if overrides.get("conversation") == "none":
            await self._start_response("out_of_band", None, overrides)
            return
        if self._active is not None:
            raise _ProtocolError(
                "conversation_already_has_active_response",
                "Conversation already has an active "
                f"response in progress: {self._active.id}. Wait until the response is finished "
                "before creating a new one.",
                violation=False,
            )
        if self._tool_turn is not None and any(c in self.function_outputs for c in self._tool_turn.call_ids):
            turn, self._tool_turn = self._tool_turn, None
            missing = [c for c in turn.call_ids if c not in self.function_outputs]
            if missing:
                self._violation(f"response.create before function_call_output for call_ids {missing}")
            await self._start_response("tool_followup", turn, overrides)
            return
        unanswered = [t for t in self.user_turns if not t.answered]
        if unanswered:
            await self._start_response("reply", unanswered[-1], overrides)
        else:
            await self._start_response("greeting", None, overrides)

    async def _on_response_cancel(self, event: dict[str, Any]) -> None:
        wanted = event.get("response_id")
        target = self._active if self._active and wanted in (None, self._active.id) else None
        target = target or self._out_of_band.get(wanted or "")
        if target is None:
            raise _ProtocolError(
                "response_cancel_not_active", "Cancellation failed: no active response found.", violation=False
            )
        await self._cancel_response(target, "client_cancelled")

    # ----------------------------------------------------------------------------------- server VAD
    async def _feed_vad(self, audio: bytes) -> None:
        """Run VAD on complete 20 ms frames. The audio clock is the count of appended frames."""
        self._pending.extend(audio)
        while len(self._pending) >= FRAME_BYTES:
            frame = bytes(self._pending[:FRAME_BYTES])
            del self._pending[:FRAME_BYTES]
            start_ms = self._frames_ms
            self._frames_ms += FRAME_MS
            vad = self.turn_detection
            if vad is None:
                continue
            voiced = self.server.frame_energy(frame) > self.script.vad_energy_threshold
            if not self._in_speech:
                if voiced:
                    await self._speech_started(start_ms, frame, vad)
                continue
            self._speech.extend(frame)
            if voiced:
                self._speech_voiced_len, self._silence_ms = len(self._speech), 0
            else:
                self._silence_ms += FRAME_MS
                if self._silence_ms >= _silence_duration(vad):
                    await self._speech_stopped(vad)

    async def _speech_started(self, onset_ms: int, frame: bytes, vad: dict[str, Any]) -> None:
        self._in_speech, self._silence_ms = True, 0
        self._speech, self._speech_voiced_len = bytearray(frame), len(frame)
        self._speech_item_id = _new_id("item")
        self._speech_start_ms = max(0, onset_ms - int(vad.get("prefix_padding_ms", 300)))
        await self._send(
            {
                "type": "input_audio_buffer.speech_started",
                "audio_start_ms": self._speech_start_ms,
                "item_id": self._speech_item_id,
            }
        )
        if vad.get("interrupt_response", True) and self._active is not None:
            await self._cancel_response(self._active, "turn_detected")

    async def _speech_stopped(self, vad: dict[str, Any]) -> None:
        segment = bytes(self._speech[: self._speech_voiced_len])
        item_id, start_ms, end_ms = self._speech_item_id, self._speech_start_ms, self._frames_ms
        self._reset_input()
        await self._send({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": end_ms, "item_id": item_id})
        turn = await self._commit_user_turn(item_id, segment, start_ms, end_ms)
        if vad.get("create_response", True) and self._active is None:
            await self._start_response("reply", turn, {})

    def _reset_input(self) -> None:
        """Forget uncommitted audio and any speech in progress (keeps the audio clock)."""
        self._buffer.clear()
        self._in_speech, self._speech, self._speech_voiced_len, self._silence_ms = False, bytearray(), 0, 0

    async def _commit_user_turn(self, item_id: str, audio: bytes, start_ms: int, end_ms: int) -> UserTurn:
        previous = self._last_item_id
        await self._send({"type": "input_audio_buffer.committed", "item_id": item_id, "previous_item_id": previous})
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        await self._add_item(item, previous_item_id=previous)
        turn = UserTurn(item_id, audio, start_ms, end_ms, self.script.turns.pop(0) if self.script.turns else Turn())
        self.user_turns.append(turn)
        if self.state["audio"]["input"].get("transcription"):
            self._spawn(self._transcribe(turn))
        return turn

    async def _transcribe(self, turn: UserTurn) -> None:
        """ASR runs beside the model: its events float relative to the response events."""
        await asyncio.sleep(self.script.transcription_delay_s)
        ids = {"item_id": turn.item_id, "content_index": 0}
        text = turn.script.transcript
        await self._send({"type": "conversation.item.input_audio_transcription.delta", **ids, "delta": text})
        item = self.items.get(turn.item_id)
        if item is not None:
            item["content"][0]["transcript"] = text
        await self._send(
            {
                "type": "conversation.item.input_audio_transcription.completed",
                **ids,
                "transcript": text,
                "usage": {"type": "duration", "seconds": len(turn.audio) / 8000},
            }
        )

    # ------------------------------------------------------------------------------------ responses
    async def _start_response(self, kind: ResponseKind, turn: UserTurn | None, overrides: dict[str, Any]) -> _Response:
        """Register the response and send ``response.created`` before the triggering event's handler returns
        (the real server orders it before anything caused by later client events), then stream in a task."""
        modalities = overrides.get("output_modalities") or self.state["output_modalities"]
        out_format = ((overrides.get("audio") or {}).get("output") or {}).get("format")
        if out_format and out_format.get("type") != "audio/pcmu":
            self._violation(f"response.create: audio.output.format {out_format}, the bridge must use audio/pcmu")
        if turn is not None:
            turn.answered = True
            ms = turn.script.reply_ms or self.script.reply_ms
            audio, transcript = _fit(turn.audio, ms) or self.server.tone(ms, self.tone_hz), turn.script.reply_transcript
        else:
            ms = self.script.greeting_ms
            transcript = self.script.greeting_transcript
            if kind == "out_of_band" and self.script.out_of_band_text is not None:
                transcript = self.script.out_of_band_text
            audio = self.server.tone(ms, self.tone_hz)
        response_id = _new_id("resp")
        record = {
            "response_id": response_id,
            "item_id": None,
            "audio_ms": 0,
            "status": "in_progress",
            "kind": kind,
            "transcript": transcript,
            "user_item_id": turn.item_id if turn else None,
            "instructions": overrides.get("instructions", self.state["instructions"]),
            "metadata": overrides.get("metadata"),
            "tool_calls": [],
            "created_at": time.monotonic(),
        }
        resp = _Response(
            response_id, record, kind != "out_of_band", audio, transcript, modalities == ["text"], turn, overrides
        )
        (self.responses if kind != "out_of_band" else self.out_of_band_responses).append(record)
        if resp.in_conversation:
            self._active = resp
        else:
            self._out_of_band[response_id] = resp
        try:
            await self._send({"type": "response.created", "response": self._response_object(resp, "in_progress", [])})
            await self._send({"type": "rate_limits.updated", "rate_limits": _RATE_LIMITS})
        except BaseException:
            self._release(resp)
            resp.finished.set()
            raise
        self._spawn(self._run_response(resp))
        return resp

    async def _cancel_response(self, resp: _Response, reason: str) -> None:
        """Ask the streaming task to stop and wait until it has sent the cancelled ``*.done`` tail."""
        if resp.cancel_reason is None:
            resp.cancel_reason = reason
            resp.cancel_event.set()
        await resp.finished.wait()

    async def _run_response(self, resp: _Response) -> None:
        try:
            output: list[dict[str, Any]] = []
            if not await resp.pause(self.script.response_latency_s):
                wants_tools = resp.record["kind"] == "reply" and resp.turn and resp.turn.script.tool_calls
                if wants_tools and resp.turn and resp.turn.script.speaks_before_tools:
                    output = await self._stream_message(resp)
                    output += await self._stream_function_calls(resp, first_index=len(output))
                else:
                    output = await (self._stream_function_calls(resp) if wants_tools else self._stream_message(resp))
            status = "cancelled" if resp.cancel_reason else "completed"
            resp.record["status"] = status
            if status == "cancelled":
                self.cancelled_responses.append(
                    {
                        "response_id": resp.id,
                        "item_id": resp.record["item_id"],
                        "reason": resp.cancel_reason,
                        "audio_ms": resp.record["audio_ms"],
                    }
                )
            self._release(resp)  # before response.done: the client may answer it with response.create at once
            await self._send({"type": "response.done", "response": self._response_object(resp, status, output)})
        finally:
            self._release(resp)
            resp.finished.set()

    def _release(self, resp: _Response) -> None:
        if self._active is resp:
            self._active = None
        self._out_of_band.pop(resp.id, None)

    async def _stream_message(self, resp: _Response) -> list[dict[str, Any]]:
        """One assistant message: audio deltas (faster than real time) with interleaved transcript."""
        item_id = _new_id("item")
        resp.record["item_id"] = item_id
        self.item_audio_ms[item_id] = 0
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        await self._open_item(resp, item, 0)
        ids = {"response_id": resp.id, "item_id": item_id, "output_index": 0, "content_index": 0}
        kind = "text" if resp.text_only else "audio"
        await self._send({"type": "response.content_part.added", **ids, "part": {"type": kind, _part_key(kind): ""}})
        chunk = self.script.chunk_ms * BYTES_PER_MS
        chunks = [b""] if resp.text_only else [resp.audio[i : i + chunk] for i in range(0, len(resp.audio), chunk)]
        said, n, text = "", len(chunks), resp.transcript
        for i, audio in enumerate(chunks):
            if await resp.pause(self.script.chunk_ms / self.script.audio_speedup / 1000 if i else 0):
                break
            if audio:
                await self._send(
                    {"type": "response.output_audio.delta", **ids, "delta": base64.b64encode(audio).decode()}
                )
                self.item_audio_ms[item_id] += len(audio) // BYTES_PER_MS
                resp.record["audio_ms"] += len(audio) // BYTES_PER_MS
            piece = text[len(text) * i // n : len(text) * (i + 1) // n]
            if piece:
                delta_type = (
                    "response.output_text.delta" if resp.text_only else "response.output_audio_transcript.delta"
                )
                await self._send({"type": delta_type, **ids, "delta": piece})
                said += piece
        if resp.text_only:
            await self._send({"type": "response.output_text.done", **ids, "text": said})
        else:
            await self._send({"type": "response.output_audio.done", **ids})
            await self._send({"type": "response.output_audio_transcript.done", **ids, "transcript": said})
        await self._send({"type": "response.content_part.done", **ids, "part": {"type": kind, _part_key(kind): said}})
        content = (
            {"type": "output_text", "text": said} if resp.text_only else {"type": "output_audio", "transcript": said}
        )
        item = {**item, "status": "incomplete" if resp.cancel_reason else "completed", "content": [content]}
        await self._close_item(resp, item, 0)
        return [item]

    async def _stream_function_calls(self, resp: _Response, first_index: int = 0) -> list[dict[str, Any]]:
        """The scripted tool calls as function_call items, at output indexes from `first_index`."""
        assert resp.turn is not None
        self._tool_turn = resp.turn
        declared = {t.get("name") for t in self.state.get("tools") or [] if t.get("type") == "function"}
        output: list[dict[str, Any]] = []
        for index, (name, arguments) in enumerate(resp.turn.script.tool_calls, start=first_index):
            if await resp.pause(0):
                break
            if name not in declared:
                self._violation(f"scripted tool '{name}' is not declared in session.tools {sorted(declared)}")
            item_id, call_id = _new_id("item"), _new_id("call")
            self.issued_calls[call_id] = name
            resp.turn.call_ids.append(call_id)
            resp.record["tool_calls"].append({"call_id": call_id, "name": name, "arguments": arguments})
            item = {
                "id": item_id,
                "object": "realtime.item",
                "type": "function_call",
                "status": "in_progress",
                "name": name,
                "call_id": call_id,
                "arguments": "",
            }
            await self._open_item(resp, item, index)
            ids = {"response_id": resp.id, "item_id": item_id, "output_index": index, "call_id": call_id}
            half = len(arguments) // 2
            for piece in (arguments[:half], arguments[half:]):
                if piece:
                    await self._send({"type": "response.function_call_arguments.delta", **ids, "delta": piece})
            await self._send(
                {"type": "response.function_call_arguments.done", **ids, "name": name, "arguments": arguments}
            )
            item = {**item, "status": "completed", "arguments": arguments}
            await self._close_item(resp, item, index)
            output.append(item)
        return output

    async def _open_item(self, resp: _Response, item: dict[str, Any], index: int) -> None:
        await self._send(
            {"type": "response.output_item.added", "response_id": resp.id, "output_index": index, "item": item}
        )
        if resp.in_conversation:
            previous = self._last_item_id
            self.items[item["id"]] = item
            await self._send({"type": "conversation.item.added", "previous_item_id": previous, "item": item})

    async def _close_item(self, resp: _Response, item: dict[str, Any], index: int) -> None:
        await self._send(
            {"type": "response.output_item.done", "response_id": resp.id, "output_index": index, "item": item}
        )
        if resp.in_conversation:
            self.items[item["id"]] = item
            await self._send(
                {"type": "conversation.item.done", "previous_item_id": self._previous_of(item["id"]), "item": item}
            )

    def _response_object(self, resp: _Response, status: str, output: list[dict[str, Any]]) -> dict[str, Any]:
        details = {"type": "cancelled", "reason": resp.cancel_reason} if status == "cancelled" else None
        out_audio = self.state["audio"]["output"]
        audio_ms, text_tokens = resp.record["audio_ms"], len(resp.transcript) // 4 + 1
        input_text = 100 + len(self.state.get("instructions") or "") // 4
        input_audio = int(self.appended_ms) // 100
        usage = {
            "total_tokens": input_text + input_audio + text_tokens + audio_ms // 50,
            "input_tokens": input_text + input_audio,
            "output_tokens": text_tokens + audio_ms // 50,
            "input_token_details": {
                "text_tokens": input_text,
                "audio_tokens": input_audio,
                "image_tokens": 0,
                "cached_tokens": input_text // 2,
            },
            "output_token_details": {"text_tokens": text_tokens, "audio_tokens": audio_ms // 50},
        }
        return {
            "id": resp.id,
            "object": "realtime.response",
            "status": status,
            "status_details": details,
            "output": output,
            "conversation_id": self.conversation_id if resp.in_conversation else None,
            "output_modalities": ["text"] if resp.text_only else ["audio"],
            "max_output_tokens": resp.overrides.get("max_output_tokens", self.state["max_output_tokens"]),
            "audio": {"output": {"format": out_audio["format"], "voice": out_audio["voice"]}},
            "metadata": resp.overrides.get("metadata"),
            "usage": usage if status != "in_progress" else None,
        }

    # -------------------------------------------------------------------------------------- items
    @property
    def _last_item_id(self) -> str | None:
        return next(reversed(self.items), None)

    def _previous_of(self, item_id: str) -> str | None:
        keys = list(self.items)
        position = keys.index(item_id)
        return keys[position - 1] if position > 0 else None

    async def _add_item(self, item: dict[str, Any], previous_item_id: str | None) -> None:
        self.items[item["id"]] = item
        for event_type in ("conversation.item.added", "conversation.item.done"):
            await self._send({"type": event_type, "previous_item_id": previous_item_id, "item": item})

    def _default_state(self) -> dict[str, Any]:
        """What the real server reports in session.created: PCM16 24 kHz until the client changes it."""
        pcm24 = {"type": "audio/pcm", "rate": 24000}
        return {
            "type": "realtime",
            "object": "realtime.session",
            "id": self.id,
            "model": self.model,
            "expires_at": int(time.time()) + 3600,
            "output_modalities": ["audio"],
            "instructions": "You are a helpful, witty, and friendly AI.",
            "tools": [],
            "tool_choice": "auto",
            "max_output_tokens": "inf",
            "tracing": None,
            "truncation": "auto",
            "prompt": None,
            "include": None,
            "audio": {
                "input": {
                    "format": dict(pcm24),
                    "transcription": None,
                    "noise_reduction": None,
                    "turn_detection": {"type": "server_vad", **_VAD_DEFAULTS["server_vad"]},
                },
                "output": {"format": dict(pcm24), "voice": "marin", "speed": 1.0},
            },
        }


def _part_key(part_type: str) -> str:
    """Content parts carry ``transcript`` for audio and ``text`` for text."""
    return "text" if part_type == "text" else "transcript"


def _normalize_audio(key: str, value: Any) -> Any:
    """Fill server defaults the way the real API reports them in session.updated."""
    if key == "turn_detection" and value is not None:
        return {"type": value["type"], **_VAD_DEFAULTS[value["type"]], **value}
    if key == "noise_reduction" and value is not None:
        return {"strength": 1.0, **value}
    if key == "format" and value.get("type") == "audio/pcm":
        return {"rate": 24000, **value}
    return value


def _silence_duration(vad: dict[str, Any]) -> int:
    if vad["type"] == "semantic_vad":
        return _SEMANTIC_SILENCE_MS[vad.get("eagerness") or "auto"]
    return int(vad.get("silence_duration_ms") or 500)


def _fit(audio: bytes, ms: int) -> bytes:
    """Repeat/trim ``audio`` to exactly ``ms`` of μ-law (empty in -> empty out)."""
    size = ms * BYTES_PER_MS
    return (audio * (size // len(audio) + 1))[:size] if audio else b""


def _check_outgoing(event_type: str, text: str) -> None:
    """Debug mode: the fake's own events must parse as SDK server events, with no undeclared keys."""
    try:
        if event_type in _SERVER_MODELS:
            model = _SERVER_MODELS[event_type].model_validate_json(text, strict=True)
        else:
            model = _SERVER_ADAPTER.validate_json(text, strict=True)  # fails, with the union's message
    except pydantic.ValidationError as exc:
        raise FakeServerBug(f"fake sent an invalid server event {text[:300]}: {exc}") from None
    extras = [p for p in find_extras(model) if p not in _ALLOWED_OUTGOING_EXTRAS]
    if extras:
        raise FakeServerBug(f"fake sent undeclared fields {extras} in {text[:300]}")


class FakeRealtimeServer:
    """WebSocket server on 127.0.0.1 speaking the GA Realtime protocol; one FakeSession per connection.

    Hooks (keyword arguments, also assignable as attributes of the same name before connections arrive);
    the defaults are what tests want, load benchmarks tune them:

    - ``on_session(session)``: called (awaited if async) for each new session before ``session.created``;
      may edit ``session.script``.
    - ``on_client_event(session, event, received_at)``: called synchronously for every client event
      that parsed as JSON (valid or not, before it is validated or handled), with the ``loop.time()``
      at which the session picked that WebSocket message up, before parsing it. Must be quick; it runs
      on the fake's read path. An exception in it is reported as an internal error of the fake.
    - ``on_server_event(session, event, sent_at)``: called synchronously for every server event right
      after the fake wrote it to the socket, with the event as logged in ``session.sent`` (do not mutate
      it) and the ``loop.time()`` then. Must be quick; an exception in it is an internal error of the fake.
    - ``validate_incoming``: ``True`` (default) validates every client event strictly against the
      SDK's types; ``False`` skips that schema check; a callable ``(session, event) -> bool`` decides
      per event. It is only asked about JSON objects with a known ``type`` — anything else is always
      rejected. A skipped event goes to its handler unchecked, so skip only events the client is
      known to build correctly (a malformed one may crash its handler: an internal error).
    - ``validate_outgoing``: check the fake's own events against the SDK's server-event models.
    - ``frame_energy(frame) -> float``: the VAD's energy of one 20 ms μ-law frame (default
      ``mulaw.frame_energy``); ``tone(ms, hz) -> bytes``: synthesiser of non-echo audio such as
      greetings (default ``mulaw.tone``). Speed knobs, not behaviour knobs: a replacement must return
      what the default returns (e.g. a memoised or table-driven version).
    """

    def __init__(
        self,
        script: Script | None = None,
        *,
        on_session: Callable[[FakeSession], Any] | None = None,
        on_client_event: Callable[[FakeSession, Any, float], Any] | None = None,
        on_server_event: Callable[[FakeSession, dict[str, Any], float], Any] | None = None,
        validate_incoming: bool | Callable[[FakeSession, dict[str, Any]], bool] = True,
        validate_outgoing: bool = True,
        frame_energy: Callable[[bytes], float] = frame_energy,
        tone: Callable[[int, float], bytes] = tone,
        raise_on_internal_errors: bool = True,
        host: str = "127.0.0.1",
        **script_overrides: Any,
    ):
        self.script = dataclasses.replace(script or Script(), **script_overrides)
        self.on_session = on_session
        self.on_client_event = on_client_event
        self.on_server_event = on_server_event
        self.validate_incoming = validate_incoming
        self.validate_outgoing = validate_outgoing
        self.frame_energy = frame_energy
        self.tone = tone
        self.raise_on_internal_errors = raise_on_internal_errors
        self.host = host
        self.sessions: list[FakeSession] = []
        self.violations: list[str] = []  # aggregate of every session's violations + handshake problems
        self.internal_errors: list[str] = []  # bugs in the fake itself (stop() raises on them)
        self.rejected_handshakes: list[dict[str, Any]] = []
        self.fail_connect = False  # refuse handshakes with HTTP 500
        self.connect_delay_s = 0.0  # delay before answering each handshake
        # The server's session cap (the real one is 60 minutes): at this age a session gets the
        # `session_expired` error and its socket is closed with 1001, as the API does.
        self.session_max_s: float | None = None
        self._server: Server | None = None
        self._event_ids = itertools.count(1)

    @property
    def url(self) -> str:
        """Pass as ``websocket_base_url``; the SDK appends ``/realtime?model=...``."""
        if self._server is None:
            raise RuntimeError("server not started")
        port = self._server.sockets[0].getsockname()[1]
        return f"ws://{self.host}:{port}/v1"

    async def start(self) -> FakeRealtimeServer:
        self._server = await serve(
            self._handle, self.host, 0, process_request=self._process_request, max_size=16 * 2**20
        )
        return self

    async def stop(self) -> None:
        """Close every connection and await all session tasks; raise if the fake itself misbehaved."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for session in self.sessions:
            await session._shutdown()
        if self.raise_on_internal_errors and self.internal_errors:
            raise FakeServerBug("fake realtime server internal errors:\n" + "\n".join(self.internal_errors))

    async def __aenter__(self) -> FakeRealtimeServer:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def wait_for_sessions(self, count: int = 1, timeout: float = 5.0) -> list[FakeSession]:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.sessions) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"expected {count} realtime sessions, got {len(self.sessions)}")
            await asyncio.sleep(0.005)
        return self.sessions[:count]

    def assert_clean(self) -> None:
        """Fail if any session saw a protocol violation, a truncate error, or the fake crashed."""
        problems = list(self.violations) + list(self.internal_errors)
        problems += [f"[session {s.index}] truncate error: {e}" for s in self.sessions for e in s.truncate_errors]
        assert not problems, "fake realtime server problems:\n" + "\n".join(problems)

    def _internal_error(self, session: FakeSession | None, exc: BaseException) -> None:
        where = f"session {session.index}" if session else "server"
        self.internal_errors.append(f"[{where}] {exc!r}")
        log.error("fake realtime %s crashed", where, exc_info=exc)

    async def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """Handshake checks the real endpoint would make (auth, GA headers, path, model)."""
        if self.connect_delay_s:
            await asyncio.sleep(self.connect_delay_s)
        url = urlsplit(request.path)
        query = parse_qs(url.query)
        rejection: tuple[HTTPStatus, str] | None = None
        if self.fail_connect:
            rejection = HTTPStatus.INTERNAL_SERVER_ERROR, "fake: injected handshake failure"
        elif not (request.headers.get("Authorization") or "").startswith("Bearer "):
            rejection = HTTPStatus.UNAUTHORIZED, "missing 'Authorization: Bearer <key>' header"
        elif "OpenAI-Beta" in request.headers:
            rejection = HTTPStatus.BAD_REQUEST, f"GA endpoint: remove 'OpenAI-Beta: {request.headers['OpenAI-Beta']}'"
        elif url.path.rstrip("/") != "/v1/realtime":
            rejection = HTTPStatus.NOT_FOUND, f"unknown path {url.path!r}"
        elif not query.get("model"):
            rejection = HTTPStatus.BAD_REQUEST, "missing 'model' query parameter (call_id/SIP is not faked)"
        if rejection is None:
            return None
        status, reason = rejection
        self.rejected_handshakes.append({"status": int(status), "reason": reason, "path": request.path})
        if not self.fail_connect:
            self.violations.append(f"[handshake] HTTP {int(status)}: {reason}")
        return connection.respond(status, reason + "\n")

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        model = parse_qs(urlsplit(ws.request.path).query)["model"][0]
        session = FakeSession(self, ws, len(self.sessions), model, copy.deepcopy(self.script))
        self.sessions.append(session)
        try:
            if self.on_session is not None:
                result = self.on_session(session)
                if inspect.isawaitable(result):
                    await result
            await session._run()
        except ConnectionClosed:
            pass
        except Exception as exc:
            self._internal_error(session, exc)
        finally:
            await session._shutdown()
