"""The instrument side of a real transport: a pseudo-terminal or a loopback TCP listener.

An `Endpoint` runs a thread that reads bytes, splits them into lines and hands each line to the
instrument's `handle(line)`; the instrument answers through `send(text)`, also from its own threads
(a streaming meter). `address` is what a driver opens: the pty slave's path or `socket://127.0.0.1:N`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import threading
import tty
from typing import Protocol


class Instrument(Protocol):
    def handle(self, line: str) -> None: ...

    def attach(self, endpoint: Endpoint) -> None: ...


class Endpoint:
    """Base: line splitting and the serving thread; subclasses move the bytes."""

    address: str

    def __init__(self, instrument: Instrument, line_end: bytes = b"\n") -> None:
        self.instrument = instrument
        self.line_end = line_end
        self.closed = threading.Event()
        self._send_lock = threading.Lock()
        instrument.attach(self)
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> Endpoint:
        self._thread.start()
        return self

    def _serve(self) -> None:
        pending = b""
        while not self.closed.is_set():
            data = self._receive(0.05)
            if data is None:
                continue
            pending += data
            while b"\n" in pending:
                raw, pending = pending.split(b"\n", 1)
                self.instrument.handle(raw.rstrip(b"\r").decode("ascii", "replace"))

    def send(self, text: str) -> None:
        self.send_bytes(text.encode("ascii") + self.line_end)

    def send_bytes(self, data: bytes) -> None:
        with self._send_lock:
            if not self.closed.is_set():
                with contextlib.suppress(OSError):
                    self._send(data)

    def _receive(self, timeout_s: float) -> bytes | None:
        raise NotImplementedError

    def _send(self, data: bytes) -> None:
        raise NotImplementedError

    def disconnect(self) -> None:
        """Drop the connection as a pulled cable would."""
        raise NotImplementedError

    def close(self) -> None:
        self.closed.set()
        self._thread.join(timeout=2)


class PtyEndpoint(Endpoint):
    """The master side of a pseudo-terminal; drivers open `address`, the slave's path."""

    def __init__(self, instrument: Instrument, line_end: bytes = b"\n") -> None:
        self._master, slave = os.openpty()
        tty.setraw(slave)
        self.address = os.ttyname(slave)
        # Keep our slave fd open until a driver opened its own, so the master never reads EIO early.
        self._slave = slave
        super().__init__(instrument, line_end)

    def _receive(self, timeout_s: float) -> bytes | None:
        try:
            ready, _, _ = select.select([self._master], [], [], timeout_s)
            return os.read(self._master, 65536) if ready else None
        except OSError as error:
            if error.errno in (errno.EIO, errno.EBADF):  # no slave open right now, or closed by us
                self.closed.wait(0.01)
                return None
            raise

    def _send(self, data: bytes) -> None:
        os.write(self._master, data)

    def disconnect(self) -> None:
        self.closed.set()
        with contextlib.suppress(OSError):
            os.close(self._master)
        with contextlib.suppress(OSError):
            os.close(self._slave)

    def close(self) -> None:
        super().close()
        self.disconnect()


class TcpEndpoint(Endpoint):
    """A loopback listener serving one client at a time, as an instrument's Ethernet port does."""

    def __init__(self, instrument: Instrument, line_end: bytes = b"\n") -> None:
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(1)
        self.address = f"socket://127.0.0.1:{self._listener.getsockname()[1]}"
        self._client: socket.socket | None = None
        super().__init__(instrument, line_end)

    def _receive(self, timeout_s: float) -> bytes | None:
        if self._client is None:
            ready, _, _ = select.select([self._listener], [], [], timeout_s)
            if ready:
                self._client, _ = self._listener.accept()
            return None
        try:
            ready, _, _ = select.select([self._client], [], [], timeout_s)
            if not ready:
                return None
            data = self._client.recv(65536)
        except OSError:
            data = b""
        if not data:  # the driver hung up: wait for the next one
            self._client.close()
            self._client = None
            return None
        return data

    def _send(self, data: bytes) -> None:
        if self._client is not None:
            self._client.sendall(data)

    def disconnect(self) -> None:
        self.closed.set()
        if self._client is not None:
            with contextlib.suppress(OSError):
                self._client.shutdown(socket.SHUT_RDWR)
            self._client.close()
        self._listener.close()

    def close(self) -> None:
        super().close()
        self.disconnect()
