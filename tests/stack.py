"""A live stack for end-to-end tests: the real app under uvicorn on loopback, a fake OpenAI Realtime
server, a fake Twilio REST API and a Twilio call simulator, all on real sockets."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from app import WS_TRANSPORT_MAX_BYTES, create_app
from config.settings import Settings
from devtools.ferretdb import free_port
from tests.fakes.realtime_server import FakeRealtimeServer
from tests.fakes.twilio_rest import FakeTwilioRest
from tests.fakes.twilio_sim import TwilioSimulator

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "twilio-test-auth-token-0123456789"
ADMIN_TOKEN = "admin-test-token-0123456789"
PUBLIC_BASE_URL = "https://voice.example.com"


REPO_ROOT = Path(__file__).resolve().parents[1]


def app_env(base: dict[str, str] | None = None, **settings: str) -> dict[str, str]:
    """The environment of a separate app process (`python app.py …`): the required settings, then `settings`
    (e.g. MONGODB_URI=…), on top of `base` (default: only PATH, so no stray setting leaks in)."""
    return {
        **(base if base is not None else {"PATH": os.environ.get("PATH", "")}),
        "OPENAI_API_KEY": "sk-test",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_PHONE_NUMBER": "+918000000000",
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "ADMIN_API_TOKEN": ADMIN_TOKEN,
        **settings,
    }


async def run_app_command(
    mongo_uri: str, database: str, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`python app.py <args>` on the test database, in a thread: the test's event loop (and its Mongo
    client's monitor) keeps running meanwhile."""
    env = app_env(dict(os.environ), MONGODB_URI=mongo_uri, MONGODB_DATABASE=database)
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "app.py", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env,
        timeout=60,
        check=False,
    )


AGENT_NUMBER = "+918000012345"
DEMO_CALLER = "+919876543210"


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "openai_api_key": "sk-test-key",
        "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": AUTH_TOKEN,
        "twilio_phone_number": "+918000000000",
        "public_base_url": PUBLIC_BASE_URL,
        "admin_api_token": ADMIN_TOKEN,
        "human_agent_number": AGENT_NUMBER,
        "support_hours_start": "00:00",
        "support_hours_end": "23:59",
        # Suites place many calls from the demo number within minutes: abuse limits are tested where
        # they are the subject (each such test sets its own), not tripped by accident elsewhere.
        "repeat_call_limit": 1000,
        "max_concurrent_calls": 500,
        "max_sms_per_number_per_day": 100,
        # The in-process stack runs the app, the fakes and the browser driver on one loop: the pacer would
        # pace all of them (every task hand-off of a fake a tick later). Tests of the pacer turn it on
        # (tests/e2e/test_call_e2e.py); the benchmarks run the app in its own process with the default.
        "loop_tick_ms": 0,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@dataclass
class LiveStack:
    settings: Settings
    app_url: str
    realtime: FakeRealtimeServer
    rest: FakeTwilioRest
    sim: TwilioSimulator
    server: uvicorn.Server
    app: FastAPI

    @property
    def services(self) -> Any:
        return self.app.state.services

    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def _serve(app: FastAPI, settings: Settings) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=settings.port,
        log_level="warning",
        ws_max_size=WS_TRANSPORT_MAX_BYTES,
        ws_per_message_deflate=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    else:
        raise RuntimeError("app did not start")
    return server, task


def stream_base_url(settings: Any) -> str | None:
    """Where the carriers' doubles open streams: the app's STREAM_PORT when it has one."""
    return f"http://127.0.0.1:{settings.stream_port}" if settings.stream_port else None


@contextlib.asynccontextmanager
async def live_stack(mongo_uri: str, database_name: str, **settings_overrides: Any) -> AsyncIterator[LiveStack]:
    realtime = FakeRealtimeServer()
    await realtime.start()
    rest = FakeTwilioRest(ACCOUNT_SID, AUTH_TOKEN)
    await rest.start()
    port = free_port()
    settings = make_settings(
        port=port,
        mongodb_uri=mongo_uri,
        mongodb_database=database_name,
        openai_websocket_base_url=realtime.url,
        twilio_api_base_url=rest.base_url,
        **settings_overrides,
    )
    app = create_app(settings)
    server, task = await _serve(app, settings)
    app_url = f"http://127.0.0.1:{port}"
    sim = TwilioSimulator(
        app_base_url=app_url, public_base_url=PUBLIC_BASE_URL, account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN
    )
    sim.stream_base_url = stream_base_url(settings)
    rest.attach(sim)
    try:
        yield LiveStack(settings, app_url, realtime, rest, sim, server, app)
    finally:
        await sim.aclose()
        server.should_exit = True
        await asyncio.wait_for(task, timeout=15)
        await rest.stop()
        await realtime.stop()


async def wait_for_greeting(call: Any, timeout: float = 10.0) -> None:
    """The greeting has arrived and fully played (`wait_playback_idle` alone returns at once before any audio)."""
    await call.wait_for_media(timeout=timeout)
    await call.wait_playback_idle(timeout=timeout)


async def wait_for_record(stack: LiveStack, call_sid: str, ready: Any, timeout: float = 10.0) -> dict[str, Any]:
    """Poll the call record until `ready(record)`: it is written in the background, off the audio path."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        record = await stack.services.db.calls.get(call_sid)
        if record is not None and ready(record):
            return record
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"call record not ready: {record}")
        await asyncio.sleep(0.05)


async def metric(stack: LiveStack, name: str, **labels: str) -> float:
    """One sample of the app's `/metrics` (read with the admin token), 0 when absent."""
    async with httpx.AsyncClient(base_url=stack.app_url) as client:
        response = await client.get("/metrics", headers=stack.admin_headers())
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


async def say_and_time_the_vad(realtime: Any, call: Any, audio: bytes) -> float:
    """Say `audio`; the loop time at which the fake's VAD sent `speech_started` for it."""
    fired: list[float] = []
    observer = realtime.on_server_event

    def note(session: Any, event: dict[str, Any], sent_at: float) -> None:
        if event["type"] == "input_audio_buffer.speech_started":
            fired.append(sent_at)
        if observer is not None:
            observer(session, event, sent_at)

    realtime.on_server_event = note
    try:
        await call.say(audio)
        await call.wait_for(lambda: bool(fired), timeout=5)
    finally:
        realtime.on_server_event = observer
    return fired[0]


def assert_truncated_at_what_was_heard(truncation: dict[str, Any], heard_ms: float, clear_delay_s: float) -> None:
    """The app reckons what the caller heard when the VAD's word reaches it, and the phone plays on until
    the clear arrives (`clear_delay_s` after the VAD fired). So the truncation lies in that window: at most
    60 ms past what had played at the clear (`heard_ms`), and at most 100 ms short of what had played
    when the VAD fired. Short, not past: the app interpolates from the last mark echo it read, and an echo
    read late (its loop stalled by the suite's load on two cores; 80 ms was seen) only makes it low."""
    earliest, latest = heard_ms - clear_delay_s * 1000 - 100, heard_ms + 60
    assert earliest <= truncation["audio_end_ms"] <= latest, (truncation, heard_ms, clear_delay_s)
