"""`StreamedAnalyzer`: the sampling machinery of a source that streams, or produces samples when asked.

The Yokogawa driver waits on the meter's update event and reads each update; the LPM01A reads the
ASCII stream the board pushes. The simulator computes every sample up to the clock's now whenever
it is asked, and the PTD client asks its daemon (`RL`) for the samples taken since the last read.
All four need the same machinery, written once here: the chunks ready for `fetch`, the failure the
source met (held back until the samples before it are out: `Analyzer.fetch`'s contract), the
running statistics, the start/stop/fetch state rules and, for a stream, the reading thread.
A driver supplies hooks:

- `_prepare(interval_s, mark)`: check the interval and configure the device (raises AnalyzerError);
- `_stream(stop)`: the reading loop, run on the thread until `stop` is set; it hands samples over
  with `_emit(chunk)` (or buffers rows itself and turns them into chunks in `_collect`); an
  AnalyzerError it raises is the measurement's failure. Sources that produce on demand set
  `on_demand = True`, start no thread and produce in `_collect` instead;
- `_collect()`: under the lock, before every fetch, statistics read and start: turn what the
  driver buffered, or what is due by now, into chunks with `_emit` (a failure goes to `_fail`);
- `_request_stop()`: what the device needs to end cleanly before the loop is told to stop;
- `_stop_timeout_s()`: how long `stop` waits for the loop; `_empty_trace()`: `fetch` with nothing;
- `_release_device()`: what `close` gives back once the measurement has ended (a device, a port).

`PolledAnalyzer` (`analyzers.polling`) is the other base, for sources read on a timer.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import ClassVar

from analyzers.base import Analyzer, MeasurementStats
from analyzers.errors import AnalyzerError, AnalyzerStateError
from analyzers.stats import RunningStats
from analyzers.trace import Trace


class StreamedAnalyzer(Analyzer):
    on_demand: ClassVar[bool] = False
    """True: samples are produced in `_collect` when asked for (no reading thread)."""

    def __init__(self, device: str = "") -> None:
        super().__init__(device)
        self._sampling_lock = threading.RLock()
        self._ready: list[Trace] = []
        self._failure: AnalyzerError | None = None
        self._stats = RunningStats()
        self._measuring = False
        self._thread: threading.Thread | None = None
        self._stop_event = threading.Event()
        self._closed = False

    # -- hooks ----------------------------------------------------------------------------------

    def _prepare(self, interval_s: float, mark: str) -> None:
        """Check `interval_s` and configure the device for the measurement (before the thread starts)."""

    def _stream(self, stop: threading.Event) -> None:
        """Read until `stop` is set, handing samples over with `_emit` (or buffering them for `_collect`)."""
        raise NotImplementedError(f"{type(self).__name__} streams but has no _stream")

    def _request_stop(self) -> None:
        """Ask the device to end its stream, so the last samples arrive before the loop is stopped."""

    def _stop_timeout_s(self) -> float:
        return 5.0

    def _collect(self) -> None:
        """Turn rows the driver buffers itself, or samples due by now, into chunks with `_emit`."""

    def _release_device(self) -> None:
        """Give back what the driver holds; called once, by `close`, after the measurement ended."""

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
        """The source's failure (the first one stands), raised once the samples before it are out."""
        with self._sampling_lock:
            self._failure = self._failure or error

    # -- Analyzer -------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._measuring

    @property
    def stopping(self) -> bool:
        """True from the moment `stop` has told the stream to end until the measurement has ended."""
        return self._measuring and self._stop_event.is_set()

    def start(self, interval_s: float, mark: str = "") -> None:
        with self._sampling_lock:
            if self._measuring:
                raise AnalyzerStateError(self.device, "a measurement is already running", "stop it first")
            # Samples of an earlier measurement keep the statistics they belong to; a failure not
            # raised yet stays, for the first fetch with nothing to return (no failure goes unheard).
            self._collect()
            self._prepare(interval_s, mark)
            self._stats.reset()
            self._measuring = True
            self._stop_event.clear()
            if not self.on_demand:
                self._thread = threading.Thread(
                    target=self._run, name=f"{self.name} {self.device}", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        try:
            self._stream(self._stop_event)
        except AnalyzerError as error:
            self._fail(error)
        except Exception as error:  # a driver's own bug or a library's surprise: said, not swallowed
            self._fail(
                AnalyzerError(self.device, f"the reading thread failed: {type(error).__name__}: {error}")
            )

    def stop(self) -> None:
        with self._sampling_lock:
            if not self._measuring:
                raise AnalyzerStateError(self.device, "no measurement to stop")
        # Not under the lock: a stream's last samples (and its end) arrive through the thread.
        try:
            self._request_stop()
        finally:
            self._stop_event.set()
            thread, self._thread = self._thread, None
            if thread is not None:
                thread.join(timeout=self._stop_timeout_s())
            with self._sampling_lock:
                self._measuring = False

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
            snapshot = self._stats.snapshot()
            extra = self._stats_extra()
        return dataclasses.replace(snapshot, extra={**snapshot.extra, **extra}) if extra else snapshot

    def _stats_extra(self) -> dict[str, float]:
        """The driver's own figures for `stats().extra` (its counters, the device's extremes), read
        under the sampling lock right after the last samples were collected."""
        return {}

    def close(self) -> None:
        """End a running measurement, then release the device, once. A link too broken to stop is not
        the close's failure: the device is released all the same."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.running:
                self.stop()
        except AnalyzerError:
            pass
        finally:
            self._release_device()
