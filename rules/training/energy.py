"""Energy of one node or one switch over one training run (MLPerf Training v4.0 summarizer semantics).

Node: `A = Σ P_k (t_k − t_(k−1))` from `t_0 = power_measurement_start` (backward rectangles), scaled to the
run: `E = η A TTT / (t_stop − t_start)` — i.e. the time-weighted mean power of the measurement window times
the time to train. Switch: `E = η P_est TTT`. η = `conversion_eff` (1 when absent).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from rules.errors import InputError
from rules.training.mllog import MllogEvent, PowerLog

NS_PER_S = 1_000_000_000


@dataclass(frozen=True)
class NodeEnergy:
    """One node's (or switch's) share of a run, in joules, with what the uncertainty needs."""

    energy_j: float
    samples: int
    window_s: float
    integration_diff_j: float
    """|backward rectangles − trapezoid| scaled like the energy: how much the 1/rate sampling can move it."""
    notes: list[str] = field(default_factory=list)
    first_reading_ns: int | None = None
    last_reading_ns: int | None = None


def node_energy(log: PowerLog, ttt_ns: int) -> NodeEnergy:
    """Energy of one node for a run lasting `ttt_ns`; `InputError` when the log has no usable window."""
    notes = list(log.notes)
    starts = log.all("power_measurement_start")
    if not starts:
        raise InputError(log.path, "has no power_measurement_start record")
    # Several start/stop pairs at one instant appear in real logs; the earliest start and latest stop
    # bound the measurement.
    start_ns = min(e.time_ns for e in starts)
    stops = [e.time_ns for e in log.all("power_measurement_stop")]
    stop_marker_ns = max(stops) if stops else None

    time_ns, watts = log.reading_time_ns, log.reading_watts
    after_start = time_ns >= start_ns
    real_stop = stop_marker_ns is not None and stop_marker_ns > start_ns
    inside = after_start
    if real_stop and stop_marker_ns is not None:
        inside = after_start & (time_ns <= stop_marker_ns)
    t = time_ns[inside]
    p = watts[inside]
    if len(t) == 0:
        raise InputError(log.path, "has no power_reading inside its power measurement window")
    if not np.all(np.isfinite(p)):
        bad = int(log.reading_line[inside][~np.isfinite(p)][0])
        raise InputError(log.path, "power_reading is not a finite number", line=bad)

    # The stop marker can carry the start time (seen in real SMC logs) or be missing: the window then
    # ends at the last reading, as the reference summarizer's fallback does.
    stop_ns = max(stop_marker_ns if real_stop and stop_marker_ns is not None else start_ns, int(t[-1]))
    if not real_stop:
        reason = "missing" if stop_marker_ns is None else "not after the start"
        notes.append(f"power_measurement_stop {reason}; the window ends at the last reading")
    window_ns = stop_ns - start_ns
    if window_ns <= 0:
        raise InputError(log.path, "power measurement window is empty (all readings at the start time)")

    dt_s = np.diff(t, prepend=np.int64(start_ns)).astype(np.float64) / NS_PER_S
    rectangles_ws = float(np.dot(p, dt_s))
    previous_p = np.concatenate(([p[0]], p[:-1]))
    trapezoid_ws = float(np.dot((p + previous_p) / 2, dt_s))
    eta = conversion_efficiency(log)
    scale = eta * ttt_ns / window_ns
    return NodeEnergy(
        energy_j=rectangles_ws * scale,
        samples=len(t),
        window_s=window_ns / NS_PER_S,
        integration_diff_j=abs(rectangles_ws - trapezoid_ws) * scale,
        notes=notes,
        first_reading_ns=int(t[0]),
        last_reading_ns=int(t[-1]),
    )


def switch_energy(log: PowerLog, ttt_ns: int) -> NodeEnergy:
    """Energy of one switch: its first `interconnect_power_est` (W) times the time to train."""
    estimate = log.first("interconnect_power_est")
    if estimate is None:
        raise InputError(log.path, "has no interconnect_power_est record")
    watts = _number(estimate, log)
    eta = conversion_efficiency(log)
    return NodeEnergy(
        energy_j=eta * watts * ttt_ns / NS_PER_S,
        samples=1,
        window_s=ttt_ns / NS_PER_S,
        integration_diff_j=0.0,
        notes=list(log.notes),
    )


def conversion_efficiency(log: PowerLog) -> float:
    """η from the last `conversion_eff` record (the reference keeps overwriting it); 1 when absent."""
    records = log.all("conversion_eff")
    return _number(records[-1], log) if records else 1.0


def _number(event: MllogEvent, log: PowerLog) -> float:
    value = event.value
    if isinstance(value, dict):
        value = value.get("value")
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            value = None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(log.path, f"{event.key} value {event.value!r} is not a number", line=event.line)
    return float(value)
