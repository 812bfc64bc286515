"""Standard uncertainty of a training energy: timing, sampling, and the meter when its accuracy is known.

Stated accuracies and bounds (`±a`) are read as rectangular distributions, standard uncertainty a/√3;
integer-millisecond timestamps as a 1 ms quantisation, 1/√12 ms each. Components that are independent
between runs (timing, sampling) shrink in the Olympic mean; the meter's gain error does not, because
one meter measures every run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MS_QUANTUM_S = 1e-3
SQRT3 = math.sqrt(3.0)


@dataclass(frozen=True)
class RunUncertainty:
    """Independent per-run components, in joules."""

    timing_j: float
    sampling_j: float

    @property
    def total_j(self) -> float:
        return math.hypot(self.timing_j, self.sampling_j)


def run_uncertainty(
    energy_j: float, ttt_s: float, window_s: float, integration_diff_j: float
) -> RunUncertainty:
    """`window_s` is the shortest node window (the largest relative timing error); each of TTT and the
    window has two millisecond-quantised ends."""
    per_end = MS_QUANTUM_S / math.sqrt(12.0)
    relative = math.hypot(math.sqrt(2) * per_end / ttt_s, math.sqrt(2) * per_end / window_s)
    return RunUncertainty(timing_j=abs(energy_j) * relative, sampling_j=integration_diff_j / SQRT3)


def score_uncertainty(
    mean_j: float, kept: list[RunUncertainty], scaling: float, meter_accuracy: float | None
) -> tuple[float | None, float]:
    """(total or None when the meter part is unknown, the known independent part), both in joules."""
    independent = math.sqrt(math.fsum(u.total_j**2 for u in kept)) / len(kept) * scaling
    if meter_accuracy is None:
        return None, independent
    meter = abs(mean_j) * scaling * meter_accuracy / SQRT3
    return math.hypot(meter, independent), independent
