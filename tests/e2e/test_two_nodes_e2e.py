"""Two nodes on one database behind HAProxy (`tests.cluster`): a call's webhook and its stream may land on
different nodes and the call still works (the session pre-opened on the webhook's node is closed, not
leaked); Twilio's callbacks and the admin reads work on either node; draining one node (SIGTERM) leaves
the other's calls alone while its own finish, and the balancer stops sending it new ones.

Each node is its own process (`python -m bench.app_server`, what `python app.py` runs), so the nodes
share nothing but MongoDB, the fakes and the token secret, as in production."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.cluster import SERVED_BY, Cluster, two_node_cluster
from tests.e2e.test_capacity_drain_e2e import caller_turn_is_answered
from tests.e2e.test_handoff_e2e import HANDOFF_LINE, TRANSFER_ARGS, child_leg_params, dial_of, dial_result_params
from tests.fakes.mulaw import tone
from tests.fakes.realtime_server import Script, Turn
from tests.fakes.twilio_sim import SimulatedCall
from tests.stack import DEMO_CALLER, wait_for_greeting

# Two app processes start per test (tens of seconds on a loaded machine) and one test waits out the
# pre-open expiry: more than the suite's default 180 s may be needed there.
pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.timeout(420)]

PREOPEN_TTL_S = 20  # services/realtime/preopen.py: an unclaimed pre-opened session is closed after this


@pytest.fixture
async def cluster(seeded: tuple[str, str], tmp_path: Path) -> AsyncIterator[Cluster]:
    async with two_node_cluster(*seeded, tmp_path, drain_timeout_s=60) as running:
        running.realtime.script = Script(greeting_ms=300, reply_ms=800)
        yield running


def served_by_last_webhook(cluster: Cluster) -> str:
    return cluster.served_by(cluster.sim.webhook_log[-1][2])


async def call_on(cluster: Cluster, webhook_node: str, stream_node: str, caller: str = DEMO_CALLER) -> SimulatedCall:
    """A call through the balancer whose voice webhook lands on one node and whose stream on another."""
    await cluster.route_next_to(webhook_node)
    call = await cluster.sim.place_call(from_=caller)
    assert served_by_last_webhook(cluster) == webhook_node
    await cluster.route_next_to(stream_node)
    await call.connect_stream()
    assert call.ws is not None and call.ws.response is not None
    assert call.ws.response.headers[SERVED_BY] == stream_node
    return call


async def active_calls(cluster: Cluster, node: str) -> int:
    response = await cluster.get("/health", node=node)
    assert response.json()["node"] == node
    return int(response.json()["active_calls"])


async def test_webhook_and_stream_on_different_nodes_then_callbacks_and_reads_on_either(cluster: Cluster) -> None:
    cluster.realtime.script = Script(
        greeting_ms=300,
        reply_ms=800,
        turns=[
            Turn(transcript="Namaste, ek sawaal tha."),
            Turn(
                transcript="Mujhe kisi insaan se baat karni hai",
                tool_calls=[("transfer_to_human", TRANSFER_ARGS)],
                reply_transcript=HANDOFF_LINE,
            ),
        ],
    )
    await cluster.route_next_to("a")
    call = await cluster.sim.place_call(from_=DEMO_CALLER)
    assert served_by_last_webhook(cluster) == "a"
    # Node a pre-opened a Realtime session at webhook time (OPENAI_PREOPEN, the default)...
    (preopened,) = await cluster.realtime.wait_for_sessions(1)

    # ...but the stream lands on node b, which opens its own and carries the call.
    await cluster.route_next_to("b")
    await call.connect_stream()
    assert call.ws is not None and call.ws.response is not None and call.ws.response.headers[SERVED_BY] == "b"
    _, session = await cluster.realtime.wait_for_sessions(2)
    await wait_for_greeting(call)
    await caller_turn_is_answered(call)
    assert [turn.script.transcript for turn in session.user_turns] == ["Namaste, ek sawaal tha."]
    assert preopened.appended_bytes == 0 and preopened.user_turns == []  # no caller audio went to a
    assert await active_calls(cluster, "b") == 1 and await active_calls(cluster, "a") == 0

    # The caller asks for a human: node b redirects the call to <Dial> the agent.
    await call.say_and_wait(tone(500, 440))
    update = await cluster.rest.wait_for_call_update(call.call_sid, timeout=15)
    await call.wait_closed(timeout=10)
    dial, number = dial_of(update.form["Twiml"])

    # Twilio's callbacks for that transfer reach node a, which never saw the call: all state is in MongoDB.
    await cluster.route_next_to("a")
    whisper = await cluster.sim.post_webhook(number.get("url") or "", child_leg_params(cluster, call))
    assert served_by_last_webhook(cluster) == "a" and whisper.status_code == 200, whisper.text
    (say,) = list(ET.fromstring(whisper.text))
    assert say.tag == "Say" and "delayed order" in (say.text or "")
    await cluster.route_next_to("a")
    result = await cluster.sim.post_webhook(dial.get("action") or "", dial_result_params(cluster, call, "completed"))
    assert served_by_last_webhook(cluster) == "a" and result.status_code == 200
    assert list(ET.fromstring(result.text)) == []
    await cluster.route_next_to("b")
    status = await cluster.sim.post_status_callback(call, "completed", duration=61)
    assert served_by_last_webhook(cluster) == "b" and status.status_code == 204

    # The admin reads are the same from either node.
    shown = {}
    for node in ("a", "b"):
        record = await cluster.get(f"/call/{call.call_sid}", node=node, admin=True)
        listed = await cluster.get("/calls", node=node, admin=True)
        assert record.status_code == 200 and listed.status_code == 200
        assert call.call_sid in listed.text
        shown[node] = record.json()
    assert shown["a"] == shown["b"]
    assert shown["a"]["status"] == "transferred" and shown["a"]["transfer"]["status"] == "connected"
    assert shown["a"]["twilio_status"] == "completed" and shown["a"]["twilio_duration_s"] == 61
    assert (await cluster.get(f"/call/{call.call_sid}", node="a")).status_code == 401  # still authenticated

    # The session node a pre-opened was never claimed: node a closes it when it expires (no leak).
    await asyncio.wait_for(session.closed.wait(), 10)
    await asyncio.wait_for(preopened.closed.wait(), PREOPEN_TTL_S + 10)
    await cluster.nodes["a"].wait_for_log("realtime_preopen_expired")
    assert len(cluster.realtime.sessions) == 2
    assert call.violations == []
    cluster.realtime.assert_clean()


async def test_a_command_for_a_live_call_reaches_the_node_that_holds_it(cluster: Cluster) -> None:
    call = await call_on(cluster, "a", "b")
    _, session = await cluster.realtime.wait_for_sessions(2)
    await wait_for_greeting(call)
    note = "Priority customer: offer a free replacement."

    # Node a holds nothing of the call; it forwards the note to node b, named by the call's record.
    response = await cluster.post(f"/call/{call.call_sid}/note", {"text": note, "author": "asha"}, node="a")
    assert response.status_code == 200 and response.json()["outcome"] == "done", response.text

    def system_texts() -> list[str]:
        items = [event.get("item") or {} for event in session.received if event["type"] == "conversation.item.create"]
        return [part["text"] for item in items if item.get("role") == "system" for part in item["content"]]

    await session.wait_for(lambda: any(note in text for text in system_texts()), what="note on node b's session")
    record = (await cluster.get(f"/call/{call.call_sid}", node="a", admin=True)).json()
    assert record["node"] == cluster.nodes["b"].url and record["staff_notes"][0]["author"] == "asha"

    response = await cluster.post(f"/call/{call.call_sid}/hangup", {"author": "asha"}, node="a")
    assert response.status_code == 200
    await call.wait_closed(timeout=10)


async def test_draining_one_node_leaves_the_other_nodes_calls_alone(cluster: Cluster) -> None:
    on_a = await call_on(cluster, "a", "a")
    on_b = await call_on(cluster, "b", "b", caller="+919812345678")
    for call in (on_a, on_b):
        await wait_for_greeting(call)
    assert await active_calls(cluster, "a") == 1 and await active_calls(cluster, "b") == 1

    node_b = cluster.nodes["b"]
    node_b.terminate()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while (health := await cluster.get("/health", node="b")).status_code != 503:
        assert loop.time() < deadline, health.text
        await asyncio.sleep(0.05)
    assert health.json()["draining"] is True and health.json()["active_calls"] == 1
    assert (await cluster.get("/health/live", node="b")).status_code == 200  # alive: never killed for it

    # The balancer saw the 503 and sends new traffic to a only; a new call there works.
    await cluster.wait_routed_only_to({"a"})
    late = await cluster.sim.place_call(from_="+919811111111")
    assert served_by_last_webhook(cluster) == "a"
    await late.connect_stream()
    assert late.ws is not None and late.ws.response is not None and late.ws.response.headers[SERVED_BY] == "a"
    await wait_for_greeting(late)
    await caller_turn_is_answered(late)

    # Both live calls go on: a's is untouched, b's finishes on its draining node (its tunnel was kept).
    await caller_turn_is_answered(on_a)
    await caller_turn_is_answered(on_b)
    assert node_b.process.returncode is None, "b waits for its live call"
    await on_b.hangup()
    assert await node_b.exit_code(timeout=10) == 0, node_b.log_tail()

    assert on_a.connected and not on_a.closed_by_app and late.connected
    await caller_turn_is_answered(on_a)
    health_a = await cluster.get("/health", node="a")
    assert health_a.status_code == 200 and health_a.json()["active_calls"] == 2
    record = await cluster.get(f"/call/{on_b.call_sid}", admin=True)  # b's record, read through a
    assert record.status_code == 200 and record.json()["end_reason"] == "caller_hung_up"
    for call in (on_a, late):
        await call.hangup()
    assert [c.violations for c in (on_a, on_b, late)] == [[], [], []]
    cluster.realtime.assert_clean()
