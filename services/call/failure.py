"""When a call cannot go on (OpenAI unreachable or gone for good): never dead air.

The caller hears a short apology from the carrier, a callback ticket with the conversation so far is
filed (and texted), the record says why, then the call ends. It runs once per call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from models.call_record import CallRecord
from services import metrics
from services.call.ports import FailureNotice
from services.telephony.events import CallInfo

TICKET_TIMEOUT_S = 2.0


class CallFailure:
    def __init__(
        self,
        notice: FailureNotice,
        info: CallInfo,
        record: CallRecord,
        touch_record: Callable[[], None],
        conversation: Callable[[], str],
        log: structlog.typing.FilteringBoundLogger,
    ) -> None:
        self._notice, self._info, self._record = notice, info, record
        self._touch_record, self._conversation, self._log = touch_record, conversation, log
        self.reason: str | None = None  # set once the failure path has run

    async def apologise(self, reason: str) -> bool:
        """Record the failure, file the ticket, have the carrier apologise. False if it already ran."""
        if self.reason is not None:
            return False
        self.reason = reason
        metrics.REALTIME_ERRORS.labels(code=reason).inc()
        self._record.status = "failed"
        self._record.realtime_errors.append(reason)
        self._touch_record()
        try:  # the ticket first: the apology's redirect ends the stream, and with it this call's tasks
            ticket = await asyncio.wait_for(
                self._notice.file_callback(self._info, self._conversation()), TICKET_TIMEOUT_S
            )
            if ticket:
                self._record.tickets.append(ticket)
        except Exception as error:
            self._log.error("callback_ticket_failed", error=repr(error))
        try:
            await self._notice.apologise(self._info.call_sid)
        except Exception as error:
            self._log.error("apology_failed", error=repr(error))
        return True
