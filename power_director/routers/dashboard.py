"""The dashboard (`GET /`), its server-sent events (`GET /events`), `/metrics`, and `/login`.

Read-only, outside the `/v1` API; who may look is `viewer_access`. The page is plain HTML and one
script (`power_director/dashboard/`), no build step. The event stream sends the director's
`dashboard_state.snapshot` as JSON when it changes (checked every `CHECK_S`) and at least every
`BEAT_S`; it ends when the browser goes away.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from analyzers.live_metrics import CONTENT_TYPE, render
from power_director.dashboard_state import snapshot
from power_director.viewer_access import COOKIE, cookie_value, may_view, require_viewer, token_matches

router = APIRouter(tags=["dashboard"], include_in_schema=False)
CHECK_S = 0.2
BEAT_S = 2.0
MAX_LOGIN_BODY = 4096
_STATIC = resources.files("power_director") / "dashboard"
_VOLATILE = ("time_ns", "age_s", "phase_elapsed_s")


def _page(name: str) -> str:
    return (_STATIC / name).read_text(encoding="utf-8")


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request) -> Response:
    if not may_view(request):
        return RedirectResponse("/login", status_code=303)
    return HTMLResponse(_page("index.html"))


@router.get("/dashboard.js", dependencies=[Depends(require_viewer)])
def dashboard_script() -> Response:
    return Response(_page("dashboard.js"), media_type="text/javascript; charset=utf-8")


def _steady(state: dict[str, Any]) -> str:
    """The snapshot without the figures that change every instant (what 'changed' means)."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in _VOLATILE}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return json.dumps(strip(state), sort_keys=True)


@router.get("/events", dependencies=[Depends(require_viewer)])
async def events(request: Request) -> StreamingResponse:
    director = request.app.state.director

    async def stream() -> AsyncIterator[str]:
        yield "retry: 1000\n\n"
        sent, beat = "", 0.0
        loop = asyncio.get_running_loop()
        while not await request.is_disconnected() and not director.closing:
            state = snapshot(director)
            steady = _steady(state)
            now = loop.time()
            if steady != sent or now - beat >= BEAT_S:
                sent, beat = steady, now
                yield f"event: state\ndata: {json.dumps(state)}\n\n"
            await asyncio.sleep(CHECK_S)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


@router.get("/metrics", dependencies=[Depends(require_viewer)])
def metrics(request: Request) -> Response:
    return Response(render(request.app.state.metrics), media_type=CONTENT_TYPE)


@router.get("/login", response_class=HTMLResponse)
def login_form() -> HTMLResponse:
    return HTMLResponse(_page("login.html"))


@router.post("/login")
async def login(request: Request) -> Response:
    body = b""
    async for part in request.stream():
        body += part
        if len(body) > MAX_LOGIN_BODY:
            return HTMLResponse("the sign-in form is over 4 kB", status_code=413)
    given = parse_qs(body.decode("utf-8", errors="replace")).get("token", [""])[0].strip()
    token: str = request.app.state.token
    if not given or not token_matches(given, token):
        return HTMLResponse(
            _page("login.html").replace("<!--problem-->", "<p role=alert>Wrong token.</p>"), status_code=401
        )
    reply = RedirectResponse("/", status_code=303)
    secure = request.url.scheme == "https"
    reply.set_cookie(COOKIE, cookie_value(token), httponly=True, samesite="strict", secure=secure)
    return reply
