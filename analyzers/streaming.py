"""`StreamedAnalyzer`: the sampling machinery of a source that streams (or is read as fast as it updates).

The Yokogawa driver waits on the meter's update event and reads each update; the LPM01A reads the
ASCII stream the board pushes. Both need the same machinery, written once here: a reading thread,
the chunks ready for `fetch`, the failure that thread met (held back until the samples before it
are out: `Analyzer.fetch`'s contract), the running statistics, and the start/stop/fetch state rules.
A driver supplies hooks:

- `_prepare(interval_s, mark)`: check the interval and configure the device (raises AnalyzerError);
- `_stream(stop)`: the reading loop, run on the thread until `stop` is set; it hands samples over
  with `_emit(chunk)` (or buffers rows itself and turns them into chunks in `_collect`); an
  AnalyzerError it raises is the measurement's failure;
- `_request_stop()`: what the device needs to end cleanly before the loop is told to stop;
- `_stop_timeout_s()`: how long `stop` waits for the loop; `_empty_trace()`: `fetch` with nothing.

`PolledAnalyzer` (`analyzers.polling`) is the other base, for sources read on a timer.
"""

from __future__ import annotations

import threading
from abc import abstractmethod

from analyzers.base import Analyzer, MeasurementStats
from analyzers.errors import AnalyzerError, AnalyzerStateError
from analyzers.stats import RunningStats
from analyzers.trace import Trace


class StreamedAnalyzer(Analyzer):
    def __init__(self, device: str = "") -> None:
        super().__init__(device)
        self._sampling_lock = threading.RLock()
        self._ready: list[Trace] = []
        self._failure: AnalyzerError | None = None
        self._stats = RunningStats()
        self._thread: threading.Thread | None = None
        self._stop_event = threading.Event()

    # -- hooks ----------------------------------------------------------------------------------

    def _prepare(self, interval_s: float, mark: str) -> None:
        """Check `interval_s` and configure the device for the measurement (before the thread starts)."""

    @abstractmethod
    def _stream(self, stop: threading.Event) -> None:
        """Read until `stop` is set, handing samples over with `_emit` (or buffering them for `_collect`)."""

    def _request_stop(self) -> None:
        """Ask the device to end its stream, so the last samples arrive before the loop is stopped."""

    def _stop_timeout_s(self) -> float:
        return 5.0

    def _collect(self) -> None:
        """Turn rows the driver buffers itself into chunks with `_emit` (called under the lock)."""

    def _empty_trace(self) -> Trace:
        return Trace.empty(self.channel_count if self.channel_count > 1 else 0, source=self.device)

    # -- for the hooks --------------------------------------------------------------------------

    def _emit(self, chunk: Trace) -> None:
        """Samples read: counted in the statistics and ready for `fetch`."""
        if len(chunk) == 0:
            return
        with self._sampling_lock:
            self._stats.add(chunk)
            self._ready.append(chunk)

    def _fail(self, error: AnalyzerError) -> None:
        """The measurement's failure (the first one stands), raised once the samples before it are out."""
        with self._sampling_lock:
            self._failure = self._failure or error

    # -- Analyzer -------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self, interval_s: float, mark: str = "") -> None:
        if self._thread is not None:
            raise AnalyzerStateError(self.device, "a measurement is already running", "stop it first")
        self._prepare(interval_s, mark)
        with self._sampling_lock:
            self._collect()  # samples of an earlier measurement keep the statistics they belong to
            self._stats.reset()
            self._failure = None
        self._stop_event.clear()
        self._thread = threading.Thread(target=self._run, name=f"{self.name} {self.device}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._stream(self._stop_event)
        except AnalyzerError as error:
            self._fail(error)

    def stop(self) -> None:
        thread = self._thread
        if thread is None:
            raise AnalyzerStateError(self.device, "no measurement to stop")
        try:
            self._request_stop()
        finally:
            self._stop_event.set()
            thread.join(timeout=self._stop_timeout_s())
            self._thread = None

    def fetch(self) -> Trace:
        with self._sampling_lock:
            self._collect()
            if not self._ready:
                failure, self._failure = self._failure, None
                if failure is not None:
                    raise failure
                return self._empty_trace()
            ready, self._ready = self._ready, []
        return ready[0] if len(ready) == 1 else Trace.concat(ready)

    def stats(self) -> MeasurementStats:
        with self._sampling_lock:
            self._collect()
            return self._stats.snapshot()
