"""The knowledge base end to end: the admin API over real HTTP, and a call whose model asks
`search_knowledge_base` a COD refund question and gets passages from the `knowledge` collection."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.store.seed import load_knowledge_entries
from tests.fakes.mulaw import tone
from tests.fakes.realtime_server import Script, Turn
from tests.stack import ADMIN_TOKEN, LiveStack, live_stack, wait_for_greeting

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

NEW = {
    "entry_id": "festive-delivery",
    "title": "Delivery during the Diwali sale",
    "body": "During the Diwali sale week, deliveries can take 2 extra days in every city.",
    "tags": ["Delivery", "sale"],
    "search_phrases": ["diwali sale mein delivery kab", "tyohaar pe der"],
}


@pytest.fixture
async def stack(mongo_uri: str, database_name: str) -> AsyncIterator[LiveStack]:
    async with live_stack(mongo_uri, database_name) as running:
        await running.services.db.knowledge.upsert_many(load_knowledge_entries())
        yield running


@pytest.fixture
async def client(stack: LiveStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.app_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as http:
        yield http


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/knowledge", None),
        ("GET", "/knowledge/search?q=refund", None),
        ("GET", "/knowledge/refund-cod", None),
        ("POST", "/knowledge", NEW),
        ("PATCH", "/knowledge/refund-cod", {"title": "Hacked"}),
        ("DELETE", "/knowledge/refund-cod", None),
    ],
)
async def test_every_route_needs_the_admin_token(stack: LiveStack, method: str, path: str, body: Any) -> None:
    async with httpx.AsyncClient(base_url=stack.app_url) as anonymous:
        for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"}):
            response = await anonymous.request(method, path, json=body, headers=headers)
            assert response.status_code == 401, (method, path)
    entry = await stack.services.db.knowledge.get("refund-cod")
    assert entry is not None and entry.title.startswith("Refund for Cash on Delivery")


async def test_list_get_add_edit_delete(client: httpx.AsyncClient) -> None:
    listed = (await client.get("/knowledge")).json()
    assert listed["total"] == len(listed["entries"]) >= 40
    got = await client.get("/knowledge/refund-cod")
    assert got.status_code == 200 and "bank account or as a UPI transfer" in got.json()["body"]

    created = await client.post("/knowledge", json=NEW)
    assert created.status_code == 201 and created.json()["tags"] == ["delivery", "sale"]
    assert (await client.post("/knowledge", json=NEW)).status_code == 409
    hits = (await client.get("/knowledge/search", params={"q": "diwali sale mein delivery kab hogi"})).json()["hits"]
    assert hits[0]["entry_id"] == "festive-delivery" and hits[0]["body"] == NEW["body"]

    edited = await client.patch("/knowledge/festive-delivery", json={"body": "Diwali week: 3 extra days everywhere."})
    assert edited.status_code == 200 and edited.json()["title"] == NEW["title"]
    assert (await client.get("/knowledge/festive-delivery")).json()["body"] == "Diwali week: 3 extra days everywhere."

    assert (await client.delete("/knowledge/festive-delivery")).status_code == 204
    assert (await client.get("/knowledge/festive-delivery")).status_code == 404
    assert (await client.delete("/knowledge/festive-delivery")).status_code == 404
    assert (await client.patch("/knowledge/festive-delivery", json={"title": "Back again"})).status_code == 404
    hits = (await client.get("/knowledge/search", params={"q": "diwali sale mein delivery kab hogi"})).json()["hits"]
    assert all(hit["entry_id"] != "festive-delivery" for hit in hits)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": ""}, "title"),
        ({"body": "x" * 2001}, "body"),
        ({"entry_id": "Not A Slug!"}, "entry_id"),
        ({"language": "fr"}, "language"),
        ({"tags": "refunds"}, "tags"),
        ({"owner": "me"}, "owner"),  # unknown fields are refused, not silently dropped
    ],
)
async def test_bad_entries_are_422_naming_the_field(
    client: httpx.AsyncClient, change: dict[str, Any], field: str
) -> None:
    response = await client.post("/knowledge", json={**NEW, **change})
    assert response.status_code == 422
    assert field in json.dumps([error["loc"] for error in response.json()["detail"]])
    assert (await client.get(f"/knowledge/{NEW['entry_id']}")).status_code == 404


async def test_bad_edits_and_ids_are_422(client: httpx.AsyncClient) -> None:
    assert (await client.patch("/knowledge/refund-cod", json={})).status_code == 422  # nothing to change
    assert (await client.patch("/knowledge/refund-cod", json={"body": "short"})).status_code == 422
    assert (await client.patch("/knowledge/refund-cod", json={"entry_id": "other-id"})).status_code == 422
    assert (await client.get("/knowledge/NOT_A_SLUG")).status_code == 422
    assert (await client.get("/knowledge/search", params={"q": "x"})).status_code == 422


async def test_a_cod_refund_question_on_a_call_gets_passages_from_the_knowledge_collection(stack: LiveStack) -> None:
    question = "COD order ka refund kab tak aayega?"
    arguments = json.dumps({"query": question})
    stack.realtime.script = Script(
        greeting_ms=300,
        reply_ms=400,
        turns=[Turn(transcript=question, tool_calls=[("search_knowledge_base", arguments)])],
    )
    call = await stack.sim.place_call()
    await call.connect_stream()
    (session,) = await stack.realtime.wait_for_sessions(1)
    await wait_for_greeting(call)
    # The tool is offered to the model, and the instructions bind policy answers to it.
    offered = {tool["name"] for tool in session.state["tools"]}
    assert "search_knowledge_base" in offered
    assert "answer only from the passages" in session.state["instructions"]

    await call.say_and_wait(tone(500, 440))
    await session.wait_for(lambda: len(session.function_outputs) == 1, timeout=10, what="function output")
    await session.wait_for(lambda: session.responses[-1]["kind"] == "tool_followup", timeout=10, what="follow-up")
    ((call_id, output_json),) = session.function_outputs.items()
    assert session.issued_calls[call_id] == "search_knowledge_base"
    output = json.loads(output_json)
    assert output["ok"] is True and output["found"] is True
    first = output["passages"][0]
    assert first["source"] == "refund-cod"
    for passage in output["passages"]:
        stored = await stack.services.db.knowledge.get(passage["source"])
        assert stored is not None and (passage["title"], passage["text"]) == (stored.title, stored.body)
    await call.hangup()
    stack.realtime.assert_clean()
