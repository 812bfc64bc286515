"""Running measurement statistics that drivers update chunk by chunk (vectorised per chunk)."""

from __future__ import annotations

import math

import numpy as np

from analyzers.base import MeasurementStats
from analyzers.trace import Trace


class RunningStats:
    """Accumulates PTD-style `Watts` and `Uncertainty` statistics over successive trace chunks."""

    def __init__(self, uncertainty_limit: float = 0.01) -> None:
        self.uncertainty_limit = uncertainty_limit
        self.reset()

    def reset(self) -> None:
        self._samples = 0
        self._errors = 0
        self._sum_w = 0.0
        self._min_w = math.inf
        self._max_w = -math.inf
        self._unc_sum = 0.0
        self._unc_min = math.inf
        self._unc_max = -math.inf
        self._unc_known = 0
        self._unc_invalid = 0

    def add(self, chunk: Trace) -> None:
        valid = chunk.valid_mask()
        watts = chunk.watts[valid]
        self._samples += len(chunk)
        self._errors += len(chunk) - int(valid.sum())
        if len(watts):
            self._sum_w += float(watts.sum())
            self._min_w = min(self._min_w, float(watts.min()))
            self._max_w = max(self._max_w, float(watts.max()))
        unc = chunk.uncertainty[valid]
        known = unc[np.isfinite(unc)]
        if len(known):
            self._unc_known += len(known)
            self._unc_sum += float(known.sum())
            self._unc_min = min(self._unc_min, float(known.min()))
            self._unc_max = max(self._unc_max, float(known.max()))
            self._unc_invalid += int(np.count_nonzero(known > self.uncertainty_limit))

    def snapshot(self) -> MeasurementStats:
        valid = self._samples - self._errors
        nan = float("nan")
        return MeasurementStats(
            avg_power_w=self._sum_w / valid if valid else nan,
            min_power_w=self._min_w if valid else nan,
            max_power_w=self._max_w if valid else nan,
            samples=self._samples,
            errors=self._errors,
            valid=valid,
            uncertainty_avg=self._unc_sum / self._unc_known if self._unc_known else nan,
            uncertainty_min=self._unc_min if self._unc_known else nan,
            uncertainty_max=self._unc_max if self._unc_known else nan,
            uncertainty_invalid=self._unc_invalid,
            uncertainty_valid=self._unc_known - self._unc_invalid,
            uncertainty_unknown=valid - self._unc_known,
        )
