"""Sessions: create, list, inspect, ranging/testing start and stop, marks, heartbeat, done, abort.

Every call here needs the token. Handlers are plain functions (run in the thread pool): a phase
call blocks for the settle time and the analyzer's replies, and must not stall the event loop.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request

from power_director.api import (
    MarkRecorded,
    MarkRequest,
    Mode,
    PhaseStamp,
    PhaseStart,
    PhaseStarted,
    PhaseStopped,
    SessionAbort,
    SessionCreate,
    SessionCreated,
    SessionDone,
    SessionInfo,
)
from power_director.auth import require_token
from power_director.deps import DirectorDep
from power_director.stamps import stamp_now

router = APIRouter(prefix="/sessions", tags=["sessions"], dependencies=[Depends(require_token)])


def arrival(request: Request) -> PhaseStamp:
    """When the request reached the director (stamped by the app's outermost middleware)."""
    stamp = getattr(request.state, "arrived", None)
    return stamp if isinstance(stamp, PhaseStamp) else stamp_now()


Arrival = Annotated[PhaseStamp, Depends(arrival)]


@router.post("", response_model=SessionCreated)
def create_session(body: SessionCreate, arrived: Arrival, director: DirectorDep) -> SessionCreated:
    session = director.create_session(body, arrived)
    return SessionCreated(
        session_id=session.session_id,
        server_uuid=session.server_uuid,
        exchange=session.messages[0].exchange(),
        client_timeout_s=director.config.session.client_timeout_s,
        analyzer_stall_s=director.config.session.stall_s,
        notes=session.analyzers.notes,
    )


@router.get("", response_model=list[SessionInfo])
def list_sessions(director: DirectorDep) -> list[SessionInfo]:
    return director.session_infos()


@router.get("/{session_id}", response_model=SessionInfo)
def get_session(session_id: str, director: DirectorDep) -> SessionInfo:
    return director.session_info(session_id)


@router.post("/{session_id}/{mode}/start", response_model=PhaseStarted)
def start_phase(
    session_id: str,
    mode: Mode,
    arrived: Arrival,
    director: DirectorDep,
    body: Annotated[PhaseStart | None, Body()] = None,
) -> PhaseStarted:
    session = director.session(session_id)
    started = session.start_phase(mode, body or PhaseStart(), arrived)
    session.touch()  # a call that took long (settling) still counts as the client's last sign of life
    return started


@router.post("/{session_id}/{mode}/stop", response_model=PhaseStopped)
def stop_phase(session_id: str, mode: Mode, arrived: Arrival, director: DirectorDep) -> PhaseStopped:
    session = director.session(session_id)
    stopped = session.stop_phase(mode, arrived)
    session.touch()
    return stopped


@router.post("/{session_id}/marks", response_model=MarkRecorded)
def add_mark(
    session_id: str,
    body: MarkRequest,
    arrived: Arrival,
    director: DirectorDep,
) -> MarkRecorded:
    return director.session(session_id).add_mark(body.name, body.event, arrived)


@router.post("/{session_id}/done", response_model=SessionDone)
def finish_session(session_id: str, arrived: Arrival, director: DirectorDep) -> SessionDone:
    return director.session(session_id).finish(arrived)


@router.post("/{session_id}/heartbeat", response_model=SessionInfo)
def heartbeat(session_id: str, director: DirectorDep) -> SessionInfo:
    """The client is still there (any call says so; this one says nothing else). 409 once it ended."""
    return director.session(session_id).heartbeat()


@router.post("/{session_id}/abort", response_model=SessionInfo)
def abort_session(session_id: str, body: SessionAbort, director: DirectorDep) -> SessionInfo:
    """End the session early as failed, with the client's reason; what was recorded is kept."""
    return director.session(session_id).abort(body.reason)
