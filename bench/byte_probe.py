"""Relay delay both ways, matched by audio byte offset (for `bench.side_by_side`).

A bridge may coalesce or split audio (e.g. several 20 ms Twilio frames in one append), so frames are
not matched by index but by their position in the call's audio: inbound, Twilio frame k holds bytes
[160k, 160k + 160) of the call's inbound audio, and it has reached the fake Realtime server when the
append holding its last byte was read; outbound, the audio delta starting at byte o of the session's
output has reached the phone when the media message holding byte o arrived.

A fake Realtime session is tied to its call by the call's first speech frame (a tone unique to the
call), looked for at every 160-byte boundary of the session's inbound audio: found at the same offset
as the phone sent it, it also proves nothing was lost or reordered before it. Until then each append is
decoded; after it only base64 lengths are counted, to keep this (saturating-first) process light.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
from dataclasses import dataclass, field
from typing import Any

from bench.bridge_load import FRAME_BYTES, RelayProbe, SessionProbe
from tests.fakes.realtime_server import FakeSession
from tests.fakes.twilio_sim import SimulatedCall

VAD_EVENTS = ("input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped")
BYTES_PER_MS = 8


def vad_trigger_frames(probe: ByteSessionProbe) -> set[int]:
    """Indices of the frames whose arrival made the server VAD act (speech started, speech stopped): how
    late these reach it is how late the caller is heard to start or to finish a turn."""
    return {offset // FRAME_BYTES - 1 for offset in probe.vad_triggers if offset >= FRAME_BYTES}


def append_completing_frames(probe: ByteSessionProbe) -> set[int]:
    """Indices of the frames that completed an append (the newest frame in it): the bridge could send that
    append only once this frame had come, so its delay is the relay's own. A batching bridge holds the
    older frames of a batch for it on purpose; `inbound_delays` over every frame counts that hold too. For
    a bridge that sends every frame as it comes, these are all the frames."""
    return {end // FRAME_BYTES - 1 for end in probe.in_end if end % FRAME_BYTES == 0}


def b64_len(text: str) -> int:
    """Decoded length of well-formed base64, without decoding it."""
    return len(text) * 3 // 4 - text[-2:].count("=")


@dataclass(eq=False)
class ByteSessionProbe(SessionProbe):
    opened_at: float = 0.0  # loop.time() the session connected (frames sent before waited for set-up)
    in_end: list[int] = field(default_factory=list)  # inbound byte offset at the end of each append (rx)
    in_bytes: int = 0
    head: bytearray = field(default_factory=bytearray)  # decoded inbound audio until the call is found
    checked: int = 0  # bytes of `head` already compared against the calls' first speech frames
    out: list[tuple[float, int]] = field(default_factory=list)  # (sent_at, byte offset) per audio delta
    out_bytes: int = 0
    vad_triggers: list[int] = field(default_factory=list)  # inbound byte offset at which each VAD event fired


class ByteRelayProbe(RelayProbe):
    """`RelayProbe` (same hooks, same sampled validation) with byte-offset matching and an outbound side
    (`on_server_event`)."""

    def __init__(self) -> None:
        super().__init__()
        self.speech_frames: dict[bytes, int] = {}  # a call's first speech frame -> call index
        self.probes: dict[FakeSession, ByteSessionProbe] = {}

    def attach(self, session: FakeSession) -> None:
        probe = ByteSessionProbe(session, opened_at=asyncio.get_running_loop().time())
        self.sessions.append(probe)
        self._by_session[session] = probe  # RelayProbe.validate counts appends there
        self.probes[session] = probe

    def on_client_event(self, session: FakeSession, event: Any, received_at: float) -> None:
        if not isinstance(event, dict) or event.get("type") != "input_audio_buffer.append":
            return
        audio = event.get("audio")
        if not isinstance(audio, str):
            return
        probe = self.probes[session]
        probe.rx.append(received_at)
        if probe.call is None:
            self._find_call(probe, audio)
        probe.in_bytes += b64_len(audio)
        probe.in_end.append(probe.in_bytes)

    def _find_call(self, probe: ByteSessionProbe, audio: str) -> None:
        with contextlib.suppress(binascii.Error, ValueError):
            probe.head += base64.b64decode(audio)
        while probe.checked + FRAME_BYTES <= len(probe.head):
            found = self.speech_frames.get(bytes(probe.head[probe.checked : probe.checked + FRAME_BYTES]))
            if found is not None:
                probe.call, probe.first_speech_rx = found, probe.checked // FRAME_BYTES
                probe.head = bytearray()
                return
            probe.checked += FRAME_BYTES

    def on_server_event(self, session: FakeSession, event: dict[str, Any], sent_at: float) -> None:
        if event["type"] in VAD_EVENTS:
            self.probes[session].vad_triggers.append(session.vad_clock_ms * BYTES_PER_MS)
        elif event["type"] == "response.output_audio.delta":
            probe = self.probes[session]
            probe.out.append((sent_at, probe.out_bytes))
            probe.out_bytes += b64_len(event["delta"])


def inbound_delays(sent: list[float], probe: ByteSessionProbe, only: set[int] | None = None) -> tuple[list[float], int]:
    """Per Twilio frame, ms from the phone's send to the fake reading the append holding its last byte;
    and the number of frames left out because they were sent before the Realtime session connected.
    `only`: just these frame indices (e.g. the caller's speech, which a batching bridge never holds)."""
    delays: list[float] = []
    setup = j = 0
    for k, tx in enumerate(sent):
        if only is not None and k not in only:
            continue
        end = (k + 1) * FRAME_BYTES
        while j < len(probe.in_end) and probe.in_end[j] < end:
            j += 1
        if j == len(probe.in_end):
            break
        if tx < probe.opened_at:
            setup += 1
        else:
            delays.append((probe.rx[j] - tx) * 1000)
    return delays, setup


def outbound_delays(call: SimulatedCall, probe: ByteSessionProbe) -> tuple[list[float], int]:
    """Per audio delta, ms from the fake's send to the phone receiving the media message holding its
    first byte; and the number of deltas left out because the fake sent them before the bridge had
    sent the phone anything (a bridge that opens the Realtime session at webhook time has the greeting
    generated before the stream is even connected, and those deltas wait for the call's set-up: set-up,
    not relay; the greeting latency shows it). The same rule for every bridge: for one that forwards
    at once it leaves out only the first delta."""
    ends: list[int] = []
    times: list[float] = []
    total = 0
    for message, at in zip(call.received, call.received_times, strict=True):
        media = message.get("media") if message.get("event") == "media" else None
        payload = media.get("payload") if isinstance(media, dict) else None
        if isinstance(payload, str):
            total += b64_len(payload)
            ends.append(total)
            times.append(at)
    delays: list[float] = []
    setup = j = 0
    started = call.first_media_at if call.first_media_at is not None else float("inf")
    for sent_at, offset in probe.out:
        while j < len(ends) and ends[j] <= offset:
            j += 1
        if j == len(ends):
            break
        if sent_at < started:
            setup += 1
        else:
            delays.append((times[j] - sent_at) * 1000)
    return delays, setup
