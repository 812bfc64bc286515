"""A line-oriented link to a bench instrument over pyserial: a serial port or a `socket://host:port` URL.

Drivers talk through this one class so every transport failure becomes the same kind of sentence:
`<device>: <what happened> (<what to check>)`. pyserial's `serial_for_url` covers local ports
(`/dev/ttyUSB0`, `COM3`, a pty slave) and raw TCP (`socket://10.0.0.5:10001`), which is how
Yokogawa's Ethernet option and serial-to-network bridges present a meter.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import time

import serial

from analyzers.errors import AnalyzerConnectionError
from analyzers.line_transport import LineTransport

_LINK_ERRORS = (serial.SerialException, OSError, ValueError)
"""What a read can raise when the device went away: pyserial reapplies the port settings whenever a
read's timeout changes, and reports a port it can no longer configure (EIO once a USB board or a pty
is gone) as a ValueError."""
_OPEN_HINTS = {
    errno.ENOENT: "no such port: check the port name and that the cable is plugged in",
    errno.EACCES: "permission denied: add your user to the port's group (often 'dialout') or fix its permissions",
    errno.EBUSY: "the port is busy: close the other program using it",
    errno.ENXIO: "the device is gone: check the cable and that the instrument is on",
}


class SerialLink(LineTransport):
    """One open connection (a `LineTransport`); `query` and `write_line` serialise on a lock so threads can share it.

    Lines are sent with `line_end`; replies are read up to `\\n` and returned without trailing
    `\\r\\n`. `timeout_s` bounds each read; a read that times out raises `AnalyzerConnectionError`
    with `no_reply_hint`, the driver's sentence about what to check.
    """

    def __init__(
        self,
        device: str,
        *,
        baudrate: int,
        timeout_s: float,
        line_end: bytes = b"\n",
        no_reply_hint: str = "check the cable, the baud rate and that the instrument is on",
    ) -> None:
        self.device = device
        self.timeout_s = timeout_s
        self.line_end = line_end
        self.no_reply_hint = no_reply_hint
        self.lock = threading.RLock()
        self._port = _open(device, baudrate, timeout_s)

    # -- writing and reading --------------------------------------------------------------------

    def write_line(self, text: str) -> None:
        self._write(text.encode("ascii") + self.line_end)

    def _write(self, data: bytes) -> None:
        try:
            with self.lock:
                self._port.write(data)
                self._port.flush()
        except (serial.SerialException, OSError) as error:
            raise self._lost(error) from error

    def read_line(self, timeout_s: float | None = None) -> str:
        """The next line without its line end; `AnalyzerConnectionError` on timeout or a lost link."""
        wait_s = self.timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + wait_s
        buffer = bytearray()
        with self.lock:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AnalyzerConnectionError(
                        self.device, f"no complete reply within {wait_s:g} s", self.no_reply_hint
                    )
                try:
                    self._port.timeout = remaining
                    buffer += self._port.read_until(b"\n", 4096)
                except _LINK_ERRORS as error:
                    raise self._lost(error) from error
                if buffer.endswith(b"\n"):
                    return buffer.rstrip(b"\r\n").decode("ascii", "replace")
                if len(buffer) >= 1 << 20:
                    raise AnalyzerConnectionError(
                        self.device, "a reply of over 1 MiB without a line end", self.no_reply_hint
                    )

    def read_available(self, wait_s: float) -> bytes:
        """Whatever bytes arrive within `wait_s` (at least one if any arrives): for streaming readers."""
        try:
            with self.lock:
                self._port.timeout = wait_s
                first = self._port.read(1)
                if not first:
                    return b""
                self._port.timeout = 0
                return first + self._port.read(max(self._port.in_waiting, 0) or 65536)
        except _LINK_ERRORS as error:
            raise self._lost(error) from error

    def discard_input(self) -> None:
        """Drop anything received but not read (after a garbled reply, to find the next line boundary)."""
        try:
            with self.lock:
                self._port.reset_input_buffer()
        except (serial.SerialException, OSError) as error:
            raise self._lost(error) from error

    def close(self) -> None:
        # Closing a link that already broke: nothing left to release.
        with contextlib.suppress(serial.SerialException, OSError):
            self._port.close()

    def _lost(self, error: Exception) -> AnalyzerConnectionError:
        return AnalyzerConnectionError(
            self.device,
            f"connection lost ({error})",
            "check the cable or network link and that the instrument is still on",
        )


def _open(device: str, baudrate: int, timeout_s: float) -> serial.SerialBase:
    if not device:
        raise AnalyzerConnectionError(
            "(no device)", "no device given", "pass --device with a serial port or socket://host:port"
        )
    try:
        return serial.serial_for_url(device, baudrate=baudrate, timeout=timeout_s, write_timeout=timeout_s)
    except ValueError as error:
        # pyserial's answer to a malformed URL or an unsupported baud rate.
        raise AnalyzerConnectionError(
            device, f"cannot open ({error})", "check the port name or socket://host:port and the baud rate"
        ) from error
    except (serial.SerialException, OSError) as error:
        code = getattr(error, "errno", None)
        if device.startswith("socket://"):
            hint = "check the host and port, and that the instrument's network interface is enabled"
        else:
            hint = _OPEN_HINTS.get(code or 0, "check the port name, its permissions and the cable")
        reason = os.strerror(code) if isinstance(code, int) else str(error)
        raise AnalyzerConnectionError(device, f"cannot open ({reason})", hint) from error
