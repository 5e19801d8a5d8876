"""structlog setup: JSON lines in production, readable lines in development.

`privacy_processor` guards every line, whatever the caller of the logger passed: phone numbers
are masked (`+91******3210`) and secret-looking keys are redacted (rules in `utils.privacy`).
Per-call context (call_sid) is bound with `structlog.contextvars`, so every line a call's
tasks write carries it.
"""

from __future__ import annotations

import atexit
import logging
import queue
import sys
from logging.handlers import QueueHandler, QueueListener
from typing import Any, TextIO

import structlog
from structlog.typing import FilteringBoundLogger

from utils.privacy import redact_fields


def privacy_processor(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: mask phone numbers and redact secrets in every field (see utils.privacy)."""
    return redact_fields(event_dict)


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


def get_logger(name: str) -> FilteringBoundLogger:
    """A logger of the configured wrapper class (`make_filtering_bound_logger`, also structlog's default)."""
    logger: FilteringBoundLogger = structlog.get_logger(name)
    return logger
