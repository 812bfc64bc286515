"""The PTD command handler: one request line in, one `Reply` out, over any `Analyzer`.

No sockets here: the server feeds lines and sends replies, a pump thread calls `poll()`. Between
measurements the meter keeps sampling at the idle interval so the data log records every sample
(mark `notset`) and `R*` has a current reading, as PTDaemon does. The meter is stopped and drained
at every transition (Go, Stop, Mark, range change), so each sample is attributed to the right mark
without trusting the driver's own mark bookkeeping. Every public method holds one lock.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from analyzers.base import AUTO, CAP_UNCERTAINTY, Analyzer, MeasurementStats, RangeRequest
from analyzers.errors import AnalyzerError, RangesNotApplicable
from analyzers.formats.sample_encode import encode, encode_lines
from analyzers.formats.sample_layout import NOT_SET_MARK, rl_reply_layout
from analyzers.live_counters import LiveCounters
from analyzers.ptd import wire
from analyzers.ptd.daemon.logs import ConsoleLog, DataLog
from analyzers.ptd.daemon.measurement import Measurement
from analyzers.ptd.identity import DEFAULT_INTERVAL_MS, identify_reply
from analyzers.trace import SAMPLE_ERROR, SAMPLE_MISSED, SAMPLE_OK, Trace


@dataclass(frozen=True)
class DaemonConfig:
    """How the daemon presents the meter.

    `first_channel` is PTD's start channel (`-c a,b`): channel `first_channel + i` is the driver's
    channel `i + 1`. `dc` makes the daemon answer like a DC PTD (`RL` unknown, `DC-RL` works).
    `idle_interval_ms` None turns off sampling between measurements.
    """

    first_channel: int = 1
    dc: bool = False
    idle_interval_ms: int | None = DEFAULT_INTERVAL_MS
    uncertainty_limit: float = 0.01


@dataclass(frozen=True)
class Reply:
    """One reply line, plus the sample lines of an `RL` reply as ready-to-send bytes."""

    text: str
    body: bytes = b""

    def payload(self) -> bytes:
        return (self.text + wire.LINE_END).encode("ascii", "replace") + self.body

    def lines(self) -> list[str]:
        return [self.text, *self.body.decode("ascii").splitlines()]


class RequestError(Exception):
    """A request we answer with an error reply; the message is the reply."""


class PtdCommandHandler:
    def __init__(
        self,
        analyzer: Analyzer,
        console: ConsoleLog,
        data_log: DataLog | None = None,
        config: DaemonConfig | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.analyzer = analyzer
        self.console = console
        self.data_log = data_log or DataLog(None)
        self.config = config or DaemonConfig()
        self._sleep = sleep
        self._lock = threading.RLock()
        self._identity = analyzer.identify()
        self._channel_count = analyzer.channel_count
        self._multi = self._channel_count > 1
        self._measurement: Measurement | None = None
        self._last: Measurement | None = None
        self._sampling = False  # the meter was started and may hold samples not yet fetched
        self._latest: Trace | None = None
        self._last_poll_error = ""
        self._after_reply: list[str] = []
        self.live = LiveCounters()
        """Every sample fetched from the meter and every new poll error, for `--metrics-port`."""

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def model(self) -> str:
        return self._identity.model

    @property
    def measuring(self) -> bool:
        """A measurement (`Go` … `Stop`) is running."""
        return self._measurement is not None

    def announce(self) -> None:
        """The lines PTD logs once the meter is connected, before it listens."""
        if CAP_UNCERTAINTY in self._identity.capabilities:
            self.console.log(f"Uncertainty checking for {self.model} is activated")
            if not self.analyzer.sample_uncertainty:
                self.console.log(
                    f"Per-sample uncertainty of {self.model} is evaluated by the daemon at "
                    f"{self.analyzer.device}; its console has the per-sample lines, and its "
                    "Uncertainty figures are passed on here"
                )
        else:
            self.console.log(f"Uncertainty checking for {self.model} is not available")
        self.console.log(f"Connected to {self.model} successfully")
        with self._lock:
            self._start_idle()

    def close(self) -> None:
        with self._lock:
            try:
                self._halt()
            except AnalyzerError as error:
                self.console.log(f"ERROR: {error}")
            self.data_log.close()

    def client_gone(self) -> None:
        """The client disconnected: a measurement it left running ends, so the next client starts clean."""
        with self._lock:
            if self._measurement is not None:
                self.console.log("Client disconnected during a measurement; stopping it")
                self._end_measurement()

    # -- sampling -------------------------------------------------------------------------------

    def poll(self) -> None:
        """Move samples from the meter into the logs and the running measurement."""
        with self._lock:
            try:
                self._drain()
            except AnalyzerError as error:
                if str(error) != self._last_poll_error:
                    self.console.log(f"ERROR: {error}")
                    self.data_log.error(str(error))
                    self.live.fault(str(error))
                self._last_poll_error = str(error)
                return
            self._last_poll_error = ""
            if self._measurement is not None and self._measurement.full:
                self._end_measurement()

    def _drain(self) -> None:
        if not self._sampling:
            return
        chunk = self.analyzer.fetch()
        if len(chunk) == 0:
            return
        self.live.observe(chunk)
        self._latest = chunk.take(np.array([len(chunk) - 1]))
        # The meter traffic PTDaemon's console carries: one line per read, with the newest reading.
        newest = encode_lines(self._latest, rl_reply_layout(False))[0].as_py().split(",", 2)[2]
        self.console.log(
            f"Read {len(chunk)} sample{'s' if len(chunk) != 1 else ''} from {self.model}: {newest}"
        )
        measurement = self._measurement
        if measurement is None:
            self.data_log.samples(chunk, NOT_SET_MARK)
            return
        recorded, overflow = measurement.add(chunk)
        self.data_log.samples(recorded, measurement.mark)
        self.data_log.samples(overflow, NOT_SET_MARK)
        self._log_sample_problems(recorded)

    def _log_sample_problems(self, chunk: Trace) -> None:
        """PTD's per-sample console lines: errors, missed samples, unknown or too-high uncertainty."""
        if len(chunk) == 0:
            return
        messages: list[tuple[int, str]] = []
        limit_pct = self.config.uncertainty_limit * 100
        times = chunk.time_ns
        checked = list(enumerate(chunk.channels, start=1)) if self._multi else [(0, chunk)]
        problem_rows = np.zeros(len(chunk), dtype=bool)
        # A source whose samples carry no uncertainty (an upstream PTD daemon) is judged upstream:
        # an unknown uncertainty per sample is not a problem to report here.
        judged_here = self.analyzer.sample_uncertainty
        for _, block in checked:
            unknown = ~np.isfinite(block.uncertainty) & judged_here
            problem_rows |= (
                (block.flags != SAMPLE_OK) | unknown | (block.uncertainty > self.config.uncertainty_limit)
            )
        for row in np.flatnonzero(problem_rows).tolist():
            at = int(times[row])
            for channel, block in checked:
                flag = int(block.flags[row])
                if flag == SAMPLE_MISSED:
                    messages.append((at, "WARNING: Missed 1 samples"))
                elif flag == SAMPLE_ERROR:
                    messages.append((at, f"ERROR: Bad watts reading nan from {self.model}"))
                    self.data_log.error(f"Bad watts reading nan from {self.model}", at)
                else:
                    uncertainty = float(block.uncertainty[row])
                    if not math.isfinite(uncertainty) and not judged_here:
                        continue
                    if not math.isfinite(uncertainty):
                        messages.append((at, "ERROR: Can't evaluate uncertainty of this sample!"))
                        messages.append(
                            (
                                at,
                                f"WARNING: Uncertainty unknown for the last measurement sample! channel {channel}",
                            )
                        )
                    elif uncertainty > self.config.uncertainty_limit:
                        messages.append(
                            (
                                at,
                                f"WARNING: Uncertainty {uncertainty * 100:.2f}% above {limit_pct:.2f}% "
                                "limit for the last measurement sample!",
                            )
                        )
        self.console.log_many(messages)

    def _start_idle(self) -> None:
        if self.config.idle_interval_ms is None or self.analyzer.running:
            return
        self._start_meter(self._idle_interval_s(), "")

    def _start_meter(self, interval_s: float, mark: str) -> None:
        self.analyzer.start(interval_s, mark)
        self._sampling = True

    def _idle_interval_s(self) -> float:
        assert self.config.idle_interval_ms is not None
        return max(self.config.idle_interval_ms / 1000, self._identity.min_interval_s)

    def _halt(self) -> None:
        """Stop the meter and drain what it took, into the current destination."""
        if self.analyzer.running:
            self._drain()
            self.analyzer.stop()
        self._drain()  # `fetch()` stays valid after `stop()` until drained
        self._sampling = False

    def _end_measurement(self, log: Callable[[str], None] | None = None) -> None:
        measurement = self._measurement
        if measurement is None:
            return
        self._halt()
        self._measurement = None
        measurement.running = False
        measurement.relayed = self._source_summaries()
        self._last = measurement
        log = log or self.console.log
        log("Completed test")
        log(wire.stop_summary(measurement.stats()[0]))
        self.data_log.notice("Completed test")
        self._start_idle()

    # -- requests -------------------------------------------------------------------------------

    def handle(self, line: str) -> Reply:
        """Answer one request line; never raises for a bad request or a meter failure."""
        with self._lock:
            request = wire.parse_request(line)
            self._after_reply = []
            try:
                reply = self._dispatch(request)
            except RequestError as error:
                reply = Reply(str(error))
            except AnalyzerError as error:
                self.console.log(f"ERROR: {error}")
                reply = Reply(f"Error: {error}")
            if request.command.upper() != wire.CONSOLE_COMMAND.upper():  # ours, not PTDaemon's: unlogged
                self.console.log(f"Response to client sent: {reply.text}")
            for message in self._after_reply:
                self.console.log(message)
            return reply

    def _dispatch(self, request: wire.Request) -> Reply:
        command = request.command.upper()
        handlers: dict[str, Callable[[wire.Request], Reply]] = {
            "HELLO": lambda _: Reply(wire.HELLO_REPLY),
            "IDENTIFY": lambda _: Reply(identify_reply(self.analyzer)),
            "RR": self._read_ranges,
            "SR": self._set_range,
            "GO": self._go,
            "MARK": self._mark,
            "STOP": self._stop,
            "RESET": self._reset,
            "RL": self._read_samples,
            "DC-RL": self._read_samples,
            "WATTS": self._watts,
            "UNCERTAINTY": self._uncertainty,
            wire.CONSOLE_COMMAND.upper(): self._console_lines,
        }
        handler = handlers.get(command)
        if handler is not None:
            return handler(request)
        if command.startswith("R") and 2 <= len(command) <= 3 and not request.args:
            return self._current_reading()
        return Reply(wire.UNKNOWN_COMMAND)

    # -- ranges ---------------------------------------------------------------------------------

    def _channel_arg(self, text: str) -> int | None:
        """PTD channel number -> driver channel (1-based), or None for the sum / `*`."""
        if text == "*":
            return None
        try:
            number = int(text)
        except ValueError:
            raise RequestError(wire.INVALID_CHANNEL) from None
        driver_channel = number - self.config.first_channel + 1
        if not 1 <= driver_channel <= self._channel_count:
            raise RequestError(wire.INVALID_CHANNEL)
        return driver_channel if self._multi else None

    def _read_ranges(self, request: wire.Request) -> Reply:
        if len(request.args) > 1:
            raise RequestError(wire.INVALID_PARAMETER_COUNT)
        if not self.analyzer.supports_ranges:
            return Reply(wire.ranges_reply([wire.UNKNOWN_RANGES]))
        if request.args and request.args[0] == "*":
            channels: list[int | None] = [None]
            if self._multi:
                channels += list(range(1, self._channel_count + 1))
            return Reply(wire.ranges_reply([self.analyzer.get_ranges(c) for c in channels]))
        channel = self._channel_arg(request.args[0]) if request.args else None
        return Reply(wire.ranges_reply([self.analyzer.get_ranges(channel)]))

    def _set_range(self, request: wire.Request) -> Reply:
        if len(request.args) not in (2, 3):
            raise RequestError(wire.INVALID_PARAMETER_COUNT)
        quantity = request.args[0].upper()
        if quantity not in ("V", "A"):
            raise RequestError(f"Error: unknown range quantity {request.args[0]!r}, expected V or A")
        value = _parse_range_value(request.args[1])
        channel = self._channel_arg(request.args[2]) if len(request.args) == 3 else None
        if self._measurement is not None:
            raise RequestError(wire.METER_BUSY)
        changed = wire.RANGE_V_CHANGED if quantity == "V" else wire.RANGE_A_CHANGED
        if value == AUTO:
            message = "Volt range set to Auto" if quantity == "V" else "Ampere range set to Auto"
        else:
            message = (
                f"Volt range set to {value:.6f}V" if quantity == "V" else f"Amp range set to {value:.6f}A"
            )
        if not self.analyzer.supports_ranges:
            # A meter without ranges (NVML, RAPL, …) acknowledges so range-setting directors can drive it;
            # the log says nothing changed, and `RR` keeps answering "unknown".
            self.console.log(f"{message}: not applicable to {self.model}, nothing changed")
            return Reply(changed)
        self.console.log(message)
        self.data_log.notice(message)
        self._halt()
        try:
            if quantity == "V":
                self.analyzer.set_volts_range(value, channel)
            else:
                self.analyzer.set_amps_range(value, channel)
        except RangesNotApplicable as error:
            self.console.log(f"{message}: {error}")
        finally:
            self._start_idle()
        return Reply(changed)

    # -- measurement ----------------------------------------------------------------------------

    def _go(self, request: wire.Request) -> Reply:
        if len(request.args) not in (2, 3):
            raise RequestError(wire.INVALID_PARAMETER_COUNT)
        interval_ms = _parse_whole(request.args[0], "interval", minimum=0)
        count = _parse_whole(request.args[1], "sample count", minimum=0)
        if interval_ms == 0:
            interval_ms = DEFAULT_INTERVAL_MS  # SPEC tools send Go,0,0 for "the meter's default"
        minimum_ms = max(1, math.ceil(self._identity.min_interval_s * 1000 - 1e-9))
        if interval_ms < minimum_ms:
            raise RequestError(
                f"Error: interval {interval_ms}ms is below {self.model}'s minimum of {minimum_ms}ms"
            )
        if self._measurement is not None:
            raise RequestError("Error: a measurement is already running, send Stop first")
        mark = request.args[2] if len(request.args) == 3 and request.args[2] else NOT_SET_MARK
        self.console.log(f"Go with mark '{mark}'")
        self.data_log.notice(f"Go with mark '{mark}'")
        self._halt()
        try:
            self._start_meter(interval_ms / 1000, mark)
        except AnalyzerError:
            self._start_idle()
            raise
        self._measurement = Measurement(
            interval_ms, count, mark, self._channel_count if self._multi else 0, self.config.uncertainty_limit
        )
        return Reply(wire.go_reply(interval_ms, count))

    def _mark(self, request: wire.Request) -> Reply:
        if len(request.args) != 1:
            raise RequestError(wire.INVALID_PARAMETER_COUNT)
        if self._measurement is None:
            raise RequestError("Error: no measurement to mark")
        self._drain()  # samples taken so far keep the old mark
        self._measurement.mark = request.args[0]
        self.analyzer.set_mark(request.args[0])
        self.console.log(f"Mark changed to '{request.args[0]}'")
        return Reply(wire.MARK_CHANGED)

    def _stop(self, request: wire.Request) -> Reply:
        if request.args:
            raise RequestError(wire.INVALID_PARAMETER_COUNT)
        self.poll()
        measurement = self._measurement
        if measurement is None:
            return Reply(wire.NO_MEASUREMENT_TO_STOP)
        # PTD logs its reply to Stop before "Completed test" and the summary; keep that order.
        self._end_measurement(log=self._after_reply.append)
        return Reply(wire.STOPPING_TIMED if measurement.timed else wire.STOPPING_UNTIMED)

    def _reset(self, request: wire.Request) -> Reply:
        if self._measurement is not None:
            self._halt()
            self._measurement = None
            self._start_idle()
        self.console.log("Measurement reset")
        return Reply(wire.RESET_DONE)

    def _read_samples(self, request: wire.Request) -> Reply:
        is_dc_request = request.command.upper() == "DC-RL"
        if is_dc_request != self.config.dc:
            return Reply(wire.UNKNOWN_COMMAND)
        if len(request.args) > 2:
            raise RequestError(wire.INVALID_PARAMETER_COUNT)
        with_channels = False
        if len(request.args) == 2:
            if not self._multi:
                raise RequestError(wire.INVALID_PARAMETER_COUNT)
            if request.args[1] != "*":
                raise RequestError(wire.INVALID_CHANNEL)
            with_channels = True
        last: int | None = None
        if request.args and request.args[0] != "*":
            last = _parse_whole(request.args[0], "sample count", minimum=1)
        self.poll()
        measurement = self._measurement or self._last
        if measurement is None:
            return Reply(wire.rl_header(0))
        if measurement.running and measurement.unread_count == 0:
            self._wait_for_sample(measurement)
        samples = measurement.read(last)
        body = encode(samples, rl_reply_layout(with_channels))
        return Reply(wire.rl_header(len(samples)), body)

    def _wait_for_sample(self, measurement: Measurement) -> None:
        """PTD waits up to one interval for a sample when none is unread; so do we."""
        waited = 0.0
        step = min(0.01, measurement.interval_ms / 1000)
        while measurement.unread_count == 0 and waited < measurement.interval_ms / 1000:
            self._sleep(step)
            waited += step
            self._drain()

    def _stats(self, request: wire.Request) -> list[MeasurementStats]:
        if len(request.args) > 1 or (request.args and request.args[0] != "*"):
            raise RequestError(wire.INVALID_PARAMETER_COUNT)
        self.poll()
        measurement = self._measurement or self._last
        if measurement is None:
            empty = Measurement(DEFAULT_INTERVAL_MS, 0, "", 0, self.config.uncertainty_limit)
            return empty.stats()
        stats = measurement.stats()
        return stats if request.args else stats[:1]

    def _watts(self, request: wire.Request) -> Reply:
        return self._relayed(request) or Reply(wire.watts_reply(self._stats(request)))

    def _uncertainty(self, request: wire.Request) -> Reply:
        return self._relayed(request) or Reply(wire.uncertainty_reply(self._stats(request)))

    def _relayed(self, request: wire.Request) -> Reply | None:
        """A source with summaries of its own (an upstream PTD daemon): its line, word for word, live
        while measuring, else as it was at the last Stop (idle sampling has started another since)."""
        if request.args not in ((), ("*",)):
            return None
        form = request.command.capitalize() + (",*" if request.args else "")
        if self._measurement is not None:
            return _reply_or_none(self.analyzer.summary_reply(form))
        if self._last is not None:
            return _reply_or_none(self._last.relayed.get(form))
        return None

    def _source_summaries(self) -> dict[str, str]:
        forms = ["Watts", "Uncertainty"] + (["Watts,*", "Uncertainty,*"] if self._multi else [])
        lines = {}
        for form in forms:
            try:
                line = self.analyzer.summary_reply(form)
            except AnalyzerError as error:
                self.console.log(f"ERROR: the meter's own {form} figures are not available: {error}")
                continue
            if line is not None:
                lines[form] = line
        return lines

    def _console_lines(self, request: wire.Request) -> Reply:
        record = self.console.record
        if record is None:
            return Reply(wire.UNKNOWN_COMMAND)  # a daemon that keeps no console record (in-process)
        if len(request.args) != 1:
            raise RequestError(wire.INVALID_PARAMETER_COUNT)
        which = request.args[0].lower()
        if which == "preamble":
            first: int | str = "preamble"
            lines = record.preamble()
        elif which == "end":
            first, lines = record.next_index, []
        elif which == "connection":
            first, lines = record.since(record.connection_index)
        elif which.isdigit():
            first, lines = record.since(int(which))
        else:
            raise RequestError(
                f"Error: {wire.CONSOLE_COMMAND} takes preamble, end, connection or a line number"
            )
        body = "".join(line.replace("\r", " ") + wire.LINE_END for line in lines)
        return Reply(wire.console_header(first, len(lines)), body.encode("ascii", "replace"))

    def _current_reading(self) -> Reply:
        self.poll()
        if self._latest is None:
            return Reply("Error: no reading yet")
        line = encode_lines(self._latest, rl_reply_layout(False))[0].as_py()
        # `Time,<ts>,Watts,...` -> `Watts,...`: R* answers the reading without its timestamp.
        return Reply(line.split(",", 2)[2])


def _parse_whole(text: str, what: str, minimum: int) -> int:
    if not text.isdigit():
        raise RequestError(f"Error: {what} must be a whole number, got {text!r}")
    value = int(text)
    if value < minimum:
        raise RequestError(f"Error: {what} must be at least {minimum}, got {value}")
    return value


def _parse_range_value(text: str) -> RangeRequest:
    if text.lower() == "auto":
        return AUTO
    try:
        value = float(text)
    except ValueError:
        raise RequestError(f"Error: range must be a number or Auto, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise RequestError(f"Error: range must be positive, got {text!r}")
    return value


def _reply_or_none(line: str | None) -> Reply | None:
    return Reply(line) if line is not None else None
