"""Shared pieces of the director tests: a director on an ephemeral loopback port, over real HTTP."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from power_director.app import create_app
from power_director.config import DirectorConfig, parse_config
from power_director.director import Director
from power_director.http_protocol import JoinedWritesH11Protocol

TOKEN = "test-token-0123456789abcdef"
SETTLE_S = 0.1
INTERVAL_MS = 100


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def director_config(data_dir: Path, analyzer: dict[str, Any], **session: Any) -> DirectorConfig:
    return director_config_many(data_dir, [analyzer], **session)


def director_config_many(
    data_dir: Path, analyzers: list[dict[str, Any]], server: dict[str, Any] | None = None, **session: Any
) -> DirectorConfig:
    settings = {"settle_s": SETTLE_S, "interval_ms": INTERVAL_MS, **session}
    return parse_config(
        {
            "server": {"data_dir": str(data_dir), **(server or {})},
            "session": settings,
            "analyzers": analyzers,
        },
        "test.toml",
    )


@dataclass
class RunningDirector:
    director: Director
    port: int
    http: httpx.Client
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def post(self, path: str, body: Any = None, *, token: str | None = TOKEN) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.http.post(f"/v1{path}", json=body, headers=headers)

    def get(self, path: str, *, token: str | None = TOKEN) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.http.get(f"/v1{path}", headers=headers)

    def ok(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        response = self.post(path, body) if method == "POST" else self.get(path)
        assert response.status_code == 200, f"{method} {path}: {response.status_code} {response.text}"
        result: dict[str, Any] = response.json()
        return result

    def create_session(self, label: str = "test") -> dict[str, Any]:
        return self.ok("POST", "/sessions", {"label": label, "client_uuid": str(uuid.uuid4())})


@contextmanager
def running_director(
    config: DirectorConfig, token: str = TOKEN, host: str = "127.0.0.1"
) -> Iterator[RunningDirector]:
    """uvicorn serving `create_app(config, token)` on host:<ephemeral> (loopback by default) in a thread."""
    director = Director(config)
    app = create_app(config, token, director)
    config = uvicorn.Config(
        app,
        host=host,
        port=0,
        log_level="warning",
        http=JoinedWritesH11Protocol,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the director did not start"
        time.sleep(0.01)
    port = int(server.servers[0].sockets[0].getsockname()[1])
    http = httpx.Client(base_url=f"http://{host}:{port}", timeout=60)
    try:
        yield RunningDirector(director, port, http, host)
    finally:
        http.close()
        server.should_exit = True
        thread.join(timeout=20)
