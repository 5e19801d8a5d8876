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
from services.admission import CallAdmission, CallbackTickets, Drain
from services.call.live_calls import LiveCalls
from services.call.ports import CallDependencies
from services.call.record_batcher import RecordChangeBatcher
from services.call.record_writer import CallRecordWriter
from services.call.unsaved_records import UnsavedRecords
from services.call_tokens import CallTokens, TokenPurpose
from services.carriers import Carriers, build_carriers
from services.console import ConsoleServices, build_console
from services.handoff.after_transfer import TransferCallbacks
from services.handoff.apology import CarrierApology
from services.handoff.ticket_sms import TicketTexter
from services.handoff.transfer import WHISPER_TOKEN_TTL_S, HumanHandoff
from services.live_commands import LiveCallCommands
from services.loop_pacer import LoopPacer
from services.realtime.connector import RealtimeConnector
from services.realtime.preopen import PreopenedRealtime
from services.store.client import create_mongo_client
from services.store.database import Database
from services.stream_gate import StreamGate
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
    stream_gate: StreamGate
    tools: ToolRegistry
    live_calls: LiveCalls
    loop_pacer: LoopPacer
    live_commands: LiveCallCommands
    handoff: HumanHandoff
    transfer_callbacks: TransferCallbacks
    call_deps: CallDependencies
    callbacks: CallbackTickets
    admission: CallAdmission
    drain: Drain
    unsaved_records: UnsavedRecords
    record_changes: RecordChangeBatcher
    console: ConsoleServices
    carriers: Carriers

    async def aclose(self) -> None:
        if self.preopened is not None:
            await self.preopened.aclose()
        await self.connector.aclose()
        await self.callbacks.aclose()  # texts under way, before their REST client closes
        await self.twilio_rest.aclose()
        await self.carriers.aclose()
        await self.record_changes.aclose()  # live records' last changes, one command
        await self.unsaved_records.aclose()  # call records the database refused: one last try
        await self.stream_gate.aclose()  # stream claims still being written
        await self.console.aclose()
        await self.mongo.close()


def build_services(settings: Settings, agent: AgentConfig = DEFAULT_AGENT_CONFIG) -> AppServices:
    agent = agent.model_copy(deep=True)  # each app owns its config; tuning one never leaks into another
    mongo = create_mongo_client(settings.mongodb_uri)
    db = Database(mongo, settings.mongodb_database, call_record_retention_days=settings.call_record_retention_days)
    unsaved_records = UnsavedRecords(db.calls)
    record_changes = RecordChangeBatcher(db.calls)
    tools = build_tool_registry()
    connector = RealtimeConnector(settings, agent, tools.session_tools())
    preopened = PreopenedRealtime() if settings.openai_preopen else None
    rest = TwilioRest(settings)
    # The loop wakes on a tick while calls are live (services/loop_pacer.py); `busy` reads live_calls below.
    loop_pacer = LoopPacer(settings.loop_tick_ms, busy=lambda: len(live_calls) > 0)
    live_calls = LiveCalls(on_added=loop_pacer.wake)
    live_commands = LiveCallCommands(
        live_calls, db.calls, settings.own_node_url, settings.admin_api_token.get_secret_value()
    )
    texter = TicketTexter(settings, rest, db.sms_quota, ticket_text=agent.ticket_sms_text, company=agent.company_name)
    callbacks = CallbackTickets(db.tickets, db.calls, texter, settings.sms_on_ticket)
    admission = CallAdmission(settings, live_calls, db.call_counters, callbacks, rest.redirect_call)
    secret = (settings.token_secret or settings.twilio_auth_token).get_secret_value()
    stream_tokens = CallTokens(secret, TokenPurpose.STREAM, settings.stream_token_ttl_s)
    handoff = HumanHandoff(
        settings, rest, db.transfers, CallTokens(secret, TokenPurpose.WHISPER, WHISPER_TOKEN_TTL_S), agent.departments
    )
    apology = CarrierApology(agent, rest, db.tickets, texter)
    call_deps = CallDependencies(
        settings=settings,
        agent=agent,
        connector=connector,
        preopened=preopened,
        tools=tools,
        new_tool_context=_tool_context_factory(settings, agent, db, texter),
        new_record_writer=lambda record: CallRecordWriter(
            db.calls, record, on_unsaved=unsaved_records.add, changes=record_changes
        ),
        transfers=handoff,
        failure_notice=apology,
        tickets=texter,
        preferred_language=db.customers.preferred_language,
        unpaced=loop_pacer.unpaced,
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
        stream_tokens=stream_tokens,
        stream_gate=StreamGate(stream_tokens, db.stream_claims),
        tools=tools,
        live_calls=live_calls,
        loop_pacer=loop_pacer,
        live_commands=live_commands,
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
        callbacks=callbacks,
        admission=admission,
        drain=Drain(admission, live_calls, callbacks, settings.drain_timeout_s),
        unsaved_records=unsaved_records,
        record_changes=record_changes,
        console=build_console(settings, db, note_delivery=live_commands),
        carriers=build_carriers(settings, call_deps, apology),
    )


def _tool_context_factory(
    settings: Settings, agent: AgentConfig, db: Database, texter: TicketTexter
) -> Callable[[CallInfo, Callable[[], str]], ToolContext]:
    def new_tool_context(info: CallInfo, conversation_summary: Callable[[], str]) -> ToolContext:
        async def send_code_sms(phone: str, body: str) -> bool:
            # The same country rules and daily cap as ticket SMS (`TicketTexter.send_text`).
            return await texter.send_text(phone, body, call_sid=info.call_sid, kind="verification_code")

        return ToolContext(
            call_sid=info.call_sid,
            caller_phone=info.caller,  # kept only if E.164 (`ToolContext.__post_init__`)
            db=db,
            settings=settings,
            conversation_summary=conversation_summary,
            send_sms=send_code_sms,
            agent=agent,
        )

    return new_tool_context
