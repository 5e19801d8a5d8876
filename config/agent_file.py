"""The business's agent file (AGENT_CONFIG_FILE, YAML): who the assistant is, for which company, when people
take calls, which number each department has, what the SMS say, and where the knowledge base is seeded from.

Validated once at start-up; a bad field stops it with one line naming the field (`load_agent_file`), as a
bad setting does. `config/agent.yaml` is the documented example, and it reproduces the built-in defaults
(`config.agent_config`) exactly. Fields the file leaves out keep today's behaviour: support hours and the
general agent number come from the settings (SUPPORT_HOURS_*, SUPPORT_TIMEZONE, HUMAN_AGENT_NUMBER), the
voice from OPENAI_REALTIME_VOICE (`apply_to_settings`).
"""

from __future__ import annotations

import string
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from config.agent_config import (
    CODE_SMS_TEXT,
    COMPANY_NAME,
    GREETING_LINES,
    INSTRUCTIONS_TEMPLATE,
    KNOWLEDGE_SEED_FILE,
    PERSONA_NAME,
    TICKET_SMS_TEXT,
    TRANSCRIPTION_KEYWORDS,
    AgentConfig,
    greeting_instruction,
)
from config.settings import Settings
from models.commerce import Department, PreferredLanguage

LANGUAGE_CODES: dict[str, list[str]] = {"hinglish": ["hi", "en"], "hindi": ["hi"], "english": ["en"]}
# Voices the Realtime API offers (a typo here would otherwise fail only on the first call).
Voice = Literal["alloy", "ash", "ballad", "cedar", "coral", "echo", "marin", "sage", "shimmer", "verse"]
HHMM = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")]


def _template(allowed: set[str], required: frozenset[str] | set[str] = frozenset()) -> AfterValidator:
    """A text with only the `{placeholders}` it may use (and those it must)."""

    def check(text: str) -> str:
        try:
            used = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
        except ValueError as error:  # an unmatched brace
            raise ValueError(f"not a valid template ({error})") from None
        unknown, missing = used - allowed, required - used
        if unknown:
            raise ValueError(f"unknown placeholder {{{sorted(unknown)[0]}}}; allowed: {sorted(allowed)}")
        if missing:
            raise ValueError(f"must contain {{{sorted(missing)[0]}}}")
        return text

    return AfterValidator(check)


PersonaText = Annotated[str, Field(min_length=1, max_length=400), _template({"company", "persona"})]


def _agent_number(number: str) -> str:
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        raise ValueError("must be an E.164 number such as +919876543210") from None
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if not phonenumbers.is_valid_number(parsed) or e164 != number:
        raise ValueError("must be a valid E.164 number such as +919876543210")
    return number


AgentNumber = Annotated[str, AfterValidator(_agent_number)]


class SupportHours(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: HHMM
    end: HHMM
    timezone: str = "Asia/Kolkata"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone such as Asia/Kolkata") from None
        return value


class SmsTexts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ticket: Annotated[
        str, Field(min_length=10, max_length=320), _template({"ticket_id", "within", "company"}, {"ticket_id"})
    ] = TICKET_SMS_TEXT
    verification_code: Annotated[
        str, Field(min_length=10, max_length=320), _template({"code", "order_id", "minutes", "company"}, {"code"})
    ] = CODE_SMS_TEXT


_LANGUAGES: tuple[PreferredLanguage, ...] = ("hinglish", "hindi", "english")


class AgentFile(BaseModel):
    """The YAML file's fields; every one is optional and defaults to today's behaviour."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    company_name: str = Field(default=COMPANY_NAME, min_length=1, max_length=60)
    persona_name: str = Field(default=PERSONA_NAME, min_length=1, max_length=40)
    voice: Voice | None = None
    languages: list[PreferredLanguage] = Field(default_factory=lambda: list(_LANGUAGES), min_length=1)
    default_language: PreferredLanguage = "hinglish"
    greeting: dict[PreferredLanguage, PersonaText] = Field(
        default_factory=lambda: {language: GREETING_LINES[language] for language in _LANGUAGES}
    )
    extra_instructions: str = Field(default="", max_length=4000)
    support_hours: SupportHours | None = None
    departments: dict[Department, AgentNumber] = Field(default_factory=dict)
    sms: SmsTexts = Field(default_factory=SmsTexts)
    knowledge_seed_file: Path = KNOWLEDGE_SEED_FILE  # relative paths: from the agent file's folder

    @model_validator(mode="after")
    def _languages_agree(self) -> AgentFile:
        if self.default_language not in self.languages:
            raise ValueError(f"default_language {self.default_language!r} is not one of languages")
        if self.default_language not in self.greeting:
            raise ValueError(f"greeting has no line for the default language {self.default_language!r}")
        stray = [language for language in self.greeting if language not in self.languages]
        if stray:
            raise ValueError(f"greeting.{stray[0]} is for a language not in languages")
        return self

    def agent_config(self, base: AgentConfig | None = None) -> AgentConfig:
        """The runtime agent: instructions and greetings with the company and persona filled in."""
        names = {"company": self.company_name, "persona": self.persona_name}
        instructions = INSTRUCTIONS_TEMPLATE.format(**names)
        if self.extra_instructions:
            instructions += "\n\nAlso (from the business):\n" + self.extra_instructions
        greetings = {
            language: greeting_instruction(language, line.format(**names)) for language, line in self.greeting.items()
        }
        codes = list(dict.fromkeys(code for language in self.languages for code in LANGUAGE_CODES[language]))
        keywords = [self.company_name if word == COMPANY_NAME else word for word in TRANSCRIPTION_KEYWORDS]
        return (base or AgentConfig()).model_copy(
            update={
                "company_name": self.company_name,
                "persona_name": self.persona_name,
                "instructions": instructions,
                "greeting_instructions": greetings[self.default_language],
                "greetings": greetings,
                "transcription_languages": codes,
                "transcription_keywords": keywords,
                "departments": dict(self.departments),
                "ticket_sms_text": self.sms.ticket,
                "code_sms_text": self.sms.verification_code,
                "knowledge_seed_file": self.knowledge_seed_file,
            },
            deep=True,
        )

    def apply_to_settings(self, settings: Settings) -> Settings:
        """Settings with what this file decides: its support hours and voice; unset fields keep the settings'."""
        update: dict[str, object] = {}
        if self.support_hours is not None:
            update |= {
                "support_hours_start": self.support_hours.start,
                "support_hours_end": self.support_hours.end,
                "support_timezone": self.support_hours.timezone,
            }
        if self.voice is not None:
            update["openai_realtime_voice"] = self.voice
        return settings.model_copy(update=update) if update else settings


def greeting_for(agent: AgentConfig, preferred_language: str | None) -> str:
    """The greeting instruction for a caller whose customer record prefers `preferred_language`; the default
    language's when it is unknown (no record, a SIP caller) or not one the business speaks."""
    if preferred_language is None:
        return agent.greeting_instructions
    return agent.greetings.get(preferred_language, agent.greeting_instructions)


def agent_number_for(numbers: Mapping[str, str], department: str | None, fallback: str | None) -> str | None:
    """Who a transfer dials: the department's number (agent file `departments`), else the "general" one,
    else HUMAN_AGENT_NUMBER (`fallback`)."""
    return numbers.get(department or "general") or numbers.get("general") or fallback


class AgentFileError(ValueError):
    """One line naming the file and the bad field."""


def read_agent_file(path: Path) -> AgentFile:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise AgentFileError(f"AGENT_CONFIG_FILE {path} cannot be read: {error.strerror}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise AgentFileError(f"AGENT_CONFIG_FILE {path} is not valid YAML{where}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise AgentFileError(f"AGENT_CONFIG_FILE {path} must be a mapping of fields")
    try:
        agent_file = AgentFile.model_validate(data)
    except ValidationError as error:
        raise AgentFileError(f"AGENT_CONFIG_FILE {path}: {describe_agent_error(error)}") from None
    seed = agent_file.knowledge_seed_file
    if not seed.is_absolute():
        seed = (path.parent / seed).resolve()
    if not seed.is_file():
        raise AgentFileError(f"AGENT_CONFIG_FILE {path}: knowledge_seed_file {seed} does not exist")
    return agent_file.model_copy(update={"knowledge_seed_file": seed})


def describe_agent_error(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        name = ".".join(str(part) for part in item["loc"]) or "file"
        message = str(item["msg"]).removeprefix("Value error, ")
        parts.append(f"{name} is invalid: {message}" if item["type"] != "extra_forbidden" else f"{name} is not a field")
    return "; ".join(parts)


def load_agent(settings: Settings) -> tuple[Settings, AgentConfig]:
    """The settings and agent the app runs with, or exit with one readable line (no traceback)."""
    if settings.agent_config_file is None:
        return settings, AgentConfig()
    try:
        agent_file = read_agent_file(settings.agent_config_file)
    except AgentFileError as error:
        sys.stderr.write(f"Configuration error: {error}\n")
        raise SystemExit(2) from None
    return agent_file.apply_to_settings(settings), agent_file.agent_config()
