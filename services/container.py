"""The composition root: every process-wide client is built here, once, and each piece gets only what it uses.

Nothing here is per call: per-call state lives in `services.call.session.CallSession`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pymongo import AsyncMongoClient

from config.agent_config import DEFAULT_AGENT_CONFIG, AgentConfig
from config.settings import Settings
from services.call.live_calls import LiveCalls
from services.call.ports import CallDependencies
from services.call.record_writer import CallRecordWriter
from services.call_tokens import CallTokens
from services.handoff.after_transfer import TransferCallbacks
from services.handoff.apology import CarrierApology
from services.handoff.ticket_sms import TicketTexter
from services.handoff.transfer import HumanHandoff
from services.realtime.connector import RealtimeConnector
from services.realtime.preopen import PreopenedRealtime
from services.store.client import create_mongo_client
from services.store.database import Database
from services.telephony.events import CallInfo
from services.telephony.twilio_rest import TwilioRest
from services.telephony.twilio_voice import TwilioSignatures
from services.tools import ToolContext, ToolRegistry, build_tool_registry


@dataclass
class AppServices:
    settings: Settings
    agent: AgentConfig
    mongo: AsyncMongoClient[dict[str, Any]]
    db: Database
    connector: RealtimeConnector
    preopened: PreopenedRealtime | None
    twilio_rest: TwilioRest
    signatures: TwilioSignatures
    stream_tokens: CallTokens
    tools: ToolRegistry
    live_calls: LiveCalls
    handoff: HumanHandoff
    transfer_callbacks: TransferCallbacks
    call_deps: CallDependencies

    async def aclose(self) -> None:
        if self.preopened is not None:
            await self.preopened.aclose()
        await self.connector.aclose()
        await self.twilio_rest.aclose()
        await self.mongo.close()


def build_services(settings: Settings, agent: AgentConfig = DEFAULT_AGENT_CONFIG) -> AppServices:
    agent = agent.model_copy(deep=True)  # each app owns its config; tuning one never leaks into another
    mongo = create_mongo_client(settings.mongodb_uri)
    db = Database(mongo, settings.mongodb_database)
    tools = build_tool_registry()
    connector = RealtimeConnector(settings, agent, tools.session_tools())
    preopened = PreopenedRealtime() if settings.openai_preopen else None
    rest = TwilioRest(settings)
    live_calls = LiveCalls()
    texter = TicketTexter(settings, rest)
    handoff = HumanHandoff(settings, rest, db.transfers)
    call_deps = CallDependencies(
        settings=settings,
        agent=agent,
        connector=connector,
        preopened=preopened,
        tools=tools,
        new_tool_context=_tool_context_factory(settings, db),
        new_record_writer=lambda record: CallRecordWriter(db.calls, record),
        transfers=handoff,
        failure_notice=CarrierApology(agent, rest),
        tickets=texter,
    )
    return AppServices(
        settings=settings,
        agent=agent,
        mongo=mongo,
        db=db,
        connector=connector,
        preopened=preopened,
        twilio_rest=rest,
        signatures=TwilioSignatures(settings),
        stream_tokens=CallTokens(settings.twilio_auth_token.get_secret_value(), settings.stream_token_ttl_s),
        tools=tools,
        live_calls=live_calls,
        handoff=handoff,
        transfer_callbacks=TransferCallbacks(
            calls=db.calls,
            transfers=db.transfers,
            tickets=db.tickets,
            live_calls=live_calls,
            texter=texter,
            sms_on_ticket=settings.sms_on_ticket,
        ),
        call_deps=call_deps,
    )


def _tool_context_factory(settings: Settings, db: Database) -> Callable[[CallInfo, Callable[[], str]], ToolContext]:
    def new_tool_context(info: CallInfo, conversation_summary: Callable[[], str]) -> ToolContext:
        return ToolContext(
            call_sid=info.call_sid,
            caller_phone=info.caller,
            db=db,
            settings=settings,
            conversation_summary=conversation_summary,
        )

    return new_tool_context
