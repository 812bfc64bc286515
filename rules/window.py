"""What the samples inside a LoadGen power window say: the MLPerf mean and what a careful engineer adds.

MLPerf's number is the arithmetic mean of the samples strictly inside (power_begin, power_end) with
Watts > 0. Next to it: the energy integrated over the real sample times (trapezoid, with the window
edges interpolated), the sample count against the count expected at the nominal interval, the
longest gap, and the PTD sentinels inside the window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from analyzers.formats.units import NS_PER_S
from analyzers.physical_limits import MAX_WATTS
from analyzers.trace import SAMPLE_ERROR, SAMPLE_MISSED, SAMPLE_OK, Trace

MAX_READING_W = MAX_WATTS
"""One analyzer reading above the largest systems MLPerf Power names is damage, not load."""


@dataclass(frozen=True)
class WindowStats:
    begin_ns: int
    end_ns: int
    samples: int
    avg_power_w: float | None
    integrated_energy_j: float | None
    nominal_interval_s: float | None
    expected_samples: float | None
    longest_gap_s: float | None
    sentinel_errors: int
    sentinel_missed: int
    non_positive: int = 0
    """Readings (not sentinels) inside the window that are no power: zero, negative, infinite or above
    `MAX_READING_W`."""

    @property
    def window_s(self) -> float:
        # Integer ns first: float epoch seconds lose the digits MLPerf's published values keep.
        return (self.end_ns - self.begin_ns) / NS_PER_S

    @property
    def integrated_avg_power_w(self) -> float | None:
        if self.integrated_energy_j is None or self.window_s <= 0:
            return None
        return self.integrated_energy_j / self.window_s

    @property
    def integral_difference(self) -> float | None:
        """(time-weighted mean − MLPerf mean) / MLPerf mean."""
        integrated = self.integrated_avg_power_w
        if integrated is None or not self.avg_power_w:
            return None
        return (integrated - self.avg_power_w) / self.avg_power_w


def whole_samples_due(window_s: float, interval_ms: int) -> int:
    """The fewest samples a meter on time puts strictly inside a window: floor(window / interval), since
    its ticks fall anywhere relative to the edges (a 3.3 s window holds 3 or 4 ticks of 1 s)."""
    return math.floor(window_s / (interval_ms / 1000) + 1e-9)


def counted_watts(watts: np.ndarray) -> np.ndarray:
    """The readings MLPerf's mean counts (Watts > 0), less the impossible ones (over MAX_READING_W);
    False for NaN (a sentinel) and for infinity, too."""
    return (watts > 0) & (watts <= MAX_READING_W)


def window_stats(trace: Trace, begin_ns: int, end_ns: int) -> WindowStats:
    inside = (trace.time_ns > begin_ns) & (trace.time_ns < end_ns)
    watts = trace.watts[inside]
    # NaN (sentinel) compares False, as do the zero/negative lines MLPerf drops; an infinite reading is
    # no measurement either (it would make the mean infinite), so it is dropped too, and counted.
    counted = counted_watts(watts)
    samples = int(np.count_nonzero(counted))
    avg = float(watts[counted].mean()) if samples else None
    flags = trace.flags[inside]

    valid = trace.valid_mask() & counted_watts(trace.watts)
    valid_times = trace.time_ns[valid]
    valid_watts = trace.watts[valid]
    energy = _integrate(valid_times, valid_watts, begin_ns, end_ns)

    interval = None
    if len(valid_times) >= 2:
        interval = float(np.median(np.diff(valid_times))) / NS_PER_S
    expected = (end_ns - begin_ns) / NS_PER_S / interval if interval else None
    times_inside = trace.time_ns[inside][counted]
    edges = np.concatenate(([begin_ns], times_inside, [end_ns]))
    longest_gap = float(np.diff(edges).max()) / NS_PER_S if end_ns > begin_ns else None
    return WindowStats(
        begin_ns=begin_ns,
        end_ns=end_ns,
        samples=samples,
        avg_power_w=avg,
        integrated_energy_j=energy,
        nominal_interval_s=interval,
        expected_samples=expected,
        longest_gap_s=longest_gap,
        sentinel_errors=int(np.count_nonzero(flags == SAMPLE_ERROR)),
        sentinel_missed=int(np.count_nonzero(flags == SAMPLE_MISSED)),
        non_positive=int(np.count_nonzero((flags == SAMPLE_OK) & ((watts <= 0) | (watts > MAX_READING_W)))),
    )


def _integrate(times_ns: np.ndarray, watts: np.ndarray, begin_ns: int, end_ns: int) -> float | None:
    """Trapezoid over the real sample times, the window edges linearly interpolated from neighbours."""
    if len(times_ns) == 0 or end_ns <= begin_ns:
        return None
    inside = (times_ns > begin_ns) & (times_ns < end_ns)
    points = np.concatenate(([begin_ns], times_ns[inside], [end_ns]))
    # Relative seconds keep float64 precision (epoch ns as float would round to ~256 ns).
    relative_s = (points - begin_ns) / NS_PER_S
    sample_s = (times_ns - begin_ns) / NS_PER_S
    values = np.interp(relative_s, sample_s, watts)
    return float(np.sum((values[1:] + values[:-1]) * np.diff(relative_s)) / 2.0)
