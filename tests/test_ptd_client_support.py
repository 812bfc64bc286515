"""Fakes for the PTD client tests: a scripted PTDaemon on loopback, a virtual clock for connect retries.

`ScriptedPtd` answers each request line with what a script returns: a list of byte chunks, each
sent with its own `sendall` (TCP_NODELAY, a short pause between), so a reply can be split across
TCP segments anywhere; or `DROP` to close the connection after sending the chunks before it.
"""

from __future__ import annotations

import contextlib
import io
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from analyzers.ptd.daemon.handler import PtdCommandHandler
from analyzers.ptd.daemon.logs import ConsoleLog, DataLog
from analyzers.ptd.daemon.requests import DaemonConfig
from analyzers.ptd.daemon.server import PtdServer
from analyzers.simulated import SimulatedAnalyzer
from analyzers.simulated.clock import VirtualClock
from analyzers.simulated.config import SimulatorConfig

START_NS = 1_700_000_000_000_000_000
DROP = b"<drop>"
"""A chunk that closes the connection instead of being sent."""

# Real replies of PTDaemon 1.9.2 (the public v1.0 fixture's server.json) and of 1.10.0 (PTD doc).
IDENTIFY_1_9_2 = (
    "YokogawaWT330E,1000,1,1,1,1,0,0,1,version=1.9.2-e8c7a49a-20201208,OS=Linux 5.8.0-43-generic "
    "#49~20.04.1-Ubuntu SMP Fri Feb 5 09:57:56 UTC 2021 x86_64,mode=power,1,1,1,0,0,no_cal_date,"
    "YOKOGAWA;WT333E;C3VD30030E;F1.04"
)
UNCERTAINTY_REAL = "Uncertainty,0.006264,0.006105,0.009201,692,0,692,0"

Script = Callable[[str], Sequence[bytes]]


def line(text: str) -> bytes:
    return text.encode() + b"\r\n"


def sample_line(second: int, watts: str, volts: str = "229.870000", amps: str = "0.452300") -> str:
    """A 1.9.x single-channel RL line at 03-03-2021 00:54:<second>.184 UTC."""
    return f"Time,03-03-2021 00:54:{second:02d}.184,Watts,{watts},Volts,{volts},Amps,{amps},PF,0.951200"


def ptd_1_9_answer(request: str, samples: Sequence[str] = ()) -> list[bytes]:
    """What a single-channel AC PTDaemon 1.9.x says to `request`."""
    command = request.split(",")[0]
    if request == "Hello":
        return [line("Hello, PTDaemon here!")]
    if request == "Identify":
        return [line(IDENTIFY_1_9_2)]
    if request == "RR":
        return [line("Ranges,0,0.500000,0,300.000000")]
    if command == "SR" and request.count(",") != 2:
        return [line("Invalid number of parameters")]
    if command == "Go" and request.count(",") in (2, 3):
        return [line("Starting untimed measurement, maximum 500000 samples at 1000ms with 0 rampup samples")]
    if request == "Stop":
        return [line("Stopping untimed measurement")]
    if request == "RL,*,*":
        return [line("Invalid number of parameters")]
    if request == "RL":
        return [line(f"Last {len(samples)} samples"), *(line(s) for s in samples)]
    if request == "Uncertainty":
        return [line(UNCERTAINTY_REAL)]
    if request == "Watts":
        return [line("Watts,4.450000,4.380000,4.520000,692,0,692")]
    return [line("Unknown command")]


class ScriptedPtd:
    """A fake daemon on 127.0.0.1 (ephemeral port) answering with `script`; one client at a time."""

    def __init__(self, script: Script, listen: bool = True, pause_s: float = 0.002) -> None:
        self.script = script
        self.pause_s = pause_s
        self.requests: list[str] = []
        self.connections = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        if listen:
            self.listen()

    def listen(self) -> None:
        """Start accepting: until then connects to `port` are refused (a daemon still starting)."""
        self._sock.listen(4)
        self._sock.settimeout(0.05)
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def _accept_loop(self) -> None:
        while not self._closing.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            with conn:
                self._serve(conn)

    def _serve(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = conn.makefile("rb")
        while not self._closing.is_set():
            raw = reader.readline()
            if not raw:
                return
            request = raw.decode().rstrip("\r\n")
            self.requests.append(request)
            for chunk in self.script(request):
                if chunk == DROP:
                    with contextlib.suppress(OSError):
                        conn.shutdown(socket.SHUT_RDWR)
                    return
                try:
                    conn.sendall(chunk)
                except OSError:
                    return
                time.sleep(self.pause_s)

    def close(self) -> None:
        self._closing.set()
        self._sock.close()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def __enter__(self) -> ScriptedPtd:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class VirtualTime:
    """`monotonic` and `sleep` for connect retries; `on_sleep` lets a fake start listening at a time."""

    def __init__(self, on_time: Callable[[float], None] = lambda now: None) -> None:
        self.now_s = 0.0
        self.sleeps: list[float] = []
        self._on_time = on_time

    def monotonic(self) -> float:
        return self.now_s

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now_s += seconds
        self._on_time(self.now_s)


@contextmanager
def simulated_daemon(
    channels: int = 1, dc: bool = False
) -> Iterator[tuple[PtdServer, SimulatedAnalyzer, VirtualClock]]:
    """Our daemon over a simulated meter in virtual time, on an ephemeral loopback port."""
    clock = VirtualClock(START_NS)
    analyzer = SimulatedAnalyzer(
        config=SimulatorConfig(channels=channels, watts_noise=0.0, volts_noise=0.0), clock=clock
    )
    session = PtdCommandHandler(
        analyzer,
        ConsoleLog(io.StringIO(), clock.now_ns),
        DataLog(None, clock.now_ns),
        DaemonConfig(dc=dc),
        sleep=lambda seconds: _advance(clock, seconds),
    )
    session.announce()
    server = PtdServer(session, "127.0.0.1", 0)
    server.serve_in_thread()
    try:
        yield server, analyzer, clock
    finally:
        server.close()


def _advance(clock: VirtualClock, seconds: float) -> None:
    """The daemon's wait for a sample, in virtual time."""
    clock.advance(seconds)
