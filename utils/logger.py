"""structlog setup: JSON lines in production, readable lines in development.

Two processors guard privacy on every line, whatever the caller of the logger passed:
phone numbers are masked (`+91******3210`) and secret-looking keys are redacted.
Per-call context (call_sid) is bound with `structlog.contextvars`, so every line a call's
tasks write carries it.
"""

from __future__ import annotations

import atexit
import logging
import queue
import re
import sys
from logging.handlers import QueueHandler, QueueListener
from typing import Any, TextIO

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


_listener: QueueListener | None = None


def _stop_listener() -> None:
    global _listener
    if _listener is not None:
        _listener.stop()
        _listener = None


atexit.register(_stop_listener)


def configure_logging(*, json_output: bool, level: str = "INFO", stream: TextIO | None = None) -> None:
    """Render with structlog, hand the line to a queue, write it from a background thread.

    The event loop only formats and enqueues; a slow stdout/pipe (log shipper) can never stall a call.
    Uvicorn's and libraries' stdlib logs go through the same queue.
    """
    global _listener
    _stop_listener()
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log_queue: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    _listener = QueueListener(log_queue, handler, respect_handler_level=False)
    _listener.start()
    root = logging.getLogger()
    root.handlers = [QueueHandler(log_queue)]
    root.setLevel(level)

    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        privacy_processor,
    ]
    renderer: Any = structlog.processors.JSONRenderer() if json_output else structlog.dev.ConsoleRenderer(colors=False)
    processors = [*shared, structlog.processors.format_exc_info, renderer] if json_output else [*shared, renderer]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )


def flush_logging() -> None:
    """Write out everything queued so far (tests, shutdown)."""
    if _listener is not None:
        _listener.stop()
        _listener.start()


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)
