"""Shared pieces of the PTD daemon tests: a daemon on an ephemeral loopback port, a line client."""

from __future__ import annotations

import io
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from analyzers.formats.sample_layout import data_log_layout
from analyzers.ptd.daemon.handler import PtdCommandHandler
from analyzers.ptd.daemon.logs import ConsoleLog, DataLog
from analyzers.ptd.daemon.requests import DaemonConfig
from analyzers.ptd.daemon.server import PtdServer
from analyzers.simulated import SimulatedAnalyzer
from analyzers.simulated.clock import VirtualClock, WallClock
from analyzers.simulated.config import SimulatorConfig

START_NS = 1_700_000_000_000_000_000
CONSOLE_LINE = re.compile(r"^\d\d-\d\d-\d{4} \d\d:\d\d:\d\d\.\d{3}: (.*)$")


class LockedStringIO(io.StringIO):
    """The console stream, read by the test while the daemon's threads write."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()

    def write(self, text: str) -> int:
        with self.lock:
            return super().write(text)

    def wait_for(self, message: str, count: int = 1, timeout_s: float = 5.0) -> list[str]:
        """Messages once `message` was logged `count` times (the daemon logs from its own threads)."""
        deadline = time.monotonic() + timeout_s
        while True:
            messages = self.messages()
            if messages.count(message) >= count or time.monotonic() > deadline:
                return messages
            time.sleep(0.005)

    def messages(self) -> list[str]:
        """Console messages without their timestamps (untimestamped lines dropped)."""
        with self.lock:
            text = self.getvalue()
        return [m.group(1) for line in text.splitlines() if (m := CONSOLE_LINE.match(line))]


@dataclass
class RunningDaemon:
    server: PtdServer
    analyzer: SimulatedAnalyzer
    clock: VirtualClock | None
    console: LockedStringIO
    data_log: Path

    @property
    def port(self) -> int:
        return self.server.port


@contextmanager
def running_daemon(
    tmp_path: Path,
    channels: int = 1,
    virtual: bool = True,
    first_channel: int = 1,
    idle_interval_ms: int | None = 1000,
    noise: bool = False,
    idle_timeout_s: float | None = 600.0,
) -> Iterator[RunningDaemon]:
    clock = VirtualClock(START_NS) if virtual else None
    config = SimulatorConfig(
        channels=channels, watts_noise=0.01 if noise else 0.0, volts_noise=0.002 if noise else 0.0
    )
    analyzer = SimulatedAnalyzer(config=config, clock=clock or WallClock())
    console = LockedStringIO()
    now = clock.now_ns if clock is not None else WallClock().now_ns
    data_log_path = tmp_path / "ptd_data.log"
    session = PtdCommandHandler(
        analyzer,
        ConsoleLog(console, now),
        DataLog(data_log_path, now, data_log_layout(first_channel, channels)),
        DaemonConfig(first_channel=first_channel, idle_interval_ms=idle_interval_ms),
        sleep=clock.advance if clock is not None else time.sleep,
    )
    session.announce()
    server = PtdServer(session, "127.0.0.1", 0, idle_timeout_s=idle_timeout_s)
    server.serve_in_thread()
    try:
        yield RunningDaemon(server, analyzer, clock, console, data_log_path)
    finally:
        server.close()


class PtdClient:
    """Sends one request line, reads one reply (and the sample lines of an `Last N samples` reply)."""

    def __init__(self, port: int, timeout_s: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
        self.reader = self.sock.makefile("rb")
        self.exchanges: list[tuple[str, str]] = []

    def request(self, command: str) -> list[str]:
        self.sock.sendall(command.encode() + b"\r\n")
        reply = self._line()
        lines = [reply]
        if reply.startswith("Last ") and reply.endswith("samples"):
            lines += [self._line() for _ in range(int(reply.split(" ")[1]))]
        self.exchanges.append((command, reply))
        return lines

    def cmd(self, command: str) -> str:
        return self.request(command)[0]

    def _line(self) -> str:
        raw = self.reader.readline()
        assert raw.endswith(b"\r\n"), f"reply not terminated by CRLF: {raw!r}"
        return raw.decode("ascii")[:-2]

    def close(self) -> None:
        self.reader.close()
        self.sock.close()

    def __enter__(self) -> PtdClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ServedDaemon:
    """`power-analyzer serve` in a subprocess and a client connected to it; `output` and
    `returncode` are there once it has been terminated (SIGTERM) on leaving `serving`."""

    process: subprocess.Popen[str]
    client: PtdClient
    output: str = ""
    returncode: int | None = None


@contextmanager
def serving(options: Sequence[str], env: Mapping[str, str] | None = None) -> Iterator[ServedDaemon]:
    """`power-analyzer serve OPTIONS --port <free>`, connected to as soon as it listens."""
    port = free_port()
    command = [sys.executable, "-m", "analyzers.cli", "serve", *options, "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    served: ServedDaemon | None = None
    try:
        deadline = time.monotonic() + 20
        while served is None:
            try:
                served = ServedDaemon(process, PtdClient(port))
            except ConnectionRefusedError:
                assert process.poll() is None and time.monotonic() < deadline, "the daemon did not listen"
                time.sleep(0.05)
        with served.client:
            yield served
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
        if served is not None:
            served.output, served.returncode = output, process.returncode
