"""The byte side of a PTD client: connect with retries, send a line, read reply lines under a timeout.

Replies arrive in whatever TCP segments the daemon's writes become, so lines are cut out of one
receive buffer; a multi-line `RL` body is read by counting line ends (numpy over the buffer), never
one Python step per sample. Time is injectable (`monotonic`, `sleep`) so a daemon that needs 15 s to
start listening is tested without waiting 15 s.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from analyzers.errors import AnalyzerConnectionError, AnalyzerProtocolError

MAX_REPLY_LINE_BYTES = 1 << 16
"""Longest single reply line we accept; PTD's longest (`Identify`) is a few hundred bytes."""
_RECEIVE_BYTES = 1 << 18


@dataclass(frozen=True)
class ConnectPolicy:
    """How hard to try.

    `connect_timeout_s` is the total time to keep trying to connect: PTDaemon over USB can take
    ~20 s before it listens, hence 30 s by default. Attempts back off from `first_backoff_s`,
    doubling up to `max_backoff_s`. `command_timeout_s` is how long a reply may stay silent: the
    first line must arrive within it, and a multi-line reply may not pause longer than it."""

    connect_timeout_s: float = 30.0
    attempt_timeout_s: float = 2.0
    first_backoff_s: float = 0.1
    max_backoff_s: float = 2.0
    command_timeout_s: float = 10.0


class ConnectionLost(AnalyzerConnectionError):
    """The peer closed or reset the connection; `received` holds the bytes of the reply read so far."""

    def __init__(self, device: str, message: str, received: bytes = b"") -> None:
        self.received = received
        super().__init__(device, message, "is the PTD daemon still running?")


class DaemonUnreachable(AnalyzerConnectionError):
    """Connecting was retried for the whole `connect_timeout_s` (or was pointless): the daemon is gone,
    and asking again costs the caller that long again."""


class ReplyTimeout(AnalyzerConnectionError):
    """No reply (or no further reply bytes) within the command timeout; `received` as for ConnectionLost."""

    def __init__(self, device: str, message: str, received: bytes = b"") -> None:
        self.received = received
        super().__init__(device, message, "the daemon or its meter may be stuck; check its console")


def _reason(error: OSError) -> str:
    if error.errno is not None and error.errno in errno.errorcode:
        return error.strerror or errno.errorcode[error.errno]
    return str(error) or type(error).__name__


def connect_with_retries(
    host: str,
    port: int,
    policy: ConnectPolicy,
    *,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    still_worth_trying: Callable[[], str | None] = lambda: None,
) -> tuple[socket.socket, int]:
    """A connected socket and the number of attempts it took.

    `still_worth_trying` returns a reason to give up early (a launched daemon that already exited),
    or None. Raises AnalyzerConnectionError naming the peer when the time is up."""
    peer = f"{host}:{port}"
    deadline = monotonic() + policy.connect_timeout_s
    backoff = policy.first_backoff_s
    attempts = 0
    while True:
        attempts += 1
        remaining = deadline - monotonic()
        try:
            sock = socket.create_connection(
                (host, port), timeout=max(0.05, min(policy.attempt_timeout_s, remaining))
            )
        except socket.gaierror as error:  # a name that does not resolve will not resolve on retry
            raise DaemonUnreachable(
                peer, f"cannot resolve the host {host!r}: {error.strerror or error}", "check the host name"
            ) from None
        except OSError as error:
            last = _reason(error)
        else:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock, attempts
        given_up = still_worth_trying()
        if given_up is not None:
            raise DaemonUnreachable(peer, f"cannot connect to the PTD daemon: {given_up}")
        remaining = deadline - monotonic()
        if remaining <= 0:
            raise DaemonUnreachable(
                peer,
                f"no PTD daemon answered in {policy.connect_timeout_s:g} s ({attempts} attempts, last: {last})",
                "is it running on that port? PTDaemon over USB can take ~20 s to listen",
            )
        sleep(min(backoff, remaining))
        backoff = min(backoff * 2, policy.max_backoff_s)


class LineConnection:
    """One TCP connection to a PTD daemon, speaking CRLF-terminated lines."""

    def __init__(self, sock: socket.socket, peer: str, command_timeout_s: float) -> None:
        self._sock = sock
        self.peer = peer
        self.command_timeout_s = command_timeout_s
        self._buffer = bytearray()

    def send_line(self, text: str) -> None:
        try:
            self._sock.sendall(text.encode("ascii") + b"\r\n")
        except OSError as error:
            raise ConnectionLost(
                self.peer, f"connection lost while sending '{text}': {_reason(error)}"
            ) from error

    def read_line(self, waiting_for: str) -> str:
        """The next reply line without its line end; `waiting_for` names the request in errors."""
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                raw = bytes(self._buffer[:end])
                del self._buffer[: end + 1]
                return raw.rstrip(b"\r").decode("ascii", "replace")
            if len(self._buffer) > MAX_REPLY_LINE_BYTES:
                raise AnalyzerProtocolError(
                    self.peer,
                    f"reply to '{waiting_for}' has no line end after {MAX_REPLY_LINE_BYTES} bytes",
                    "is this a PTD daemon?",
                )
            self._receive(waiting_for)

    def read_lines(self, count: int, waiting_for: str) -> bytes:
        """The next `count` lines as one byte string, line ends included (for a vectorised parser)."""
        if count <= 0:
            return b""
        found = 0
        scanned = 0
        while True:
            ends = _line_ends(self._buffer, scanned)
            if found + len(ends) >= count:
                cut = int(ends[count - found - 1]) + 1
                body = bytes(self._buffer[:cut])
                del self._buffer[:cut]
                return body
            found += len(ends)
            scanned = len(self._buffer)
            try:
                self._receive(waiting_for)
            except (ConnectionLost, ReplyTimeout) as error:
                error.received = bytes(self._buffer)
                raise

    def _receive(self, waiting_for: str) -> None:
        try:
            self._sock.settimeout(self.command_timeout_s)
            data = self._sock.recv(_RECEIVE_BYTES)
        except TimeoutError as error:
            raise ReplyTimeout(
                self.peer, f"no reply to '{waiting_for}' within {self.command_timeout_s:g} s"
            ) from error
        except OSError as error:
            raise ConnectionLost(
                self.peer, f"connection lost while waiting for the reply to '{waiting_for}': {_reason(error)}"
            ) from error
        if not data:
            raise ConnectionLost(
                self.peer, f"the daemon closed the connection before answering '{waiting_for}'"
            )
        self._buffer += data

    def interrupt(self) -> None:
        """From another thread: a read or send blocked on this connection returns at once (lost)."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.interrupt()  # the peer may have closed it already
        self._sock.close()


def _line_ends(buffer: bytearray, start: int) -> np.ndarray:
    """Positions of b"\\n" in `buffer[start:]`, as indices into `buffer`.

    The numpy view lives only inside this call: a bytearray with a live view cannot grow."""
    return np.flatnonzero(np.frombuffer(buffer, dtype=np.uint8, offset=start) == 0x0A) + start
