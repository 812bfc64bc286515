"""A session's state machine as data: `(state, action) → next state`, and the sentence of each refusal.

    created ──start ranging──▶ ranging ──stop──▶ ranged ──start testing──▶ testing ──stop──▶ tested
    created ──start testing with known ranges──▶ testing
    any active state ──done──▶ done
    any active state ──abort, client timeout, director shutdown, analyzer fault, recovery──▶ failed

Every path that changes a session's state asks `next_state` first: the HTTP calls, the client's
abort, the watchdog of quiet clients, the director's shutdown, an analyzer fault seen by the
recorder, and the recovery of a session a crash cut short. A refusal is a `Conflict` (HTTP 409)
whose sentence comes from `REFUSALS`.
"""

from __future__ import annotations

from enum import Enum

from power_director.api import FINAL_STATES, SessionState
from power_director.errors import Conflict

__all__ = [
    "ACTIVE_STATES",
    "ENDING_REASONS",
    "FINAL_STATES",
    "REFUSALS",
    "TRANSITIONS",
    "Action",
    "allowed",
    "next_state",
]


class Action(Enum):
    START_RANGING = "start ranging"
    START_TESTING = "start testing"  # with the ranges a ranging run derived
    START_TESTING_KNOWN = "start testing with known ranges"
    STOP_RANGING = "stop ranging"
    STOP_TESTING = "stop testing"
    MARK = "mark"
    HEARTBEAT = "heartbeat"
    DONE = "done"
    ABORT = "abort"
    CLIENT_TIMEOUT = "client timeout"
    SHUTDOWN = "director shutdown"
    FAULT = "analyzer fault"
    RECOVER = "recovery after a crash"


ACTIVE_STATES: tuple[SessionState, ...] = ("created", "ranging", "ranged", "testing", "tested")
_ENDINGS: dict[Action, SessionState] = {
    Action.DONE: "done",
    Action.ABORT: "failed",
    Action.CLIENT_TIMEOUT: "failed",
    Action.SHUTDOWN: "failed",
    Action.FAULT: "failed",
    Action.RECOVER: "failed",
}

TRANSITIONS: dict[tuple[SessionState, Action], SessionState] = {
    ("created", Action.START_RANGING): "ranging",
    ("created", Action.START_TESTING_KNOWN): "testing",
    ("ranged", Action.START_TESTING): "testing",
    ("ranging", Action.STOP_RANGING): "ranged",
    ("testing", Action.STOP_TESTING): "tested",
    ("ranging", Action.MARK): "ranging",
    ("testing", Action.MARK): "testing",
    **{(state, Action.HEARTBEAT): state for state in ACTIVE_STATES},
    **{(state, action): end for state in ACTIVE_STATES for action, end in _ENDINGS.items()},
}

# Looked up by (state, action), then ("final" or "active", action), then ("any", action).
# Placeholders: {session}, {state}, and {because} (" (<failure>)" when the session has one).
REFUSALS: dict[tuple[str, Action], str] = {
    ("final", Action.START_RANGING): "session {session} is {state}{because}",
    ("final", Action.START_TESTING): "session {session} is {state}{because}",
    ("final", Action.START_TESTING_KNOWN): "session {session} is {state}{because}",
    ("active", Action.START_RANGING): "ranging starts from a new session; session {session} is {state}",
    ("created", Action.START_TESTING): (
        "testing needs a ranging run first, or known ranges (max_volts and max_amps)"
    ),
    ("ranged", Action.START_TESTING_KNOWN): (
        "this session has ranged: testing uses the ranges derived from it, leave out max_volts and max_amps"
    ),
    ("active", Action.START_TESTING): "testing cannot start: session {session} is {state}",
    ("active", Action.START_TESTING_KNOWN): "testing cannot start: session {session} is {state}",
    ("any", Action.STOP_RANGING): "no ranging run to stop: session {session} is {state}{because}",
    ("any", Action.STOP_TESTING): "no testing run to stop: session {session} is {state}{because}",
    ("any", Action.MARK): "marks belong inside a ranging or testing run; session {session} is {state}",
    ("any", Action.HEARTBEAT): "session {session} is {state}{because}",
    ("any", Action.DONE): "session {session} is already {state}{because}",
    ("any", Action.ABORT): "session {session} is already {state}{because}",
    ("any", Action.CLIENT_TIMEOUT): "session {session} is already {state}{because}",
    ("any", Action.SHUTDOWN): "session {session} is already {state}{because}",
    ("any", Action.FAULT): "session {session} is already {state}{because}",
    ("any", Action.RECOVER): "session {session} is already {state}{because}",
}


# The failure each ending other than `done` records (placeholders filled in by `Session`).
ENDING_REASONS: dict[Action, str] = {
    Action.ABORT: "aborted by the client: {reason}",
    Action.CLIENT_TIMEOUT: (
        "no word from the client for {silent_s:g} s (session.client_timeout_s); "
        "what was recorded until then is kept"
    ),
    Action.SHUTDOWN: "the director was stopped during {during}",
}


def allowed(state: SessionState, action: Action) -> bool:
    return (state, action) in TRANSITIONS


def next_state(
    state: SessionState, action: Action, session_id: str, failure: str | None = None
) -> SessionState:
    """The state `action` leads to from `state`; Conflict with the refusal's sentence when none."""
    try:
        return TRANSITIONS[(state, action)]
    except KeyError:
        raise Conflict(refusal(state, action, session_id, failure)) from None


def refusal(state: SessionState, action: Action, session_id: str, failure: str | None = None) -> str:
    group = "final" if state in FINAL_STATES else "active"
    template = next(
        REFUSALS[key] for key in ((state, action), (group, action), ("any", action)) if key in REFUSALS
    )
    because = f" ({failure})" if failure else ""
    return template.format(session=session_id, state=state, because=because)
