"""Sample a source every interval in a background thread, into a buffer `fetch()` drains.

The system sources (NVML, RAPL, Redfish, IPMI) have no sample clock of their own: something has to
read them on a schedule. `PolledAnalyzer` does that once for all of them. A driver supplies
`_begin` (take counter baselines), `_read` (one reading of every channel) and `_end`; the base
class owns the thread, the grid, missed ticks, marks, statistics and the `Analyzer` state contract.

Sample `k` is due at `start + k * interval` (k >= 1). When a read overruns so that whole ticks pass,
those ticks become missed samples (PTD `-2`) at their grid times, so a slow source shows up in the
counts instead of silently stretching the interval.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import abstractmethod
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from analyzers.base import Analyzer, MeasurementStats
from analyzers.errors import AnalyzerError, AnalyzerStateError
from analyzers.stats import RunningStats
from analyzers.trace import SAMPLE_ERROR, SAMPLE_MISSED, SAMPLE_OK, ChannelBlock, Trace, combine_channel_flags

log = logging.getLogger("joulebench.analyzers")

MAX_INTERVAL_S = 3600.0


@dataclass(frozen=True)
class Reading:
    """One reading of every channel.

    `watts` and `flags` have one entry per channel; a flagged channel's watts are NaN. `energy_j`,
    where the source has a counter, is each channel's energy since the measurement started (J).
    `time_ns` is when the reading was taken; None means the tick it was due at.
    """

    watts: np.ndarray
    flags: np.ndarray
    energy_j: np.ndarray | None = None
    time_ns: int | None = None

    @classmethod
    def flagged(cls, channels: int, flag: int, with_energy: bool) -> Reading:
        energy = np.full(channels, np.nan) if with_energy else None
        return cls(np.full(channels, np.nan), np.full(channels, flag, dtype=np.int8), energy)


class PollClock(Protocol):
    """Time for the poller: UTC epoch ns, and a wait that a stop request interrupts."""

    def now_ns(self) -> int: ...

    def wait_until(self, deadline_ns: int, stop: threading.Event) -> bool:
        """Block until `deadline_ns` or until `stop` is set; True when stopped."""
        ...


class WallPollClock:
    def now_ns(self) -> int:
        return time.time_ns()

    def wait_until(self, deadline_ns: int, stop: threading.Event) -> bool:
        # Re-evaluated after every wake-up, so a clock step only shifts the next tick.
        while True:
            remaining_s = (deadline_ns - time.time_ns()) / 1e9
            if remaining_s <= 0:
                return stop.is_set()
            if stop.wait(remaining_s):
                return True


class PolledAnalyzer(Analyzer):
    """An `Analyzer` whose samples come from reading a source on a fixed grid in a thread.

    Subclasses implement `identify`, `channel_count`, `_begin`, `_read` and optionally `_end` and
    `_release`. `has_energy` says whether readings carry `energy_j`. A failed `_read` (an
    `AnalyzerError`) becomes one error sample (`-1` on every channel), and the next `fetch()` raises
    that error once, so the daemon logs it; the samples stay fetchable.
    """

    has_energy = False

    def __init__(self, device: str, clock: PollClock | None = None) -> None:
        super().__init__(device)
        self.clock: PollClock = clock or WallPollClock()
        self._lock = threading.Lock()
        self._rows: list[tuple[int, Reading, str]] = []
        self._chunks: list[Trace] = []
        self._stats = RunningStats()
        self._mark = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: AnalyzerError | None = None
        self._reported: set[str] = set()
        self._closed = False

    # -- hooks ----------------------------------------------------------------------------------

    def _begin(self, interval_s: float) -> None:
        """Prepare a measurement (baselines); raise `AnalyzerError` if the source cannot start."""

    @abstractmethod
    def _read(self, timeout_s: float) -> Reading:
        """One reading of every channel, within about `timeout_s` seconds."""

    def _end(self) -> None:
        """The measurement ended (the thread has stopped)."""

    def _release(self) -> None:
        """Free the source (library handles, clients); called once by `close()`."""

    def _check_interval(self, interval_s: float) -> None:
        minimum = self.identify().min_interval_s
        if not (np.isfinite(interval_s) and minimum <= interval_s <= MAX_INTERVAL_S):
            raise AnalyzerError(
                self.device or self.name,
                f"interval must be between {minimum:g} s and {MAX_INTERVAL_S:g} s, got {interval_s} s",
            )

    def _report(self, error: AnalyzerError) -> None:
        """Make the next `fetch()` raise `error` (once per distinct message and measurement).

        For trouble a driver handles itself (a flagged channel) but a person should hear about."""
        with self._lock:
            if str(error) in self._reported:
                return
            self._reported.add(str(error))
            self._error = self._error or error

    # -- Analyzer -------------------------------------------------------------------------------

    def start(self, interval_s: float, mark: str = "") -> None:
        if self._closed:
            raise AnalyzerStateError(self.device or self.name, "the analyzer is closed")
        if self.running:
            raise AnalyzerStateError(
                self.device or self.name, "a measurement is already running", "stop it first"
            )
        self._check_interval(interval_s)
        self._begin(interval_s)
        interval_ns = round(interval_s * 1e9)
        with self._lock:
            self._materialise()
            self._stats.reset()
            self._mark = mark
            self._reported = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run,
            args=(self.clock.now_ns(), interval_ns, min(interval_s, MAX_INTERVAL_S), self._stop),
            name=f"poll-{self.name}",
            daemon=True,
        )
        self._thread.start()

    def set_mark(self, mark: str) -> None:
        with self._lock:
            self._mark = mark

    def fetch(self) -> Trace:
        # The contract (Analyzer.fetch): samples taken before a failure come first; the failure is
        # raised by the first call that has nothing left to hand over.
        with self._lock:
            self._materialise()
            chunks, self._chunks = self._chunks, []
            if not chunks and self._error is not None:
                error, self._error = self._error, None
                raise error
        if not chunks:
            return Trace.empty(self._block_count, self.device)
        return chunks[0] if len(chunks) == 1 else Trace.concat(chunks)

    def stop(self) -> None:
        thread = self._thread
        if thread is None:
            raise AnalyzerStateError(self.device or self.name, "no measurement to stop")
        self._stop.set()
        thread.join()
        self._thread = None
        self._end()

    def stats(self) -> MeasurementStats:
        with self._lock:
            self._materialise()
            return self._stats.snapshot()

    @property
    def running(self) -> bool:
        return self._thread is not None

    def close(self) -> None:
        if self.running:
            self.stop()
        if not self._closed:
            self._closed = True
            self._release()

    # -- the polling thread ---------------------------------------------------------------------

    def _run(self, start_ns: int, interval_ns: int, interval_s: float, stop: threading.Event) -> None:
        tick = 1
        while True:
            due_ns = start_ns + tick * interval_ns
            if self.clock.wait_until(due_ns, stop):
                return
            behind = (self.clock.now_ns() - due_ns) // interval_ns
            for skipped in range(behind):
                missed = Reading.flagged(self.channel_count, SAMPLE_MISSED, self.has_energy)
                self._append(start_ns + (tick + skipped) * interval_ns, missed)
            tick += behind
            due_ns = start_ns + tick * interval_ns
            self._append(due_ns, self._safe_read(interval_s))
            tick += 1

    def _safe_read(self, timeout_s: float) -> Reading:
        try:
            return self._read(timeout_s)
        except AnalyzerError as error:
            failure = error
        except Exception as error:  # a driver bug must not kill the thread and lose every later sample
            log.exception("%s: unexpected failure while reading", self.device or self.name)
            failure = AnalyzerError(self.device or self.name, f"reading failed: {error!r}")
        self._report(failure)
        return Reading.flagged(self.channel_count, SAMPLE_ERROR, self.has_energy)

    def _append(self, due_ns: int, reading: Reading) -> None:
        with self._lock:
            self._rows.append((reading.time_ns or due_ns, reading, self._mark))

    # -- buffer -> Trace ------------------------------------------------------------------------

    @property
    def _block_count(self) -> int:
        return self.channel_count if self.channel_count > 1 else 0

    def _materialise(self) -> None:
        """Turn the rows taken since the last call into one chunk (caller holds the lock)."""
        if not self._rows:
            return
        rows, self._rows = self._rows, []
        time_ns = np.array([row[0] for row in rows], dtype=np.int64)
        watts = np.vstack([row[1].watts for row in rows])  # samples x channels
        flags = np.vstack([row[1].flags for row in rows]).astype(np.int8)
        energy = None
        if self.has_energy:
            energy = np.vstack(
                [
                    r.energy_j if r.energy_j is not None else np.full(watts.shape[1], np.nan)
                    for _, r, _ in rows
                ]
            ).sum(axis=1)
        marks = [row[2] or None for row in rows]
        total_flags = combine_channel_flags(flags.T)  # channels x samples, a view
        total_w = np.where(total_flags == SAMPLE_OK, watts.sum(axis=1), np.nan)
        blocks: list[ChannelBlock] = []
        if watts.shape[1] > 1:
            blocks = [
                ChannelBlock.from_columns(watts[:, c], flags=flags[:, c]) for c in range(watts.shape[1])
            ]
        chunk = Trace.from_columns(
            time_ns,
            total_w,
            flags=total_flags,
            marks=marks,
            channels=blocks,
            energy_j=energy,
            source=self.device,
        )
        self._stats.add(chunk)
        self._chunks.append(chunk)
