"""Tests of the Twilio fakes themselves, against a tiny throwaway FastAPI peer (not the product app)."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import uvicorn
from fastapi import FastAPI, Request, Response, WebSocket
from starlette.websockets import WebSocketDisconnect
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from websockets.exceptions import InvalidStatus

from tests.fakes.mulaw import silence, tone
from tests.fakes.twilio_rest import FakeTwilioRest
from tests.fakes.twilio_sim import SimulatedCall, TwilioCallSimulator, TwilioSimError, TwilioSimulator

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
PUBLIC = "https://voice.example.com"
STREAM_URL = "wss://voice.example.com/media-stream"


# ---- throwaway peer (plays "the app") -------------------------------------------------------
class PeerConn:
    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.log: list[tuple[float, dict[str, Any]]] = []
        self.disconnected = asyncio.Event()
        self.stream_sid: str | None = None

    async def next(self, event: str, timeout: float = 3.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                msg = await self.inbox.get()
                if msg.get("event") == event:
                    return msg

    async def send(self, obj: dict[str, Any]) -> None:
        await self.ws.send_text(json.dumps(obj))

    async def media(self, audio: bytes) -> None:
        await self.send(
            {"event": "media", "streamSid": self.stream_sid, "media": {"payload": base64.b64encode(audio).decode()}}
        )

    async def mark(self, name: str) -> None:
        await self.send({"event": "mark", "streamSid": self.stream_sid, "mark": {"name": name}})

    async def clear(self) -> None:
        await self.send({"event": "clear", "streamSid": self.stream_sid})


class Peer:
    def __init__(self) -> None:
        self.validator = RequestValidator(AUTH_TOKEN)
        self.conns: asyncio.Queue[PeerConn] = asyncio.Queue()
        self.webhooks: list[tuple[str, dict[str, str]]] = []
        self.base_url = ""
        app = FastAPI()

        async def check(request: Request) -> dict[str, str] | None:
            form = {k: str(v) for k, v in (await request.form()).items()}
            url = PUBLIC + request.url.path + (f"?{request.url.query}" if request.url.query else "")
            if not self.validator.validate(url, form, request.headers.get("x-twilio-signature", "")):
                return None
            self.webhooks.append((request.url.path, form))
            return form

        @app.post("/incoming-call")
        async def incoming_call(request: Request) -> Response:
            form = await check(request)
            if form is None:
                return Response(status_code=403)
            twiml = (
                '<?xml version="1.0" encoding="UTF-8"?><Response><Connect>'
                f'<Stream url="{STREAM_URL}"><Parameter name="callToken" value="tok-{form["CallSid"]}"/>'
                '<Parameter name="lang" value="hi-en"/></Stream></Connect></Response>'
            )
            return Response(twiml, media_type="text/xml")

        @app.post("/call-status")
        async def call_status(request: Request) -> Response:
            return Response(status_code=204 if await check(request) is not None else 403)

        @app.post("/plain")
        async def plain(request: Request) -> Response:
            return Response("hello", media_type="text/plain")

        @app.websocket("/media-stream")
        async def media_stream(ws: WebSocket) -> None:
            if not self.validator.validate(STREAM_URL, {}, ws.headers.get("x-twilio-signature", "")):
                await ws.close(code=1008)  # before accept -> HTTP 403
                return
            await ws.accept()
            conn = PeerConn(ws)
            await self.conns.put(conn)
            loop = asyncio.get_running_loop()
            try:
                while True:
                    msg = json.loads(await ws.receive_text())
                    if msg.get("event") == "start":
                        conn.stream_sid = msg["streamSid"]
                    conn.log.append((loop.time(), msg))
                    await conn.inbox.put(msg)
            except WebSocketDisconnect:
                pass
            finally:
                conn.disconnected.set()

        self.app = app

    async def connection(self, timeout: float = 3.0) -> PeerConn:
        conn = await asyncio.wait_for(self.conns.get(), timeout)
        await conn.next("start")
        return conn


@pytest.fixture(scope="session")
async def peer() -> AsyncIterator[Peer]:
    peer = Peer()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    peer.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(peer.app, lifespan="off", log_level="warning", ws="websockets-sansio", http="h11")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(1000):
        if server.started:
            break
        await asyncio.sleep(0.01)
    assert server.started, "peer server did not start"
    yield peer
    server.should_exit = True
    await asyncio.wait_for(task, 10)


@pytest.fixture
async def sim(peer: Peer) -> AsyncIterator[TwilioSimulator]:
    sim = TwilioCallSimulator(
        app_base_url=peer.base_url, public_base_url=PUBLIC, account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN
    )
    yield sim
    await sim.aclose()
    leftovers = [t for t in asyncio.all_tasks() if t.get_name().startswith("twilio-sim-") and not t.done()]
    assert leftovers == []


async def streaming_call(sim: TwilioSimulator, peer: Peer) -> tuple[SimulatedCall, PeerConn]:
    call = await sim.place_call()
    await call.connect_stream()
    return call, await peer.connection()


# ---- signatures and webhooks -----------------------------------------------------------------
def test_sign_matches_request_validator() -> None:
    sim = TwilioSimulator("http://127.0.0.1:1", PUBLIC, ACCOUNT_SID, AUTH_TOKEN)
    validator = RequestValidator(AUTH_TOKEN)
    params = {"CallSid": "CA" + "0" * 32, "From": "+919876543210", "Body": "a b&c=d"}
    signature = sim.sign(PUBLIC + "/incoming-call?x=1", params)
    assert validator.validate(PUBLIC + "/incoming-call?x=1", params, signature)
    assert not validator.validate(PUBLIC + "/incoming-call", params, signature)
    assert validator.validate(STREAM_URL, {}, sim.sign(STREAM_URL, {}))
    assert sim.local_url(STREAM_URL) == "ws://127.0.0.1:1/media-stream"
    assert sim.local_url("/incoming-call?a=b") == "http://127.0.0.1:1/incoming-call?a=b"


async def test_webhooks_signed_over_public_url(sim: TwilioSimulator, peer: Peer) -> None:
    call = await sim.place_call(from_="+919876543210", to="+918000000000")
    assert call.call_sid.startswith("CA") and len(call.call_sid) == 34
    path, form = peer.webhooks[-1]
    assert path == "/incoming-call"
    assert form["CallStatus"] == "ringing" and form["Direction"] == "inbound"
    assert form["From"] == form["Caller"] == "+919876543210" and form["FromCountry"] == "IN"
    assert form["AccountSid"] == ACCOUNT_SID and form["ApiVersion"] == "2010-04-01"
    assert call.stream_url == STREAM_URL
    assert call.custom_parameters == {"callToken": f"tok-{call.call_sid}", "lang": "hi-en"}
    assert "<Connect>" in call.twiml

    bad = await sim.post_webhook("/incoming-call", {"CallSid": "CA1"}, signature="not-a-signature")
    assert bad.status_code == 403
    missing = await sim.post_webhook("/incoming-call", {"CallSid": "CA1"}, signature=None)
    assert missing.status_code == 403

    status = await sim.post_status_callback(call, status="completed", duration=61)
    assert status.status_code == 204
    _, form = peer.webhooks[-1]
    assert form["CallStatus"] == "completed" and form["CallDuration"] == "61" and form["Duration"] == "2"
    assert form["CallbackSource"] == "call-progress-events" and form["SequenceNumber"] == "0"
    assert form["Timestamp"].endswith("GMT")


async def test_place_call_rejects_non_twiml(sim: TwilioSimulator) -> None:
    with pytest.raises(TwilioSimError, match="Content-Type"):
        await sim.place_call(path="/plain")
    with pytest.raises(TwilioSimError, match="HTTP 404"):
        await sim.place_call(path="/nowhere")


# ---- stream: start, pacing, inbound audio ----------------------------------------------------
async def test_connected_and_start(sim: TwilioSimulator, peer: Peer) -> None:
    call = await sim.place_call()
    await call.connect_stream(tamper_params={"callToken": "forged", "lang": None})
    conn = await asyncio.wait_for(peer.conns.get(), 3)
    first = (await conn.inbox.get(), await conn.inbox.get())
    assert first[0] == {"event": "connected", "protocol": "Call", "version": "1.0.0"}
    start = first[1]
    assert start["event"] == "start" and start["sequenceNumber"] == "1"
    assert start["streamSid"] == call.stream_sid and call.stream_sid.startswith("MZ") and len(call.stream_sid) == 34
    assert start["start"]["callSid"] == call.call_sid and start["start"]["accountSid"] == ACCOUNT_SID
    assert start["start"]["tracks"] == ["inbound"]
    assert start["start"]["customParameters"] == {"callToken": "forged"}
    assert start["start"]["mediaFormat"] == {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}


async def test_bad_handshake_signature_is_rejected(sim: TwilioSimulator) -> None:
    call = await sim.place_call()
    with pytest.raises(InvalidStatus):
        await call.connect_stream(signature="")
    other = await sim.place_call()
    with pytest.raises(InvalidStatus):
        await other.connect_stream(signature=sim.sign("ws://127.0.0.1/media-stream", {}))


async def test_inbound_pacing(sim: TwilioSimulator, peer: Peer) -> None:
    call, conn = await streaming_call(sim, peer)
    loop = asyncio.get_running_loop()
    await asyncio.sleep(1.0)
    frames = [(t, m) for t, m in conn.log if m["event"] == "media"]
    first_t = frames[0][0]
    in_first_second = [m for t, m in frames if t - first_t < 1.0]
    assert 46 <= len(in_first_second) <= 51
    for i, (_, m) in enumerate(frames):
        assert set(m) == {"event", "sequenceNumber", "streamSid", "media"}
        assert m["media"]["track"] == "inbound"
        assert m["media"]["chunk"] == str(i + 1)
        assert m["media"]["timestamp"] == str(i * 20)
        assert m["sequenceNumber"] == str(i + 2)
        assert base64.b64decode(m["media"]["payload"]) == b"\xff" * 160
    # no drift: frame n arrives ~n*20 ms after frame 0
    last_t, last = frames[-1]
    assert abs((last_t - first_t) * 1000 - int(last["media"]["timestamp"])) < 40
    assert loop.time() - call.t0 < 1.5


async def test_say_sends_audio_in_frames(sim: TwilioSimulator, peer: Peer) -> None:
    call, conn = await streaming_call(sim, peer)
    audio = tone(300, 440) + b"\x01\x02\x03"  # not a multiple of 160: last frame padded with silence
    loop = asyncio.get_running_loop()
    t = loop.time()
    record = await call.say_and_wait(audio)
    assert 0.25 < loop.time() - t < 0.6
    assert record.first_timestamp_ms is not None and record.last_timestamp_ms is not None
    assert record.last_timestamp_ms - record.first_timestamp_ms == 300
    await asyncio.sleep(0.1)
    inbound = b"".join(
        base64.b64decode(m["media"]["payload"])
        for _, m in conn.log
        if m["event"] == "media" and record.first_timestamp_ms <= int(m["media"]["timestamp"])
    )
    assert inbound.startswith(audio)
    assert inbound[len(audio) : len(audio) + 157] == b"\xff" * 157
    assert call.inbound_pending_ms == 0


async def test_on_send_observes_every_message_written(sim: TwilioSimulator, peer: Peer) -> None:
    call = await sim.place_call()
    observed: list[tuple[dict[str, Any], float]] = []
    call.on_send = lambda message, sent_at: observed.append((message, sent_at))
    loop = asyncio.get_running_loop()
    before = loop.time()
    await call.connect_stream()
    conn = await peer.connection()
    await call.send_dtmf("5")
    await conn.next("dtmf")
    await call.hangup()
    await asyncio.wait_for(conn.disconnected.wait(), 3)
    received = [m for _, m in conn.log]
    assert [m for m, _ in observed] == received  # the same messages, in wire order, media frames included
    assert [m["event"] for m, _ in observed][:2] == ["connected", "start"] and received[-1]["event"] == "stop"
    assert sum(m["event"] == "media" for m, _ in observed) == call.inbound_frames_sent > 0
    times = [t for _, t in observed]
    assert before <= times[0] and times == sorted(times) and times[-1] <= loop.time()


# ---- playback model --------------------------------------------------------------------------
async def test_mark_echoes_after_audio_played(sim: TwilioSimulator, peer: Peer) -> None:
    call, conn = await streaming_call(sim, peer)
    loop = asyncio.get_running_loop()
    audio = tone(1000, 300)
    for i in range(0, len(audio), 1600):
        await conn.media(audio[i : i + 1600])
    sent_at = loop.time()
    await conn.mark("item_1:1000")
    await asyncio.sleep(0.6)
    assert [m for m in call.received_events("mark")] and call.marks_echoed == []
    assert 0.5 < call.played_ms < 0.85 * 1000
    echo = await conn.next("mark", timeout=2)
    waited = loop.time() - sent_at
    assert 0.95 <= waited <= 1.2, waited
    assert echo["mark"] == {"name": "item_1:1000"} and echo["streamSid"] == call.stream_sid
    assert int(echo["sequenceNumber"]) > 1
    assert [(e.name, e.by_clear) for e in call.marks_echoed] == [("item_1:1000", False)]
    assert bytes(call.played_audio) == audio and call.played_ms == 1000
    assert call.received_media_bytes == 8000 and call.violations == []

    # nothing queued: a mark echoes immediately
    t = loop.time()
    await conn.mark("idle")
    await conn.next("mark")
    assert loop.time() - t < 0.1

    # after a gap the clock restarts when audio arrives (no credit for idle time)
    await asyncio.sleep(0.3)
    t = loop.time()
    await conn.media(tone(200, 300))
    await conn.mark("after-gap")
    await conn.next("mark")
    assert 0.19 <= loop.time() - t <= 0.35
    await call.wait_playback_idle(timeout=2)


async def test_clear_flushes_marks_and_drops_audio(sim: TwilioSimulator, peer: Peer) -> None:
    call, conn = await streaming_call(sim, peer)
    loop = asyncio.get_running_loop()
    await conn.media(tone(1000, 300))
    await conn.mark("a")
    await conn.media(tone(1000, 500))
    await conn.mark("b")
    await asyncio.sleep(0.5)
    t = loop.time()
    await conn.clear()
    echoes = [await conn.next("mark"), await conn.next("mark")]
    assert loop.time() - t < 0.15
    assert [e["mark"]["name"] for e in echoes] == ["a", "b"]
    assert [(e.name, e.by_clear) for e in call.marks_echoed] == [("a", True), ("b", True)]
    [record] = call.clears
    assert 3200 <= record.played_bytes_total <= 5000
    assert record.dropped_bytes == 16000 - record.played_bytes_total
    assert record.marks_flushed == ("a", "b")
    played = call.played_ms
    await asyncio.sleep(0.2)
    assert call.played_ms == played and call.queued_ms == 0
    # after a clear, marks are normal again
    await conn.media(silence(100))
    await conn.mark("c")
    await conn.next("mark")
    assert call.marks_echoed[-1][0] == "c" and call.marks_echoed[-1][2] is False
    assert call.violations == []


async def test_protocol_violations_recorded_socket_stays_open(sim: TwilioSimulator, peer: Peer) -> None:
    call, conn = await streaming_call(sim, peer)
    sid = call.stream_sid
    payload = base64.b64encode(b"\x00" * 160).decode()
    await conn.send({"event": "media", "streamSid": sid, "media": {"payload": payload}, "extra": 1})
    await conn.send({"event": "media", "streamSid": sid, "media": {"payload": payload, "track": "outbound"}})
    await conn.send({"event": "media", "streamSid": "MZ" + "0" * 32, "media": {"payload": payload}})
    await conn.send({"event": "media", "streamSid": sid, "media": {"payload": "***"}})
    await conn.send({"event": "mark", "streamSid": sid, "mark": {"name": "x"}, "sequenceNumber": "1"})
    await conn.send({"event": "clear"})
    await conn.send({"event": "hangup", "streamSid": sid})
    await conn.ws.send_text("not json")
    await conn.ws.send_bytes(b"\x00\x01")
    await conn.mark("still-open")
    await conn.next("mark")
    assert len(call.violations) == 9, call.violations
    assert "extra=['extra']" in call.violations[0]
    assert "wrong streamSid" in call.violations[2]
    assert "base64" in call.violations[3]
    assert "binary" in call.violations[8]
    assert call.received_media_bytes == 0 and call.played_ms == 0  # invalid messages are ignored
    assert not call.closed_by_app


async def test_dtmf_and_hangup(sim: TwilioSimulator, peer: Peer) -> None:
    call, conn = await streaming_call(sim, peer)
    await call.send_dtmf("5")
    dtmf = await conn.next("dtmf")
    assert dtmf["dtmf"] == {"track": "inbound_track", "digit": "5"} and dtmf["streamSid"] == call.stream_sid
    await call.hangup()
    stop = await conn.next("stop")
    assert stop["stop"] == {"accountSid": ACCOUNT_SID, "callSid": call.call_sid}
    await asyncio.wait_for(conn.disconnected.wait(), 3)
    assert not call.closed_by_app and call.stream_stopped_by == "hangup" and call.ended
    seqs = [int(m["sequenceNumber"]) for _, m in conn.log if "sequenceNumber" in m]
    assert seqs == list(range(1, len(seqs) + 1))


async def test_app_closes_stream(sim: TwilioSimulator, peer: Peer) -> None:
    call, conn = await streaming_call(sim, peer)
    await conn.ws.close(code=1000)
    assert await call.wait_closed(3) == 1000
    assert call.closed_by_app and call.stream_stopped_by == "app"
    await asyncio.sleep(0.05)
    assert all(t.done() for t in call._tasks)


# ---- REST fake -------------------------------------------------------------------------------
@pytest.fixture
async def rest() -> AsyncIterator[FakeTwilioRest]:
    async with FakeTwilioRest(ACCOUNT_SID, AUTH_TOKEN) as rest:
        yield rest


def sdk_client(rest: FakeTwilioRest, token: str = AUTH_TOKEN) -> Client:
    client = Client(ACCOUNT_SID, token)
    client.api.base_url = rest.base_url
    return client


async def test_rest_update_call_with_sdk(rest: FakeTwilioRest) -> None:
    sid = "CA" + "a" * 32
    rest.register_call(sid, from_="+919876543210", to="+918000000000")
    updates: list[Any] = []
    rest.on_call_update = updates.append
    client = sdk_client(rest)
    twiml = "<Response><Dial>+15550002222</Dial></Response>"
    call = await asyncio.to_thread(lambda: client.calls(sid).update(twiml=twiml))
    assert call.sid == sid and call.status == "in-progress"
    [req] = rest.call_updates(sid)
    assert req.form["Twiml"] == twiml and req.auth_ok and req.method == "POST"
    assert req.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Calls/{sid}.json"
    await rest.wait_for(lambda: updates)
    assert updates[0].twiml == twiml

    done = await asyncio.to_thread(lambda: client.calls(sid).update(status="completed"))
    assert done.status == "completed" and rest.call_status(sid) == "completed"
    with pytest.raises(TwilioRestException) as ended:
        await asyncio.to_thread(lambda: client.calls(sid).update(twiml=twiml))
    assert ended.value.status == 404 and ended.value.code == 20404


async def test_rest_errors(rest: FakeTwilioRest) -> None:
    with pytest.raises(TwilioRestException) as unknown:
        await asyncio.to_thread(lambda: sdk_client(rest).calls("CA" + "b" * 32).update(twiml="<Response/>"))
    assert unknown.value.status == 404 and unknown.value.code == 20404
    with pytest.raises(TwilioRestException) as unauth:
        await asyncio.to_thread(lambda: sdk_client(rest, "wrong").messages.create(to="+1", from_="+2", body="x"))
    assert unauth.value.status == 401 and unauth.value.code == 20003
    assert rest.requests[-1].auth_ok is False and rest.messages == []
    rest.fail_next("message", status=503, code=20503, message="Service unavailable")
    with pytest.raises(TwilioRestException) as failed:
        await asyncio.to_thread(lambda: sdk_client(rest).messages.create(to="+1", from_="+2", body="x"))
    assert failed.value.status == 503


async def test_rest_sms_and_outbound_call(rest: FakeTwilioRest) -> None:
    client = sdk_client(rest)
    message = await asyncio.to_thread(
        lambda: client.messages.create(to="+919876543210", from_="+918000000000", body="नमस्ते, your booking")
    )
    assert message.sid.startswith("SM") and message.status == "queued" and message.body == "नमस्ते, your booking"
    assert rest.messages[0]["to"] == "+919876543210"
    assert rest.requests[-1].form["Body"] == "नमस्ते, your booking"

    call = await asyncio.to_thread(
        lambda: client.calls.create(
            to="+919876543210",
            from_="+918000000000",
            twiml="<Response/>",
            status_callback="https://voice.example.com/call-status",
            status_callback_event=["initiated", "answered", "completed"],
        )
    )
    assert call.sid.startswith("CA") and call.direction == "outbound-api"
    assert rest.created_calls[0]["sid"] == call.sid
    assert rest.requests[-1].form_multi["StatusCallbackEvent"] == ["initiated", "answered", "completed"]
    assert rest.call_status(call.sid) == "queued"


@pytest.mark.filterwarnings("ignore:.*(BasicAuth|auth. parameter).*:DeprecationWarning")  # twilio's aiohttp use
async def test_rest_async_sdk_client(rest: FakeTwilioRest) -> None:
    sid = "CA" + "c" * 32
    rest.register_call(sid)
    http = AsyncTwilioHttpClient()
    try:
        client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=http)
        client.api.base_url = rest.base_url
        call = await client.calls(sid).update_async(url="https://voice.example.com/next", method="POST")
        message = await client.messages.create_async(to="+1555", messaging_service_sid="MG" + "0" * 32, body="hi")
    finally:
        await http.close()
    assert call.sid == sid and message.status == "accepted"
    assert rest.call_updates(sid)[0].form["Url"] == "https://voice.example.com/next"


async def test_rest_redirect_stops_simulated_stream(sim: TwilioSimulator, peer: Peer, rest: FakeTwilioRest) -> None:
    rest.attach(sim)
    call, conn = await streaming_call(sim, peer)
    client = sdk_client(rest)
    await asyncio.to_thread(lambda: client.calls(call.call_sid).update(twiml="<Response><Hangup/></Response>"))
    await conn.next("stop")
    await call.wait_closed(3)
    assert call.stream_stopped_by == "redirect" and not call.closed_by_app
    assert call.redirected_to == {"Twiml": "<Response><Hangup/></Response>"}
    assert rest.hook_errors == []


@pytest.mark.filterwarnings("ignore:.*(BasicAuth|auth. parameter).*:DeprecationWarning")  # twilio's aiohttp use
async def test_rest_dropped_connections_look_like_network_errors(rest: FakeTwilioRest) -> None:
    sid = "CA" + "d" * 32
    rest.register_call(sid)
    http = AsyncTwilioHttpClient()
    try:
        client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=http)
        client.api.base_url = rest.base_url
        # Cut before the fake acted: the client gets a network error, and nothing happened.
        rest.drop_next("call_update")
        with pytest.raises(aiohttp.ClientPayloadError):
            await client.calls(sid).update_async(twiml="<Response><Hangup/></Response>")
        (dropped,) = rest.requests
        assert dropped.dropped and dropped.status_code == 0 and rest.call_updates(sid) == []
        assert rest.calls[sid].twiml is None
        # Cut after the fake acted: the same error, but the message exists (a retry would send it twice).
        rest.drop_next("message", processed=True)
        with pytest.raises(aiohttp.ClientPayloadError):
            await client.messages.create_async(to="+919876543210", from_="+918000000000", body="once")
        assert rest.requests[-1].dropped and rest.requests[-1].status_code == 201
        assert [m["body"] for m in rest.messages] == ["once"]
        # Each drop is used once: the next requests are answered as usual.
        await client.calls(sid).update_async(twiml="<Response><Hangup/></Response>")
        await client.messages.create_async(to="+919876543210", from_="+918000000000", body="twice")
    finally:
        await http.close()
    assert len(rest.call_updates(sid)) == 1 and not rest.requests[-1].dropped
    assert [m["body"] for m in rest.messages] == ["once", "twice"]
    assert rest.hook_errors == []
