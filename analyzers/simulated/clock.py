"""Clocks and the sampling grid.

The simulated meter takes no samples in the background. Sample `k` of a measurement is taken at
`start_ns + k * interval_ns` (k = 1, 2, ...) and stands for the interval that ends there; a fetch
produces every grid sample whose time is not after the clock's now. That makes the samples a pure
function of the clock, so a `VirtualClock` lets tests run hours of measurement without sleeping.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np

MIN_INTERVAL_NS = 10_000
"""10 µs: the fastest interval the in-process simulator offers."""
MAX_INTERVAL_NS = 60_000_000_000


class Clock(Protocol):
    """Where the meter reads "now": UTC epoch nanoseconds."""

    def now_ns(self) -> int: ...


class WallClock:
    """The real UTC clock."""

    def now_ns(self) -> int:
        return time.time_ns()


class VirtualClock:
    """A clock that moves only when told to; thread-safe, so one thread can drive it while others fetch."""

    def __init__(self, start_ns: int = 1_700_000_000_000_000_000) -> None:
        self._now_ns = start_ns
        self._lock = threading.Lock()

    def now_ns(self) -> int:
        with self._lock:
            return self._now_ns

    def advance(self, seconds: float) -> int:
        """Move forward by `seconds` (rounded to whole ns); returns the new now."""
        step_ns = round(seconds * 1e9)
        if step_ns < 0:
            raise ValueError("a clock does not run backwards")
        with self._lock:
            self._now_ns += step_ns
            return self._now_ns

    def advance_ns(self, step_ns: int) -> int:
        if step_ns < 0:
            raise ValueError("a clock does not run backwards")
        with self._lock:
            self._now_ns += step_ns
            return self._now_ns


@dataclass(frozen=True)
class SampleGrid:
    """The timestamps of one measurement: `start_ns + k * interval_ns`, k >= 1."""

    start_ns: int
    interval_ns: int

    def last_index_at(self, now_ns: int) -> int:
        """Index of the last sample taken at or before `now_ns` (0 = none yet)."""
        if now_ns <= self.start_ns:
            return 0
        return (now_ns - self.start_ns) // self.interval_ns

    def times_ns(self, first: int, last: int) -> np.ndarray:
        """Timestamps of samples `first..last` (inclusive)."""
        index = np.arange(first, last + 1, dtype=np.int64)
        return self.start_ns + index * self.interval_ns


def interval_ns_from_seconds(interval_s: float) -> int | None:
    """The interval in whole ns, or None when it lies outside what the simulator offers."""
    if not np.isfinite(interval_s):
        return None
    interval_ns = round(interval_s * 1e9)
    if not MIN_INTERVAL_NS <= interval_ns <= MAX_INTERVAL_NS:
        return None
    return interval_ns
