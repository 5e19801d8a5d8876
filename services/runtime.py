"""Process-wide services, built once in the app's lifespan and shared by every call.

Nothing here is per call: per-call state lives in `CallSession`.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from openai.resources.realtime.realtime import AsyncRealtimeConnection
from pymongo import AsyncMongoClient

from config.agent_config import DEFAULT_AGENT_CONFIG, AgentConfig
from config.settings import Settings
from services.call_records import CALLS_COLLECTION, CallRecordWriter
from services.openai_service import RealtimeConnector, start_conversation
from services.realtime_preopen import PreopenedRealtime
from services.twilio_rest import TwilioRest
from services.twilio_service import StreamTokens, TwilioSignatures
from utils.logger import get_logger

if TYPE_CHECKING:
    from services.call_session import CallDependencies, CallSession
    from services.database_service import Database
    from services.tools import ToolRegistry

log = get_logger(__name__)


@dataclass
class AppServices:
    settings: Settings
    agent: AgentConfig
    mongo: AsyncMongoClient
    db: Database
    realtime: RealtimeConnector
    twilio_rest: TwilioRest
    signatures: TwilioSignatures
    stream_tokens: StreamTokens
    tools: ToolRegistry
    preopened: PreopenedRealtime | None = None
    sessions: set[CallSession] = field(default_factory=set)

    @property
    def calls(self) -> Any:
        return self.db.raw[CALLS_COLLECTION]

    def new_record_writer(self, record: Any) -> CallRecordWriter:
        return CallRecordWriter(self.calls, record)

    async def ensure_indexes(self) -> None:
        await self.db.ensure_indexes()
        await self.calls.create_index([("started_at", -1)])
        await self.calls.create_index([("status", 1), ("started_at", -1)])

    async def drain(self, timeout_s: float = 10.0) -> None:
        """Graceful shutdown: end every live call through its normal close path."""
        sessions = list(self.sessions)
        for session in sessions:
            session.end("server_shutdown")
        if sessions:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(*(s.close("server_shutdown") for s in sessions), return_exceptions=True),
                    timeout_s,
                )

    async def open_conversation(self, greeting: str) -> AsyncRealtimeConnection:
        """A configured Realtime session whose greeting is already under way."""
        rt = await self.realtime.open()
        try:
            await start_conversation(rt, self.settings, self.agent, self.tools.session_tools(), greeting)
        except BaseException:
            await rt.close()
            raise
        return rt

    async def aclose(self) -> None:
        if self.preopened is not None:
            await self.preopened.aclose()
        await self.realtime.aclose()
        await self.twilio_rest.aclose()
        await self.mongo.close()


def build_services(settings: Settings, agent: AgentConfig = DEFAULT_AGENT_CONFIG) -> AppServices:
    from services.database_service import Database, create_mongo_client
    from services.tools import build_tool_registry

    mongo = create_mongo_client(settings.mongodb_uri)
    return AppServices(
        settings=settings,
        agent=agent.model_copy(deep=True),  # each app owns its config; tuning one never leaks into another
        mongo=mongo,
        db=Database(mongo, settings.mongodb_database),
        realtime=RealtimeConnector(settings),
        twilio_rest=TwilioRest(settings),
        signatures=TwilioSignatures(settings),
        stream_tokens=StreamTokens(settings.twilio_auth_token.get_secret_value(), settings.stream_token_ttl_s),
        tools=build_tool_registry(),
        preopened=PreopenedRealtime() if settings.openai_preopen else None,
    )


def build_call_dependencies(services: AppServices) -> CallDependencies:
    """What one call needs from the process: clients, config, and the callbacks that act on the call."""
    from services.call_actions import CallActions
    from services.call_session import CallDependencies
    from services.tools import ToolContext

    actions = CallActions(services)

    def new_tool_context(session: CallSession) -> ToolContext:
        return ToolContext(
            call_sid=session.call_sid,
            caller_phone=session.caller,
            db=services.db,
            settings=services.settings,
            conversation_summary=session.conversation_summary,
        )

    return CallDependencies(
        settings=services.settings,
        agent=services.agent,
        realtime=services.realtime,
        new_record_writer=services.new_record_writer,
        tools=services.tools,
        new_tool_context=new_tool_context,
        on_action=actions.run,
        after_tool=actions.after_tool,
        preopened=services.preopened,
        apologise=actions.apologise,
    )
