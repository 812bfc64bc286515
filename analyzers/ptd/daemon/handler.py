"""The PTD command handler: one request line in, one `Reply` out, over any `Analyzer`.

No sockets here: the server feeds lines and sends replies, a pump thread calls `poll()`. Between
measurements the meter keeps sampling at the idle interval so the data log records every sample
(mark `notset`) and `R*` has a current reading, as PTDaemon does. The meter is stopped and drained
at every transition (Go, Stop, Mark, range change), so each sample is attributed to the right mark
without trusting the driver's own mark bookkeeping. Every public method holds one lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

from analyzers.base import Analyzer, MeasurementStats
from analyzers.errors import AnalyzerError, RangesNotApplicable
from analyzers.formats.sample_encode import encode, encode_readings
from analyzers.formats.sample_layout import NOT_SET_MARK, rl_reply_layout
from analyzers.live_counters import LiveCounters
from analyzers.ptd import wire
from analyzers.ptd.daemon.logs import (
    ConsoleLog,
    DataLog,
    SampleProblemWatch,
    connected_lines,
    log_sample_problems,
    source_summaries,
)
from analyzers.ptd.daemon.measurement import Measurement
from analyzers.ptd.daemon.requests import (
    DaemonConfig,
    Reply,
    RequestError,
    console_reply,
    driver_channel,
    parse_go,
    parse_set_range,
    parse_whole,
    range_message,
    reply_or_none,
)
from analyzers.ptd.identity import DEFAULT_INTERVAL_MS, identify_reply
from analyzers.trace import Trace


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
        self._problem_watch = SampleProblemWatch(
            model=self._identity.model,
            per_channel=self._multi,
            uncertainty_limit=self.config.uncertainty_limit,
            judged_here=analyzer.sample_uncertainty,
        )
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
        for line in connected_lines(self.analyzer, self._identity):
            self.console.log(line)
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
        newest = encode_readings(self._latest, rl_reply_layout(False))[0].as_py()
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
        log_sample_problems(self.console, self.data_log, recorded, self._problem_watch)

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
        measurement.relayed = source_summaries(self.analyzer, self._multi, self.console)
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
            wire.CONSOLE_COMMAND.upper(): lambda request: console_reply(self.console.record, request),
        }
        handler = handlers.get(command)
        if handler is not None:
            return handler(request)
        if command.startswith("R") and 2 <= len(command) <= 3 and not request.args:
            return self._current_reading()
        return Reply(wire.UNKNOWN_COMMAND)

    # -- ranges ---------------------------------------------------------------------------------

    def _channel_arg(self, text: str) -> int | None:
        return driver_channel(text, self.config.first_channel, self._channel_count)

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
        quantity, value, channel_text = parse_set_range(request.args)
        channel = self._channel_arg(channel_text) if channel_text is not None else None
        if self._measurement is not None:
            raise RequestError(wire.METER_BUSY)
        changed = wire.RANGE_V_CHANGED if quantity == "V" else wire.RANGE_A_CHANGED
        message = range_message(quantity, value)
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
        interval_ms, count, mark = parse_go(request.args, self._identity.min_interval_s, self.model)
        if self._measurement is not None:
            raise RequestError("Error: a measurement is already running, send Stop first")
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
            last = parse_whole(request.args[0], "sample count", minimum=1)
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
            return reply_or_none(self.analyzer.summary_reply(form))
        if self._last is not None:
            return reply_or_none(self._last.relayed.get(form))
        return None

    def _current_reading(self) -> Reply:
        self.poll()
        if self._latest is None:
            return Reply("Error: no reading yet")
        # R* answers the reading without its timestamp: `Watts,...`.
        return Reply(encode_readings(self._latest, rl_reply_layout(False))[0].as_py())
