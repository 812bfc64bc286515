"""The TCP side: one client at a time (as PTDaemon), a request line in, its reply out, over a `PtdCommandHandler`.

A pump thread polls the session so samples reach the data log while no request arrives. A client
that sends garbage gets an error reply; one that disappears (mid-measurement, mid-`RL`) ends its
connection only, and the server goes back to waiting for the next one.

Clients that arrive while one is served wait in the listen backlog (`request_queue_size`, 64) and
are served in turn, as SPEC PTDaemon serves them. So that a silent client cannot hold the daemon
for good (a director host that crashed, a port scanner, half a command), a connection that sends
nothing for `idle_timeout_s` while no measurement runs is closed with a console line. During a
measurement there is no limit: the reference director sends nothing between `Go` and `Stop`.
Replies go out with Nagle off, so pipelined requests are not held back by delayed ACKs.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import sys
import threading

from analyzers.ptd import wire
from analyzers.ptd.daemon.handler import PtdCommandHandler

POLL_INTERVAL_S = 0.02
DEFAULT_IDLE_TIMEOUT_S = 600.0
"""Ten minutes: far above the reference director's longest silence outside a measurement (its 10 s
settle times and the client's work between runs), far below "for good"."""


class _ClientHandler(socketserver.StreamRequestHandler):
    server: PtdServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.active_connection = self.connection

    def handle(self) -> None:
        session = self.server.session
        host, port = self.client_address[:2]
        session.console.log(f"Accepted connection from {host}:{port}", connection=True)
        try:
            self._serve(session)
        except OSError as error:
            session.console.log(f"Connection error: {error}")
        finally:
            session.client_gone()
            session.console.log("Shutting connection down...")
            session.console.log("Connection is down.")
            if not self.server.closing:
                session.console.log("Waiting for a connection...")

    def _serve(self, session: PtdCommandHandler) -> None:
        idle_s = self.server.idle_timeout_s
        while not self.server.closing:
            # A timed-out socket file cannot be read again, so the limit ends the connection.
            self.connection.settimeout(None if session.measuring or idle_s is None else idle_s)
            try:
                raw = self.rfile.readline(wire.MAX_REQUEST_BYTES + 1)
            except TimeoutError:
                session.console.log(f"No request from the client for {idle_s:g} s; disconnecting it")
                return
            if not raw:
                session.console.log("No data returned by socket read.")
                return
            if len(raw) > wire.MAX_REQUEST_BYTES and not raw.endswith(b"\n"):
                self._discard_rest_of_line()
                self.wfile.write(
                    f"Error: request longer than {wire.MAX_REQUEST_BYTES} bytes{wire.LINE_END}".encode()
                )
                continue
            reply = session.handle(raw.decode("ascii", "replace"))
            self.wfile.write(reply.payload())

    def _discard_rest_of_line(self) -> None:
        while True:
            chunk = self.rfile.readline(wire.MAX_REQUEST_BYTES + 1)
            if not chunk or chunk.endswith(b"\n"):
                return


class PtdServer(socketserver.TCPServer):
    """Serves `session` on (host, port); port 0 picks a free one (see `port`)."""

    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 64

    def __init__(
        self,
        session: PtdCommandHandler,
        host: str = "127.0.0.1",
        port: int = wire.DEFAULT_PORT,
        idle_timeout_s: float | None = DEFAULT_IDLE_TIMEOUT_S,
    ) -> None:
        self.session = session
        self.idle_timeout_s = idle_timeout_s
        self.closing = False
        self.active_connection: socket.socket | None = None
        self._pump_stop = threading.Event()
        self._pump = threading.Thread(target=self._run_pump, name="ptd-pump", daemon=True)
        self._serve_thread: threading.Thread | None = None
        super().__init__((host, port), _ClientHandler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start_pump(self) -> None:
        if not self._pump.is_alive():
            self._pump.start()

    def _run_pump(self) -> None:
        while not self._pump_stop.wait(POLL_INTERVAL_S):
            self.session.poll()

    def handle_error(self, request: object, client_address: object) -> None:
        # A failure in one connection must not print a traceback or stop the server.
        error = sys.exc_info()[1]
        self.session.console.log(f"Connection from {client_address} failed: {error!r}")

    def serve_in_thread(self) -> threading.Thread:
        """Start the pump and serve in a background thread (tests, embedding)."""
        self.start_pump()
        thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        self._serve_thread = thread
        return thread

    def close(self) -> None:
        """Stop serving, end any connection and measurement, release the meter."""
        self.closing = True
        self._pump_stop.set()
        connection = self.active_connection
        if connection is not None:
            # Wakes a handler blocked reading from a client that stays connected.
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._serve_thread is not None:
            self.shutdown()
            self._serve_thread.join(timeout=5)
        self.server_close()
        if self._pump.is_alive():
            self._pump.join(timeout=5)
        self.session.close()

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        self.active_connection = None
        with contextlib.suppress(OSError):
            request.shutdown(socket.SHUT_RDWR)
        request.close()
