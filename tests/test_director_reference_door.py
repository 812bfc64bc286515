"""The MLCommons reference protocol's door, driven by a client written from the protocol's description
(lines ending CRLF; `mlcommons/power client v3`; `new`, `session,…`, `download`, `cleanup`), over
loopback TCP: a full session, the folder it leaves beside an HTTP session's, refusals, garbage, an
oversized line, a peer that is not allowed, and a client that vanishes mid-phase.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_director_session import run_session
from test_director_support import INTERVAL_MS, SETTLE_S, running_director

from power_director.config import ConfigError, DirectorConfig, parse_config
from power_director.reference_door import FETCH_FILES, MAGIC_CLIENT, MAGIC_SERVER

ANALYZER = {"name": "wall", "driver": "simulated", "options": {"seed": 5}}


def config(data_dir: Path, compat: dict[str, Any] | None = None, **session: Any) -> DirectorConfig:
    return parse_config(
        {
            "server": {"data_dir": str(data_dir), "port": 0},
            "session": {"settle_s": SETTLE_S, "interval_ms": INTERVAL_MS, **session},
            "compat": {"listen": "127.0.0.1:0", **(compat or {})},
            "analyzers": [ANALYZER],
        },
        "lab.toml",
    )


class ReferenceClient:
    """The client side of the protocol, as its description gives it."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buffer = b""

    def send(self, text: str | bytes) -> None:
        self.sock.sendall((text.encode() if isinstance(text, str) else text) + b"\r\n")

    def line(self) -> str | None:
        while b"\r\n" not in self.buffer:
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buffer += data
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line.decode()

    def cmd(self, text: str | bytes) -> str | None:
        self.send(text)
        return self.line()

    def download(self, text: str) -> bytes:
        self.send(text)
        data = b""
        while True:
            header = self.line()
            assert header is not None and header.isdigit(), header
            length = int(header)
            if length == 0:
                return data
            while len(self.buffer) < length:
                self.buffer += self.sock.recv(65536)
            data, self.buffer = data + self.buffer[:length], self.buffer[length:]

    def close(self) -> None:
        self.sock.close()


def door_port(running: Any) -> int:
    assert running.director.door is not None
    return int(running.director.door.port)


def test_a_reference_session_downloads_its_files_and_leaves_the_http_layout(tmp_path: Path) -> None:
    with running_director(config(tmp_path / "data")) as running:
        client = ReferenceClient(door_port(running))
        assert client.cmd(MAGIC_CLIENT) == MAGIC_SERVER
        server_time = float(client.cmd("time") or "nan")
        assert abs(server_time - time.time()) < 1
        assert client.cmd("set_ntp") == "OK"
        client_uuid = str(uuid.uuid4())
        created = client.cmd(f"new,door,{client_uuid}") or ""
        assert created.startswith("OK ")
        session_id, server_uuid = created[3:].split(",")
        for mode in ("ranging", "testing"):
            assert client.cmd("time") is not None and client.cmd("set_ntp") == "OK"
            assert client.cmd(f"session,{session_id},start,{mode}") == "OK"
            time.sleep(1.0)
            assert client.cmd(f"session,{session_id},stop,{mode}") == "OK"
        assert client.cmd(f"session,{session_id},done") == "OK"
        folder = tmp_path / "data" / "sessions" / session_id
        downloaded = {name: client.download(f"download,{session_id},{name}") for name in FETCH_FILES}
        for name, data in downloaded.items():
            assert data == (folder / name).read_bytes(), name
        server = json.loads(downloaded["power/server.json"])
        http_id = run_session(running, "http")["session_id"]
        http_folder = tmp_path / "data" / "sessions" / http_id
        http_server = json.loads((http_folder / "power" / "server.json").read_text())
        layout = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        http_layout = sorted(
            p.relative_to(http_folder).as_posix() for p in http_folder.rglob("*") if p.is_file()
        )
        assert client.cmd(f"cleanup,{session_id}") == "OK"
        assert not folder.exists()
        assert client.cmd(f"download,{session_id},power/server.json") == "Error"  # forgotten with its folder
        client.close()
    assert layout == http_layout
    assert sorted(server) == sorted(http_server) and sorted(server["joulebench"]) == sorted(
        http_server["joulebench"]
    )
    assert server["uuid"] == {"client": client_uuid, "server": server_uuid}
    messages = [(m["cmd"], m["reply"]) for m in server["messages"]]
    assert messages[0] == (MAGIC_CLIENT, MAGIC_SERVER)  # the handshake, as the reference records it
    assert messages[1][0] == "time" and messages[2] == ("set_ntp", "OK")
    assert messages[3] == (f"new,door,{client_uuid}", created)
    assert (f"session,{session_id},start,testing", "OK") in messages
    assert messages[-1] == (f"session,{session_id},done", "OK")
    times = [m["cmd_time"] for m in server["messages"]]
    assert times == sorted(times)


def test_refusals_garbage_and_an_oversized_line(tmp_path: Path) -> None:
    with running_director(config(tmp_path / "data")) as running:
        client = ReferenceClient(door_port(running))
        assert client.cmd(MAGIC_CLIENT) == MAGIC_SERVER
        assert client.cmd("session,nope,start,ranging") == "Error: unknown session"
        assert (
            client.cmd("stop")
            == "Error: this director does not stop on a client's word (key 'compat.allow_stop')"
        )
        assert client.cmd("new,bad label!,00000000-0000-0000-0000-000000000000") == "Error: invalid label"
        assert client.cmd("new,ok,not-a-uuid") == "Error: 'not-a-uuid' is not a UUID"
        unlabelled = client.cmd(f"new,,{uuid.uuid4()}") or ""  # the reference client's default label
        assert unlabelled.startswith("OK ") and unlabelled[3:].split(",")[0].endswith("_reference")
        assert client.cmd(b"\xff\xfe\x00\x01garbage") == "Error"
        assert client.cmd("hello") == "Error"
        created = client.cmd(f"new,refused,{uuid.uuid4()}") or ""
        session_id = created[3:].split(",")[0]
        assert client.cmd(f"session,{session_id},stop,testing").startswith("Error: ")  # not running
        assert client.cmd(f"session,{session_id},fly") == "Error Unknown session command"
        assert client.cmd(f"download,{session_id},../../../etc/passwd") == "Error"
        assert client.cmd(f"download,{session_id},power/session.json") == "Error"  # not one of the five
        assert client.cmd(f"cleanup,{session_id}").startswith("Error: session")  # still open
        # A line of 5000 bytes without its end: one sentence, then the connection is closed.
        client.sock.sendall(b"x" * 5000)
        assert client.line() == "Error: a line over 4096 bytes; closing the connection"
        assert client.line() is None
        client.close()
        # The session that connection held ended with the reason; the director serves on.
        deadline = time.monotonic() + 10
        while running.ok("GET", f"/sessions/{session_id}")["state"] != "failed":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert (
            "connection (MLCommons reference protocol) closed"
            in running.ok("GET", f"/sessions/{session_id}")["failure"]
        )
        assert httpx.get(f"{running.url}/v1/time", timeout=5).status_code == 200
        wrong = ReferenceClient(door_port(running))
        assert wrong.cmd("mlcommons/power client v2") == MAGIC_SERVER  # answered, then closed
        assert wrong.line() is None
        wrong.close()


def test_a_vanished_client_fails_its_phase_and_a_quiet_one_lives(tmp_path: Path) -> None:
    with running_director(config(tmp_path / "data", client_timeout_s=2)) as running:
        quiet = ReferenceClient(door_port(running))
        assert quiet.cmd(MAGIC_CLIENT) == MAGIC_SERVER
        session_id = (quiet.cmd(f"new,quiet,{uuid.uuid4()}") or "")[3:].split(",")[0]
        assert quiet.cmd(f"session,{session_id},start,ranging") == "OK"
        time.sleep(4)  # twice the client timeout with nothing said: the open connection keeps it alive
        assert running.ok("GET", f"/sessions/{session_id}")["state"] == "ranging"
        quiet.close()  # gone mid-phase
        deadline = time.monotonic() + 10
        while (info := running.ok("GET", f"/sessions/{session_id}"))["state"] != "failed":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert "closed while the session was ranging" in info["failure"]
        again = ReferenceClient(door_port(running))  # the director takes the next client
        assert again.cmd(MAGIC_CLIENT) == MAGIC_SERVER
        deadline = time.monotonic() + 10
        while not (reply := again.cmd(f"new,next,{uuid.uuid4()}") or "").startswith("OK "):
            assert time.monotonic() < deadline, reply  # the failed session may still be releasing
            time.sleep(0.2)
        again.close()


def test_a_peer_not_allowed_is_told_and_stop_ends_the_director_when_allowed(tmp_path: Path) -> None:
    with running_director(config(tmp_path / "data", {"clients": ["10.0.0.0/8"]})) as running:
        refused = ReferenceClient(door_port(running))
        assert refused.line() == "Error: 127.0.0.1 may not use this director (key 'compat.clients')"
        assert refused.line() is None
        refused.close()
    stopped: list[bool] = []
    with running_director(config(tmp_path / "data2", {"allow_stop": True})) as running:
        running.director.on_stop = lambda: stopped.append(True)
        client = ReferenceClient(door_port(running))
        assert client.cmd(MAGIC_CLIENT) == MAGIC_SERVER
        assert client.cmd("stop") == "OK"
        assert not stopped  # only once the client has gone
        client.close()
        deadline = time.monotonic() + 5
        while not stopped:
            assert time.monotonic() < deadline
            time.sleep(0.02)


def test_the_compat_table_is_checked(tmp_path: Path) -> None:
    def parse(compat: dict[str, Any], port: int = 4950) -> DirectorConfig:
        return parse_config({"server": {"port": port}, "compat": compat, "analyzers": [ANALYZER]}, "lab.toml")

    with pytest.raises(
        ConfigError, match=r"lab.toml: key 'compat.listen' collides with the HTTP API on 127.0.0.1:4950"
    ):
        parse({"listen": "127.0.0.1:4950"})
    with pytest.raises(ConfigError, match=r"key 'compat.listen' collides"):
        parse({"listen": "0.0.0.0:4950"})
    with pytest.raises(ConfigError, match=r"key 'compat.listen' must look like \"127.0.0.1:4950\""):
        parse({"listen": "4950"})
    with pytest.raises(ConfigError, match=r"key 'compat.clients' holds 'lab', not an IP address"):
        parse({"listen": "127.0.0.1:4950", "clients": ["lab"]}, port=4951)
    with pytest.raises(ConfigError, match=r"key 'compat.listen' is missing"):
        parse({"allow_stop": True})
    door = parse({"listen": "[::1]:4950", "clients": ["192.168.1.0/24"]}, port=4951).compat
    assert door is not None and (door.host, door.port, door.clients) == ("::1", 4950, ("192.168.1.0/24",))
    assert parse_config({"analyzers": [ANALYZER]}, "lab.toml").compat is None
