"""The session state machine as data: every (state, action) pair has a next state or a sentence."""

from __future__ import annotations

import itertools
import typing

import pytest

from power_director.api import FINAL_STATES, SessionState
from power_director.errors import Conflict
from power_director.transitions import ACTIVE_STATES, ENDING_REASONS, TRANSITIONS, Action, next_state

STATES: tuple[SessionState, ...] = typing.get_args(SessionState)


def test_states_are_either_active_or_final() -> None:
    assert set(ACTIVE_STATES) | set(FINAL_STATES) == set(STATES)
    assert not set(ACTIVE_STATES) & set(FINAL_STATES)


@pytest.mark.parametrize(("state", "action"), list(itertools.product(STATES, Action)))
def test_every_pair_leads_somewhere_or_says_why_not(state: SessionState, action: Action) -> None:
    if (state, action) in TRANSITIONS:
        assert next_state(state, action, "s1") in STATES
        return
    with pytest.raises(Conflict) as refused:
        next_state(state, action, "s1", "the meter died")
    sentence = str(refused.value)
    assert sentence and "{" not in sentence and not sentence.endswith(".")
    if state in FINAL_STATES and action not in (Action.MARK,):
        assert sentence.endswith(f"{state} (the meter died)")


def test_nothing_leaves_a_final_state_and_every_ending_reaches_one() -> None:
    assert not [pair for pair in TRANSITIONS if pair[0] in FINAL_STATES]
    endings = (
        Action.DONE,
        Action.ABORT,
        Action.CLIENT_TIMEOUT,
        Action.SHUTDOWN,
        Action.FAULT,
        Action.RECOVER,
    )
    for state, action in itertools.product(ACTIVE_STATES, endings):
        assert TRANSITIONS[(state, action)] == ("done" if action is Action.DONE else "failed")
    assert set(ENDING_REASONS) == {Action.ABORT, Action.CLIENT_TIMEOUT, Action.SHUTDOWN}


def test_the_normal_path_and_its_refusals() -> None:
    path = [
        ("created", Action.START_RANGING, "ranging"),
        ("ranging", Action.MARK, "ranging"),
        ("ranging", Action.STOP_RANGING, "ranged"),
        ("ranged", Action.START_TESTING, "testing"),
        ("testing", Action.STOP_TESTING, "tested"),
        ("tested", Action.HEARTBEAT, "tested"),
        ("tested", Action.DONE, "done"),
    ]
    for state, action, expected in path:
        assert next_state(state, action, "s1") == expected  # type: ignore[arg-type]
    with pytest.raises(Conflict, match=r"^testing needs a ranging run first, or known ranges"):
        next_state("created", Action.START_TESTING, "s1")
    with pytest.raises(Conflict, match=r"^ranging starts from a new session; session s1 is tested$"):
        next_state("tested", Action.START_RANGING, "s1")
    with pytest.raises(Conflict, match=r"^session s1 is already done$"):
        next_state("done", Action.ABORT, "s1")
