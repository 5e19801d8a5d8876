"""The media stream and the answer webhook against an attacker: replayed, repurposed and tampered
tokens, garbage first frames, and bodies too large to read. Every refusal happens before any Realtime
session is used, and the service keeps answering real calls afterwards."""

from __future__ import annotations

import asyncio
import json
import resource
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.stack import ACCOUNT_SID, DEMO_CALLER, LiveStack, live_stack, metric, wait_for_greeting, wait_for_record

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
async def stack(mongo_uri: str, database_name: str) -> AsyncIterator[LiveStack]:
    async with live_stack(mongo_uri, database_name) as running:
        yield running


async def open_raw_stream(stack: LiveStack) -> ClientConnection:
    """A WebSocket with a valid Twilio handshake signature (which is the same for every call)."""
    url = stack.settings.media_stream_url
    headers = {"X-Twilio-Signature": stack.sim.sign(url, {})}
    return await connect(stack.sim.local_url(url), additional_headers=headers, proxy=None, ping_interval=None)


def start_message(call_sid: str, parameters: dict[str, str], account_sid: str = ACCOUNT_SID) -> str:
    start = {
        "accountSid": account_sid,
        "streamSid": "MZ" + "0" * 32,
        "callSid": call_sid,
        "tracks": ["inbound"],
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        "customParameters": parameters,
    }
    return json.dumps({"event": "start", "sequenceNumber": "1", "start": start, "streamSid": start["streamSid"]})


async def refused(ws: ClientConnection, *frames: str | bytes) -> int | None:
    """Send frames; the app must close with 1008 (policy) and never answer with audio."""
    try:
        for frame in frames:
            await ws.send(frame)
        async for message in ws:
            raise AssertionError(f"a refused stream got a message: {str(message)[:80]}")
    except ConnectionClosed:
        pass
    return ws.close_code


def appends(stack: LiveStack) -> int:
    return sum(1 for s in stack.realtime.sessions for e in s.received if e["type"] == "input_audio_buffer.append")


async def test_a_replayed_or_second_stream_is_refused_before_any_realtime_session(stack: LiveStack) -> None:
    call = await stack.sim.place_call(from_=DEMO_CALLER)
    await call.connect_stream()
    await wait_for_greeting(call)
    sessions_before = len(stack.realtime.sessions)
    replays_before = await metric(stack, "voice_streams_rejected_total", reason="replayed")

    # The same start message again (a captured token and parameters): a second stream for the call.
    for _ in range(2):
        ws = await open_raw_stream(stack)
        assert await refused(ws, start_message(call.call_sid, dict(call.custom_parameters))) == 1008
    assert await metric(stack, "voice_streams_rejected_total", reason="replayed") == replays_before + 2
    await asyncio.sleep(0.3)
    assert len(stack.realtime.sessions) == sessions_before, "no Realtime session for a refused stream"
    assert len(stack.services.live_calls) == 1 and call.connected, "the real call goes on"

    # Twilio's answer webhook for a call whose stream has started is refused (a late or forged one).
    params = stack.sim.voice_webhook_params(call.call_sid, from_=DEMO_CALLER, to="+918000000000")
    assert (await stack.sim.post_webhook("/incoming-call", params)).status_code == 409
    assert stack.services.admission.in_use() == 1, "the replay holds no slot: only the live call does"
    await call.hangup()
    record = await wait_for_record(stack, call.call_sid, lambda r: r.get("ended_at") is not None)
    assert record["caller_attestation"] == "TN-Validation-Passed-A", "STIR/SHAKEN attestation is kept"


async def test_two_streams_racing_with_one_token_only_one_starts(stack: LiveStack) -> None:
    stack.settings.openai_preopen = False  # each admitted stream would open its own session
    params = stack.sim.voice_webhook_params("CA" + "a" * 32, from_=DEMO_CALLER, to="+918000000000")
    answer = await stack.sim.post_webhook("/incoming-call", params)
    assert answer.status_code == 200
    custom = {p.get("name", ""): p.get("value", "") for p in ET.fromstring(answer.text).iter("Parameter")}
    first, second = await open_raw_stream(stack), await open_raw_stream(stack)
    frame = start_message("CA" + "a" * 32, custom)
    await asyncio.gather(first.send(frame), second.send(frame))
    await asyncio.sleep(1.0)
    alive = [ws for ws in (first, second) if ws.close_code is None]
    assert len(alive) == 1, "exactly one of the two streams was admitted"
    assert len(stack.realtime.sessions) <= 1
    for ws in (first, second):
        await ws.close()


async def test_tampered_repurposed_or_foreign_tokens_are_refused(stack: LiveStack) -> None:
    call = await stack.sim.place_call(from_=DEMO_CALLER)
    custom = dict(call.custom_parameters)
    whisper_token = stack.services.handoff.whisper_tokens.issue(call.call_sid)
    cases: list[tuple[str, dict[str, str], str]] = [
        ("another caller", {**custom, "caller": "+919812345678"}, ACCOUNT_SID),
        ("another purpose", {**custom, "purpose": "refund everything"}, ACCOUNT_SID),
        ("outbound claimed", {**custom, "direction": "outbound"}, ACCOUNT_SID),
        ("a whisper token", {**custom, "token": whisper_token}, ACCOUNT_SID),
        ("no token", {k: v for k, v in custom.items() if k != "token"}, ACCOUNT_SID),
        ("non-ASCII digits", {**custom, "token": "١٢٣٤٥.abc"}, ACCOUNT_SID),
        ("another account", custom, "AC" + "9" * 32),
    ]
    for what, parameters, account in cases:
        ws = await open_raw_stream(stack)
        assert await refused(ws, start_message(call.call_sid, parameters, account)) == 1008, what
    # A whisper-subject call sid with a whisper token (the old key-sharing attack).
    ws = await open_raw_stream(stack)
    spoof = {**custom, "call_sid": "whisper:" + call.call_sid, "token": whisper_token}
    assert await refused(ws, start_message("whisper:" + call.call_sid, spoof)) == 1008
    await asyncio.sleep(0.3)
    assert appends(stack) == 0 and len(stack.services.live_calls) == 0
    # The genuine stream still works afterwards: none of the refusals consumed its token.
    await call.connect_stream()
    await wait_for_greeting(call)
    await call.hangup()


@pytest.mark.parametrize(
    "first_frames",
    [
        [b"\x00\x01binary"],
        ["[1, 2, 3]"],
        ['"just a string"'],
        ["{not json"],
        ['{"event": "start", "start": "nope"}'],
        ['{"event": "connected"}', '{"event": "connected"}', '{"event": "connected"}'],
        ['{"event": "media", "media": {"payload": "AAAA"}}'],
        ["x" * 100_000],
    ],
    ids=["binary", "array", "string", "not-json", "bad-start", "chatter", "media-first", "huge"],
)
async def test_garbage_first_frames_close_the_stream_cleanly(stack: LiveStack, first_frames: list[Any]) -> None:
    ws = await open_raw_stream(stack)
    assert await refused(ws, *first_frames) == 1008
    async with httpx.AsyncClient(base_url=stack.app_url) as client:
        assert (await client.get("/health")).status_code == 200, "the service is still healthy"
    assert stack.realtime.sessions == []


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _chunks(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    chunk = b"a" * size  # the same object every time: the client holds 64 KiB, not the whole body
    for _ in range(total // size):
        yield chunk


async def test_huge_bodies_are_refused_without_being_read(stack: LiveStack) -> None:
    thirty_mb = 30 * 1024 * 1024
    before = _peak_rss_mb()
    async with httpx.AsyncClient(base_url=stack.app_url, timeout=30) as client:
        form = {"content-type": "application/x-www-form-urlencoded"}
        # Unsigned: refused on the missing header, before the body (streamed, no length) is read.
        unsigned = await client.post("/incoming-call", content=_chunks(thirty_mb), headers=form)
        assert unsigned.status_code in (403, 413)
        # A signature header (a forged one) and a declared 30 MB length: refused on the length alone.
        declared = {**form, "x-twilio-signature": "Zm9yZ2Vk", "content-length": str(thirty_mb)}
        assert (await client.post("/incoming-call", content=_chunks(thirty_mb), headers=declared)).status_code == 413
        # Chunked with a signature header: cut off once past the limit.
        signed = {**form, "x-twilio-signature": "Zm9yZ2Vk"}
        assert (await client.post("/call-status", content=_chunks(thirty_mb), headers=signed)).status_code == 413
        # Too many form fields in a small body.
        fields = "&".join(f"f{i}=1" for i in range(1000)).encode()
        assert (await client.post("/call-status", content=fields, headers=signed)).status_code in (400, 403)
        # Admin endpoints are bounded too, even with a valid token.
        admin = {**stack.admin_headers(), "content-type": "application/json"}
        assert (await client.post("/outbound-call", content=_chunks(thirty_mb), headers=admin)).status_code == 413
        assert (await client.get("/health")).status_code == 200
    assert _peak_rss_mb() - before < 8, "the app (same process) never held the bodies"
