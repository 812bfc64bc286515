"""The MLCommons reference protocol's door: the reference client (power-dev `client.py`) runs unchanged.

Opened by `[compat] listen = "host:port"`; the HTTP API stays where `[server]` puts it, and both
drive the same sessions. The protocol, as power-dev's v3 client and server speak it: lines end
`\\r\\n` (a bare `\\n` is taken); the client's first line is `mlcommons/power client v3`, answered with
`mlcommons/power server v3` (anything else gets that answer too, and the connection ends); then

    time                                   the director's clock, str(time.time())
    set_ntp                                OK (the director's clock is never touched: see DIRECTOR.md)
    stop                                   OK when `compat.allow_stop`; the director stops once this
                                           client has gone
    new,<label>,<client uuid>              OK <session id>,<server uuid>
    session,<id>,start,ranging             OK
    session,<id>,start,testing[,<V>,<A>]   OK (with V and A: known ranges, no ranging run)
    session,<id>,stop,ranging|testing      OK
    session,<id>,done                      OK
    download,<id>,<file>                   the file as chunks, `<length>\\r\\n<bytes>` ..., `0\\r\\n`
    cleanup,<id>                           OK, the session's folder removed

A refusal is `Error: <one sentence>` where the reference says `Error` or `Error: exception`
(clients test for `OK`); an unknown session is `Error: unknown session`, an unknown session verb
`Error Unknown session command`, anything else `Error`, as the reference answers.

Unauthenticated, as the protocol is, and therefore bounded: only peers in `compat.clients` (default
loopback), lines of at most `MAX_LINE` bytes, `download` only of the reference's five result files of
a session this door created, `cleanup` only of such a session once it has ended, `stop` only when
allowed. A session stays alive while its connection is open (the reference client sends nothing
while its workload runs); a connection that closes while its session is open aborts it with the reason.
Every exchange is in the session's `messages` as the reference records them: the handshake first.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import socketserver
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from analyzers.formats.mlperf_layout import (
    CONSOLE_LOG,
    RANGING_SAMPLES,
    SERVER_JSON,
    SERVER_LOG,
    TESTING_SAMPLES,
)
from power_director.api import CLIENT_PROTOCOL, Exchange, PhaseStamp, PhaseStart, SessionCreate
from power_director.artifacts.files import resolve_inside
from power_director.errors import DirectorError
from power_director.peers import peer_address
from power_director.stamps import stamp_now

if TYPE_CHECKING:
    from power_director.config import CompatConfig
    from power_director.director import Director
    from power_director.sessions import Session

log = logging.getLogger("power_director")

MAGIC_CLIENT = "mlcommons/power client v3"
MAGIC_SERVER = "mlcommons/power server v3"
FETCH_FILES = (CONSOLE_LOG, RANGING_SAMPLES, SERVER_JSON, SERVER_LOG, TESTING_SAMPLES)
"""What the reference client downloads after `done`, in its order."""
EMPTY_LABEL = "reference"
"""The label of a session the reference client opened without `--label` (its default is empty, and a
session id here always ends in a label)."""
MAX_LINE = 4096
CHUNK = 1 << 20
WAKE_S = 1.0
"""How often a connection waiting for its client's next line marks its session alive."""


class _LineTooLong(Exception):
    pass


class _Link:
    """One TCP connection: lines in, lines and file chunks out."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = b""

    def read_line(self, on_wait: Callable[[], None]) -> str | None:
        """The next line (without its end), None at EOF; `on_wait` runs every `WAKE_S` meanwhile."""
        while b"\n" not in self._buffer:
            if len(self._buffer) > MAX_LINE:
                raise _LineTooLong
            try:
                data = self.sock.recv(16384)
            except TimeoutError:
                on_wait()
                continue
            except OSError:
                return None
            if not data:
                return None
            self._buffer += data
        line, _, self._buffer = self._buffer.partition(b"\n")
        if len(line) > MAX_LINE:
            raise _LineTooLong
        return line.rstrip(b"\r").decode("utf-8", errors="replace")

    def send_line(self, text: str) -> None:
        self.sock.sendall(text.encode() + b"\r\n")

    def send_file(self, path: object) -> None:
        with open(str(path), "rb") as handle:
            while True:
                chunk = handle.read(CHUNK)
                self.send_line(str(len(chunk)))
                if not chunk:
                    return
                self.sock.sendall(chunk)


class ReferenceDoor:
    def __init__(
        self, director: Director, config: CompatConfig, on_stop: Callable[[], None] | None = None
    ) -> None:
        self.director = director
        self.config = config
        self.on_stop = on_stop
        self.created: set[str] = set()  # sessions this door made: the only ones it downloads or cleans
        self._networks = [ipaddress.ip_network(c, strict=False) for c in config.clients]
        self._server: socketserver.ThreadingTCPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def start(self) -> None:
        door = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                door.serve(self.request, self.client_address[0])

        family = socket.AF_INET6 if ":" in self.config.host else socket.AF_INET

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True
            address_family = family

        self._server = Server((self.config.host, self.config.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="reference-door", daemon=True)
        self._thread.start()
        log.info("reference protocol door on %s:%d", self.config.host, self.port)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def allowed(self, host: str) -> bool:
        address = peer_address(host)
        return address is not None and any(address in network for network in self._networks)

    # -- one connection ---------------------------------------------------------------------------

    def serve(self, sock: socket.socket, peer: str) -> None:
        link = _Link(sock)
        if not self.allowed(peer):
            log.warning("reference door: refused %s (not in compat.clients)", peer)
            with contextlib.suppress(OSError):
                link.send_line(f"Error: {peer} may not use this director (key 'compat.clients')")
            return
        sock.settimeout(WAKE_S)
        _keepalive(sock)
        conversation = _Conversation(self, link)
        try:
            conversation.run()
        except _LineTooLong:
            with contextlib.suppress(OSError):
                link.send_line(f"Error: a line over {MAX_LINE} bytes; closing the connection")
        finally:
            conversation.closed()


class _Conversation:
    """The state of one client's connection: its session, what it said before the session existed."""

    def __init__(self, door: ReferenceDoor, link: _Link) -> None:
        self.door = door
        self.link = link
        self.director = door.director
        self.session: Session | None = None
        self.early: list[tuple[Exchange, PhaseStamp, PhaseStamp]] = []
        self.handshake: tuple[str, PhaseStamp] | None = None
        self.stop_requested = False

    def run(self) -> None:
        magic = self.link.read_line(self._alive)
        if magic is None:
            return
        self.handshake = (magic, stamp_now())
        self.link.send_line(MAGIC_SERVER)
        if magic != MAGIC_CLIENT:
            log.warning("reference door: handshake failed, expected %r, got %r", MAGIC_CLIENT, magic[:80])
            return
        while True:
            line = self.link.read_line(self._alive)
            if line is None:
                return
            arrived = stamp_now()
            self._alive()
            reply = self.command(line, arrived)
            self._alive()  # a phase call that settled for long was the client's sign of life too
            if reply is not None:
                self.link.send_line(reply)
                self._record(Exchange(cmd=line, reply=reply), arrived)

    def _alive(self) -> None:
        if self.session is not None and self.session.active:
            self.session.touch()

    def _record(self, exchange: Exchange, arrived: PhaseStamp) -> None:
        """What the session does not record itself: `time`, `set_ntp`, `stop`, `new`, refusals."""
        words = exchange.cmd.split(",")
        recorded_by_session = words[0] == "session" and exchange.reply == "OK"
        if recorded_by_session:
            return
        if self.session is not None and self.session.active:
            self.session.record_exchange(exchange, arrived, stamp_now())
        elif self.session is None:
            self.early.append((exchange, arrived, stamp_now()))

    def closed(self) -> None:
        session = self.session
        if session is not None and session.active:
            reason = (
                f"its connection (MLCommons reference protocol) closed while the session was {session.state}"
            )
            log.warning("reference door: session %s %s", session.session_id, reason)
            with contextlib.suppress(DirectorError):
                session.abort(reason)
        if self.stop_requested and self.door.on_stop is not None:
            self.door.on_stop()

    # -- commands -------------------------------------------------------------------------------

    def command(self, line: str, arrived: PhaseStamp) -> str | None:
        words = line.split(",")
        try:
            if words[0] == "time" and len(words) == 1:
                return str(time.time())
            if words[0] == "set_ntp" and len(words) == 1:
                return "OK"  # the director's clock is the host's NTP daemon's business, never ours
            if words[0] == "stop" and len(words) == 1:
                if not self.door.config.allow_stop:
                    return "Error: this director does not stop on a client's word (key 'compat.allow_stop')"
                self.stop_requested = True
                return "OK"
            if words[0] == "new" and len(words) == 3:
                return self._new(words[1], words[2], line, arrived)
            if words[0] == "session" and len(words) >= 3:
                return self._session(words[1], words[2:], arrived)
            if words[0] == "download" and len(words) == 3:
                return self._download(words[1], words[2])
            if words[0] == "cleanup" and len(words) == 2:
                return self._cleanup(words[1])
            return "Error"
        except DirectorError as error:
            return f"Error: {error}"

    def _new(self, label: str, client_uuid: str, line: str, arrived: PhaseStamp) -> str:
        if self.session is not None and self.session.active:
            self.session.abort("the reference client started a new session")  # as the reference drops it
        try:
            uuid.UUID(client_uuid)
        except ValueError:
            return f"Error: {client_uuid!r} is not a UUID"
        try:
            request = SessionCreate(
                label=label or EMPTY_LABEL, client_uuid=client_uuid, client_protocol=CLIENT_PROTOCOL
            )
        except ValueError:
            return "Error: invalid label"
        assert self.handshake is not None
        magic, shaken = self.handshake
        session = self.director.create_session(
            request, shaken, handshake=Exchange(cmd=magic, reply=MAGIC_SERVER)
        )
        self.session = session
        self.door.created.add(session.session_id)
        for exchange, cmd_at, reply_at in self.early:
            session.record_exchange(exchange, cmd_at, reply_at)
        self.early = []
        reply = f"OK {session.session_id},{session.server_uuid}"
        session.record_exchange(Exchange(cmd=line, reply=reply), arrived, stamp_now())
        return reply

    def _session(self, session_id: str, verb: list[str], arrived: PhaseStamp) -> str:
        session = self.session
        if session is None or (session_id != session.session_id and session_id != "*"):
            return "Error: unknown session"
        if verb in (["start", "ranging"], ["start", "testing"]):
            session.start_phase(verb[1], PhaseStart(), arrived)  # type: ignore[arg-type]
            return "OK"
        if len(verb) == 4 and verb[:2] == ["start", "testing"]:
            try:
                known = PhaseStart(max_volts=float(verb[2]), max_amps=float(verb[3]))
            except ValueError:
                return f"Error: {verb[2]!r}, {verb[3]!r} are not volts and amps"
            session.start_phase("testing", known, arrived)
            return "OK"
        if verb in (["stop", "ranging"], ["stop", "testing"]):
            session.stop_phase(verb[1], arrived)  # type: ignore[arg-type]
            return "OK"
        if verb == ["done"]:
            session.finish(arrived)
            return "OK"
        return "Error Unknown session command"

    def _download(self, session_id: str, name: str) -> str | None:
        if session_id not in self.door.created or name not in FETCH_FILES:
            return "Error"
        folder = self.director.session_folder(session_id)
        try:
            path = resolve_inside(folder, name)
        except ValueError:
            return f"Error: session {session_id} has no {name}"
        self.link.send_file(path)
        return None

    def _cleanup(self, session_id: str) -> str:
        if session_id not in self.door.created:
            return "Error"
        self.director.forget_session(session_id)
        self.door.created.discard(session_id)
        return "OK"


def _keepalive(sock: socket.socket) -> None:
    """TCP keepalive as the reference sets it: a vanished peer is noticed after about 22 s idle."""
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 2)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 2)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 10)
