"""Spoken lines and pending actions: every transition of the state machine, and the slot that holds it."""

from __future__ import annotations

import asyncio

import pytest

from services.call.speech import (
    ActionSlot,
    ActionState,
    InvalidTransition,
    PendingAction,
    SpeechHandle,
    SpeechLog,
)


def transfer() -> PendingAction:
    return PendingAction("transfer", "transferred", cancel_if_interrupted=False)


# ------------------------------------------------------------------------------------------ handles


async def test_handle_plays_out_when_done_and_nothing_is_queued() -> None:
    handle = SpeechHandle("resp_1")
    handle.audio_sent(100)
    handle.mark_all_heard()  # an echo before the response is done proves nothing about the rest
    assert not handle.played_out
    handle.mark_generation_done(unplayed=True)
    assert not handle.played_out and handle.generation_done
    handle.mark_all_heard()
    assert handle.played_out and not handle.interrupted
    await asyncio.wait_for(handle.wait_for_playout(), timeout=1)


def test_handle_without_queued_audio_is_played_out_when_done() -> None:
    handle = SpeechHandle("resp_1")
    handle.mark_generation_done(unplayed=False)
    assert handle.played_out and not handle.has_audio


async def test_interrupted_handle_is_played_out_at_once() -> None:
    handle = SpeechHandle("resp_1")
    handle.audio_sent(40)
    waiter = asyncio.create_task(handle.wait_for_playout())
    await asyncio.sleep(0)
    assert not waiter.done()
    handle.mark_interrupted()
    await asyncio.wait_for(waiter, timeout=1)
    assert handle.interrupted and handle.has_audio


def test_speech_log_is_bounded_and_tracks_the_current_response() -> None:
    log = SpeechLog(keep=3)
    handles = [log.start(f"resp_{i}") for i in range(5)]
    assert log.current is handles[-1]
    assert log.get("resp_0") is None and log.get("resp_4") is handles[-1]
    log.done("resp_4", unplayed=False)
    assert log.current is None
    assert handles[-1] not in log.unplayed() and handles[3] in log.unplayed()


# ------------------------------------------------------------------------------------------ transitions


def test_happy_path_armed_bound_ready_running_done() -> None:
    action, handle = transfer(), SpeechHandle("resp_1")
    assert action.state is ActionState.ARMED and action.live
    action.bind(handle)
    assert action.state is ActionState.BOUND and action.handle is handle
    action.played_out()
    assert action.state is ActionState.READY
    action.start()
    assert action.state is ActionState.RUNNING and action.live
    action.succeeded()
    assert action.state is ActionState.DONE and not action.live
    assert action.history == [ActionState.ARMED, ActionState.BOUND, ActionState.READY, ActionState.RUNNING]


def test_failure_is_terminal_and_keeps_why() -> None:
    action = transfer()
    action.bind(SpeechHandle("resp_1"))
    action.played_out()
    action.start()
    action.failed("redirect refused")
    assert action.state is ActionState.FAILED and action.failure == "redirect refused" and not action.live


def test_rearm_after_an_interrupted_announcement_then_bind_to_the_next_line() -> None:
    action, first, second = transfer(), SpeechHandle("resp_1"), SpeechHandle("resp_2")
    action.bind(first)
    action.rearm()
    assert action.state is ActionState.ARMED and action.handle is None
    action.bind(second)
    assert action.handle is second


@pytest.mark.parametrize("state_steps", [0, 1, 2])
def test_cancel_before_running(state_steps: int) -> None:
    action = PendingAction("hang_up", "assistant_ended", cancel_if_interrupted=True)
    if state_steps >= 1:
        action.bind(SpeechHandle("resp_1"))
    if state_steps >= 2:
        action.played_out()
    action.cancel("interrupted")
    assert action.state is ActionState.CANCELLED and action.failure == "interrupted"


@pytest.mark.parametrize(
    ("steps", "illegal"),
    [
        ([], "played_out"),  # not bound to any line yet
        ([], "start"),
        (["bind"], "start"),  # its line has not played
        (["bind", "played_out", "start"], "cancel"),  # too late: running
        (["bind", "played_out", "start"], "rearm"),
        (["bind", "played_out", "start", "succeeded"], "failed"),
        ([], "succeeded"),
    ],
)
def test_illegal_transitions_raise(steps: list[str], illegal: str) -> None:
    action = transfer()
    handle = SpeechHandle("resp_1")
    for step in steps:
        getattr(action, step)(*([handle] if step == "bind" else []))
    with pytest.raises(InvalidTransition):
        method = getattr(action, illegal)
        method(*(["why"] if illegal in ("cancel", "failed") else []))


# ------------------------------------------------------------------------------------------ the slot


def test_slot_holds_one_live_action_and_frees_itself_on_any_terminal_state() -> None:
    slot = ActionSlot()
    first = slot.arm("transfer", "transferred", cancel_if_interrupted=False)
    assert first is not None and slot.busy
    assert slot.arm("hang_up", "assistant_ended", cancel_if_interrupted=True) is None, "first one wins"
    handle = SpeechHandle("resp_1")
    first.bind(handle)
    assert slot.bound_to(handle) is first and slot.bound_to(SpeechHandle("resp_2")) is None
    first.played_out()
    first.start()
    assert slot.running
    first.failed("redirect refused")
    assert not slot.busy and not slot.running
    # The failure put the call back into conversation: an end_call after it is armed as usual.
    second = slot.arm("hang_up", "assistant_ended", cancel_if_interrupted=True)
    assert second is not None and slot.waiting_for_next_response() is second


# ------------------------------------------------------------------------------------------ binding rules


def spoken(response_id: str, *, done: bool = False, heard: bool = False) -> SpeechHandle:
    handle = SpeechHandle(response_id)
    handle.audio_sent(500)
    if done:
        handle.mark_generation_done(unplayed=not heard)
    return handle


def test_an_action_waits_for_a_line_that_speaks_then_is_ready_when_it_has_played() -> None:
    slot = ActionSlot()
    action = slot.arm("transfer", "transferred", cancel_if_interrupted=False)
    assert action is not None
    silent = SpeechHandle("resp_tools")  # the tool-calling response: no audio
    assert slot.response_started(silent) is None and action.state is ActionState.BOUND
    silent.mark_generation_done(unplayed=False)
    assert slot.line_played_out(silent) is None and action.state is ActionState.ARMED, "re-armed"
    line = spoken("resp_line")
    assert slot.response_started(line) is None and action.handle is line
    line.mark_generation_done(unplayed=True)
    assert not line.played_out
    line.mark_all_heard()
    assert slot.line_played_out(line) is action and action.state is ActionState.READY


def test_line_played_out_makes_the_bound_action_ready() -> None:
    slot = ActionSlot()
    action = slot.arm("hang_up", "assistant_ended", cancel_if_interrupted=True)
    assert action is not None
    line = spoken("resp_1")
    assert slot.bind(action, line) is None and action.state is ActionState.BOUND
    line.mark_generation_done(unplayed=True)
    line.mark_all_heard()
    assert slot.line_played_out(line) is action and action.state is ActionState.READY


def test_binding_to_a_line_that_has_already_played_is_ready_at_once() -> None:
    slot = ActionSlot()
    action = slot.arm("hang_up", "assistant_ended", cancel_if_interrupted=True)
    assert action is not None
    assert slot.bind(action, spoken("resp_1", done=True, heard=True)) is action
    assert action.state is ActionState.READY


def test_binding_to_a_finished_silent_response_keeps_waiting() -> None:
    slot = ActionSlot()
    action = slot.arm("hang_up", "assistant_ended", cancel_if_interrupted=True)
    assert action is not None
    silent = SpeechHandle("resp_tools")
    silent.mark_generation_done(unplayed=False)
    assert slot.bind(action, silent) is None and action.state is ActionState.ARMED
    assert slot.follow_up_wanted(), "the goodbye was not said: the follow-up must say it"


def test_talking_over_a_goodbye_calls_the_hang_up_off() -> None:
    slot = ActionSlot()
    action = slot.arm("hang_up", "caller_silent", cancel_if_interrupted=True)
    assert action is not None
    line = spoken("resp_1")
    slot.bind(action, line)
    assert not slot.follow_up_wanted(), "nothing may follow a spoken goodbye"
    line.mark_interrupted()
    assert slot.line_played_out(line) is None and action.state is ActionState.CANCELLED
    assert not slot.busy and slot.follow_up_wanted()


def test_talking_over_a_transfer_announcement_moves_it_to_the_next_line() -> None:
    slot = ActionSlot()
    action = slot.arm("transfer", "transferred", cancel_if_interrupted=False)
    assert action is not None
    first = spoken("resp_1")
    slot.response_started(first)
    first.mark_interrupted()
    assert slot.line_played_out(first) is None and action.state is ActionState.ARMED
    cut_before_bind = spoken("resp_2")
    cut_before_bind.mark_interrupted()
    assert slot.bind(action, cut_before_bind) is None and action.state is ActionState.ARMED
    second = spoken("resp_3", done=True, heard=True)
    assert slot.response_started(second) is action and action.state is ActionState.READY


def test_no_follow_up_while_an_action_runs() -> None:
    slot = ActionSlot()
    action = slot.arm("transfer", "transferred", cancel_if_interrupted=False)
    assert action is not None and slot.follow_up_wanted()
    assert slot.bind(action, spoken("resp_1", done=True, heard=True)) is action
    action.start()
    assert not slot.follow_up_wanted()
    action.failed("redirect refused")
    assert slot.follow_up_wanted()
