"""What the caller hears: assistant audio out to the carrier, and which of it has played.

`Playout` joins the two halves of that: the `PlaybackLedger` (marks sent and echoed, ms heard) and the
`SpeechLog` (one `SpeechHandle` per response). It writes each audio chunk (with a mark when the ledger
says one is due, and one at the end of each item's audio), turns mark echoes into "this line has
played out", and on barge-in clears the carrier's queue and reports what the caller heard of the line
that was cut off.
"""

from __future__ import annotations

import time
from typing import Any

from services.call.playback import Interruption, PlaybackLedger, mulaw_b64_duration_ms
from services.call.speech import SpeechHandle, SpeechLog
from services.telephony.events import MediaStream


class Playout:
    def __init__(self, stream: MediaStream) -> None:
        self._stream = stream
        self.ledger = PlaybackLedger()
        self.speech = SpeechLog()

    @property
    def busy(self) -> bool:
        """A response is being generated, or its audio is still queued at the phone."""
        return self.speech.current is not None or self.ledger.has_unplayed_audio

    def response_started(self, response_id: str) -> SpeechHandle:
        return self.speech.start(response_id)

    def response_done(self, response_id: str) -> SpeechHandle | None:
        return self.speech.done(response_id, unplayed=not self.ledger.response_fully_played(response_id))

    def abandon(self) -> list[SpeechHandle]:
        """The Realtime session is gone: its unfinished responses will never be done. Each is finished
        here (what was sent still plays); returns those that have now played out."""
        finished = []
        for handle in self.speech.unplayed():
            if not handle.generation_done:
                self.response_done(handle.response_id)
            if handle.played_out:
                finished.append(handle)
        return finished

    def handle(self, response_id: str | None) -> SpeechHandle | None:
        return self.speech.get(response_id)

    async def play(self, event: dict[str, Any], now: float) -> bool:
        """Hot path: one `response.output_audio.delta` to the carrier, base64 untouched. False if dropped."""
        handle = self.speech.get(event.get("response_id"))
        if handle is None or handle.interrupted:
            return False  # late audio of a response the caller interrupted
        payload, item_id = event["delta"], event["item_id"]
        if self.ledger.tail_item not in (None, item_id):
            await self.seal()  # a new item before the last one's audio was closed
        duration_ms = mulaw_b64_duration_ms(payload)
        mark = self.ledger.on_audio_sent(handle.response_id, item_id, duration_ms, now)
        handle.audio_sent(duration_ms)
        await self._stream.send_audio(payload, mark)
        return True

    async def seal(self) -> None:
        """The audio of the item playing is complete (or will get no more): mark its end, so its playout
        is seen. Idempotent."""
        mark = self.ledger.seal()
        if mark is not None:
            await self._stream.send_mark(mark)

    def mark_echoed(self, name: str) -> list[SpeechHandle]:
        """A mark came back; returns the lines that have now played out in full."""
        if self.ledger.on_mark_echo(name, time.monotonic()) is None:
            return []  # flushed by a clear, or unknown: not proof of playback
        finished = [
            handle
            for handle in self.speech.unplayed()
            if handle.generation_done and self.ledger.response_fully_played(handle.response_id)
        ]
        for handle in finished:
            handle.mark_all_heard()
        return finished

    async def interrupt(self) -> tuple[Interruption | None, list[SpeechHandle]]:
        """Barge-in: what was heard of the line playing (None if nothing was), and every line cut off.

        With `interrupt_response` the server cancels the response in progress, and a line still queued
        is cleared at the phone: neither will be heard any further.
        """
        interruption = self.ledger.interrupt(time.monotonic())
        cut_off = self.speech.unplayed()
        for handle in cut_off:
            handle.mark_interrupted()
        if interruption is not None:
            await self._stream.clear()
        return interruption, cut_off
