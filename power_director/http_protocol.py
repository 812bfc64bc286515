"""uvicorn's HTTP/1.1 protocol, except that a response leaves in one send: its head and body together.

uvicorn writes a response's head and its body with two `transport.write` calls, and with Nagle off
(as the director wants, see `cli._listen`) each becomes a TCP segment of its own. On a path with
per-packet delay the two meet different delays, and for `GET /v1/time` the client then sees a return
leg longer than it was: the offset estimate errs by up to the difference (issue: 1.5 ms at 20 ± 5 ms
jitter; 0.6 ms with one segment). Here the writes made in one turn of the event loop are joined and
sent as one; a response's head and body are written in the same turn, so they leave together.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from uvicorn.protocols.http.h11_impl import H11Protocol


class _JoinedWrites:
    """A transport whose writes in one loop turn go out as one `write` to the real transport."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(bytes(data))

    def _flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self._flush()  # a `Connection: close` reply is written, then the transport closed at once
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class JoinedWritesH11Protocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        joined = _JoinedWrites(transport, asyncio.get_running_loop())
        super().connection_made(cast(asyncio.Transport, joined))  # duck-typed: it forwards the rest
