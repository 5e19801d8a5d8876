"""What a transfer writes on the call record, whichever carrier moves the call (Twilio, Plivo, Exotel)."""

from __future__ import annotations

from models.call_record import TransferInfo
from models.tools import TransferRequested
from services import metrics
from services.call.ports import CallControl
from utils.privacy import mask_phone


def mark_dialing(call: CallControl, request: TransferRequested, agent_number: str | None) -> None:
    """The record says "transferred, dialing" before the carrier is asked: its stream may stop first."""
    call.record.transfer = TransferInfo(
        status="dialing",
        reason=request.reason,
        department=request.department,
        summary=request.summary,
        agent_number_masked=mask_phone(agent_number or "") or None,
    )
    call.record.status = "transferred"
    call.touch_record()


def mark_redirect_failed(call: CallControl) -> None:
    """The carrier refused to move the call: it goes on with us, and the record says the transfer failed."""
    call.record.status = "in_progress"
    if call.record.transfer is not None:
        call.record.transfer.status = "failed"
    call.touch_record()
    metrics.TRANSFERS.labels(outcome="redirect_failed").inc()
