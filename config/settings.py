"""Every setting of the service, read once from the environment / `.env` and validated.

A missing or malformed required setting stops start-up with one line naming it
(see `load_settings`), never a traceback.
"""

from __future__ import annotations

import re
import socket
import sys
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlparse

import phonenumbers
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

E164_PATTERN = r"^\+[1-9]\d{6,14}$"
DEFAULT_AGENT_CONFIG_FILE = Path(__file__).resolve().parent / "agent.yaml"


def is_indian_number(number: str) -> bool:
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.region_code_for_number(parsed) == "IN" and phonenumbers.is_valid_number(parsed)


class Settings(BaseSettings):
    """Environment names are the field names upper-cased (e.g. `OPENAI_API_KEY`)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # OpenAI Realtime
    openai_api_key: SecretStr
    # gpt-realtime (plain) has an announced shutdown on 2027-01-20; 2.1-mini does not and reads digits better.
    openai_realtime_model: str = "gpt-realtime-2.1-mini"
    openai_websocket_base_url: str | None = None
    openai_realtime_voice: str = "marin"
    openai_connect_timeout_s: float = Field(default=5.0, gt=0)
    # Open the Realtime session (and start the greeting) when the voice webhook arrives, not when the
    # media stream connects: the greeting is ready sooner. See bench/README.md.
    openai_preopen: bool = True
    # Caller audio is sent to OpenAI in appends of this many ms while the caller is not talking (20 =
    # every carrier frame on its own). Fewer appends cost less CPU; see services/call/inbound_audio.py.
    inbound_audio_batch_ms: int = Field(default=100, ge=20, le=200)
    # … and in appends of this many ms while the caller talks and pauses, the pause's batches ending on the
    # frame that completes the VAD's silence window, which goes at once (20 = all of it frame by frame).
    inbound_speech_batch_ms: int = Field(default=100, ge=20, le=200)
    # Keypad: an entry ends on "#" or after this pause; a key alone may be a shortcut (JSON in the env,
    # e.g. {"0": "agent", "9": "repeat"}: "agent" = a human via the transfer tool, "repeat" = last answer).
    keypad_pause_s: float = Field(default=2.0, gt=0, le=10)
    keypad_keys: dict[Literal["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"], Literal["agent", "repeat"]] = {
        "0": "agent",
        "9": "repeat",
    }

    # Twilio
    twilio_account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    twilio_auth_token: SecretStr
    twilio_phone_number: str = Field(pattern=E164_PATTERN)
    twilio_api_base_url: str = "https://api.twilio.com"
    public_base_url: str

    # Plivo (docs/carriers.md): on when PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN are both set.
    plivo_auth_id: str | None = Field(default=None, pattern=r"^[A-Z]{2}[A-Z0-9]{18}$")
    plivo_auth_token: SecretStr | None = None
    plivo_api_base_url: str = "https://api.plivo.com"
    # Exotel (docs/carriers.md): on when EXOTEL_ACCOUNT_SID and EXOTEL_STREAM_SECRET are both set. The
    # secret is ours (random, per deployment), not the API token: Exotel sends it as Basic auth.
    exotel_account_sid: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{2,64}$")
    exotel_api_key: SecretStr | None = None
    exotel_api_token: SecretStr | None = None
    exotel_subdomain: str = "api.in.exotel.com"
    exotel_stream_user: str = Field(default="exotel", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    exotel_stream_secret: SecretStr | None = Field(default=None, min_length=32)
    # Addresses Exotel's requests may come from (comma-separated; empty: any, Basic auth still required).
    exotel_allowed_ips: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # MongoDB (any MongoDB-wire server: MongoDB, Atlas, FerretDB locally)
    mongodb_uri: str = "mongodb://127.0.0.1:27017/"
    mongodb_database: str = "voice_agent"
    # Call records (transcripts, phone numbers) are deleted this many days after the call started, by a TTL
    # index on MongoDB (FerretDB has none: nothing expires there). Unset: kept until deleted by hand.
    call_record_retention_days: int | None = Field(default=None, ge=1, le=3650)

    # Handoff and admin
    human_agent_number: str | None = Field(default=None, pattern=E164_PATTERN)
    admin_api_token: SecretStr = Field(min_length=16)

    # Server
    host: str = "0.0.0.0"
    port: int = Field(default=8000, ge=1, le=65535)
    # The carriers' media streams also on this port, served by aiohttp's WebSocket (less CPU per frame than
    # uvicorn's); the load balancer routes the stream paths to it (docs/deploy.md). Unset: the main port only.
    stream_port: int | None = Field(default=None, ge=1, le=65535)
    # While calls are live the event loop polls its sockets once per tick of this many ms instead of waking
    # for every carrier frame: a third less CPU at 50 calls, for at most a tick of added delay
    # (services/loop_pacer.py, bench/README.md rounds eleven and twelve). 0: off.
    loop_tick_ms: float = Field(default=2.0, ge=0, le=10)
    # Several nodes (docs/deploy.md): this node's name (in /health; the host name, e.g. the pod name, unless
    # set), and the base URL other nodes reach it on directly, not through the load balancer.
    node_id: str = Field(default_factory=socket.gethostname, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
    node_internal_url: str | None = None
    environment: Literal["development", "production"] = "development"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # Call handling
    stream_token_ttl_s: int = Field(default=60, ge=5, le=600)
    max_stream_message_bytes: int = Field(default=64 * 1024, ge=1024)
    tool_timeout_s: float = Field(default=4.0, gt=0)
    max_call_duration_s: int = Field(default=1800, ge=60)
    # Move a call to a fresh Realtime session once its session is this old (the API's cap is 60 min),
    # at the next quiet moment; small values (e.g. 12) are for tests.
    realtime_session_max_s: float = Field(default=3300, ge=5, le=3500)

    # Human handoff: agents take calls only inside these hours (India time); outside, a callback ticket.
    support_hours_start: str = Field(default="09:00", pattern=r"^\d{2}:\d{2}$")
    support_hours_end: str = Field(default="21:00", pattern=r"^\d{2}:\d{2}$")
    support_timezone: str = "Asia/Kolkata"
    sms_on_ticket: bool = True
    # The business's agent file (config/agent_file.py): company, persona, greetings, departments, SMS texts.
    # Empty: the built-in defaults (the same as config/agent.yaml).
    agent_config_file: Path | None = DEFAULT_AGENT_CONFIG_FILE
    # Failed identity checks a caller gets before order lookups for other numbers are locked for the call.
    max_verification_attempts: int = Field(default=3, ge=1, le=10)

    # Capacity and deploys (services/admission.py)
    # Calls one node carries at once, counting webhooks answered whose stream has not started yet. 50 is
    # the largest benchmarked level where the bridge still added only a few ms (bench/README.md).
    max_concurrent_calls: int = Field(default=50, ge=1, le=10_000)
    # Calls one caller number may place per window (toll abuse), counted in MongoDB across nodes.
    repeat_call_limit: int = Field(default=5, ge=1, le=1000)
    repeat_call_window_s: int = Field(default=600, ge=10, le=86_400)
    # On SIGTERM: how long live calls may go on before each is ended with a callback ticket.
    drain_timeout_s: float = Field(default=600, gt=0, le=86_400)

    # Security: tokens, bounded input, abuse limits
    # One secret all per-purpose token keys are derived from (stream, whisper, ...); unset: derived from
    # TWILIO_AUTH_TOKEN. Set it to rotate tokens without touching the carrier credentials.
    token_secret: SecretStr | None = Field(default=None, min_length=32)
    max_webhook_body_bytes: int = Field(default=64 * 1024, ge=1024, le=1024 * 1024)
    # Read-only bearer token for GET /metrics (Prometheus); ADMIN_API_TOKEN also works there.
    metrics_api_token: SecretStr | None = Field(default=None, min_length=16)
    # ISO country codes (comma-separated in the environment) we may text or call.
    sms_countries: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["IN"])
    outbound_call_countries: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["IN"])
    # E.164 numbers only these may be called through /outbound-call (empty: any number in the countries).
    outbound_call_allowlist: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_tickets_per_call: int = Field(default=3, ge=1, le=20)
    max_sms_per_number_per_day: int = Field(default=5, ge=1, le=100)
    # One-time codes (SMS) that unlock sensitive order details.
    otp_ttl_s: int = Field(default=300, ge=60, le=1800)
    otp_max_attempts: int = Field(default=3, ge=1, le=10)
    # Failed identity checks (wrong pincodes and codes) counted in MongoDB per order and per caller number,
    # over all calls: at the limit, verification for that order / from that number is refused until the
    # window (from the first failure) passes or staff unlock it (POST /verification-locks/unlock).
    verification_failure_limit: int = Field(default=3, ge=1, le=20)
    verification_failure_window_s: int = Field(default=86_400, ge=60, le=30 * 86_400)

    # Staff console (/console): the key its session cookies are signed with (at least 32 characters; unset:
    # derived from TOKEN_SECRET / TWILIO_AUTH_TOKEN); changing it signs everyone out.
    console_secret_key: SecretStr | None = Field(default=None, min_length=32)
    console_session_max_age_s: int = Field(default=12 * 3600, ge=300, le=30 * 86_400)
    # Secure cookies (https only); unset: when PUBLIC_BASE_URL is https.
    console_cookie_secure: bool | None = None
    # Wrong passwords per user within the window before logins for that user are refused until it ends.
    console_login_max_failures: int = Field(default=5, ge=1, le=100)
    console_lockout_window_s: int = Field(default=900, ge=10, le=86_400)
    # How often the one shared poller per process reads live calls for the console's SSE views.
    console_poll_interval_s: float = Field(default=1.0, ge=0.1, le=60)

    @field_validator(
        "sms_countries", "outbound_call_countries", "outbound_call_allowlist", "exotel_allowed_ips", mode="before"
    )
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("agent_config_file", mode="before")
    @classmethod
    def _empty_means_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("sms_countries", "outbound_call_countries")
    @classmethod
    def _country_codes(cls, value: list[str]) -> list[str]:
        codes = [code.upper() for code in value]
        if any(len(code) != 2 or not code.isalpha() for code in codes):
            raise ValueError("must be ISO 3166 alpha-2 country codes, e.g. IN,AE")
        return codes

    @field_validator("outbound_call_allowlist")
    @classmethod
    def _e164_list(cls, value: list[str]) -> list[str]:
        if any(re.fullmatch(E164_PATTERN, number) is None for number in value):
            raise ValueError("must be E.164 numbers, e.g. +919876543210")
        return value

    @model_validator(mode="after")
    def _metrics_token_is_not_the_admin_token(self) -> Settings:
        token = self.metrics_api_token
        if token is not None and token.get_secret_value() == self.admin_api_token.get_secret_value():
            raise ValueError("METRICS_API_TOKEN must differ from ADMIN_API_TOKEN (it is handed to Prometheus)")
        return self

    @model_validator(mode="after")
    def _stream_port_is_its_own(self) -> Settings:
        if self.stream_port is not None and self.stream_port == self.port:
            raise ValueError("STREAM_PORT must differ from PORT")
        return self

    @model_validator(mode="after")
    def _plivo_transfers_stay_in_india(self) -> Settings:
        # Plivo India's media-anchoring rule: both legs of a call must be Indian, or the transfer fails
        # with `violates_media_anchoring`; say so at start-up, not on a caller's transfer.
        if self.plivo_enabled and self.human_agent_number and not is_indian_number(self.human_agent_number):
            raise ValueError("HUMAN_AGENT_NUMBER must be an Indian number when Plivo is on (media anchoring)")
        return self

    @property
    def plivo_enabled(self) -> bool:
        return bool(self.plivo_auth_id and self.plivo_auth_token)

    @property
    def exotel_enabled(self) -> bool:
        return bool(self.exotel_account_sid and self.exotel_stream_secret)

    @field_validator("public_base_url")
    @classmethod
    def _public_base_url_is_https_origin(cls, value: str) -> str:
        parsed = urlparse(value)
        if parsed.scheme not in ("https", "http") or not parsed.netloc:
            raise ValueError("must be an absolute URL such as https://voice.example.com")
        return value.rstrip("/")

    @field_validator("node_internal_url")
    @classmethod
    def _node_internal_url_is_an_origin(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parsed = urlparse(value)
        if parsed.scheme not in ("https", "http") or not parsed.netloc or parsed.path.strip("/"):
            raise ValueError("must be a base URL such as http://10.0.0.11:8000")
        return value.rstrip("/")

    @field_validator("twilio_api_base_url", "openai_websocket_base_url", "plivo_api_base_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @property
    def own_node_url(self) -> str:
        """Where the other nodes reach this one: a live call's record names it, and commands for the
        call (a staff note, a hang-up) are forwarded there. One node: http://127.0.0.1:PORT."""
        return self.node_internal_url or f"http://127.0.0.1:{self.port}"

    @property
    def public_host(self) -> str:
        return urlparse(self.public_base_url).netloc

    @property
    def media_stream_url(self) -> str:
        """The wss:// URL written into TwiML; Twilio signs the stream handshake over exactly this."""
        return f"wss://{self.public_host}/media-stream"

    def public_url(self, path: str) -> str:
        return f"{self.public_base_url}{path}"


def describe_validation_error(error: ValidationError) -> str:
    """One line per bad setting, named by its environment variable."""
    parts = []
    for item in error.errors():
        name = str(item["loc"][0]).upper() if item["loc"] else "SETTINGS"
        problem = "is required but not set" if item["type"] == "missing" else f"is invalid: {item['msg']}"
        parts.append(f"{name} {problem}")
    return "; ".join(parts)


def load_settings(**overrides: object) -> Settings:
    """Build settings or exit with a single readable line (no traceback)."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        sys.stderr.write(f"Configuration error: {describe_validation_error(error)}\n")
        raise SystemExit(2) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
