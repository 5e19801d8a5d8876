"""Hinglish phone support agent: Twilio Media Streams ⇄ OpenAI Realtime, tools on MongoDB.

python app.py          run the service (HOST/PORT from settings)
python app.py seed     load the sample data set into MONGODB_URI (idempotent)
python app.py index-phones   list every order under its phone after a bulk load made around the app
python app.py create-user NAME --role staff|admin   a console user (password from a prompt or stdin)
"""

from __future__ import annotations

import asyncio
import gc
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI

from api import (
    admin,
    exotel_webhooks,
    health,
    knowledge,
    live_commands,
    metrics,
    plivo_webhooks,
    twilio_callbacks,
    twilio_webhooks,
)
from api.console import install_console
from api.limits import BodyLimitMiddleware
from api.stream_listener import StreamListener
from config.agent_config import AgentConfig
from config.agent_file import load_agent
from config.settings import Settings, get_settings
from services.console.create_user import create_user
from services.container import AppServices, build_services
from services.metrics import CALL_CAPACITY
from services.store.client import create_mongo_client
from services.store.database import Database
from services.store.seed import seed_database
from utils.logger import configure_logging, get_logger

log = get_logger(__name__)

# The transport limit is looser than MAX_STREAM_MESSAGE_BYTES on purpose: an oversized stream message
# is dropped by the session (logged, call continues) instead of the server closing the whole call.
WS_TRANSPORT_MAX_BYTES = 1024 * 1024


def create_app(settings: Settings, agent: AgentConfig | None = None) -> FastAPI:
    """The app for `settings`; the agent comes from AGENT_CONFIG_FILE unless given (a bad file exits here,
    with one line, before anything is served)."""
    if agent is None:
        settings, agent = load_agent(settings)
    app_agent = agent

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = build_services(settings, app_agent)
        app.state.services = services
        try:
            await services.db.ensure_indexes()
            await services.db.products.warm_search_index()  # before gc.freeze: its objects live as long
        except Exception as error:
            # Start anyway: calls still work without the database (tools answer with an error) and
            # /health reports not ready until it is back.
            log.error("database_unavailable_at_startup", error=repr(error))
        # Move start-up objects (SDK types, pydantic schemas: ~170k) out of the collector's reach: a full
        # collection then pauses every call's audio ~3x less (bench/README.md, "gc-freeze").
        gc.collect()
        gc.freeze()
        CALL_CAPACITY.set(settings.max_concurrent_calls)
        # STREAM_PORT: the carriers' streams on aiohttp too (`api/stream_listener.py`).
        streams = StreamListener(app, settings.stream_port, WS_TRANSPORT_MAX_BYTES) if settings.stream_port else None
        if streams is not None:
            await streams.start(settings.host)
        log.info("service_started", model=settings.openai_realtime_model, public_url=settings.public_base_url)
        try:
            yield
        finally:
            # After a SIGTERM drain (`DrainingServer`) no call is left here; on any other stop (SIGINT,
            # `should_exit`) uvicorn has closed the streams (1012), the stream listener closes its own
            # the same way, and this ends what is still closing.
            if streams is not None:
                await streams.close_streams()
            await services.live_calls.drain()
            if streams is not None:
                await streams.stop()
            await services.aclose()
            log.info("service_stopped")

    app = FastAPI(
        title="Hinglish Voice Support Agent",
        version="1.0.0",
        description="Twilio ⇄ OpenAI Realtime phone agent for Indian customer support.",
        lifespan=lifespan,
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_webhook_body_bytes)
    app.include_router(twilio_webhooks.router)
    app.include_router(twilio_callbacks.router)
    if settings.plivo_enabled:
        app.include_router(plivo_webhooks.router)
    if settings.exotel_enabled:
        app.include_router(exotel_webhooks.router)
    app.include_router(admin.router)
    app.include_router(live_commands.router)
    app.include_router(knowledge.router)
    app.include_router(metrics.router)
    app.include_router(health.router)
    install_console(app)
    return app


async def _seed(settings: Settings) -> None:
    _, agent = load_agent(settings)
    client = create_mongo_client(settings.mongodb_uri)
    try:
        db = Database(client, settings.mongodb_database, call_record_retention_days=settings.call_record_retention_days)
        await db.ensure_indexes()
        counts = await seed_database(db, knowledge_file=agent.knowledge_seed_file)
        log.info("seeded", **counts)
    finally:
        await client.close()


async def _index_phones(settings: Settings) -> None:
    """`phone_orders` rebuilt from the orders (services/store/orders.py): "my recent orders" then never
    scans `orders`, also for callers who have none."""
    client = create_mongo_client(settings.mongodb_uri)
    try:
        db = Database(client, settings.mongodb_database, call_record_retention_days=settings.call_record_retention_days)
        log.info("phones_indexed", phones=await db.orders.index_all_phones())
    finally:
        await client.close()


class DrainingServer(uvicorn.Server):
    """uvicorn's server, except that SIGTERM drains first (rolling deploys).

    uvicorn alone would stop at once on SIGTERM: close every WebSocket (1012, cutting live calls), cancel
    the lifespan, then re-raise the signal so the process dies of it. Here SIGTERM starts `Drain.run`
    (`services/admission.py`): `/health` turns 503, live calls go on to their end (or are ended with a
    callback ticket at `DRAIN_TIMEOUT_S`), and only then is uvicorn told to exit; the signal is not
    re-raised, so the process exits 0. SIGINT (Ctrl-C) keeps uvicorn's immediate shutdown.
    """

    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self._app = app
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drain: asyncio.Task[None] | None = None
        self._sigterm = False

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig != signal.SIGTERM or not self.started or self.should_exit or self._loop is None:
            super().handle_exit(sig, frame)
        elif not self._sigterm:  # a second SIGTERM changes nothing: the orchestrator's SIGKILL is the hard stop
            self._sigterm = True
            self._loop.call_soon_threadsafe(self._start_drain)  # safe from a signal handler

    def _start_drain(self) -> None:
        self._drain = asyncio.create_task(self._drain_then_exit(), name="sigterm-drain")

    async def _drain_then_exit(self) -> None:
        log.info("sigterm_received", action="drain")
        try:
            services: AppServices = self._app.state.services
            await services.drain.run()
        except Exception as error:  # never keep a process that was told to stop
            log.error("drain_failed", error=repr(error))
        finally:
            self.should_exit = True


def serve(settings: Settings, **uvicorn_overrides: Any) -> None:
    """Build the app from `settings` and serve it on settings.host:settings.port until SIGINT/SIGTERM.

    This is what `python app.py` runs: one process, as `uvicorn.run(app, ...)` would run it (exit status 3
    if the server cannot start, e.g. the port is taken), except that SIGTERM drains the calls first and
    then exits 0 (`DrainingServer`). `uvicorn_overrides` are extra or replacement
    `uvicorn.Config` arguments (e.g. `log_level`, or `callback_notify` for a launcher's instrumentation).
    Logging is the caller's to configure first (`utils.logger.configure_logging`), as `main` does;
    `log_config=None` keeps that set-up: uvicorn's default would install its own handlers, and its
    access log would print every URL (a whisper token in `/whisper?…&token=…`) unscrubbed.
    """
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "log_level": settings.log_level.lower(),
        "ws_max_size": WS_TRANSPORT_MAX_BYTES,
        "ws_per_message_deflate": False,
        "proxy_headers": True,
        **uvicorn_overrides,
    }
    app = create_app(settings)
    server = DrainingServer(uvicorn.Config(app, **options), app)
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
    if argv[:1] == ["index-phones"]:
        asyncio.run(_index_phones(settings))
        return
    if argv[:1] == ["create-user"]:
        sys.exit(asyncio.run(create_user(settings, argv[1:])))
    if argv:
        sys.exit(
            f"unknown command {argv[0]!r}; "
            "usage: python app.py [seed | index-phones | create-user NAME --role staff|admin]"
        )
    serve(settings)


if __name__ == "__main__":
    main(sys.argv[1:])
