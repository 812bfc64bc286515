"""`YokogawaAnalyzer`: a WT210/WT310/WT330/WT500/WT1800/WT5000 over a serial port or `socket://`.

Connecting asks `*IDN?`, picks the family's `Dialect` (dialects.py), puts the meter in remote mode with
terse replies and declares the numeric items U, I, P, λ per element (and Σ P on a multi-element
meter). It does not send `*RST`: that would also reset the wiring, crest factor and filters the lab
set up. A measurement runs a thread that, per update, waits for the meter's update-complete event
(`:COMMunicate:WAIT 1` after `:STATus:FILTer1 FALL`), reads the values and clears the event register,
so each sample is one fresh update: never a value read twice, never one skipped unnoticed.
"""

from __future__ import annotations

import math
import threading
import time

import numpy as np

from analyzers.base import (
    AC_ANALYZER_CAPABILITIES,
    AUTO,
    Identity,
    MeasurementStats,
    RangeRequest,
    Ranges,
    RangeSetting,
)
from analyzers.errors import AnalyzerError, AnalyzerProtocolError
from analyzers.line_transport import LineTransport
from analyzers.serial_transport import SerialLink
from analyzers.streaming import StreamedAnalyzer
from analyzers.trace import Trace
from analyzers.yokogawa.dialects import (
    QUANTITIES,
    Dialect,
    RangeInput,
    Variant,
    dialect_for,
    supported_models,
)
from analyzers.yokogawa.range_state import RangeState, smallest_range
from analyzers.yokogawa.readings import ROW_GARBLED, ROW_MISSED, ROW_OK, RowBuffer, build_trace, parse_values

NO_REPLY_HINT = (
    "check the cable, the baud rate (the meter's default is 9600), that the meter is on and that its "
    "remote interface is the one you are connected to"
)
# A gap between two samples longer than this many intervals means updates were missed.
MISSED_GAP_INTERVALS = 1.5


class YokogawaAnalyzer(StreamedAnalyzer):
    name = "yokogawa"

    @classmethod
    def from_device(
        cls,
        device: str = "",
        *,
        baudrate: int = 9600,
        timeout_s: float = 2.0,
        channels: int | None = None,
        first_element: int = 1,
    ) -> YokogawaAnalyzer:
        """Open the serial port or `socket://host:port` at `device` and set the meter up."""
        link = SerialLink(device, baudrate=baudrate, timeout_s=timeout_s, no_reply_hint=NO_REPLY_HINT)
        return cls(link, channels=channels, first_element=first_element)

    def __init__(
        self, transport: LineTransport, *, channels: int | None = None, first_element: int = 1
    ) -> None:
        """Identify and set up the meter over `transport` (which the driver then owns and closes);
        `AnalyzerError` when that fails. `channels` elements are measured starting at
        `first_element` (default: every element)."""
        super().__init__(transport.device)
        self._link = transport
        self._closed = False
        try:
            self._dialect, self._variant, self._idn = self._detect()
            self._elements = self._select_elements(channels, first_element)
            self._setup()
            specs = (self._dialect.volts, self._dialect.amps)
            values = [np.array([self._query_range(e, spec) for e in self._elements]) for spec in specs]
            autos = [np.array([self._query_auto(e, spec) for e in self._elements]) for spec in specs]
            self._volts = RangeState(specs[0], values[0], autos[0])
            self._amps = RangeState(specs[1], values[1], autos[1])
        except BaseException:
            self._link.close()
            raise
        self._has_sigma = self._dialect.sigma_token is not None and len(self._elements) > 1
        self._items = len(self._elements) * len(QUANTITIES) + (1 if self._has_sigma else 0)
        self._buffer = RowBuffer(self._items, len(self._elements))
        self._mark = ""
        self._interval_s = 0.0
        self._rate_s: float | None = None
        self._protocol_errors = 0

    # -- connecting -----------------------------------------------------------------------------

    def _detect(self) -> tuple[Dialect, Variant, list[str]]:
        reply = self._link.query("*IDN?")
        fields = [f.strip() for f in reply.split(",")]
        if len(fields) < 2 or fields[0].upper() != "YOKOGAWA":
            raise AnalyzerProtocolError(
                self.device,
                f"answered *IDN? with {reply[:60]!r}, not a Yokogawa power analyzer",
                "check that --device points at the meter and the baud rate matches",
            )
        found = dialect_for(fields[1])
        if found is None:
            raise AnalyzerProtocolError(
                self.device,
                f"Yokogawa model {fields[1]} is not supported",
                f"supported families: {supported_models()}",
            )
        return found[0], found[1], fields

    def _select_elements(self, channels: int | None, first_element: int) -> list[int]:
        limit = self._variant.element_limit
        count = channels if channels is not None else self._variant.elements - first_element + 1
        if first_element < 1 or count < 1 or first_element + count - 1 > limit:
            raise AnalyzerError(
                self.device,
                f"elements {first_element}..{first_element + count - 1} do not exist on a {self._idn[1]}",
                f"it has {limit} element(s)",
            )
        return list(range(first_element, first_element + count))

    def _setup(self) -> None:
        dialect = self._dialect
        self._link.write_line("*CLS")
        for command in (*dialect.setup, *dialect.sync.setup):
            self._link.write_line(command)
        numeric = dialect.numeric
        items = [
            (numeric.functions[quantity], str(element))
            for element in self._elements
            for quantity in QUANTITIES
        ]
        if dialect.sigma_token is not None and len(self._elements) > 1:
            items.append((numeric.functions["watts"], dialect.sigma_token))
        if numeric.item_count is not None:
            self._link.write_line(numeric.item_count.format(count=len(items)))
        for index, (function, element) in enumerate(items, start=1):
            self._link.write_line(numeric.item.format(index=index, function=function, element=element))
        self._check_no_error("rejected the setup")

    def _check_no_error(self, what: str) -> None:
        reply = self._link.query(self._dialect.error_query)
        code = reply.split(",", 1)[0].strip()
        if code != "0":
            raise AnalyzerProtocolError(
                self.device,
                f"the {self._idn[1]} {what}: {reply}",
                "another program may have changed its command mode; please report the firmware "
                f"{self._idn[3] if len(self._idn) > 3 else '?'} if it persists",
            )

    # -- identity -------------------------------------------------------------------------------

    def identify(self) -> Identity:
        return Identity(
            model=self._variant.ptd_model,
            serial=self._idn[2] if len(self._idn) > 2 else "",
            firmware=self._idn[3] if len(self._idn) > 3 else "",
            vendor="YOKOGAWA",
            capabilities=AC_ANALYZER_CAPABILITIES,
            min_interval_s=min(self._dialect.rates),
        )

    @property
    def channel_count(self) -> int:
        return len(self._elements)

    @property
    def dialect(self) -> Dialect:
        return self._dialect

    # -- ranges ---------------------------------------------------------------------------------

    @property
    def supports_ranges(self) -> bool:
        return True

    def _target(self, element: int) -> str:
        return self._dialect.element_target.format(element=element)

    def _query_range(self, element: int, spec: RangeInput) -> float:
        reply = self._link.query(spec.commands.range_query.format(target=self._target(element)))
        try:
            value = float(reply)
        except ValueError:
            raise AnalyzerProtocolError(
                self.device, f"range query answered {reply[:40]!r}", "check the baud rate"
            ) from None
        return value

    def _query_auto(self, element: int, spec: RangeInput) -> bool:
        reply = (
            self._link.query(spec.commands.auto_query.format(target=self._target(element))).strip().upper()
        )
        if reply not in ("1", "0", "ON", "OFF"):
            raise AnalyzerProtocolError(
                self.device, f"autorange query answered {reply[:40]!r}", "check the baud rate"
            )
        return reply in ("1", "ON")

    def _channel_indexes(self, channel: int | None) -> list[int]:
        if channel is None:
            return list(range(len(self._elements)))
        if not 1 <= channel <= len(self._elements):
            raise AnalyzerError(
                self.device, f"no channel {channel}", f"channels are 1..{len(self._elements)}"
            )
        return [channel - 1]

    def get_ranges(self, channel: int | None = None) -> Ranges:
        indexes = self._channel_indexes(channel)
        # While sampling, the thread keeps autoranged values current after each update and fixed
        # ranges do not change, so the cache is the truth; querying would wait out an update.
        if not self.running:
            with self._link.lock:
                for i in indexes:
                    element = self._elements[i]
                    for state in (self._volts, self._amps):
                        state.values[i] = self._query_range(element, state.spec)
                    for state in (self._volts, self._amps):
                        state.auto[i] = self._query_auto(element, state.spec)

        def shared(values: np.ndarray) -> float | None:
            chosen = values[indexes]
            return float(chosen[0]) if np.all(chosen == chosen[0]) else None

        def shared_flag(values: np.ndarray) -> bool | None:
            chosen = values[indexes]
            return bool(chosen[0]) if np.all(chosen == chosen[0]) else None

        return Ranges(
            volts=RangeSetting(shared(self._volts.values), shared_flag(self._volts.auto)),
            amps=RangeSetting(shared(self._amps.values), shared_flag(self._amps.auto)),
        )

    def set_volts_range(self, volts: RangeRequest, channel: int | None = None) -> None:
        self._set_range(self._volts, volts, channel)

    def set_amps_range(self, amps: RangeRequest, channel: int | None = None) -> None:
        self._set_range(self._amps, amps, channel)

    def _set_range(self, state: RangeState, request: RangeRequest, channel: int | None) -> None:
        commands = state.spec.commands
        indexes = self._channel_indexes(channel)
        value = (
            None
            if request == AUTO
            else smallest_range(
                state.spec.ranges, float(request), commands.unit, self.device, self._variant.ptd_model
            )
        )
        with self._link.lock:
            for i in indexes:
                target = self._target(self._elements[i])
                if value is None:
                    self._link.write_line(commands.auto_set.format(target=target, state="ON"))
                else:
                    self._link.write_line(commands.auto_set.format(target=target, state="OFF"))
                    self._link.write_line(commands.range_set.format(target=target, value=value))
            self._check_no_error(f"refused the {commands.quantity} range {request}")
            for i in indexes:
                state.values[i] = self._query_range(self._elements[i], state.spec)
                state.auto[i] = value is None

    # -- measurement ----------------------------------------------------------------------------

    def _prepare(self, interval_s: float, mark: str) -> None:
        rate = next((r for r in self._dialect.rates if math.isclose(r, interval_s, rel_tol=1e-6)), None)
        if rate is None:
            choices = ", ".join(f"{r:g}" for r in self._dialect.rates)
            raise AnalyzerError(
                self.device,
                f"the {self._idn[1]} cannot sample every {interval_s:g} s",
                f"its update intervals are {choices} s",
            )
        rate_set = self._dialect.rate_set
        if rate_set is not None and rate != self._rate_s:
            self._link.write_line(rate_set.format(rate=self._dialect.rates[rate]))
            self._check_no_error(f"refused the update rate {self._dialect.rates[rate]}")
        self._rate_s = rate
        self._interval_s = rate
        self._mark = mark

    def set_mark(self, mark: str) -> None:
        self._mark = mark

    def _stop_timeout_s(self) -> float:
        # The thread ends after its current exchange: at most one update interval plus a reply.
        return self._interval_s + self._link.timeout_s + 1.0

    def stats(self) -> MeasurementStats:
        snapshot = super().stats()
        snapshot.extra["protocol_errors"] = float(self._protocol_errors)
        return snapshot

    def _empty_trace(self) -> Trace:
        return Trace.empty(len(self._elements) if len(self._elements) > 1 else 0, source=self.device)

    def _collect(self) -> None:
        rows = self._buffer.take()
        if len(rows.time_ns) == 0:
            return
        self._emit(
            build_trace(rows, self._dialect.accuracy, len(self._elements), self._has_sigma, self.device)
        )

    # -- the sampling thread --------------------------------------------------------------------

    def _stream(self, stop: threading.Event) -> None:
        sync = self._dialect.sync
        query = f"{sync.wait};{self._dialect.numeric.values_query}"
        interval_ns = round(self._interval_s * 1e9)
        last_ns: int | None = None
        self._link.query(sync.clear_query)  # forget updates that completed before the start
        while not stop.is_set():
            with self._link.lock:
                reply = self._link.query(query, timeout_s=self._interval_s + self._link.timeout_s)
                now_ns = time.time_ns()
                self._link.query(sync.clear_query)
                status, values = self._decode(reply)
                if status == ROW_GARBLED:
                    self._resynchronise()
                else:
                    self._refresh_auto_ranges()
            if last_ns is not None and now_ns - last_ns > MISSED_GAP_INTERVALS * interval_ns:
                missed = round((now_ns - last_ns) / interval_ns) - 1
                for k in range(1, missed + 1):
                    self._add_row(last_ns + k * interval_ns, None, ROW_MISSED)
            self._add_row(now_ns, values, status)
            last_ns = now_ns

    def _decode(self, reply: str) -> tuple[int, np.ndarray | None]:
        try:
            return ROW_OK, parse_values(reply, self._items, self.device)
        except AnalyzerProtocolError:
            self._protocol_errors += 1
            return ROW_GARBLED, None

    def _resynchronise(self) -> None:
        # A garbled line may have been split or joined with the next reply: drop what is queued and
        # clear the event register again so the next wait is for a whole new update.
        time.sleep(0.05)
        self._link.discard_input()
        self._link.query(self._dialect.sync.clear_query)

    def _refresh_auto_ranges(self) -> None:
        # In autorange the range can change at any update, and the uncertainty depends on it.
        for i, element in enumerate(self._elements):
            for state in (self._volts, self._amps):
                if state.auto[i]:
                    state.values[i] = self._query_range(element, state.spec)

    def _add_row(self, time_ns: int, values: np.ndarray | None, status: int) -> None:
        self._buffer.add(
            time_ns, values, status, self._volts.values.copy(), self._amps.values.copy(), self._mark
        )

    def __enter__(self) -> YokogawaAnalyzer:
        return self

    # -- closing --------------------------------------------------------------------------------

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.running:
            self.stop()
        try:
            for command in self._dialect.release:
                self._link.write_line(command)
        except AnalyzerError:
            pass  # the link is already gone; the meter returns to local mode by itself on power cycle
        self._link.close()
