"""`GET /v1/analyzers`: the configured analyzers, their connection state and last reading."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from power_director.api import AnalyzerInfo
from power_director.auth import require_token
from power_director.deps import DirectorDep

router = APIRouter(tags=["analyzers"], dependencies=[Depends(require_token)])


@router.get("/analyzers", response_model=list[AnalyzerInfo])
def list_analyzers(director: DirectorDep) -> list[AnalyzerInfo]:
    return director.analyzer_infos()
