"""`create_app(config, token)`: the FastAPI application, its routers, dependencies and error replies.

Nothing is module-level: the `Director` (analyzers, sessions) lives in `app.state`, created and
closed by the app's lifespan. Errors become `{"detail": "<one sentence>"}` with their status.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from power_director.api import API_PREFIX
from power_director.config import DirectorConfig
from power_director.director import Director
from power_director.errors import DirectorError
from power_director.gate import RequestGate
from power_director.metrics import registry_for
from power_director.routers import analyzers, dashboard, exports, files, sessions
from power_director.routers import time as time_router
from power_director.stamps import stamp_now


class ArrivalStamp:
    """Outermost middleware: stamps each request as it arrives, before routing and body parsing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope.setdefault("state", {})["arrived"] = stamp_now()
        await self.app(scope, receive, send)


def _validation_sentence(error: RequestValidationError) -> str:
    problems = []
    for item in error.errors()[:3]:
        where = ".".join(str(part) for part in item.get("loc", ()) if part != "body") or "request"
        problems.append(f"{where}: {item.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(problems)


def create_app(config: DirectorConfig, token: str, director: Director | None = None) -> FastAPI:
    """The app; `director` may be given (tests), otherwise one is made from `config` at start-up."""
    shared = director or Director(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        shared.start()
        try:
            yield
        finally:
            shared.close()

    app = FastAPI(
        title="joulebench power director",
        version="1",
        description="Sessions (ranging → testing) over PTD analyzers, with MLPerf Power artifacts.",
        lifespan=lifespan,
    )
    app.state.director = shared
    app.state.token = token
    app.state.metrics = registry_for(shared)
    # Added last, run first: the arrival stamp, then the gate (token and body limit, before any body).
    app.add_middleware(RequestGate, token=token)
    app.add_middleware(ArrivalStamp)
    for module in (time_router, sessions, files, exports, analyzers):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(dashboard.router)  # read-only views, outside /v1: see viewer_access

    async def director_error(_request: Request, error: Exception) -> JSONResponse:
        status = error.status_code if isinstance(error, DirectorError) else 500
        return JSONResponse({"detail": str(error)}, status_code=status)

    async def invalid_request(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        return JSONResponse({"detail": _validation_sentence(error)}, status_code=422)

    handlers: dict[Any, Callable[..., Any]] = {
        DirectorError: director_error,
        RequestValidationError: invalid_request,
    }
    for kind, handler in handlers.items():
        app.add_exception_handler(kind, handler)
    return app
