"""The clock offset through a jittery path: a loopback relay that holds every chunk 20 ± 5 ms.

The relay forwards what it reads in each direction after a random delay of its own per chunk, in
order, as a path with per-packet delay does. Director and client share this machine's clock, so the
true offset is 0 and every estimate's error is the estimate itself. With the director's reply in one
segment (`power_director.http_protocol`) and the client's default 32 rounds, the error stays under
1 ms in nearly every measurement (measured: max 0.56–0.69 ms; 1.64 ms with uvicorn's two segments);
the ± bound must cover every one. The relay runs in a process of its own, as a network would.
"""

from __future__ import annotations

import multiprocessing
import queue
import random
import socket
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path

from test_director_support import TOKEN, director_config, running_director

from power_client.clock import SystemClock
from power_client.clock_offset import measure_offset
from power_client.session_client import DirectorClient

MEASUREMENTS = 40
ROUNDS = 32  # the client's default (--rounds)


class JitterRelay:
    """127.0.0.1:<port> → 127.0.0.1:`target`, each chunk delayed uniform(15, 25) ms, order kept."""

    def __init__(self, target: int, seed: int = 20) -> None:
        self.target = target
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._closing = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._closing.set()
        self._listener.close()

    def _delay_s(self) -> float:
        with self._rng_lock:
            return self._rng.uniform(0.015, 0.025)

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._pipe(client, server)
            self._pipe(server, client)

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        due: queue.Queue[tuple[float, bytes]] = queue.Queue()

        def read() -> None:
            last = 0.0
            while True:
                try:
                    chunk = source.recv(65536)
                except OSError:
                    chunk = b""
                last = max(last, time.monotonic() + self._delay_s())  # in order, each its own delay
                due.put((last, chunk))
                if not chunk:
                    return

        def send() -> None:
            while True:
                at, chunk = due.get()
                time.sleep(max(0.0, at - time.monotonic()))
                if not chunk:
                    sink.close()
                    return
                try:
                    sink.sendall(chunk)
                except OSError:
                    return

        threading.Thread(target=read, daemon=True).start()
        threading.Thread(target=send, daemon=True).start()


def _serve_relay(target: int, report: Connection) -> None:
    """In a process of its own, as a network is: its threads must not wait on the test's GIL."""
    relay = JitterRelay(target)
    report.send(relay.port)
    threading.Event().wait()


def test_the_offset_holds_within_a_millisecond_under_20_ms_jitter(tmp_path: Path) -> None:
    config = director_config(tmp_path / "data", {"name": "sim", "driver": "simulated"})
    with running_director(config) as running:
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        relay = context.Process(target=_serve_relay, args=(running.port, theirs), daemon=True)
        relay.start()
        try:
            assert ours.poll(60), "the relay did not start"
            port = ours.recv()
            with DirectorClient(f"http://127.0.0.1:{port}", TOKEN, SystemClock()) as director:
                estimates = [measure_offset(director.time_round, ROUNDS) for _ in range(MEASUREMENTS)]
        finally:
            relay.kill()
            relay.join()
    errors_ms = sorted(abs(e.offset_s) * 1e3 for e in estimates)
    over = sum(error > 1.0 for error in errors_ms)
    median, largest = errors_ms[len(errors_ms) // 2], errors_ms[-1]
    print(f"\nerror under 20 ± 5 ms jitter: median {median:.3f} ms, max {largest:.3f} ms, {over} over 1 ms")
    assert sum(error <= 1.0 for error in errors_ms) >= 0.95 * MEASUREMENTS
    assert all(abs(e.offset_s) <= e.uncertainty_s for e in estimates)
    assert all(e.min_delay_ns >= 30_000_000 for e in estimates)  # the relay's delay is really there
