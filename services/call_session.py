"""One live call: the Twilio media stream ⇄ OpenAI Realtime relay and everything the call owns.

Tasks per call:
- `_pump_twilio`: Twilio frames → `input_audio_buffer.append` (payload forwarded as-is), marks, stop.
- `_pump_realtime`: Realtime events → Twilio `media` + `mark`; barge-in; transcripts; tool dispatch.
- tool tasks: one per function call, with a timeout; the relay never awaits them.
- the record writer: flushes the call record in the background; the relay never awaits Mongo.

Each socket has one send lock, so frames never interleave. Every way a call can end goes through
`close(reason)`, which is idempotent.

Audio path rule: `response.output_audio.delta` and Twilio `media` are parsed with orjson and forwarded
without decoding the base64; typed SDK models are used only for the (rare) other events.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import orjson
import structlog
from fastapi import WebSocket
from openai.resources.realtime.realtime import AsyncRealtimeConnection
from starlette.websockets import WebSocketDisconnect, WebSocketState
from websockets.exceptions import ConnectionClosed

from config.agent_config import AgentConfig
from config.settings import Settings
from models.call_record import CallRecord, ToolCallRecord, TurnLatency, utc_now
from models.twilio_stream import StartPayload, twilio_message_adapter
from services import metrics
from services.call_records import CallRecordWriter
from services.openai_service import RealtimeConnector, greeting_instructions, start_conversation
from services.playback import PlaybackLedger, mulaw_b64_duration_ms
from services.realtime_preopen import PreopenedRealtime
from services.transcript import Transcript
from services.twilio_service import clear_frame, mark_frame, media_frame
from services.usage import add_usage
from utils.logger import get_logger

log = get_logger(__name__)

# Errors the Realtime API sends for races that are harmless on a phone bridge.
CANCEL_GRACE_S = 3.0
RECOVERABLE_ERROR_CODES = {"response_cancel_not_active", "conversation_already_has_active_response"}


@dataclass
class CallDependencies:
    """Process-wide clients a call uses; built once in the app's lifespan."""

    settings: Settings
    agent: AgentConfig
    realtime: RealtimeConnector
    new_record_writer: Callable[[CallRecord], CallRecordWriter]
    tools: Any  # services.tools.ToolRegistry (or None until the service layer is wired)
    new_tool_context: Callable[[CallSession], Any] | None
    on_action: Callable[[CallSession, str, Any], Awaitable[None]] | None = None
    # Side effects of a finished tool call that must not delay the conversation (e.g. an SMS).
    after_tool: Callable[[CallSession, Any], Awaitable[None]] | None = None
    preopened: PreopenedRealtime | None = None
    apologise: Callable[[CallSession], Awaitable[bool]] | None = None


@dataclass
class _ToolBatch:
    """Function calls of one response: the follow-up `response.create` waits for all of them."""

    pending: set[str] = field(default_factory=set)
    response_done: bool = False
    ends_call: bool = False  # an end_call among them: hang up after this response, no follow-up
    # End of the caller's speech, when the tool-calling response said nothing yet: the turn's latency
    # is then measured to the follow-up's first audio (tool time included, as the caller hears it).
    speech_stopped_at: float | None = None


@dataclass
class _ResponseTiming:
    speech_stopped_at: float | None
    first_delta_at: float | None = None
    first_sent_at: float | None = None


class CallSession:
    def __init__(self, deps: CallDependencies, twilio_ws: WebSocket, start: StartPayload) -> None:
        self.deps = deps
        self.settings = deps.settings
        self.ws = twilio_ws
        self.stream_sid = start.stream_sid
        self.call_sid = start.call_sid
        params = start.custom_parameters
        self.caller = params.get("caller") or None
        self.record = CallRecord(
            call_sid=self.call_sid,
            stream_sid=self.stream_sid,
            from_number=self.caller,
            to_number=params.get("called") or None,
            direction="outbound" if params.get("direction") == "outbound" else "inbound",
            purpose=params.get("purpose") or None,
        )
        self.recorder = deps.new_record_writer(self.record)
        self.ledger = PlaybackLedger()
        self.rt: AsyncRealtimeConnection | None = None
        self.log = log.bind(call_sid=self.call_sid)

        self._started_at = time.monotonic()
        self._twilio_lock = asyncio.Lock()
        self._rt_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._tool_tasks: set[asyncio.Task[None]] = set()
        self._tool_batches: dict[str, _ToolBatch] = {}
        self._tool_context: Any = None

        self._active_response_id: str | None = None
        self._cancelled_responses: set[str] = set()
        self._timings: dict[str, _ResponseTiming] = {}
        self._last_speech_stopped_at: float | None = None
        self._greeting_measured = False
        self.transcript = Transcript(self.record.transcript)

        # A pending action (transfer / end_call) runs once its spoken line has fully played.
        self.pending_action: tuple[str, Any] | None = None
        self._action_after_response: bool = False
        self._action_ready = False
        self._action_response_id: str | None = None
        self.end_reason_after_action = "assistant_ended"
        self._action_started = False
        self.transfer_in_progress = False

        self._speech_active = False
        self._last_activity = time.monotonic()
        self._silence_prompts = 0

        self._end = asyncio.Event()
        self._end_reason = "unknown"
        self._closed = asyncio.Event()
        self._closing_started = False
        self._apology_reason: str | None = None

    # ----------------------------------------------------------------- lifecycle
    async def run(self) -> None:
        """Own the call until it ends; always finishes through `close()`."""
        # Every log line written by this call's tasks (tools, REST, records) carries its call sid:
        # tasks created below inherit this context.
        structlog.contextvars.bind_contextvars(call_sid=self.call_sid)
        metrics.ACTIVE_CALLS.inc()
        self.recorder.start()
        self.log.info("call_started", caller=self.caller, direction=self.record.direction)
        try:
            try:
                self.rt = await self._open_realtime()
            except Exception as error:  # connection refused, timeout, auth failure...
                self.log.error("realtime_connect_failed", error=repr(error))
                await self._fail_with_apology("realtime_connect_failed")
                return
            if self.deps.new_tool_context is not None:
                self._tool_context = self.deps.new_tool_context(self)
            self._tasks = [
                asyncio.create_task(self._pump_twilio(), name=f"twilio-{self.call_sid}"),
                asyncio.create_task(self._pump_realtime(), name=f"realtime-{self.call_sid}"),
                asyncio.create_task(self._enforce_max_duration(), name=f"limit-{self.call_sid}"),
                asyncio.create_task(self._watch_silence(), name=f"silence-{self.call_sid}"),
            ]
            await self._end.wait()
        finally:
            await self.close(self._end_reason)

    def end(self, reason: str) -> None:
        """Ask the call to end (from any task); the first reason wins."""
        if not self._end.is_set():
            self._end_reason = reason
            self._end.set()

    async def close(self, reason: str) -> None:
        """The one way a call ends. Idempotent; a second caller waits for the first to finish."""
        if self._closing_started:
            await self._closed.wait()
            return
        self._closing_started = True
        self._end_reason = self._end_reason if self._end.is_set() else reason
        self._end.set()
        try:
            await self._stop_tasks()
            if self.rt is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self.rt.close(), timeout=2)
            if self.ws.client_state == WebSocketState.CONNECTED:
                # Closing the stream with nothing after <Connect> in the TwiML ends the call (or, after a
                # REST redirect, is simply the end of our leg).
                with contextlib.suppress(Exception):
                    await self.ws.close(code=1000)
            self._finalize_record()
            await self.recorder.close()
        finally:
            metrics.ACTIVE_CALLS.dec()
            outcome = self.record.status if self.record.status != "in_progress" else "completed"
            metrics.CALLS_TOTAL.labels(outcome=outcome).inc()
            self._closed.set()
            self.log.info("call_ended", reason=self._end_reason, duration_s=self.record.duration_s)

    async def _stop_tasks(self) -> None:
        current = asyncio.current_task()
        to_cancel = [t for t in [*self._tasks, *self._tool_tasks] if t is not current]
        for task in to_cancel:
            task.cancel()
        if to_cancel:
            # Bounded: a library that swallows a cancellation must not keep the call open forever.
            _, stuck = await asyncio.wait(to_cancel, timeout=CANCEL_GRACE_S)
            for task in stuck:
                self.log.error("task_did_not_stop", task=task.get_name())

    def _finalize_record(self) -> None:
        record = self.record
        record.ended_at = utc_now()
        record.duration_s = round(time.monotonic() - self._started_at, 3)
        record.end_reason = self._end_reason
        if record.status == "in_progress":
            record.status = "failed" if self._end_reason.startswith("realtime") else "completed"
        self.recorder.touch()

    async def _enforce_max_duration(self) -> None:
        await asyncio.sleep(self.settings.max_call_duration_s)
        self.log.warning("max_call_duration_reached")
        self.end("max_duration")

    def _conversation_is_idle(self) -> bool:
        return not (
            self._speech_active
            or self._active_response_id
            or self.ledger.has_unplayed_audio
            or self._tool_tasks
            or self._tool_batches
            or self._action_started
        )

    async def _watch_silence(self) -> None:
        """Caller silent after the assistant finished: prompt, then a polite goodbye and hang-up.

        Our own watchdog rather than server VAD's idle timeout, so the goodbye can be armed to end the
        call once it has played.
        """
        agent = self.deps.agent
        while True:
            await asyncio.sleep(0.25)
            if not self._conversation_is_idle():
                self._last_activity = time.monotonic()
                continue
            if time.monotonic() - self._last_activity < agent.silence_prompt_after_s:
                continue
            self._last_activity = time.monotonic()
            if self._silence_prompts < agent.silence_prompts_before_hangup:
                self._silence_prompts += 1
                self.log.info("caller_silent_prompt")
                await self.tell_model(agent.silence_prompt_instruction)
            else:
                self.log.info("caller_silent_goodbye")
                self.pending_action = ("end_call", None)
                self._action_after_response = True
                self.end_reason_after_action = "caller_silent"
                await self.tell_model(agent.silence_goodbye_instruction)
                return

    async def _fail_with_apology(self, reason: str) -> None:
        """Never dead air: the caller hears a short apology, then the call ends. Runs once."""
        if self._apology_reason is not None or self._end.is_set():
            return
        self._apology_reason = reason
        metrics.REALTIME_ERRORS.labels(code=reason).inc()
        self.record.status = "failed"
        self.record.realtime_errors.append(reason)
        self.recorder.touch()
        if self.deps.apologise is not None:
            with contextlib.suppress(Exception):
                await self.deps.apologise(self)
        self.end(reason)

    def conversation_summary(self, max_lines: int = 12) -> str:
        """The last lines of the conversation, for a transfer summary."""
        return self.transcript.summary(max_lines)

    # ----------------------------------------------------------------- realtime setup
    async def _open_realtime(self) -> AsyncRealtimeConnection:
        """Take the session pre-opened at webhook time if there is one, else open and configure it now."""
        if self.deps.preopened is not None:
            rt = await self.deps.preopened.claim(self.call_sid)
            if rt is not None:
                self.record.realtime_preopened = True
                return rt
        rt = await self.deps.realtime.open()
        tools = self.deps.tools.session_tools() if self.deps.tools is not None else []
        greeting = greeting_instructions(self.deps.agent, self.record.direction, self.record.purpose)
        await start_conversation(rt, self.settings, self.deps.agent, tools, greeting)
        return rt

    # ----------------------------------------------------------------- sending
    async def send_to_twilio(self, text: str) -> None:
        async with self._twilio_lock:
            await self.ws.send_text(text)

    async def send_to_realtime_raw(self, data: str) -> None:
        """Hot path send: pre-serialised JSON (a text frame: the API rejects binary) via the raw send."""
        assert self.rt is not None
        async with self._rt_lock:
            await self.rt.send_raw(data)

    async def send_to_realtime(self, event: dict[str, Any]) -> None:
        """Typed send through the SDK (validated and transformed); only for rare control events."""
        assert self.rt is not None
        async with self._rt_lock:
            await self.rt.send(event)  # type: ignore[arg-type]

    async def tell_model(self, instruction: str) -> None:
        """Give the model a system note and let it speak about it (e.g. a failed transfer)."""
        await self.send_to_realtime(
            {
                "type": "conversation.item.create",
                "item": {"type": "message", "role": "system", "content": [{"type": "input_text", "text": instruction}]},
            }
        )
        await self.send_to_realtime({"type": "response.create"})

    # ----------------------------------------------------------------- Twilio → OpenAI
    async def _pump_twilio(self) -> None:
        reason = "twilio_closed"
        try:
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    # uvicorn closes live websockets with 1012 when the server shuts down.
                    if message.get("code") == 1012:
                        reason = "server_shutdown"
                    break
                text = message.get("text")
                if text is None:
                    metrics.DROPPED_MESSAGES.labels(reason="binary").inc()
                    continue
                if len(text) > self.settings.max_stream_message_bytes:
                    metrics.DROPPED_MESSAGES.labels(reason="oversized").inc()
                    self.log.warning("stream_message_oversized", size=len(text))
                    continue
                if await self._handle_twilio_text(text):
                    reason = self._reason_for_stop()
                    break
        except (WebSocketDisconnect, RuntimeError):
            pass
        except ConnectionClosed:
            # Sending to OpenAI failed: the Realtime side is gone. The caller must not get dead air.
            await self._fail_with_apology("realtime_disconnected")
            return
        self.end(reason)

    def _reason_for_stop(self) -> str:
        """Twilio also sends `stop` when we redirected the call ourselves: that is not a hang-up."""
        if self.transfer_in_progress:
            return "transferred"
        return self._apology_reason or "caller_hung_up"

    async def _handle_twilio_text(self, text: str) -> bool:
        """Returns True when the stream has stopped."""
        try:
            message = orjson.loads(text)
            event = message["event"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            metrics.DROPPED_MESSAGES.labels(reason="malformed").inc()
            self.log.warning("stream_message_malformed")
            return False
        if event == "media":
            media = message.get("media")
            payload = media.get("payload") if isinstance(media, dict) else None
            if not isinstance(payload, str) or media.get("track", "inbound") != "inbound":
                metrics.DROPPED_MESSAGES.labels(reason="malformed").inc()
                return False
            await self.send_to_realtime_raw(
                orjson.dumps({"type": "input_audio_buffer.append", "audio": payload}).decode()
            )
            return False
        try:
            parsed = twilio_message_adapter.validate_python(message)
        except ValueError:
            metrics.DROPPED_MESSAGES.labels(reason="invalid").inc()
            self.log.warning("stream_message_invalid", twilio_event=str(event)[:32])
            return False
        if parsed.event == "mark":
            await self._on_mark_echo(parsed.mark.name)
        elif parsed.event == "stop":
            return True
        elif parsed.event == "dtmf":
            self.log.info("dtmf_received", digit=parsed.dtmf.digit)
        return False

    async def _on_mark_echo(self, name: str) -> None:
        mark = self.ledger.on_mark_echo(name, time.monotonic())
        if mark is not None:
            await self._maybe_run_pending_action()

    # ----------------------------------------------------------------- OpenAI → Twilio
    async def _pump_realtime(self) -> None:
        assert self.rt is not None
        try:
            while True:
                raw = await self.rt.recv_bytes()
                event = orjson.loads(raw)
                event_type = event.get("type")
                if event_type == "response.output_audio.delta":
                    await self._on_audio_delta(event)
                else:
                    await self._on_control_event(event_type, raw)
        except ConnectionClosed as closed:
            if self._end.is_set():
                return
            self.log.error("realtime_disconnected", code=getattr(closed.rcvd, "code", None))
            await self._fail_with_apology("realtime_disconnected")
        except orjson.JSONDecodeError:
            await self._fail_with_apology("realtime_protocol_error")

    async def _on_audio_delta(self, event: dict[str, Any]) -> None:
        response_id = event.get("response_id")
        if response_id in self._cancelled_responses:
            return  # late audio of a response the caller interrupted
        payload = event["delta"]
        now = time.monotonic()
        mark_name = self.ledger.on_audio_sent(event["item_id"], mulaw_b64_duration_ms(payload), now)
        async with self._twilio_lock:
            await self.ws.send_text(media_frame(self.stream_sid, payload))
            await self.ws.send_text(mark_frame(self.stream_sid, mark_name))
        timing = self._timings.get(response_id) if response_id else None
        if timing is not None and timing.first_sent_at is None:
            timing.first_delta_at = timing.first_sent_at = now
            self._record_first_audio(response_id, timing, now)

    def _record_first_audio(self, response_id: str, timing: _ResponseTiming, now: float) -> None:
        if not self._greeting_measured and timing.speech_stopped_at is None:
            self._greeting_measured = True
            greeting_s = now - self._started_at
            metrics.GREETING_LATENCY.observe(greeting_s)
            self.record.latencies.greeting_ms = round(greeting_s * 1000, 1)
        elif timing.speech_stopped_at is not None:
            turn_s = now - timing.speech_stopped_at
            metrics.TURN_LATENCY.observe(turn_s)
            self.record.latencies.turns.append(
                TurnLatency(response_id=response_id, speech_end_to_audio_ms=round(turn_s * 1000, 1))
            )
        self.recorder.touch()

    async def _on_control_event(self, event_type: str | None, raw: bytes) -> None:
        assert self.rt is not None
        handler = self._control_handlers.get(event_type or "")
        if handler is None:
            return  # e.g. transcript deltas: a typed parse (~90 µs) for nothing
        try:
            event = self.rt.parse_event(raw)
        except ValueError:
            self.log.warning("realtime_event_unparsed", event_type=event_type)
            return
        await handler(self, event)

    # --- control event handlers (typed SDK models) ---
    async def _on_speech_started(self, event: Any) -> None:
        """Barge-in: stop playback at the caller, and make the model forget what they did not hear."""
        self._speech_active = True
        self._silence_prompts = 0
        if self._active_response_id is not None:
            # With interrupt_response the server cancels it; drop any of its deltas still in flight.
            self._cancelled_responses.add(self._active_response_id)
        interruption = self.ledger.interrupt(time.monotonic())
        if interruption is None:
            return
        await self.send_to_twilio(clear_frame(self.stream_sid))
        metrics.BARGE_INS.inc()
        self.record.latencies.barge_ins += 1
        await self.send_to_realtime(
            {
                "type": "conversation.item.truncate",
                "item_id": interruption.item_id,
                "content_index": 0,
                "audio_end_ms": interruption.audio_end_ms,
            }
        )
        self.transcript.interrupted(interruption.item_id, interruption.audio_end_ms, interruption.sent_ms)
        self.recorder.touch()
        self.log.info(
            "barge_in",
            item_id=interruption.item_id,
            heard_ms=interruption.audio_end_ms,
            sent_ms=round(interruption.sent_ms),
        )

    async def _on_speech_stopped(self, event: Any) -> None:
        self._speech_active = False
        self._last_speech_stopped_at = time.monotonic()

    async def _on_response_created(self, event: Any) -> None:
        response_id = event.response.id
        self._active_response_id = response_id
        self._timings[response_id] = _ResponseTiming(speech_stopped_at=self._last_speech_stopped_at)
        self._last_speech_stopped_at = None
        if self.pending_action is not None and self._action_after_response:
            self._action_after_response = False
            self._action_response_id = response_id

    async def _on_response_done(self, event: Any) -> None:
        response = event.response
        if self._active_response_id == response.id:
            self._active_response_id = None
        self._timings.pop(response.id, None)
        if response.usage is not None:
            cost_before = self.record.usage.cost_usd
            for kind, count in add_usage(self.record.usage, response.usage).items():
                metrics.TOKENS.labels(kind=kind).inc(count)
            metrics.COST_USD.inc(self.record.usage.cost_usd - cost_before)
            self.recorder.touch()
        if response.status == "failed":
            metrics.REALTIME_ERRORS.labels(code="response_failed").inc()
            self.log.warning("response_failed", details=str(response.status_details)[:300])
        batch = self._tool_batches.get(response.id)
        if batch is not None:
            batch.response_done = True
            await self._maybe_continue_after_tools(response.id)
        if self._action_response_id == response.id:
            self._action_ready = True
            await self._maybe_run_pending_action()

    async def _on_caller_transcript(self, event: Any) -> None:
        if self.transcript.add_caller(event.item_id, event.transcript):
            self.recorder.touch()

    async def _on_assistant_transcript(self, event: Any) -> None:
        if self.transcript.add_assistant(event.item_id, event.transcript):
            self.recorder.touch()

    async def _on_error(self, event: Any) -> None:
        error = event.error
        code = error.code or error.type
        if code in RECOVERABLE_ERROR_CODES:
            self.log.info("realtime_recoverable_error", code=code)
            return
        metrics.REALTIME_ERRORS.labels(code=str(code)[:64]).inc()
        self.record.realtime_errors.append(f"{code}: {error.message}"[:300])
        self.recorder.touch()
        self.log.error("realtime_error", code=code, message=error.message, param=error.param)

    # ----------------------------------------------------------------- tools
    def _spawn(self, coroutine: Awaitable[None], name: str) -> None:
        """A side task owned by the call: cancelled by `close()`, never awaited by the relay."""
        task = asyncio.ensure_future(coroutine)
        task.set_name(f"{name}-{self.call_sid}")
        self._tool_tasks.add(task)
        task.add_done_callback(self._tool_tasks.discard)

    async def _on_function_call(self, event: Any) -> None:
        if self.deps.tools is None or self._tool_context is None:
            return
        batch = self._tool_batches.get(event.response_id)
        if batch is None:
            timing = self._timings.get(event.response_id)
            unheard = timing is not None and timing.first_sent_at is None
            batch = self._tool_batches[event.response_id] = _ToolBatch(
                speech_stopped_at=timing.speech_stopped_at if unheard and timing else None
            )
        batch.pending.add(event.call_id)
        task = asyncio.create_task(
            self._run_tool(event.response_id, event.call_id, event.name, event.arguments),
            name=f"tool-{event.name}-{self.call_sid}",
        )
        self._tool_tasks.add(task)
        task.add_done_callback(self._tool_tasks.discard)

    async def _run_tool(self, response_id: str, call_id: str, name: str, arguments: str) -> None:
        result = await self.deps.tools.execute(
            call_id, name, arguments, self._tool_context, self.settings.tool_timeout_s
        )
        outcome = "ok" if result.ok else (result.error or "error")
        metrics.TOOL_DURATION.labels(tool=name[:40]).observe(result.duration_ms / 1000)
        metrics.TOOL_CALLS.labels(tool=name[:40], outcome=outcome[:40]).inc()
        self.record.tool_calls.append(
            ToolCallRecord(
                call_id=call_id,
                name=name,
                arguments=result.arguments,
                ok=result.ok,
                error=result.error,
                output=result.output,
                duration_ms=round(result.duration_ms, 2),
            )
        )
        ticket_id = result.output.get("ticket_id") if isinstance(result.output, dict) else None
        if ticket_id and ticket_id not in self.record.tickets:
            self.record.tickets.append(ticket_id)
        self.recorder.touch()
        self.log.info("tool_done", tool=name, outcome=outcome, duration_ms=round(result.duration_ms, 1))
        if self.deps.after_tool is not None:
            self._spawn(self.deps.after_tool(self, result), name=f"after-{name}")
        batch = self._tool_batches.get(response_id)
        if result.action and self.pending_action is None:
            self.pending_action = (result.action, result)
            # A transfer is announced in the follow-up response; a goodbye was already said before end_call.
            self._action_after_response = result.action != "end_call"
            if result.action == "end_call" and batch is not None:
                batch.ends_call = True
        await self.send_to_realtime(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "function_call_output",
                    "call_id": call_id,
                    "output": orjson.dumps(result.output).decode(),
                },
            }
        )
        if batch is not None:
            batch.pending.discard(call_id)
            await self._maybe_continue_after_tools(response_id)

    async def _maybe_continue_after_tools(self, response_id: str) -> None:
        """Once the response that asked for tools is done and every output is in, let the model speak."""
        batch = self._tool_batches.get(response_id)
        if batch is None or batch.pending or not batch.response_done:
            return
        del self._tool_batches[response_id]
        if batch.ends_call and not self._action_started:
            self._action_ready = True  # hang up once the goodbye in this response has played
            await self._maybe_run_pending_action()
            return
        if batch.speech_stopped_at is not None:
            self._last_speech_stopped_at = batch.speech_stopped_at
        await self.send_to_realtime({"type": "response.create"})

    # ----------------------------------------------------------------- actions after speech
    async def _maybe_run_pending_action(self) -> None:
        """Run a transfer / hang-up only after the line announcing it has fully played."""
        if self.pending_action is None or self._action_started or not self._action_ready:
            return
        if self.ledger.has_unplayed_audio:
            return
        self._action_started = True
        action, result = self.pending_action
        self.log.info("action_start", action=action)
        if self.deps.on_action is not None:
            task = asyncio.create_task(self.deps.on_action(self, action, result), name=f"action-{action}")
            self._tasks.append(task)
        elif action == "end_call":
            self.end(self.end_reason_after_action)

    _control_handlers: ClassVar[dict[str, Callable[[CallSession, Any], Awaitable[None]]]] = {
        "input_audio_buffer.speech_started": _on_speech_started,
        "input_audio_buffer.speech_stopped": _on_speech_stopped,
        "response.created": _on_response_created,
        "response.done": _on_response_done,
        "response.function_call_arguments.done": _on_function_call,
        "response.output_audio_transcript.done": _on_assistant_transcript,
        "conversation.item.input_audio_transcription.completed": _on_caller_transcript,
        "error": _on_error,
    }
