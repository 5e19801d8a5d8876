"""Hinglish phone support agent: Twilio Media Streams ⇄ OpenAI Realtime, tools on MongoDB.

python app.py          run the service (HOST/PORT from settings)
python app.py seed     load the sample data set into MONGODB_URI (idempotent)
"""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI

from api import admin, health, twilio_callbacks, twilio_webhooks
from config.settings import Settings, get_settings
from services.container import build_services
from services.store.client import create_mongo_client
from services.store.database import Database
from services.store.seed import seed_database
from utils.logger import configure_logging, get_logger

log = get_logger(__name__)

# The transport limit is looser than MAX_STREAM_MESSAGE_BYTES on purpose: an oversized stream message
# is dropped by the session (logged, call continues) instead of the server closing the whole call.
WS_TRANSPORT_MAX_BYTES = 1024 * 1024


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = build_services(settings)
        app.state.services = services
        try:
            await services.db.ensure_indexes()
        except Exception as error:
            # Start anyway: calls still work without the database (tools answer with an error) and
            # /health reports not ready until it is back.
            log.error("database_unavailable_at_startup", error=repr(error))
        # Move start-up objects (SDK types, pydantic schemas: ~170k) out of the collector's reach: a full
        # collection then pauses every call's audio ~3x less (bench/README.md, "gc-freeze").
        gc.collect()
        gc.freeze()
        log.info("service_started", model=settings.openai_realtime_model, public_url=settings.public_base_url)
        try:
            yield
        finally:
            await services.live_calls.drain()
            await services.aclose()
            log.info("service_stopped")

    app = FastAPI(
        title="Hinglish Voice Support Agent",
        version="1.0.0",
        description="Twilio ⇄ OpenAI Realtime phone agent for Indian customer support.",
        lifespan=lifespan,
    )
    app.include_router(twilio_webhooks.router)
    app.include_router(twilio_callbacks.router)
    app.include_router(admin.router)
    app.include_router(health.router)
    return app


async def _seed(settings: Settings) -> None:
    client = create_mongo_client(settings.mongodb_uri)
    try:
        db = Database(client, settings.mongodb_database)
        await db.ensure_indexes()
        counts = await seed_database(db)
        log.info("seeded", **counts)
    finally:
        await client.close()


def serve(settings: Settings, **uvicorn_overrides: Any) -> None:
    """Build the app from `settings` and serve it on settings.host:settings.port until SIGINT/SIGTERM.

    This is what `python app.py` runs: one process, as `uvicorn.run(app, ...)` would run it (exit status 3
    if the server cannot start, e.g. the port is taken). `uvicorn_overrides` are extra or replacement
    `uvicorn.Config` arguments (e.g. `log_level`, or `callback_notify` for a launcher's instrumentation).
    Logging is the caller's to configure first (`utils.logger.configure_logging`), as `main` does.
    """
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level.lower(),
        "ws_max_size": WS_TRANSPORT_MAX_BYTES,
        "ws_per_message_deflate": False,
        "proxy_headers": True,
        **uvicorn_overrides,
    }
    server = uvicorn.Server(uvicorn.Config(create_app(settings), **options))
    try:
        server.run()
    except KeyboardInterrupt:  # Ctrl-C: uvicorn shut down, then re-raised it (uvicorn.run swallows it too)
        pass
    if not server.started:
        sys.exit(3)  # uvicorn.run's STARTUP_FAILURE


def main(argv: list[str]) -> None:
    settings = get_settings()
    configure_logging(json_output=settings.environment == "production", level=settings.log_level)
    if argv[:1] == ["seed"]:
        asyncio.run(_seed(settings))
        return
    if argv:
        sys.exit(f"unknown command {argv[0]!r}; usage: python app.py [seed]")
    serve(settings)


if __name__ == "__main__":
    main(sys.argv[1:])
