"""Energy of one node or one switch over one training run.

Node: `A = Σ P_k (t_k − t_prev)` (backward rectangles over the readings the round's order counts, see
`integration`), scaled to the run: `E = η A TTT / (t_stop − t_start)`, i.e. the time-weighted mean
power of the measurement window times the time to train. Switch: `E = η P_est TTT`. η = `conversion_eff`
(1 when absent).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from analyzers.formats.units import NS_PER_S
from rules.arithmetic import sequential_sum
from rules.errors import InputError
from rules.training.integration import Integration, count_readings
from rules.training.mllog import MllogEvent, PowerLog


class UndefinedEnergyError(InputError):
    """The round's arithmetic gives no energy for this log (a zero window: the summarizer divides by zero)."""


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
    stated_accuracy: float | None = None
    """The relative accuracy the log states for its readings (`accuracy` in the metadata of
    `power_measurement_start`, as a joulebench export of a calibrated source writes); None: unstated."""


def node_energy(log: PowerLog, ttt_ns: int, order: Integration = Integration.MEASURED) -> NodeEnergy:
    """Energy of one node for a run lasting `ttt_ns`, the readings counted as `order` counts them.

    `InputError` when the log has no usable window; `UndefinedEnergyError` when the round's arithmetic
    has none (its division by zero)."""
    counted = count_readings(log, order)
    window_ns = counted.window_ns
    if window_ns is not None and window_ns <= 0:
        raise _no_window(log, window_ns, order)
    if len(counted.time_ns) == 0 or window_ns is None:
        if order is Integration.SORTED_WINDOW:
            raise UndefinedEnergyError(log.path, "counts no power_reading between start and stop: no energy")
        raise InputError(log.path, "has no power_reading inside its power measurement window")

    p = counted.watts
    width_s = counted.width_ns.astype(np.float64) / NS_PER_S
    # Left to right, as the summarizer's loop adds (rules/arithmetic.py says why not np.dot).
    rectangles_ws = sequential_sum(p * width_s)
    previous_p = np.concatenate(([p[0]], p[:-1]))
    trapezoid_ws = sequential_sum((p + previous_p) / 2 * width_s)
    eta = _efficiency(log, counted.efficiency_line)
    scale = eta * ttt_ns / window_ns
    return NodeEnergy(
        energy_j=rectangles_ws * scale,
        samples=len(p),
        window_s=window_ns / NS_PER_S,
        integration_diff_j=abs(rectangles_ws - trapezoid_ws) * scale,
        notes=list(log.notes) + counted.notes,
        first_reading_ns=int(counted.time_ns.min()),
        last_reading_ns=int(counted.time_ns.max()),
        stated_accuracy=stated_accuracy(log),
    )


def stated_accuracy(log: PowerLog) -> float | None:
    """The log's own statement of its readings' relative accuracy, when it makes a usable one."""
    start = log.first("power_measurement_start")
    metadata = start.metadata if start is not None else None
    value = metadata.get("accuracy") if isinstance(metadata, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and 0 <= value < 1 else None


def _no_window(log: PowerLog, window_ns: int, order: Integration) -> InputError:
    if order is not Integration.SORTED_WINDOW:
        return InputError(log.path, "power measurement window is empty (all readings at the start time)")
    if window_ns == 0:
        return UndefinedEnergyError(
            log.path,
            "power_measurement_stop carries the start's time, so the summarizer of this round (records "
            "sorted by time, integrated from start to stop) counts nothing and divides by zero: no energy",
        )
    return UndefinedEnergyError(
        log.path, "the last power_measurement_stop is before the last start: no energy"
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
    """η from the last `conversion_eff` record in the file (the reference keeps overwriting it); 1 when absent."""
    records = log.all("conversion_eff")
    return _number(records[-1], log) if records else 1.0


def _efficiency(log: PowerLog, line: int | None) -> float:
    """η from the `conversion_eff` record on `line` (the one the round's order reads last); 1 when None."""
    if line is None:
        return 1.0
    return _number(next(e for e in log.events if e.line == line), log)


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
