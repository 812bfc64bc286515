"""`Lpm01aAnalyzer`: the ST X-NUCLEO-LPM01A (PowerShield), MLPerf Tiny's energy monitor, over its virtual COM port.

Connecting takes control of the board (`htc`) and configures it (protocol.setup_commands). A
measurement at `interval_s` sets `freq` to 1/interval_s and starts the acquisition; a thread reads
the ASCII stream. Sample i of a measurement stands for the interval ending at t0 + (i+1)/freq, t0
being the host's UTC time when `start` was sent (the board's own `TimeStamp:` lines are kept, not
used for timing). In energy mode a sample is the energy of its interval, so watts = J × freq exactly
as the board integrated it; in current mode watts = A × the set voltage. `event` lines (GPIO D7 edges)
become marks: the samples after event n carry `<mark>#event<n>` (`event<n>` without a mark), and
`events()` lists them with their times for `rules.tiny.windows.from_trace`. Values stay float64 from
the token to the `Trace`: no rounding to PTD's six decimals. Control is released (`hrc`) on close,
and when connecting or starting fails.
"""

from __future__ import annotations

import contextlib
import threading
import time

import numpy as np

from analyzers.base import CAP_AMPS, CAP_ENERGY, CAP_VOLTS, CAP_WATTS, Identity
from analyzers.errors import AnalyzerError, AnalyzerProtocolError
from analyzers.gpio_events import GpioEvent, event_mark
from analyzers.line_transport import LineTransport
from analyzers.lpm01a import protocol
from analyzers.lpm01a.stream import (
    EventLine,
    SampleBlock,
    StreamItem,
    StreamParser,
    TextLine,
    TimeStampLine,
)
from analyzers.serial_transport import SerialLink
from analyzers.streaming import StreamedAnalyzer
from analyzers.trace import Trace

NO_REPLY_HINT = (
    "check the USB cable, that --device is the board's virtual COM port and the baud rate "
    f"(default {protocol.DEFAULT_BAUDRATE})"
)


def _check_settings(device: str, volts: float, output: str) -> None:
    if not protocol.VOLTS_MIN <= volts <= protocol.VOLTS_MAX:
        raise AnalyzerError(
            device, f"supply voltage {volts:g} V is outside the LPM01A's 1.8-3.3 V", "choose another --volts"
        )
    if output not in protocol.OUTPUTS:
        raise AnalyzerError(device, f"output must be energy or current, got {output!r}")


class Lpm01aAnalyzer(StreamedAnalyzer):
    name = "lpm01a"

    @classmethod
    def from_device(
        cls,
        device: str = "",
        *,
        baudrate: int = protocol.DEFAULT_BAUDRATE,
        volts: float = 3.0,
        output: str = "energy",
        acquisition_time_s: float | None = None,
        timeout_s: float = 2.0,
    ) -> Lpm01aAnalyzer:
        """Open the board's virtual COM port (or `socket://`) at `device` and take control of it."""
        _check_settings(device, volts, output)  # before opening: a wrong setting never touches the board
        link = SerialLink(
            device, baudrate=baudrate, timeout_s=timeout_s, line_end=b"\n", no_reply_hint=NO_REPLY_HINT
        )
        return cls(link, volts=volts, output=output, acquisition_time_s=acquisition_time_s)

    def __init__(
        self,
        transport: LineTransport,
        *,
        volts: float = 3.0,
        output: str = "energy",
        acquisition_time_s: float | None = None,
    ) -> None:
        """Take control of the board over `transport` (which the driver then owns and closes) and
        configure it; `AnalyzerError` when that fails."""
        super().__init__(transport.device)
        self._link = transport
        try:
            _check_settings(self.device, volts, output)
        except AnalyzerError:
            transport.close()
            raise
        self.volts = volts
        self.output = output
        self._in_control = False
        self._firmware = ""
        try:
            self._command(protocol.TAKE_CONTROL)
            self._in_control = True
            self._firmware = self._command("version")
            for command in protocol.setup_commands(volts, output, acquisition_time_s):
                self._command(command)
        except BaseException:
            self._release()
            self._link.close()
            raise
        self._lock = threading.Lock()
        self._events: list[GpioEvent] = []
        self._stopped_ack = threading.Event()
        self._freq_hz = 0
        self._t0_ns = 0
        self._count = 0
        self._energy_j = 0.0
        self._mark = ""
        self._event_number: int | None = None
        self.board_timestamps: list[tuple[int, float, int]] = []
        """(samples received, board seconds, buffer %) per `TimeStamp:` line of the measurement."""

    # -- commands -------------------------------------------------------------------------------

    def _command(self, command: str) -> str:
        """Send `command`, wait for its ack; returns the ack's value. `error` replies raise."""
        self._link.write_line(command)
        deadline = time.monotonic() + self._link.timeout_s
        while True:
            text = protocol.strip_prompt(self._link.read_line(max(0.01, deadline - time.monotonic())))
            if protocol.is_ack(text, command):
                return text[len("ack ") + len(command.split()[0]) :].strip()
            if protocol.is_error(text):
                raise self._refused(command, text)
            # Anything else (an echo, a status line, a late sample) is not the answer: keep reading.

    def _refused(self, command: str, text: str) -> AnalyzerProtocolError:
        detail = ""
        try:
            following = protocol.strip_prompt(self._link.read_line(0.3))
            if following.lower().startswith("error detail"):
                detail = following.split(":", 1)[-1].strip()
        except AnalyzerError:
            pass  # no detail line: the error line says it all
        reason = detail or text
        return AnalyzerProtocolError(
            self.device,
            f"the LPM01A refused '{command}': {reason}",
            "check the board's firmware version and the settings passed to the driver",
        )

    def _release(self) -> None:
        if not self._in_control:
            return
        self._in_control = False
        # If the link is gone there is no one to tell; the board returns to local control on re-enumeration.
        with contextlib.suppress(AnalyzerError):
            self._command(protocol.RELEASE_CONTROL)  # waiting for the ack: closing must not cut it off

    # -- identity -------------------------------------------------------------------------------

    def identify(self) -> Identity:
        return Identity(
            model="LPM01A",
            firmware=self._firmware,
            vendor="STMicroelectronics",
            capabilities=frozenset({CAP_WATTS, CAP_VOLTS, CAP_AMPS, CAP_ENERGY}),
            min_interval_s=1 / protocol.ASCII_MAX_HZ,
        )

    @property
    def channel_count(self) -> int:
        return 1

    # -- measurement ----------------------------------------------------------------------------

    def events(self) -> list[GpioEvent]:
        """GPIO events of the current (or last) measurement, in order."""
        with self._lock:
            return list(self._events)

    def _prepare(self, interval_s: float, mark: str) -> None:
        freq = round(1 / interval_s) if interval_s > 0 else 0
        if (
            freq not in protocol.FREQUENCIES
            or freq > protocol.ASCII_MAX_HZ
            or abs(freq * interval_s - 1) > 1e-9
        ):
            choices = ", ".join(
                f"{1 / f:g}" for f in sorted(protocol.FREQUENCIES) if f <= protocol.ASCII_MAX_HZ
            )
            raise AnalyzerError(
                self.device,
                f"the LPM01A cannot sample every {interval_s:g} s",
                f"its intervals are {choices} s",
            )
        self._command(f"freq {protocol.FREQUENCIES[freq]}")
        with self._lock:
            self._events = []
            self.board_timestamps = []
            self._freq_hz = freq
            self._count = 0
            self._energy_j = 0.0
            self._mark = mark
            self._event_number = None
        self._stopped_ack.clear()
        self._t0_ns = time.time_ns()
        self._link.write_line(protocol.START)

    def set_mark(self, mark: str) -> None:
        with self._lock:
            self._mark = mark

    def _request_stop(self) -> None:
        if self._failure is None:
            self._link.write_line(protocol.STOP)
            # The reader sees `ack stop` after the last sample; wait for it so nothing is cut off.
            self._stopped_ack.wait(self._link.timeout_s)

    def _stop_timeout_s(self) -> float:
        return self._link.timeout_s + 1

    # -- the reading thread ---------------------------------------------------------------------

    def _stream(self, stop: threading.Event) -> None:
        parser = StreamParser()
        try:
            while not stop.is_set():
                data = self._link.read_available(0.05)
                if data:
                    self._consume(parser.feed(data))
        except AnalyzerError:
            self._stopped_ack.set()
            raise

    def _consume(self, items: list[StreamItem]) -> None:
        for item in items:
            if isinstance(item, SampleBlock):
                self._add_samples(item.values)
            elif isinstance(item, EventLine):
                with self._lock:
                    self._events.append(
                        GpioEvent(item.number, item.edge, self._count, self._sample_time_ns(self._count))
                    )
                    self._event_number = item.number
            elif isinstance(item, TimeStampLine):
                self.board_timestamps.append((self._count, item.board_s, item.buffer_pct))
            elif isinstance(item, TextLine):
                if protocol.is_ack(item.text, protocol.STOP):
                    self._stopped_ack.set()
                elif protocol.is_error(item.text) or "overflow" in item.text.lower():
                    self._fail(
                        AnalyzerProtocolError(
                            self.device,
                            f"the LPM01A reported '{item.text}' during the acquisition",
                            "lower the sampling frequency or use a faster USB port",
                        )
                    )

    def _sample_time_ns(self, index: int) -> int:
        return self._t0_ns + round((index + 1) * 1e9 / self._freq_hz)

    def _add_samples(self, values: np.ndarray) -> None:
        with self._lock:
            first = self._count
            index = np.arange(first + 1, first + 1 + len(values), dtype=np.float64)
            time_ns = self._t0_ns + np.round(index * (1e9 / self._freq_hz)).astype(np.int64)
            if self.output == "energy":
                energy = values
                watts = values * self._freq_hz
                amps = watts / self.volts
            else:
                amps = values
                watts = values * self.volts
                energy = watts / self._freq_hz
            cumulative = self._energy_j + np.cumsum(energy)
            self._energy_j = float(cumulative[-1])
            mark = self._current_mark()
            chunk = Trace.from_columns(
                time_ns=time_ns,
                watts=watts,
                volts=np.full(len(values), self.volts),
                amps=amps,
                marks=mark or None,
                energy_j=cumulative,
                source=self.device,
            )
            self._count += len(values)
            self._emit(chunk)

    def _current_mark(self) -> str:
        return event_mark(self._mark, self._event_number)

    def __enter__(self) -> Lpm01aAnalyzer:
        return self

    # -- closing --------------------------------------------------------------------------------

    def _release_device(self) -> None:
        self._release()
        self._link.close()
