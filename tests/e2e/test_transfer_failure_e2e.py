"""A transfer Twilio refuses: the caller is told, the conversation goes on, and a goodbye still ends the call.

Twilio answers the `<Dial>` redirect with 503 on every retry. The pending transfer must fail cleanly and
leave nothing behind: the caller's goodbye arms `end_call` as usual, the goodbye plays to its end, the
call hangs up, and no response is requested after the goodbye.
"""

from __future__ import annotations

import pytest

from services.call.action_runner import TRANSFER_FAILED_NOTE
from services.handoff.transfer import REDIRECT_ATTEMPTS
from tests.fakes.mulaw import tone
from tests.fakes.realtime_server import Script, Turn
from tests.stack import DEMO_CALLER, live_stack, metric, wait_for_greeting, wait_for_record

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TRANSFER_ARGS = '{"reason": "Caller wants a refund for a damaged kurta", "department": "refunds"}'
HANDOFF_LINE = "Main aapko hamari team se connect kar rahi hoon."
GOODBYE = "Dhanyavaad, aapka din shubh ho!"


def system_notes(session) -> list[str]:
    return [
        e["item"]["content"][0]["text"]
        for e in session.received
        if e["type"] == "conversation.item.create" and e["item"].get("role") == "system"
    ]


async def test_refused_transfer_returns_to_conversation_and_goodbye_still_hangs_up(
    mongo_uri: str, database_name: str
) -> None:
    async with live_stack(mongo_uri, database_name) as stack:
        failed_before = await metric(stack, "voice_transfers_total", outcome="redirect_failed")
        stack.rest.fail_next(
            "call_update", status=503, code=20503, message="Service Unavailable", count=REDIRECT_ATTEMPTS
        )
        stack.realtime.script = Script(
            greeting_ms=300,
            reply_ms=400,
            turns=[
                Turn(
                    transcript="Kisi insaan se baat karni hai",
                    tool_calls=[("transfer_to_human", TRANSFER_ARGS)],
                    reply_transcript=HANDOFF_LINE,
                    reply_ms=600,
                ),
                Turn(
                    transcript="Theek hai, rehne dijiye. Bye.",
                    tool_calls=[("end_call", '{"reason": "caller said goodbye"}')],
                    reply_transcript=GOODBYE,
                    reply_ms=500,
                ),
            ],
        )
        call = await stack.sim.place_call(from_=DEMO_CALLER)
        await call.connect_stream()
        (session,) = await stack.realtime.wait_for_sessions(1)
        await wait_for_greeting(call)

        # The caller asks for a person: the hand-off line plays, then every redirect attempt is refused.
        await call.say_and_wait(tone(500, 440))
        await stack.rest.wait_for(
            lambda: len([r for r in stack.rest.requests if r.kind == "call_update"]) >= REDIRECT_ATTEMPTS, timeout=15
        )
        # The caller is told (the model gets a system note and speaks about it), and the call goes on.
        await session.wait_for(lambda: TRANSFER_FAILED_NOTE in system_notes(session), timeout=10, what="failure note")
        await session.wait_for(
            lambda: session.responses[-1]["kind"] == "greeting" and session.responses[-1]["status"] == "completed",
            timeout=10,
            what="the apology after the failed transfer",
        )
        await call.wait_playback_idle(timeout=10)
        assert call.connected and stack.rest.call_updates(call.call_sid) == []
        attempts = [r for r in stack.rest.requests if r.kind == "call_update"]
        assert len(attempts) == REDIRECT_ATTEMPTS and all(r.status_code == 503 for r in attempts)
        record = await wait_for_record(
            stack, call.call_sid, lambda r: (r.get("transfer") or {}).get("status") == "failed"
        )
        assert record["status"] == "in_progress" and record["ended_at"] is None
        assert (await stack.services.db.transfers.get(call.call_sid)).status == "failed"

        # The caller says goodbye: end_call is honoured, the goodbye plays in full, then the call ends.
        await call.say_and_wait(tone(500, 440))
        await call.wait_closed(timeout=10)
        assert call.closed_by_app
        kinds = [(r["kind"], r["transcript"]) for r in session.responses]
        assert kinds[-2][0] == "reply" and kinds[-1] == ("tool_followup", GOODBYE)
        assert session.responses[-1]["status"] == "completed" and session.responses[-1]["audio_ms"] == 500
        # Nothing was cut off: every byte sent to the phone was played, and no clear was needed.
        assert call.clears == [] and len(call.played_audio) == call.received_media_bytes
        # Greeting, transfer call, hand-off line, apology, end_call, goodbye — and nothing after the goodbye.
        assert [kind for kind, _ in kinds] == [
            "greeting",
            "reply",
            "tool_followup",
            "greeting",
            "reply",
            "tool_followup",
        ]

        record = await wait_for_record(stack, call.call_sid, lambda r: r.get("ended_at") is not None)
        assert record["end_reason"] == "assistant_ended" and record["status"] == "completed"
        assert record["transfer"]["status"] == "failed"
        assert [t["name"] for t in record["tool_calls"]] == ["transfer_to_human", "end_call"]
        assert "Transfer failed to start" in [line["text"] for line in record["transcript"] if line["role"] == "system"]
        assert await metric(stack, "voice_transfers_total", outcome="redirect_failed") == failed_before + 1
        stack.realtime.assert_clean()
        assert call.violations == []
