"""The door before the app: the token and a body limit are checked before any body is read.

FastAPI parses a request's body before it runs the token dependency, so without this a caller with
no token could make the director read, buffer and parse bodies of any size (a 64 MB POST grew its
memory by 190 MB before the 401). `RequestGate` answers 401 from the headers alone, and 413 for a
body over `MAX_BODY_BYTES` (its `Content-Length`, or counted as it streams in). The token dependency
(`auth.require_token`) stays on the routers: it documents the scheme in the OpenAPI schema, and a
route added without the gate in front is still closed.
"""

from __future__ import annotations

import json
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from power_director.api import API_PREFIX

MAX_BODY_BYTES = 1 << 20
"""1 MiB: the largest body the API takes (a session abort's reason) is a few kB."""
OPEN_PATHS = frozenset({f"{API_PREFIX}/time"})
"""Answered without the token: the clock tells nothing, and offset estimation wants it cheap."""
_NO_TOKEN = "this call needs the director's token: send 'Authorization: Bearer <token>'"


class RequestGate:
    def __init__(self, app: ASGIApp, token: str, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self._token = token.encode()
        self._max = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith(API_PREFIX + "/"):
            await self.app(scope, receive, send)  # the OpenAPI schema and docs
            return
        headers = dict(scope.get("headers") or [])
        if scope["path"] not in OPEN_PATHS:
            refusal = self._refusal(headers.get(b"authorization", b""))
            if refusal is not None:
                await _reply(send, 401, refusal, {b"www-authenticate": b"Bearer"})
                return
        length = headers.get(b"content-length", b"0")
        if not length.isdigit() or int(length) > self._max:
            await _reply(
                send, 413, f"the request body is over {self._max} bytes (or its length is not a number)"
            )
            return
        received = 0
        refused = False

        async def counted() -> Message:
            nonlocal received, refused
            message = await receive()
            received += len(message.get("body", b""))
            if received > self._max and not refused:
                # Answer now; the app is told the client went away, and what it sends is dropped.
                refused = True
                await _reply(send, 413, f"the request body is over {self._max} bytes")
                return {"type": "http.disconnect"}
            return message

        async def unless_refused(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, counted, unless_refused)

    def _refusal(self, authorization: bytes) -> str | None:
        scheme, _, credentials = authorization.partition(b" ")
        if scheme.lower() != b"bearer" or not credentials:
            return _NO_TOKEN
        if not secrets.compare_digest(credentials.strip(), self._token):
            return "wrong token"
        return None


async def _reply(send: Send, status: int, detail: str, extra: dict[bytes, bytes] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += list((extra or {}).items())
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
