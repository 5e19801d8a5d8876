"""structlog setup: JSON lines in production, readable lines in development.

`privacy_processor` guards every line, whatever the caller of the logger passed: phone numbers
are masked (`+91******3210`), secret-looking keys are redacted and secrets inside strings (a URL's
`?token=…`, a repr's `'api_key': …`, a URI's password, exception text) are blanked (rules in
`utils.privacy`). The stdlib loggers — root, uvicorn's error and access logs, httpx, twilio, pymongo and
any other library — are rendered by the same chain (structlog's `ProcessorFormatter` with
`foreign_pre_chain`), so their lines are JSON in production and scrubbed like ours.
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


# Loggers that configure their own handlers (uvicorn's default `log_config`): they are made to propagate
# to the root handler instead, whatever ran before us.
_SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


def _route_stdlib_loggers_to_root() -> None:
    """Every existing stdlib logger writes through the root handler only (and so through the privacy
    processor): handlers of their own (e.g. from uvicorn's dictConfig) are removed."""
    for name in _SERVER_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)  # the root level rules; uvicorn may set its own later
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if not isinstance(logger, logging.Logger):
            continue  # a PlaceHolder: no handlers
        if any(not isinstance(handler, logging.NullHandler) for handler in logger.handlers):
            logger.handlers = [h for h in logger.handlers if isinstance(h, logging.NullHandler)]
        logger.propagate = True
        logger.disabled = False


def configure_logging(*, json_output: bool, level: str = "INFO", stream: TextIO | None = None) -> None:
    """Render with structlog, hand the line to a queue, write it from a background thread.

    The event loop only formats and enqueues; a slow stdout/pipe (log shipper) can never stall a call.
    Uvicorn's and libraries' stdlib logs are rendered by the same processors (privacy included) and go
    through the same queue. Run it before the server: `app.serve` passes `log_config=None` so uvicorn
    keeps this set-up instead of installing its own handlers.
    """
    global _listener
    _stop_listener()
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json_output
        else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    )
    # Exceptions become text before the privacy processor, so a secret inside a traceback is blanked too.
    # The fields added after the privacy processor (level, logger name, time) are ours: nothing to scrub.
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.format_exc_info,
        privacy_processor,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,  # stdlib records (uvicorn, httpx, ...): the same chain as ours
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))  # records arrive rendered
    log_queue: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    _listener = QueueListener(log_queue, handler, respect_handler_level=False)
    _listener.start()
    queue_handler = QueueHandler(log_queue)
    queue_handler.setFormatter(formatter)  # rendered (and scrubbed) in the caller, before it is queued
    root = logging.getLogger()
    root.handlers = [queue_handler]
    root.setLevel(level)
    _route_stdlib_loggers_to_root()

    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
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
