"""The uncertainty of an inference power result, from what the folder records — never invented.

Standard uncertainties of the MLPerf mean power P, combined in quadrature:
- analyzer: the `Uncertainty` summary PTD gave after the testing run (`avg` = the meter's accuracy
  bound relative to the reading), taken as a rectangular bound (÷√3) and fully correlated over the
  samples, so it does not shrink with their number;
- sampling: the standard error of the mean of the samples in the window (the load's own variation
  between 1 Hz samples);
- alignment: the client–director clock-offset uncertainty moves the window edges; samples near an
  edge may fall in or out, bounded by (offset uncertainty / window) × (max − min).
Per-query energy is P × window / queries: the window comes from LoadGen's own clock (1 ms stamps),
so its share is ~1e-6 and is included for completeness. Without an analyzer figure the result's
uncertainty is unknown (None) and the known parts are given in a note.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from analyzers.ptd.client.replies import parse_uncertainty_reply
from rules.compliance.ptd import testing_uncertainty_reply
from rules.compliance.session_files import SessionRecord

_SQRT3 = math.sqrt(3.0)
_LOADGEN_STAMP_RESOLUTION_S = 0.001


@dataclass(frozen=True)
class AnalyzerAccuracy:
    relative_bound: float
    source: str


@dataclass(frozen=True)
class PowerUncertainty:
    analyzer_w: float | None
    sampling_w: float
    alignment_w: float
    window_relative: float
    basis: str

    @property
    def known_part_w(self) -> float:
        return math.hypot(self.sampling_w, self.alignment_w)

    def relative(self, power_w: float) -> float | None:
        """Relative standard uncertainty of P (and of P × window / queries, with the window's share)."""
        if self.analyzer_w is None or power_w == 0:
            return None
        power_relative = math.hypot(self.analyzer_w, self.known_part_w) / abs(power_w)
        return math.hypot(power_relative, self.window_relative)


def analyzer_accuracy(server: SessionRecord | None) -> AnalyzerAccuracy | None:
    """The `Uncertainty` reply PTD gave after the testing `Go`, from power/server.json `ptd_messages`."""
    if server is None:
        return None
    path = server.path
    try:
        reply = testing_uncertainty_reply(server)
        total = parse_uncertainty_reply(reply)[0] if reply else None
    except (ValueError, IndexError):
        return None
    if total is None or not math.isfinite(total.avg) or total.avg <= 0:
        return None
    return AnalyzerAccuracy(total.avg, f"{path}: PTD Uncertainty reply after testing: {reply}")


def power_uncertainty(
    watts_in_window: np.ndarray,
    window_s: float,
    accuracy: AnalyzerAccuracy | None,
    offset_uncertainty_s: float | None,
) -> PowerUncertainty:
    n = len(watts_in_window)
    mean = float(watts_in_window.mean()) if n else math.nan
    sampling = float(watts_in_window.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0
    spread = float(watts_in_window.max() - watts_in_window.min()) if n else 0.0
    alignment = 0.0
    if offset_uncertainty_s and window_s > 0:
        alignment = offset_uncertainty_s / window_s * spread / _SQRT3
    window_relative = (
        math.sqrt(2.0) * _LOADGEN_STAMP_RESOLUTION_S / 2 / _SQRT3 / window_s if window_s > 0 else 0.0
    )
    analyzer = accuracy.relative_bound * abs(mean) / _SQRT3 if accuracy else None
    parts = [
        f"sampling ±{sampling:.3g} W (standard error of {n} samples)",
        f"alignment ±{alignment:.3g} W",
    ]
    if accuracy:
        parts.insert(
            0, f"analyzer ±{analyzer:.3g} W ({accuracy.relative_bound:.4%} bound ÷ √3; {accuracy.source})"
        )
        basis = "uncertainty (standard): " + "; ".join(parts)
    else:
        basis = (
            "uncertainty unknown: no analyzer accuracy recorded (no PTD Uncertainty reply after testing "
            "in power/server.json); known part only: " + "; ".join(parts)
        )
    return PowerUncertainty(analyzer, sampling, alignment, window_relative, basis)
