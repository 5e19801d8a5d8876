"""End-to-end: commands for a live call — a staff note for the assistant, a hang-up — on the node that
holds the call, and forwarded to it from another node (two app instances on one database)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fakes.realtime_server import FakeSession
from tests.stack import DEMO_CALLER, LiveStack, live_stack, wait_for_greeting, wait_for_record

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

NOTE = "Customer is a priority account; offer a free replacement."


def system_items(session: FakeSession) -> list[str]:
    texts = []
    for event in session.received:
        item = event.get("item") or {}
        if event["type"] == "conversation.item.create" and item.get("role") == "system":
            texts.append(item["content"][0]["text"])
    return texts


async def post(stack: LiveStack, path: str, body: dict[str, Any], token: bool = True) -> httpx.Response:
    headers = stack.admin_headers() if token else {}
    async with httpx.AsyncClient(base_url=stack.app_url, trust_env=False) as client:
        return await client.post(path, json=body, headers=headers)


async def live_call(stack: LiveStack) -> tuple[Any, FakeSession]:
    call = await stack.sim.place_call(from_=DEMO_CALLER)
    await call.connect_stream()
    (session,) = await stack.realtime.wait_for_sessions(1)
    await wait_for_greeting(call)
    await wait_for_record(stack, call.call_sid, lambda r: r.get("node") == stack.settings.own_node_url)
    return call, session


async def test_a_staff_note_reaches_the_assistant_unspoken_and_stays_in_the_record(
    mongo_uri: str, database_name: str
) -> None:
    async with live_stack(mongo_uri, database_name) as stack:
        call, session = await live_call(stack)
        responses_before = len(session.responses)

        assert (await post(stack, f"/call/{call.call_sid}/note", {"text": NOTE}, token=False)).status_code == 401
        assert (await post(stack, f"/call/{call.call_sid}/note", {"text": "  "})).status_code == 422
        assert (await post(stack, "/call/CA" + "0" * 32 + "/note", {"text": NOTE})).status_code == 404

        response = await post(stack, f"/call/{call.call_sid}/note", {"text": NOTE, "author": "asha"})
        assert response.status_code == 200 and response.json()["outcome"] == "done"
        await session.wait_for(lambda: any(NOTE in text for text in system_items(session)), what="note")
        assert "asha" in next(text for text in system_items(session) if NOTE in text)
        assert len(session.responses) == responses_before, "a note is context, not a prompt to speak"

        record = await wait_for_record(stack, call.call_sid, lambda r: r.get("staff_notes"))
        assert [(n["text"], n["author"]) for n in record["staff_notes"]] == [(NOTE, "asha")]

        assert (await post(stack, f"/call/{call.call_sid}/hangup", {"author": "asha"})).json()["outcome"] == "done"
        assert await call.wait_closed(timeout=5) is not None
        ended = await wait_for_record(stack, call.call_sid, lambda r: r.get("ended_at") is not None)
        assert ended["end_reason"] == "ended_by_staff" and ended["staff_notes"][0]["text"] == NOTE
        assert (await post(stack, f"/call/{call.call_sid}/note", {"text": NOTE})).status_code == 409


async def test_a_command_given_to_another_node_reaches_the_node_holding_the_call(
    mongo_uri: str, database_name: str
) -> None:
    async with live_stack(mongo_uri, database_name) as node_a, live_stack(mongo_uri, database_name) as node_b:
        call, session = await live_call(node_a)

        response = await post(node_b, f"/call/{call.call_sid}/note", {"text": NOTE, "author": "ravi"})
        assert response.status_code == 200 and response.json()["outcome"] == "done"
        await session.wait_for(lambda: any(NOTE in text for text in system_items(session)), what="forwarded note")
        assert node_b.realtime.sessions == [], "node B never touched the call's Realtime session"

        forwarded = await post(node_b, f"/internal/calls/{call.call_sid}/commands", {"kind": "hang_up", "author": "x"})
        assert forwarded.status_code == 409, "the node-to-node hop runs only calls live on that node"

        assert (await post(node_b, f"/call/{call.call_sid}/hangup", {"author": "ravi"})).status_code == 200
        ended = await wait_for_record(node_a, call.call_sid, lambda r: r.get("ended_at") is not None)
        assert ended["end_reason"] == "ended_by_staff"


async def test_a_node_that_does_not_answer_is_reported_and_the_note_is_kept(mongo_uri: str, database_name: str) -> None:
    async with live_stack(mongo_uri, database_name) as node_a, live_stack(mongo_uri, database_name) as node_b:
        call, _session = await live_call(node_a)
        gone = "http://127.0.0.1:9"  # the record names a node that is not there (crashed, partitioned)
        await node_a.services.db.calls.patch(call.call_sid, {"node": gone})
        node_a.services.live_calls.get(call.call_sid).record.node = gone  # the live writer agrees
        response = await post(node_b, f"/call/{call.call_sid}/note", {"text": NOTE, "author": "ravi"})
        assert response.status_code == 502
        record = await wait_for_record(node_b, call.call_sid, lambda r: r.get("staff_notes"))
        assert record["staff_notes"][0]["text"] == NOTE
        await call.hangup()
