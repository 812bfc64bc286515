"""The energy of one source over one window [begin, end], with its uncertainty and what to watch out for.

A sample stamped t stands for the interval (t - interval, t], as PTD's and every driver's samples do,
so a window takes each sample's overlapping share (`overlap_ns`): the samples spanning the edges
count in part. Samples that are not OK (missed, error) leave a gap; so does a window end that no
sample has reached yet. A gap is filled with the window's mean power and its share goes into the
uncertainty and a warning, never silently.

Two methods, chosen per source:
- `counter`: the source has a hardware energy counter (`Trace.energy_j`, cumulative: NVML total
  energy, RAPL). Energy = the counter read at the edges (linear between readings) — exact
  integration inside, an interpolation error of up to one reading step at each edge.
- `integrated`: Σ watts × overlap, the physically integrated energy.

Uncertainty (standard, J), combined in quadrature:
- accuracy: the samples' own relative uncertainty (the meter's accuracy bound), rectangular (÷√3)
  and fully correlated: Σ u·|W|·overlap / √3. None when the source states no accuracy (NVML, RAPL):
  then the total covers only the known parts, and a warning says so;
- sampling: for integrated power, the discretisation between readings (each interval's power change
  bounds its error: ±|ΔW|·overlap/2, rectangular, independent; zero for a steady load); for a
  counter, the edge interpolation (each edge's reading step ÷ (2√3)); and the filled gaps
  (gap × the power's standard deviation);
- clock: each edge's timing uncertainty (the source's clock offset) × the mean power, both edges.

Everything is vectorised over the samples of the window; nothing loops per sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from analyzers.formats.units import NS_PER_S
from analyzers.nvml.window import window_warning
from rules.arithmetic import sequential_dot

_SQRT3 = math.sqrt(3.0)

METHOD_COUNTER = "counter"
METHOD_INTEGRATED = "integrated"


@dataclass(frozen=True)
class SourceColumns:
    """One source's samples as arrays (time order): what a window is computed from."""

    time_ns: np.ndarray
    watts: np.ndarray
    flags: np.ndarray
    uncertainty: np.ndarray
    energy_j: np.ndarray | None = None
    energy_origin_ns: int | None = None
    """When the counter read 0 (the measurement's start): the reading before the first sample."""


@dataclass(frozen=True)
class WindowEnergy:
    energy_j: float
    avg_power_w: float
    samples: int
    method: str
    accuracy_j: float | None
    sampling_j: float
    clock_j: float
    final: bool
    warnings: tuple[str, ...]

    @property
    def uncertainty_j(self) -> float:
        """The known parts combined (the accuracy too when the source states it)."""
        return math.hypot(self.accuracy_j or 0.0, self.sampling_j, self.clock_j)


def window_energy(
    columns: SourceColumns,
    interval_ns: int,
    begin_ns: int,
    end_ns: int,
    clock_uncertainty_s: float = 0.0,
    counter_update_s: float | None = None,
) -> WindowEnergy:
    """The energy of [begin_ns, end_ns] from `columns` sampled every `interval_ns`."""
    # Few numpy calls on purpose: `end_window` runs this per source and window (benchmarks/
    # bench_measure_overhead.py), and each call costs microseconds however few samples it sees.
    window_ns = max(end_ns - begin_ns, 0)
    time_ns = columns.time_ns
    first = int(time_ns.searchsorted(begin_ns, side="right"))
    stop = int(time_ns.searchsorted(end_ns + interval_ns, side="left"))
    t = time_ns[first:stop]
    watts = columns.watts[first:stop]
    # Sample k stands for (t_k - interval, t_k]: its overlap with the window, never more than the interval.
    overlap_ns = np.maximum(np.minimum(t, end_ns) - np.maximum(t - interval_ns, begin_ns), 0)
    inside = overlap_ns > 0
    ok = np.isfinite(watts)
    ok &= columns.flags[first:stop] == 0
    counted = ok & inside
    good_watts = watts[counted]
    good_overlap = overlap_ns[counted]
    covered_ns = int(_total(good_overlap))
    last_ns = int(time_ns[-1]) if len(time_ns) else None
    final = last_ns is not None and last_ns >= end_ns
    warnings: list[str] = []

    integrated_j = sequential_dot(good_watts, good_overlap) / NS_PER_S
    mean_w = integrated_j * NS_PER_S / covered_ns if covered_ns else 0.0
    gap_ns = window_ns - covered_ns
    not_arrived_ns = min(window_ns if last_ns is None else max(0, end_ns - last_ns), gap_ns)
    flagged_ns = gap_ns - not_arrived_ns
    if flagged_ns > 0:
        bad = int(_total(inside & ~ok))
        warnings.append(
            f"{bad} sample(s) in the window were missed or errors ({flagged_ns / NS_PER_S:.3g} s, "
            f"{flagged_ns / window_ns:.1%} of it): filled with the window's mean power"
        )
    if not_arrived_ns > 0:
        warnings.append(
            f"the sample spanning the window's end has not arrived: its last {not_arrived_ns / NS_PER_S:.3g} s "
            "are extrapolated at the mean power (not final)"
        )
    if 0 < window_ns < interval_ns:
        warnings.append(
            f"the window ({window_ns / NS_PER_S:.3g} s) is shorter than one sample interval "
            f"({interval_ns / NS_PER_S:g} s): its energy is the overlapping samples' share"
        )

    method = METHOD_INTEGRATED
    energy_j = integrated_j
    filled_ns = gap_ns
    counter = _counter_energy(columns, begin_ns, end_ns, warnings)
    if counter is not None:
        # The counter covers every step inside the window: nothing is left to fill.
        method, energy_j, between_j, filled_ns = METHOD_COUNTER, counter[0], counter[1], 0
        if counter_update_s:
            warning = window_warning(window_ns / NS_PER_S, counter_update_s)
            if warning:
                warnings.append(warning)
    else:
        between_j = _discretisation_j(good_watts, good_overlap)
    energy_j += mean_w * filled_ns / NS_PER_S
    if covered_ns == 0 and window_ns:
        warnings.append("no valid sample covers the window: its energy is unknown (0 J reported)")

    spread_w = float(good_watts.std(ddof=1)) if filled_ns and len(good_watts) > 1 else 0.0
    sampling_j = math.hypot(between_j, filled_ns / NS_PER_S * spread_w)
    accuracy_j = _accuracy_j(
        columns.uncertainty[first:stop][counted], good_watts, good_overlap, gap_ns, energy_j
    )
    if accuracy_j is None:
        warnings.append("the source states no accuracy: the uncertainty covers sampling and clock only")
    power_w = energy_j * NS_PER_S / window_ns if window_ns else math.nan
    clock_j = abs(power_w) * clock_uncertainty_s * math.sqrt(2.0) if window_ns else 0.0
    return WindowEnergy(
        energy_j=energy_j,
        avg_power_w=power_w,
        samples=len(good_watts),
        method=method,
        accuracy_j=accuracy_j,
        sampling_j=sampling_j,
        clock_j=clock_j,
        final=final,
        warnings=tuple(warnings),
    )


def _counter_energy(
    columns: SourceColumns, begin_ns: int, end_ns: int, warnings: list[str]
) -> tuple[float, float] | None:
    """(energy between the edges from the counter, edge interpolation uncertainty), or None when
    the counter does not bracket the window or went backwards inside it."""
    if columns.energy_j is None:
        return None
    # Only readings around the window matter: one before it, those inside, one after it.
    first = max(int(np.searchsorted(columns.time_ns, begin_ns, side="left")) - 1, 0)
    stop = int(np.searchsorted(columns.time_ns, end_ns, side="right")) + 1
    t = columns.time_ns[first:stop]
    energy = columns.energy_j[first:stop]
    known = np.isfinite(energy)
    if not known.all():
        # A missing reading's step holds energy the counter did not count for some channels only
        # (a reset GPU): the counter cannot say how much, the per-sample power can.
        warnings.append(
            "an energy-counter reading in the window is missing (a reset or a lost device): "
            "the integrated power is used instead"
        )
        return None
    origin = columns.energy_origin_ns
    if origin is not None and first == 0 and (not len(t) or origin < t[0]):
        t, energy = np.concatenate(([origin], t)), np.concatenate(([0.0], energy))
    if len(t) < 2 or t[0] > begin_ns or t[-1] < end_ns:
        return None
    if bool((np.diff(energy) < 0).any()):
        warnings.append(
            "the energy counter went backwards in the window (a reset or wrap the driver could not "
            "resolve): the integrated power is used instead"
        )
        return None
    at_edges = np.interp([begin_ns, end_ns], t, energy)
    steps = np.diff(energy)
    edge_steps = steps[np.clip(np.searchsorted(t, [begin_ns, end_ns], side="right") - 1, 0, len(steps) - 1)]
    edge_j = float(math.hypot(*(edge_steps / (2 * _SQRT3))))
    return float(at_edges[1] - at_edges[0]), edge_j


def _discretisation_j(watts: np.ndarray, overlap_ns: np.ndarray) -> float:
    """How far Σ W × overlap can be from the true integral when power moves between readings: each
    interval's change bounds its error (±|ΔW|·overlap/2, rectangular), independent between intervals.
    Zero for a steady load; one step's worth where the load steps."""
    if len(watts) < 2:
        return 0.0
    half_widths = np.abs(np.diff(watts)) * overlap_ns[1:] / 2 / NS_PER_S
    return float(np.sqrt((half_widths**2).sum())) / _SQRT3


def _accuracy_j(
    relative: np.ndarray, watts: np.ndarray, overlap_ns: np.ndarray, gap_ns: int, energy_j: float
) -> float | None:
    """The samples' stated accuracy over the window (None when any counted sample states none)."""
    if not len(relative) or not _all_finite(relative):
        return None
    magnitudes = np.abs(watts)
    bound_j = sequential_dot(relative * magnitudes, overlap_ns) / NS_PER_S
    covered_j = sequential_dot(magnitudes, overlap_ns) / NS_PER_S
    if gap_ns and covered_j:
        bound_j *= abs(energy_j) / covered_j  # the filled gap carries the same relative bound
    return bound_j / _SQRT3


# A numpy reduction costs microseconds whatever its length; the few samples of a short window are
# summed in Python instead (same order every time, so the live monitor and power-check agree).
_SMALL = 32


def _total(values: np.ndarray) -> float:
    return sum(values.tolist()) if len(values) <= _SMALL else values.sum()


def _all_finite(values: np.ndarray) -> bool:
    if len(values) <= _SMALL:
        return all(math.isfinite(v) for v in values.tolist())
    return bool(np.isfinite(values).all())
