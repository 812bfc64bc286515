"""Energy per phase and per operator: a profiler trace laid over a power trace on one clock.

Three answers, each with the model it rests on:

- **Steps and phases** are windows. `ProfilerStep#N` events are steps; `record_function` ranges
  (category `user_annotation`) and the power folder's own windows are phases, grouped by name.
  A phase's energy is the sum of its occurrences' window energies (`window_energy`: each sample's
  overlapping share), so nested phases overlap and do not add up to the step.
- **Operators** share each power sample by time. Top-level operators (`cpu_op`, GPU `kernel`; an
  operator inside another on the same thread is its parent's) overlapping a sample get its energy in
  proportion to their time in it; concurrent operators on other threads or streams each count their
  own time; the sample's time no operator covers goes to `(no operator)`. Limits, stated in the
  output: idle power is shared out with the work (nothing says an operator draws more than another
  running as long), and a sample is the meter's average over its interval, so an operator much
  shorter than the interval gets the interval's mean power, not its own.
- **Short operators** are fitted instead: over many steps, step energy = Σ P_op × (op's time in the
  step) + P_idle × (time no operator runs). Least squares gives each operator's power while it runs
  with a 95 % interval; operators whose times move together from step to step cannot be told apart,
  and are reported together with a note saying so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analyzers.formats.units import NS_PER_S
from rules.measure.chrome_trace import ProfileEvents
from rules.measure.energy import window_energy
from rules.measure.intervals import sample_overlaps, union_of
from rules.measure.windows import SourceSamples

STEP_PREFIX = "ProfilerStep#"
PHASE_CATEGORIES = ("user_annotation",)
OPERATOR_CATEGORIES = ("cpu_op", "kernel", "gpu_op")
NO_OPERATOR = "(no operator)"
OTHER_OPERATORS = "(other operators)"
_GROUPS = (
    ("data loading", ("dataloader", "data_load", "data loading", "_next_data", "collate")),
    ("optimizer", ("optimizer", "optim.", ".step", "zero_grad")),
    ("backward", ("backward",)),
    ("forward", ("forward",)),
)
_SEPARABLE_CORRELATION = 0.98
# Two-sided 95 % quantiles of Student's t for 1..30 degrees of freedom; beyond 30, 1.96.
# fmt: off
_T95 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)
# fmt: on


@dataclass(frozen=True)
class EnergyShare:
    name: str
    energy_j: float
    share: float  # of the attributed total
    time_s: float  # summed duration (a phase's occurrences, an operator's calls)
    calls: int
    group: str = ""  # data loading / forward / backward / optimizer, where the name says
    ci95_j: float | None = None  # the fitted energy's 95 % half width (short operators)

    @property
    def avg_power_w(self) -> float:
        return self.energy_j / self.time_s if self.time_s else math.nan

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "energy_j": self.energy_j,
            "share": self.share,
            "time_s": self.time_s,
            "avg_power_w": self.avg_power_w if self.time_s else None,
            "calls": self.calls,
            "group": self.group or None,
            "ci95_j": self.ci95_j,
        }


@dataclass(frozen=True)
class StepEnergy:
    name: str
    begin_ns: int
    end_ns: int
    energy_j: float

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "begin_ns": self.begin_ns,
            "end_ns": self.end_ns,
            "energy_j": self.energy_j,
        }


@dataclass(frozen=True)
class Attribution:
    source: str
    clock: str
    interval_s: float
    steps: tuple[StepEnergy, ...]
    phases: tuple[EnergyShare, ...]
    operators: tuple[EnergyShare, ...]
    fitted: tuple[EnergyShare, ...]
    idle_power_w: float | None  # fitted: the power while no operator runs
    idle_ci95_w: float | None
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "clock": self.clock,
            "interval_s": self.interval_s,
            "steps": [s.to_json() for s in self.steps],
            "phases": [p.to_json() for p in self.phases],
            "operators": [o.to_json() for o in self.operators],
            "fitted_operators": [o.to_json() for o in self.fitted],
            "fitted_idle_power_w": self.idle_power_w,
            "fitted_idle_ci95_w": self.idle_ci95_w,
            "notes": list(self.notes),
        }


def attribute(
    events: ProfileEvents,
    samples: SourceSamples,
    windows: Sequence[tuple[str, int, int]] = (),
) -> Attribution:
    """Attribute `samples`' energy to `events` (and to extra phase `windows`: name, begin, end)."""
    notes: list[str] = [f"profile clock: {events.clock}"]
    steps_index = events.named(lambda name: name.startswith(STEP_PREFIX))
    steps = tuple(
        StepEnergy(
            events.names[events.name_codes[i]],
            int(events.start_ns[i]),
            int(events.end_ns[i]),
            _window_j(samples, int(events.start_ns[i]), int(events.end_ns[i])),
        )
        for i in steps_index
    )
    phases = _phases(events, samples, windows)
    top = _top_level(events)
    operators = _operators(events, top, samples, notes)
    fitted, idle = _fit_short_operators(events, top, samples, steps, notes)
    return Attribution(
        source=samples.label,
        clock=events.clock,
        interval_s=samples.interval_ns / NS_PER_S,
        steps=steps,
        phases=phases,
        operators=operators,
        fitted=fitted,
        idle_power_w=None if idle is None else idle[0],
        idle_ci95_w=None if idle is None else idle[1],
        notes=tuple(notes),
    )


def group_of(name: str) -> str:
    lowered = name.lower()
    return next((group for group, words in _GROUPS if any(word in lowered for word in words)), "")


def _window_j(samples: SourceSamples, begin_ns: int, end_ns: int) -> float:
    shift = samples.shift_ns
    return window_energy(samples.total, samples.interval_ns, begin_ns + shift, end_ns + shift).energy_j


def _phases(
    events: ProfileEvents, samples: SourceSamples, windows: Sequence[tuple[str, int, int]]
) -> tuple[EnergyShare, ...]:
    chosen = [
        i
        for i in events.in_category(*PHASE_CATEGORIES)
        if not events.names[events.name_codes[i]].startswith(STEP_PREFIX)
    ]
    occurrences = [
        (events.names[events.name_codes[i]], int(events.start_ns[i]), int(events.end_ns[i])) for i in chosen
    ]
    occurrences += list(windows)
    totals: dict[str, list[float]] = {}
    for name, begin, end in occurrences:
        entry = totals.setdefault(name, [0.0, 0.0, 0])
        entry[0] += _window_j(samples, begin, end)
        entry[1] += (end - begin) / NS_PER_S
        entry[2] += 1
    whole = sum(entry[0] for entry in totals.values()) or 1.0
    shares = [
        EnergyShare(name, energy, energy / whole, time_s, int(calls), group_of(name))
        for name, (energy, time_s, calls) in totals.items()
    ]
    return tuple(sorted(shares, key=lambda s: -s.energy_j))


def _top_level(events: ProfileEvents) -> np.ndarray:
    """Operator events not inside another operator on the same thread (their parent holds their time)."""
    operators = events.in_category(*OPERATOR_CATEGORIES)
    keep = []
    for thread in np.unique(events.threads[operators]):
        mine = operators[events.threads[operators] == thread]  # already sorted by start
        ends = events.end_ns[mine]
        before = np.concatenate(([np.iinfo(np.int64).min], np.maximum.accumulate(ends)[:-1]))
        keep.append(mine[events.start_ns[mine] >= before])
    return np.sort(np.concatenate(keep)) if keep else np.empty(0, dtype=np.int64)


def _operators(
    events: ProfileEvents, top: np.ndarray, samples: SourceSamples, notes: list[str]
) -> tuple[EnergyShare, ...]:
    if not len(top):
        notes.append("the profile has no operator events (cpu_op, kernel): no operator attribution")
        return ()
    shift, interval = samples.shift_ns, samples.interval_ns
    begin, end = events.start_ns[top] + shift, events.end_ns[top] + shift
    t = samples.total.time_ns
    valid = (samples.total.flags == 0) & np.isfinite(samples.total.watts)
    sample_j = np.where(valid, samples.total.watts, 0.0) * interval / NS_PER_S
    span_first = int(np.searchsorted(t, begin.min(), side="right"))
    span_last = int(np.searchsorted(t, end.max() + interval, side="left"))
    if span_last <= span_first:
        notes.append("no power sample covers the profiled operators: check the clocks")
        return ()
    ranges, sample, overlap = sample_overlaps(t, interval, begin, end)
    union_begin, union_end = union_of(begin, end)
    _, union_sample, union_overlap = sample_overlaps(t, interval, union_begin, union_end)
    size = len(t)
    busy = np.bincount(sample, weights=overlap, minlength=size)
    covered = np.bincount(union_sample, weights=union_overlap, minlength=size)
    in_span = np.zeros(size, dtype=bool)
    in_span[span_first:span_last] = True
    idle = np.where(in_span, interval - covered, 0.0)
    denominator = busy + idle
    with np.errstate(divide="ignore", invalid="ignore"):
        per_ns = np.where(denominator > 0, sample_j / denominator, 0.0)
    codes = events.name_codes[top]
    energy = np.bincount(codes[ranges], weights=per_ns[sample] * overlap, minlength=len(events.names))
    time_s = np.bincount(codes, weights=(end - begin) / NS_PER_S, minlength=len(events.names))
    calls = np.bincount(codes, minlength=len(events.names))
    idle_j = float((per_ns * idle).sum())
    flagged = int((~valid[span_first:span_last]).sum())
    if flagged:
        notes.append(
            f"{flagged} power sample(s) under the profile were missed or errors: their energy is not shared out"
        )
    total = float(energy.sum()) + idle_j or 1.0
    shares = [
        EnergyShare(
            name, float(energy[c]), float(energy[c]) / total, float(time_s[c]), int(calls[c]), group_of(name)
        )
        for c, name in enumerate(events.names)
        if calls[c]
    ]
    idle_time = float(idle.sum()) / NS_PER_S
    shares.append(EnergyShare(NO_OPERATOR, idle_j, idle_j / total, idle_time, 0))
    notes.append(
        "operators share each sample by time: idle power is shared with the work, and an operator much "
        f"shorter than the {interval / NS_PER_S:g} s interval gets the interval's mean power (see fitted_operators)"
    )
    return tuple(sorted(shares, key=lambda s: -s.energy_j))


def _fit_short_operators(
    events: ProfileEvents,
    top: np.ndarray,
    samples: SourceSamples,
    steps: Sequence[StepEnergy],
    notes: list[str],
    columns: int = 6,
) -> tuple[tuple[EnergyShare, ...], tuple[float, float] | None]:
    if len(steps) < 8 or not len(top):
        notes.append(f"{len(steps)} step(s): too few to fit operator powers (at least 8)")
        return (), None
    codes = events.name_codes[top]
    begin, end = events.start_ns[top], events.end_ns[top]
    total_time = np.bincount(codes, weights=(end - begin).astype(float), minlength=len(events.names))
    n_steps = len(steps)
    # The operators with the most time get a column each (no more than the steps can carry); the rest one.
    keep = min(columns, max(1, n_steps // 4))
    ranked = [int(c) for c in np.argsort(-total_time) if total_time[c] > 0]
    named, rest = ranked[:keep], set(ranked[keep:])
    design = np.zeros((n_steps, len(named) + (1 if rest else 0) + 1))
    energy = np.zeros(n_steps)
    for k, step in enumerate(steps):
        clipped = np.clip(np.minimum(end, step.end_ns) - np.maximum(begin, step.begin_ns), 0, None) / NS_PER_S
        per_name = np.bincount(codes, weights=clipped, minlength=len(events.names))
        design[k, : len(named)] = per_name[named]
        if rest:
            design[k, len(named)] = per_name[list(rest)].sum()
        inside = (begin < step.end_ns) & (end > step.begin_ns)
        union_begin, union_end = union_of(
            np.maximum(begin[inside], step.begin_ns), np.minimum(end[inside], step.end_ns)
        )
        design[k, -1] = (step.end_ns - step.begin_ns) / NS_PER_S - float(
            (union_end - union_begin).sum()
        ) / NS_PER_S
        energy[k] = step.energy_j
    labels = [events.names[c] for c in named] + ([OTHER_OPERATORS] if rest else []) + ["(idle)"]
    labels, design = _merge_inseparable(labels, design, notes)
    dof = n_steps - design.shape[1]
    if dof < 2:
        notes.append("too few steps for the operators to fit: no fitted powers")
        return (), None
    powers, _, rank, _ = np.linalg.lstsq(design, energy, rcond=None)
    if rank < design.shape[1]:
        notes.append(
            "the steps cannot separate the operators' powers (a rank-deficient fit): no fitted powers"
        )
        return (), None
    residual = energy - design @ powers
    variance = float(residual @ residual) / dof
    covariance = variance * np.linalg.inv(design.T @ design)
    quantile = _T95[dof - 1] if dof <= len(_T95) else 1.96
    half_width_w = quantile * np.sqrt(np.diag(covariance))
    totals_s = design.sum(axis=0)
    fitted = []
    for index, label in enumerate(labels[:-1]):
        energy_j = float(powers[index] * totals_s[index])
        fitted.append(
            EnergyShare(
                label,
                energy_j,
                math.nan,
                float(totals_s[index]),
                0,
                group_of(label),
                float(half_width_w[index] * totals_s[index]),
            )
        )
    whole = sum(f.energy_j for f in fitted) or 1.0
    fitted = [
        EnergyShare(f.name, f.energy_j, f.energy_j / whole, f.time_s, f.calls, f.group, f.ci95_j)
        for f in fitted
    ]
    notes.append(
        f"fitted over {n_steps} steps: step energy = Σ P_op × op time + P_idle × idle time "
        f"(95 % intervals, t with {dof} degrees of freedom)"
    )
    return tuple(sorted(fitted, key=lambda s: -s.energy_j)), (float(powers[-1]), float(half_width_w[-1]))


def _merge_inseparable(
    labels: list[str], design: np.ndarray, notes: list[str]
) -> tuple[list[str], np.ndarray]:
    """Operator columns whose times move together step by step become one column, with a note."""
    operators = [design[:, i] for i in range(design.shape[1] - 1)]
    names = labels[:-1]
    while True:
        pair = _inseparable_pair(operators)
        if pair is None:
            break
        a, b = pair
        notes.append(
            f"the steps cannot separate {names[a]!r} from {names[b]!r} (their times move together): reported as one"
        )
        operators[a] = operators[a] + operators[b]
        names[a] = f"{names[a]} + {names[b]}"
        del operators[b], names[b]
    return [*names, labels[-1]], np.column_stack([*operators, design[:, -1]])


def _inseparable_pair(columns: list[np.ndarray]) -> tuple[int, int] | None:
    spread = [float(column.std()) for column in columns]
    for a in range(len(columns)):
        for b in range(a + 1, len(columns)):
            if spread[a] == 0 or spread[b] == 0:
                if spread[a] == 0 and spread[b] == 0:
                    return a, b
                continue
            if abs(float(np.corrcoef(columns[a], columns[b])[0, 1])) > _SEPARABLE_CORRELATION:
                return a, b
    return None
