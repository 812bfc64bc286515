"""`POST /v1/sessions/{id}/training-export`: a session's samples as MLPerf Training power logs."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from power_director.api import TrainingExport, TrainingExported
from power_director.auth import require_token
from power_director.deps import DirectorDep

router = APIRouter(prefix="/sessions", tags=["exports"], dependencies=[Depends(require_token)])


@router.post("/{session_id}/training-export", response_model=TrainingExported)
def training_export(session_id: str, body: TrainingExport, director: DirectorDep) -> TrainingExported:
    # A plain function: reading a long recording runs in the thread pool, not on the event loop.
    return director.export_training(session_id, body)
