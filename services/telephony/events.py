"""What a carrier's media stream says to a call, and what a call can ask of it.

Every carrier adapter turns its own JSON into these few events and implements `MediaStream`, so
nothing past the adapter knows which carrier a call is on (the shape of Pipecat's serializers).
"""

from __future__ import annotations

import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol


@dataclass(slots=True)
class AudioIn:
    """Caller audio: base64 μ-law 8 kHz exactly as the carrier sent it, and its bytes, decoded once when the
    frame was checked (`checked_audio`). Not frozen: one is made per 20 ms frame, and a frozen init costs
    twice as much."""

    payload: str
    audio: bytes


def checked_audio(payload: str) -> AudioIn | None:
    """A carrier's base64 μ-law payload if OpenAI would take it as an append (strict base64), else None.
    The strict decode is the check: ~1.2 µs, against ~1.7 µs for a regular expression that decodes nothing."""
    if len(payload) % 4 or payload.endswith("==="):  # padding strict mode lets through after a whole quad
        return None
    try:
        return AudioIn(payload, binascii.a2b_base64(payload, strict_mode=True))
    except ValueError:  # binascii.Error, or a non-ASCII str
        return None


@dataclass(frozen=True, slots=True)
class PlaybackMarkEcho:
    """The carrier played everything we sent before the mark of this name."""

    name: str


@dataclass(frozen=True, slots=True)
class Digit:
    """A keypad press (DTMF)."""

    digit: str


@dataclass(frozen=True, slots=True)
class StreamStopped:
    """The carrier ended the stream (hang-up, or our own redirect of the call)."""


@dataclass(frozen=True, slots=True)
class StreamClosed:
    """The socket went away without a `stop`: `server_shutdown` or `stream_closed`."""

    reason: Literal["server_shutdown", "stream_closed"]


StreamEvent = AudioIn | PlaybackMarkEcho | Digit | StreamStopped | StreamClosed


@dataclass(frozen=True, slots=True)
class CallInfo:
    """Who and what a call is about, from the stream's start (parameters we put in our answer)."""

    call_sid: str
    stream_sid: str
    caller: str | None
    called: str | None
    direction: Literal["inbound", "outbound"]
    purpose: str | None = None
    attestation: str | None = None  # STIR/SHAKEN verification of the caller id, as the carrier reports it


class MediaStream(Protocol):
    """One live carrier stream. Each method is safe to call from any of the call's tasks."""

    carrier: str
    info: CallInfo

    async def receive(self) -> StreamEvent:
        """The next event; `StreamStopped` / `StreamClosed` is the last one."""
        ...

    def deliver_audio(self, sink: Callable[[AudioIn], None]) -> bool:
        """From now on, hand caller audio to `sink` as each frame arrives, in the socket's read callback (so
        `sink` must not wait), instead of through `receive`; False if this stream's socket cannot, and then
        audio stays in `receive`. Either way every frame comes once, in order."""
        ...

    async def send_audio(self, payload: str, mark: str | None) -> None:
        """Queue base64 μ-law for playback, followed by a mark (if given) echoed once it has played."""
        ...

    async def send_mark(self, mark: str) -> None:
        """A mark after the audio queued so far, echoed once all of it has played."""
        ...

    async def clear(self) -> None:
        """Drop every queued chunk (barge-in); pending marks come back as flushed."""
        ...

    async def close(self) -> None:
        """End our side of the stream (idempotent)."""
        ...
