"""The business's agent file: the shipped example is today's behaviour, every field is validated with one
clear line, and greetings, department numbers and settings follow the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from config.agent_config import DEFAULT_AGENT_CONFIG, GREETING_INSTRUCTIONS, INSTRUCTIONS, AgentConfig
from config.agent_file import (
    AgentFile,
    AgentFileError,
    agent_number_for,
    greeting_for,
    load_agent,
    read_agent_file,
)
from config.settings import DEFAULT_AGENT_CONFIG_FILE
from services.handoff.ticket_sms import ticket_sms_text
from services.tools.verification import code_sms_text
from tests.stack import make_settings


def write(tmp_path: Path, fields: dict[str, Any]) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(fields, allow_unicode=True), encoding="utf-8")
    return path


def test_the_shipped_file_is_exactly_the_built_in_agent() -> None:
    settings = make_settings()
    assert settings.agent_config_file == DEFAULT_AGENT_CONFIG_FILE
    effective, agent = load_agent(settings)
    assert agent == AgentConfig() == DEFAULT_AGENT_CONFIG
    assert agent.instructions == INSTRUCTIONS and agent.greeting_instructions == GREETING_INSTRUCTIONS
    assert "You are Priya" in agent.instructions and "for ShopKart" in agent.instructions
    assert effective == settings  # hours, voice and the agent number stay the settings'
    assert agent.transcription_languages == ["hi", "en"]


def test_no_file_means_the_built_in_agent() -> None:
    settings = make_settings(agent_config_file="")
    assert settings.agent_config_file is None
    assert load_agent(settings) == (settings, AgentConfig())


def test_a_file_sets_company_persona_greetings_and_instructions(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "company_name": "DesiMart",
            "persona_name": "Anjali",
            "languages": ["english", "hinglish"],
            "default_language": "english",
            "greeting": {
                "english": "Hi, {company} here, I am {persona}.",
                "hinglish": "Namaste, {company} se {persona}.",
            },
            "extra_instructions": "Diwali sale: deliveries take 2 extra days.",
        },
    )
    agent = read_agent_file(path).agent_config()
    assert "You are Anjali" in agent.instructions and "DesiMart" in agent.instructions
    assert "ShopKart" not in agent.instructions and "Priya" not in agent.instructions
    assert agent.instructions.endswith("Diwali sale: deliveries take 2 extra days.")
    assert agent.greeting_instructions == greeting_for(agent, None)
    assert (
        "in English" in agent.greeting_instructions and "Hi, DesiMart here, I am Anjali." in agent.greeting_instructions
    )
    assert "Namaste, DesiMart se Anjali." in greeting_for(agent, "hinglish")
    assert greeting_for(agent, "hindi") == agent.greeting_instructions  # not spoken here: the default
    assert agent.transcription_languages == ["en", "hi"] and "DesiMart" in agent.transcription_keywords
    assert agent.vad == AgentConfig().vad  # what the file does not name stays as it was


def test_the_caller_language_picks_the_greeting_with_the_shipped_file() -> None:
    _, agent = load_agent(make_settings())
    assert "in Hinglish" in greeting_for(agent, "hinglish") and greeting_for(agent, None) == GREETING_INSTRUCTIONS
    assert "in Hindi" in greeting_for(agent, "hindi")
    assert "ShopKart में आपका स्वागत है" in greeting_for(agent, "hindi")
    assert "Welcome to ShopKart, this is Priya" in greeting_for(agent, "english")
    assert greeting_for(agent, "tamil") == GREETING_INSTRUCTIONS


def test_hours_voice_and_departments(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "voice": "cedar",
            "support_hours": {"start": "10:00", "end": "18:30", "timezone": "Asia/Dubai"},
            "departments": {"refunds": "+918000012346", "general": "+918000012347"},
        },
    )
    settings, agent = load_agent(make_settings(agent_config_file=str(path), human_agent_number="+918000012345"))
    assert (settings.support_hours_start, settings.support_hours_end, settings.support_timezone) == (
        "10:00",
        "18:30",
        "Asia/Dubai",
    )
    assert settings.openai_realtime_voice == "cedar"
    assert agent_number_for(agent.departments, "refunds", settings.human_agent_number) == "+918000012346"
    assert agent_number_for(agent.departments, "payments", settings.human_agent_number) == "+918000012347"
    assert agent_number_for({}, "payments", settings.human_agent_number) == "+918000012345"
    assert agent_number_for({}, "payments", None) is None


def test_sms_texts_follow_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "company_name": "DesiMart",
            "sms": {
                "ticket": "{company}: ticket {ticket_id}, reply{within}.",
                "verification_code": "Code {code} ({company})",
            },
        },
    )
    agent = read_agent_file(path).agent_config()
    assert ticket_sms_text("TKT-123456", "24 hours", agent.ticket_sms_text, agent.company_name) == (
        "DesiMart: ticket TKT-123456, reply within 24 hours."
    )
    assert (
        code_sms_text("123456", "ORD-482913", 300, agent.code_sms_text, agent.company_name) == "Code 123456 (DesiMart)"
    )
    # The defaults are the texts sent before the file existed.
    assert (
        ticket_sms_text("TKT-1", None)
        == "Your support ticket number is TKT-1. Our team will get back to you soon. Thank you!"
    )


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"company_name": ""}, "company_name is invalid"),
        ({"compnay_name": "Typo"}, "compnay_name is not a field"),
        ({"voice": "robot"}, "voice is invalid"),
        ({"languages": ["english", "tamil"]}, "languages.1 is invalid"),
        ({"languages": ["english"]}, "default_language 'hinglish' is not one of languages"),
        (
            {"greeting": {"hinglish": "Namaste from {brand}"}},
            "greeting.hinglish is invalid: unknown placeholder {brand}",
        ),
        ({"greeting": {"english": "Hi"}}, "greeting has no line for the default language"),
        ({"support_hours": {"start": "25:00", "end": "21:00"}}, "support_hours.start is invalid"),
        ({"support_hours": {"start": "09:00", "end": "21:00", "timezone": "Mars/Base"}}, "support_hours.timezone"),
        ({"departments": {"refunds": "98765 43210"}}, "departments.refunds is invalid: must be"),
        ({"departments": {"refunds": "+9112345"}}, "departments.refunds is invalid"),
        ({"departments": {"legal": "+918000012346"}}, "departments.legal"),
        ({"sms": {"ticket": "Your ticket is registered."}}, "sms.ticket is invalid: must contain {ticket_id}"),
        ({"sms": {"verification_code": "Code {code"}}, "sms.verification_code is invalid: not a valid template"),
        ({"knowledge_seed_file": "missing.json"}, "knowledge_seed_file"),
    ],
)
def test_a_bad_field_is_one_line_naming_it(tmp_path: Path, fields: dict[str, Any], named: str) -> None:
    path = write(tmp_path, fields)
    with pytest.raises(AgentFileError) as caught:
        read_agent_file(path)
    message = str(caught.value)
    assert named in message and "\n" not in message and str(path) in message


@pytest.mark.parametrize(
    ("content", "named"),
    [("company_name: [unclosed", "not valid YAML"), ("- a list\n- of things\n", "must be a mapping")],
)
def test_a_file_that_is_not_a_mapping_is_one_line(tmp_path: Path, content: str, named: str) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(AgentFileError, match=named):
        read_agent_file(path)


def test_a_missing_file_stops_start_up_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        load_agent(make_settings(agent_config_file=str(tmp_path / "nope.yaml")))
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("Configuration error: AGENT_CONFIG_FILE") and "cannot be read" in err


def test_every_field_of_the_model_is_documented_in_the_example() -> None:
    example = DEFAULT_AGENT_CONFIG_FILE.read_text(encoding="utf-8")
    for name in AgentFile.model_fields:
        assert name in example, name
