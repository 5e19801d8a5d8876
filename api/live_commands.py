"""Commands for a live call (bearer ADMIN_API_TOKEN): a staff note for the assistant, a hang-up.

Any node takes them; `services.live_commands` runs them where the call lives. `/internal/...` is the
node-to-node hop and runs a command only for a call live on this node."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException

from api.deps import ServicesDep, require_admin
from models.live_commands import CommandResult, ForwardedCommand, HangUpRequest, StaffNoteRequest
from services.live_commands import LiveCommand, Outcome

router = APIRouter(
    tags=["live calls"],
    dependencies=[Depends(require_admin)],
    responses={
        401: {"description": "Missing or invalid admin token"},
        404: {"description": "Unknown call"},
        409: {"description": "The call is not live"},
        502: {"description": "The node holding the call did not answer"},
    },
)

_ERRORS = {
    "not_found": (404, "Call not found"),
    "not_live": (409, "The call is not live"),
    "node_unreachable": (502, "The node holding the call did not answer"),
}


def _result(call_sid: str, outcome: Outcome) -> CommandResult:
    if outcome in _ERRORS:
        status, detail = _ERRORS[outcome]
        raise HTTPException(status_code=status, detail=detail)
    return CommandResult(call_sid=call_sid, outcome="done" if outcome == "done" else "not_delivered")


@router.post("/call/{call_sid}/note", response_model=CommandResult)
async def add_staff_note(call_sid: str, body: StaffNoteRequest, services: ServicesDep) -> CommandResult:
    """Push context into a live call: kept in its record with the author, given to the assistant as a
    system item (the caller never hears it read out). `not_delivered`: stored, but the Realtime link
    was down at that moment."""
    command = LiveCommand(kind="note", author=body.author, text=body.text)
    return _result(call_sid, await services.live_commands.run(call_sid, command))


@router.post("/call/{call_sid}/hangup", response_model=CommandResult)
async def hang_up(call_sid: str, body: HangUpRequest, services: ServicesDep) -> CommandResult:
    return _result(call_sid, await services.live_commands.run(call_sid, LiveCommand("hang_up", body.author)))


@router.post("/internal/calls/{call_sid}/commands", response_model=CommandResult, include_in_schema=False)
async def run_forwarded(call_sid: str, body: ForwardedCommand, services: ServicesDep) -> CommandResult:
    command = LiveCommand(kind=body.kind, author=body.author, text=body.text)
    return _result(call_sid, await services.live_commands.run_here(call_sid, command))
