"""A stream that starts while the database stalls: the caller is greeted after a short bounded wait, and
the stream's claim still lands in the database once it answers again (so other nodes refuse a replay)."""

from __future__ import annotations

import asyncio
import signal

import pytest

from devtools.ferretdb import LocalMongo
from services.stream_gate import CLAIM_TIMEOUT_S
from tests.stack import DEMO_CALLER, live_stack, metric, wait_for_greeting

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def test_a_stalled_database_costs_the_greeting_a_bounded_wait_and_loses_no_claim() -> None:
    with LocalMongo() as server:
        assert server.process is not None
        async with live_stack(server.uri, "claim_outage") as stack:
            claims = stack.app.state.services.db.stream_claims
            call = await stack.sim.place_call(from_=DEMO_CALLER)  # the answer webhook, database up
            local_only = await metric(stack, "voice_db_errors_total", operation="stream_claim")
            server.process.send_signal(signal.SIGSTOP)  # the database stops answering
            try:
                started = asyncio.get_running_loop().time()
                await call.connect_stream()
                await call.wait_for_media(timeout=10)
                waited = asyncio.get_running_loop().time() - started
                # Not a timing target: proof the claim was not waited on past its bound (the default
                # driver timeouts are many seconds), with room for a loaded machine.
                assert waited < CLAIM_TIMEOUT_S + 3, waited
                assert await metric(stack, "voice_db_errors_total", operation="stream_claim") == local_only + 1
            finally:
                server.process.send_signal(signal.SIGCONT)
            await wait_for_greeting(call)
            for _ in range(100):  # the insert left running finishes once the database is back
                if await claims.started(call.call_sid) is not None:
                    break
                await asyncio.sleep(0.1)
            assert await claims.started(call.call_sid) is not None, "the claim reached the database after all"
            await call.hangup()
            await call.wait_closed(timeout=5)
