"""AGENT_CONFIG_FILE end to end: a file in tmp_path changes the company, persona and greeting of a real call
(the fake Realtime server sees them) and picks the transfer's department number; a bad field stops
`python app.py` with one line naming it."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from tests.fakes.mulaw import tone
from tests.fakes.realtime_server import Script, Turn
from tests.stack import AGENT_NUMBER, DEMO_CALLER, app_env, live_stack, wait_for_greeting

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ROOT = Path(__file__).resolve().parents[2]
REFUNDS_DESK = "+918000012399"
GREETING = "Hello from {company}! I am {persona}, how may I help?"
UNKNOWN_CALLER = "+919812340000"  # not a seeded customer


def agent_file(tmp_path: Path) -> Path:
    path = tmp_path / "agent.yaml"
    fields = {
        "company_name": "DesiMart",
        "persona_name": "Anjali",
        "languages": ["english", "hinglish"],
        "default_language": "english",
        "greeting": {"english": GREETING, "hinglish": "Namaste! {company} se {persona} bol rahi hoon."},
        "departments": {"refunds": REFUNDS_DESK},
    }
    path.write_text(yaml.safe_dump(fields), encoding="utf-8")
    return path


def greeting_requests(session) -> list[str]:
    return [
        (event.get("response") or {}).get("instructions", "")
        for event in session.received
        if event.get("type") == "response.create"
    ]


async def test_the_file_changes_company_greeting_and_department_of_a_real_call(
    seeded: tuple[str, str], tmp_path: Path
) -> None:
    async with live_stack(*seeded, agent_config_file=str(agent_file(tmp_path))) as stack:
        turns = [
            Turn(
                transcript="Mera refund abhi tak nahi aaya, kisi se baat karao",
                tool_calls=[("transfer_to_human", '{"reason": "Refund not received", "department": "refunds"}')],
                reply_transcript="Connecting you now.",
            )
        ]
        stack.realtime.script = Script(greeting_ms=300, reply_ms=400, turns=turns)
        call = await stack.sim.place_call(from_=UNKNOWN_CALLER)  # no customer record: the default language
        await call.connect_stream()
        (session,) = await stack.realtime.wait_for_sessions(1)
        await wait_for_greeting(call)

        instructions = session.state["instructions"]
        assert "You are Anjali" in instructions and "for DesiMart" in instructions
        assert "ShopKart" not in instructions and "Priya" not in instructions
        assert session.state["audio"]["input"]["transcription"]["languages"] == ["en", "hi"]
        (greeting,) = greeting_requests(session)
        assert "in English" in greeting and "Hello from DesiMart! I am Anjali, how may I help?" in greeting

        # The refunds department has its own desk: the transfer dials it, not HUMAN_AGENT_NUMBER.
        await call.say_and_wait(tone(500, 440))
        update = await stack.rest.wait_for_call_update(call.call_sid, timeout=15)
        (dial,) = list(ET.fromstring(update.form["Twiml"]))
        (number,) = list(dial)
        assert number.text == REFUNDS_DESK != AGENT_NUMBER
        (call_id, output) = next(iter(session.function_outputs.items()))
        assert session.issued_calls[call_id] == "transfer_to_human" and json.loads(output)["department"] == "refunds"
        await call.wait_closed(timeout=5)
        stack.realtime.assert_clean()


async def test_without_the_file_the_call_is_as_before(seeded: tuple[str, str]) -> None:
    async with live_stack(*seeded) as stack:
        stack.realtime.script = Script(greeting_ms=300, reply_ms=400)
        call = await stack.sim.place_call()
        await call.connect_stream()
        (session,) = await stack.realtime.wait_for_sessions(1)
        await wait_for_greeting(call)
        assert "You are Priya" in session.state["instructions"] and "for ShopKart" in session.state["instructions"]
        (greeting,) = greeting_requests(session)
        assert "Namaste! ShopKart mein aapka swagat hai, main Priya bol rahi hoon." in greeting
        await call.hangup()
        stack.realtime.assert_clean()


def test_a_bad_field_stops_start_up_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text("company_name: DesiMart\ndepartments:\n  refunds: '12345'\n", encoding="utf-8")
    # PORT is never reached: the file is refused first.
    env = app_env(MONGODB_URI="mongodb://127.0.0.1:9/", PORT="1", AGENT_CONFIG_FILE=str(path))
    done = subprocess.run(
        [sys.executable, str(ROOT / "app.py")], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"Configuration error: AGENT_CONFIG_FILE {path}: departments.refunds is invalid")
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("preopen", [True, False], ids=["preopened", "opened-at-stream"])
async def test_the_greeting_is_in_the_language_on_the_callers_customer_record(
    seeded: tuple[str, str], tmp_path: Path, preopen: bool
) -> None:
    """The demo caller's record prefers Hinglish; the business's default language is English."""
    async with live_stack(*seeded, agent_config_file=str(agent_file(tmp_path)), openai_preopen=preopen) as stack:
        stack.realtime.script = Script(greeting_ms=300, reply_ms=400)
        call = await stack.sim.place_call(from_=DEMO_CALLER)
        await call.connect_stream()
        (session,) = await stack.realtime.wait_for_sessions(1)
        await wait_for_greeting(call)
        (greeting,) = greeting_requests(session)
        assert "Namaste! DesiMart se Anjali bol rahi hoon." in greeting and "Hello from" not in greeting
        await call.hangup()
