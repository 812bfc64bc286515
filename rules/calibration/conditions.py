"""Load conditions, their timed windows, and the Olympic score of each meter in them.

The rule (mlcommons/training_policies `power_measurement.adoc`, "Target 5% Accuracy") asks for
"Olympic scoring of the two meters, for 5 un-overlapped timed durations of 1 minute each" per load
condition. It leaves open where in the condition the windows lie and what is scored. Our reading,
stated in every certificate: the windows are back to back and centred in the condition (away from a
workload's start-up and its tail); each meter's score is the mean of its window averages after
dropping the highest and the lowest window; the candidate passes a condition when its score is
within the tolerance of the reference's, relative to the reference's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analyzers.formats.units import NS_PER_S
from analyzers.trace import SAMPLE_OK, Trace

RULE_READING = (
    "Per load condition: the timed windows lie back to back, centred in the condition; each meter's "
    "average power in each window integrates its samples (each sample counts for the part of its "
    "interval inside the window); each meter's Olympic score drops its highest and its lowest window "
    "and averages the rest; the candidate passes a condition when |candidate score - reference score| "
    "is at most the tolerance times the reference score, and passes the calibration when it passes "
    "every condition."
)


class ConditionTooShort(ValueError):
    """A condition shorter than its windows; the message is one sentence with the figures."""


@dataclass(frozen=True)
class Condition:
    """One load condition: its name ("idle", or the load's command) and when it ran (UTC ns)."""

    name: str
    begin_ns: int
    end_ns: int

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.begin_ns) / NS_PER_S

    def windows(self, count: int, window_s: float) -> list[tuple[int, int]]:
        """`count` back-to-back windows of `window_s`, centred in the condition."""
        window_ns = round(window_s * NS_PER_S)
        spare_ns = self.end_ns - self.begin_ns - count * window_ns
        if spare_ns < 0:
            raise ConditionTooShort(
                f"condition {self.name!r} lasted {self.duration_s:.1f} s, shorter than its "
                f"{count} windows of {window_s:g} s ({count * window_s:g} s)"
            )
        first = self.begin_ns + spare_ns // 2
        return [(first + i * window_ns, first + (i + 1) * window_ns) for i in range(count)]


def sample_intervals_ns(time_ns: np.ndarray) -> np.ndarray:
    """The interval each sample stands for (it ends at its timestamp): the step from the previous
    sample; the first sample gets the median step."""
    if len(time_ns) < 2:
        return np.ones(len(time_ns), dtype=np.int64)
    steps = np.diff(time_ns)
    return np.concatenate(([int(np.median(steps))], steps)).astype(np.int64)


def window_averages(trace: Trace, windows: list[tuple[int, int]]) -> np.ndarray:
    """Average power (W) of `trace` over each window; NaN where no good sample covers it."""
    good = (trace.flags == SAMPLE_OK) & np.isfinite(trace.watts)
    t = trace.time_ns[good]
    w = trace.watts[good]
    interval = sample_intervals_ns(trace.time_ns)[good]
    averages = np.full(len(windows), np.nan)
    for k, (begin, end) in enumerate(windows):
        first = int(np.searchsorted(t, begin, side="right"))
        stop = int(np.searchsorted(t - interval, end, side="left"))
        if stop <= first:
            continue
        ts, ws, starts = t[first:stop], w[first:stop], (t - interval)[first:stop]
        overlap = (np.minimum(ts, end) - np.maximum(starts, begin)).clip(0).astype(np.float64)
        covered = overlap.sum()
        if covered >= 0.5 * (end - begin):  # less than half the window seen: no average to give
            averages[k] = float(np.dot(ws, overlap) / covered)
    return averages


def olympic_score(averages: np.ndarray) -> float:
    """Mean of the window averages after dropping the highest and the lowest (plain mean under 3)."""
    values = np.sort(averages[np.isfinite(averages)])
    if len(values) != len(averages) or not len(values):
        return float("nan")
    return float(values[1:-1].mean()) if len(values) >= 3 else float(values.mean())
