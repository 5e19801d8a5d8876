"""structlog setup: JSON lines in production, readable lines in development.

Two processors guard privacy on every line, whatever the caller of the logger passed:
phone numbers are masked (`+91******3210`) and secret-looking keys are redacted.
Per-call context (call_sid) is bound with `structlog.contextvars`, so every line a call's
tasks write carries it.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

from utils.hinglish import mask_phone

# +91 98765 43210, 919876543210, 09876543210, 9876543210 and other E.164-ish runs of 10-15 digits.
_PHONE_RE = re.compile(r"(?<![\w])(\+?\d[\d \-]{8,17}\d)(?![\w])")
_SECRET_KEYS = ("token", "secret", "password", "api_key", "apikey", "authorization", "signature")


def _mask_in_text(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        candidate = match.group(1)
        digit_count = sum(ch.isdigit() for ch in candidate)
        return mask_phone(candidate) if 10 <= digit_count <= 15 else candidate

    return _PHONE_RE.sub(replace, text)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _mask_in_text(value)
    if isinstance(value, dict):
        return {key: _scrub_item(key, item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrub(item) for item in value)
    return value


def _scrub_item(key: Any, value: Any) -> Any:
    if isinstance(key, str) and any(marker in key.lower() for marker in _SECRET_KEYS):
        return "[redacted]"
    return _scrub(value)


def privacy_processor(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: mask phone numbers and redact secrets in every field."""
    return {key: _scrub_item(key, value) for key, value in event_dict.items()}


def configure_logging(*, json_output: bool, level: str = "INFO") -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        privacy_processor,
    ]
    renderer: Any = structlog.processors.JSONRenderer() if json_output else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer] if json_output else [*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stdout),
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)
