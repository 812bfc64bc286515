"""`Monitor`: the energy of named windows of your own code, from any registered power source.

    from power_client import Monitor

    with Monitor(["nvml:0", "rapl"], interval_ms=100) as monitor:
        monitor.begin_window("epoch")
        train_one_epoch()
        epoch = monitor.end_window("epoch", wait=True)
    print(epoch.source("nvml:0").energy_j, "J ±", epoch.source("nvml:0").uncertainty_j)

The sources start sampling when the monitor opens and a background thread fetches from them (every
`poll_s`, default 0.5 s), so windows cost a clock read to begin and a small vectorised sum to end. Windows are named; they may nest and overlap. All times are UTC epoch ns on
this machine's clock; a `ptd://` source's samples are moved by its measured clock shift
(`source_clock.py`), whose uncertainty goes into the windows' clock term.

`end_window(name)` returns at once with what covers the window so far: if a source's sample
spanning the window's end has not arrived yet, the tail is extrapolated and `final` is False;
`measurement(name)` later gives the completed one. `end_window(name, wait=True)` waits (up to a
few intervals) for those samples and returns the final measurement. The `window()` context manager
ends without waiting; its `measurement` is final once the samples are in.

When `JOULEBENCH_MARKS` is set (the program runs under `power-measure`), every window begin/end and
mark is also written there, so the outer measurement records the same windows.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from analyzers.base import Analyzer
from analyzers.errors import AnalyzerError
from analyzers.source_spec import SourceSpec, parse_source
from analyzers.trace import Trace
from power_client.metering import marks
from power_client.metering.source_clock import SourceClock
from power_client.metering.store import SampleStore
from rules.calibration.certificate import CertificateError, Correction, load_correction
from rules.measure.measurement import Measurement
from rules.measure.windows import SourceSamples, measure_window

POLL_S = 0.5
"""How often the background thread drains the sources: often enough that buffers stay small and a
window's measurement is current, rarely enough to cost the measured program next to nothing (each
fetch has a fixed cost, whatever it carries). `end_window(wait=True)` fetches on its own."""


class MonitorError(RuntimeError):
    """A window used out of order (ended twice, never begun); the message says which."""


@dataclass
class LiveSource:
    label: str
    analyzer: Analyzer
    interval_ns: int
    clock: SourceClock | None  # None: the source stamps with this machine's clock
    correction: Correction | None = None  # from a calibration certificate (`certificate=FILE`)
    correction_origin_ns: int | None = None
    store: SampleStore = field(default_factory=SampleStore)
    failures: list[str] = field(default_factory=list)
    _cached: tuple[tuple[int, int, float, str | None], SourceSamples] | None = None

    @property
    def shift_ns(self) -> int:
        """The source's clock minus this machine's (0 for a source stamping with this machine's)."""
        return self.clock.shift_ns if self.clock else 0

    def samples(self) -> SourceSamples:
        """The views a window reads; rebuilt only when samples arrived or the clock shift moved."""
        shift = self.shift_ns
        clock_s = self.clock.uncertainty_s if self.clock and self.clock.known else 0.0
        key = (self.store.count, shift, clock_s, self.analyzer.unreachable)
        if self._cached is not None and self._cached[0] == key:
            return self._cached[1]
        samples = SourceSamples(
            self.label,
            self.interval_ns,
            self.store.total(),
            self.store.channels(),
            clock_uncertainty_s=clock_s,
            counter_update_s=self.analyzer.counter_update_s,
            shift_ns=shift,
            lost=self.analyzer.unreachable,
        )
        self._cached = (key, samples)
        return samples


class Window:
    """A window opened with `Monitor.window()`; `measurement` is its result once it ended."""

    def __init__(self, monitor: Monitor, name: str) -> None:
        self.name = name
        self._monitor = monitor

    @property
    def measurement(self) -> Measurement:
        return self._monitor.measurement(self.name)


class Monitor:
    def __init__(
        self,
        sources: Sequence[str | SourceSpec | Analyzer] = ("simulated",),
        interval_ms: int = 100,
        *,
        poll_s: float | None = None,
        clock: object | None = None,
    ) -> None:
        """Open and start every source (`AnalyzerError` naming the one that failed; those opened are
        closed again). `poll_s=0`: no background thread, the caller calls `poll()` (tests)."""
        if not sources:
            raise ValueError("a Monitor needs at least one source")
        if interval_ms < 1:
            raise ValueError(f"interval_ms must be at least 1, got {interval_ms}")
        self.interval_ms = interval_ms
        self._now_ns = getattr(clock, "now_ns", time.time_ns)
        self._lock = threading.RLock()
        self._open: dict[str, int] = {}
        self._ended: dict[str, tuple[int, int]] = {}
        self._results: dict[str, Measurement] = {}
        self.marks: list[tuple[int, str]] = []
        self.sources: list[LiveSource] = []
        self._marks_out = marks.MarkWriter.from_environment()
        try:
            for source in sources:
                self.sources.append(self._open_source(source))
        except BaseException:
            self._close_sources()
            raise
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        period = POLL_S if poll_s is None else poll_s
        if period > 0:
            self._thread = threading.Thread(
                target=self._poll_loop, args=(period,), name="monitor", daemon=True
            )
            self._thread.start()

    def _open_source(self, source: str | SourceSpec | Analyzer) -> LiveSource:
        correction = None
        if isinstance(source, Analyzer):
            device = "" if source.device in ("", source.name) else source.device
            analyzer, label = source, source.name + (f":{device}" if device else "")
        else:
            spec = parse_source(source) if isinstance(source, str) else source
            correction = _correction(spec)
            if correction is not None:
                spec = SourceSpec(
                    spec.driver, spec.device, {k: v for k, v in spec.options.items() if k != "certificate"}
                )
            analyzer, label = spec.open(), spec.label
        try:
            analyzer.start(self.interval_ms / 1000, mark="")
        except BaseException:
            analyzer.close()
            raise
        started_ns = self._now_ns()
        interval_ns = self.interval_ms * 1_000_000
        own_clock = analyzer.stamps_own_clock
        live = LiveSource(label, analyzer, interval_ns, SourceClock(interval_ns) if own_clock else None)
        live.correction = correction
        live.store.energy_origin_ns = None if own_clock else started_ns
        return live

    def now_ns(self) -> int:
        """Now on the clock the monitor stamps windows with (UTC epoch ns)."""
        return self._now_ns()

    # -- sampling -------------------------------------------------------------------------------

    def poll(self) -> None:
        """Fetch what every source has: done by the background thread, or by the caller."""
        for source in self.sources:
            if source.analyzer.unreachable is not None:
                continue  # each request would wait its whole reconnect time again
            request_ns = time.time_ns()
            try:
                chunk = source.analyzer.fetch()
            except AnalyzerError as error:
                with self._lock:
                    if str(error) not in source.failures:
                        source.failures.append(str(error))
                continue
            if not len(chunk):
                continue
            with self._lock:
                if source.clock is not None:
                    source.clock.observe(request_ns, time.time_ns(), int(chunk.time_ns[-1]))
                if source.correction is not None:
                    if source.correction_origin_ns is None:
                        source.correction_origin_ns = int(chunk.time_ns[0])
                    chunk = source.correction.apply(chunk, source.correction_origin_ns)
                source.store.append(chunk)

    def _poll_loop(self, period_s: float) -> None:
        while not self._stop.wait(period_s):
            self.poll()

    # -- windows and marks ----------------------------------------------------------------------

    def begin_window(self, name: str, at_ns: int | None = None) -> None:
        now = self._now_ns() if at_ns is None else at_ns
        with self._lock:
            if name in self._open:
                raise MonitorError(f"window {name!r} is already open; end it first or pick another name")
            self._open[name] = now
            self._results.pop(name, None)
            self._ended.pop(name, None)
        if self._marks_out is not None:
            self._marks_out.write("begin", name, now)

    def end_window(self, name: str, wait: bool = False, at_ns: int | None = None) -> Measurement:
        now = self._now_ns() if at_ns is None else at_ns
        with self._lock:
            begin = self._open.pop(name, None)
            if begin is None:
                raise MonitorError(
                    f"window {name!r} was not begun (open windows: {sorted(self._open) or 'none'})"
                )
            self._ended[name] = (begin, now)
        if self._marks_out is not None:
            self._marks_out.write("end", name, now)
        if wait:
            self._wait_for(now)
        return self.measurement(name)

    def measurement(self, name: str) -> Measurement:
        """The ended window's measurement: the final one once every source's closing sample is in."""
        with self._lock:
            done = self._results.get(name)
            if done is not None:
                return done
            if name not in self._ended:
                state = "is still open" if name in self._open else "was never begun"
                raise MonitorError(f"window {name!r} {state}")
            begin, end = self._ended[name]
            result = measure_window(name, begin, end, [source.samples() for source in self.sources])
            if result.final:
                self._results[name] = result
            return result

    @contextmanager
    def window(self, name: str, wait: bool = False) -> Iterator[Window]:
        self.begin_window(name)
        try:
            yield Window(self, name)
        finally:
            self.end_window(name, wait=wait)

    def mark(self, label: str, at_ns: int | None = None) -> None:
        now = self._now_ns() if at_ns is None else at_ns
        with self._lock:
            self.marks.append((now, label))
        if self._marks_out is not None:
            self._marks_out.write("mark", label, now)

    def open_windows(self) -> list[str]:
        with self._lock:
            return sorted(self._open)

    def ended_windows(self) -> list[str]:
        with self._lock:
            return list(self._ended)

    def _wait_for(self, end_ns: int) -> None:
        deadline = time.monotonic() + 3 * self.interval_ms / 1000 + 2.0
        while time.monotonic() < deadline:
            self.poll()
            with self._lock:
                if all(self._covers(source, end_ns) for source in self.sources):
                    return
            time.sleep(min(self.interval_ms / 1000 / 4, 0.05))

    @staticmethod
    def _covers(source: LiveSource, end_ns: int) -> bool:
        if source.analyzer.unreachable is not None:
            return True  # nothing more will come; its measurement says so
        last = source.store.last_time_ns
        return last is not None and last - source.shift_ns >= end_ns

    # -- results --------------------------------------------------------------------------------

    def traces(self) -> dict[str, Trace]:
        """Every source's samples so far, on this machine's clock."""
        with self._lock:
            result = {}
            for source in self.sources:
                trace = source.store.trace()
                shift = source.shift_ns
                if shift and len(trace):
                    trace = replace(trace, time_ns=trace.time_ns - shift)
                result[source.label] = trace
            return result

    def close(self) -> None:
        """Stop the sources (their last samples are fetched first) and release them; safe twice."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=5)
            self._thread = None
        for source in self.sources:
            if source.analyzer.running and source.analyzer.unreachable is None:
                try:
                    source.analyzer.stop()
                except AnalyzerError as error:
                    source.failures.append(str(error))
        self.poll()
        self._close_sources()

    def _close_sources(self) -> None:
        for source in self.sources:
            try:
                source.analyzer.close()
            except AnalyzerError as error:
                source.failures.append(str(error))

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _correction(spec: SourceSpec) -> Correction | None:
    """The calibration a `certificate=FILE` option names for this source (AnalyzerError if unusable)."""
    path = spec.options.get("certificate")
    if path is None:
        return None
    try:
        return load_correction(str(path), spec.label)
    except CertificateError as error:
        raise AnalyzerError(spec.label, str(error)) from None


@contextmanager
def measure(
    name: str = "measure",
    sources: Sequence[str | SourceSpec | Analyzer] = ("simulated",),
    interval_ms: int = 100,
) -> Iterator[Window]:
    """One window over the `with` block, from sources opened for it; on exit it waits for the
    closing samples, so `window.measurement` is final (or says why not)."""
    with Monitor(sources, interval_ms) as monitor, monitor.window(name, wait=True) as window:
        yield window
