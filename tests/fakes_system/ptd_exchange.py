"""A tiny PTD client over a raw socket, and a `power-analyzer serve` subprocess to talk to."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class PtdLine:
    """One connection: `ask(line)` returns the reply line; `samples()` the lines of an `RL` reply."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.reader = self.sock.makefile("rb")

    def ask(self, request: str) -> str:
        self.sock.sendall(request.encode() + b"\r\n")
        return self.reader.readline().decode().rstrip("\r\n")

    def samples(self, request: str = "RL") -> list[str]:
        header = self.ask(request)
        assert header.startswith("Last ") and header.endswith(" samples"), header
        count = int(header.split()[1])
        return [self.reader.readline().decode().rstrip("\r\n") for _ in range(count)]

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def served(driver: str, device: str, env: Mapping[str, str] | None = None) -> Iterator[PtdLine]:
    """`power-analyzer serve --driver DRIVER --device DEVICE` in a subprocess, and a connection to it."""
    port = free_port()
    environment = {**os.environ, "TZ": "UTC", **(env or {})}
    argv = [sys.executable, "-m", "analyzers.cli", "serve", "--driver", driver, "--port", str(port)]
    if device:
        argv += ["--device", device]
    process = subprocess.Popen(
        argv, cwd=REPO, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    client: PtdLine | None = None
    try:
        deadline = time.monotonic() + 30
        while client is None:
            try:
                client = PtdLine(port)
            except ConnectionRefusedError:
                if process.poll() is not None:
                    output = process.stdout.read().decode() if process.stdout else ""
                    raise AssertionError(f"serve exited with {process.returncode}: {output}") from None
                assert time.monotonic() < deadline, "serve did not listen within 30 s"
                time.sleep(0.05)
        yield client
    finally:
        if client is not None:
            client.close()
        process.terminate()
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()


def watts_of(line: str) -> list[float]:
    """Every Watts value of a sample line (the total first, then each channel)."""
    fields = line.split(",")
    return [float(fields[i + 1]) for i, name in enumerate(fields) if name == "Watts"]
