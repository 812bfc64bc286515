"""What a source is doing right now, for dashboards and `/metrics`: counters over its chunks.

The director keeps one `LiveCounters` per configured analyzer for its lifetime (its recorder hands
over every chunk it writes; the session every fault), and `power-analyzer serve` one for its driver.
`observe` is vectorised (a count per flag, the last valid total and per-channel watts); `fault`
sorts faults into stalls and errors. Counters only grow, as Prometheus counters must; the latest
readings and the last few faults are kept for people. Reads take a snapshot under the lock.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from analyzers.trace import SAMPLE_ERROR, SAMPLE_MISSED, Trace

RECENT_FAULTS = 10
STALL_WORDS = ("delivered no sample",)
"""How the recorder's watchdog words a stall (`recorder.Recorder._stall`)."""


@dataclass(frozen=True)
class LiveView:
    """One analyzer's counters at one moment."""

    samples: int
    flagged: int  # PTD -1: the meter reported an error for the sample
    lost: int  # PTD -2: the meter missed the sample
    stalls: int
    errors: int
    last_reading_ns: int | None
    watts: float | None
    channel_watts: tuple[float | None, ...]
    faults: tuple[tuple[int, str], ...]  # (wall ns, sentence), newest last


@dataclass
class LiveCounters:
    samples: int = 0
    flagged: int = 0
    lost: int = 0
    stalls: int = 0
    errors: int = 0
    last_reading_ns: int | None = None
    watts: float | None = None
    channel_watts: tuple[float | None, ...] = ()
    faults: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=RECENT_FAULTS))
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def observe(self, chunk: Trace) -> None:
        """Samples the recorder has just written."""
        if not len(chunk):
            return
        flags = chunk.flags
        valid = np.flatnonzero(chunk.valid_mask())
        channels: tuple[float | None, ...] = ()
        if chunk.channels:
            channels = tuple(_last_valid(block.watts, block.flags) for block in chunk.channels)
        with self._lock:
            self.samples += len(chunk)
            self.flagged += int(np.count_nonzero(flags == SAMPLE_ERROR))
            self.lost += int(np.count_nonzero(flags == SAMPLE_MISSED))
            if len(valid):
                last = int(valid[-1])
                self.last_reading_ns = int(chunk.time_ns[last])
                self.watts = float(chunk.watts[last])
            if channels:
                previous = (
                    self.channel_watts
                    if len(self.channel_watts) == len(channels)
                    else (None,) * len(channels)
                )
                self.channel_watts = tuple(
                    new if new is not None else old for new, old in zip(channels, previous, strict=True)
                )

    def fault(self, reason: str) -> None:
        with self._lock:
            if any(word in reason for word in STALL_WORDS):
                self.stalls += 1
            else:
                self.errors += 1
            self.faults.append((time.time_ns(), reason))

    def view(self) -> LiveView:
        with self._lock:
            return LiveView(
                samples=self.samples,
                flagged=self.flagged,
                lost=self.lost,
                stalls=self.stalls,
                errors=self.errors,
                last_reading_ns=self.last_reading_ns,
                watts=self.watts,
                channel_watts=self.channel_watts,
                faults=tuple(self.faults),
            )


def _last_valid(watts: np.ndarray, flags: np.ndarray) -> float | None:
    good = np.flatnonzero((flags == 0) & np.isfinite(watts))
    return float(watts[good[-1]]) if len(good) else None
