"""Energy per inference in GPIO-marked windows (MLPerf Tiny): from an EnergyRunner trace or a raw trace.

With timestamps t[0..2n] (t[0] marks the start), window k = 1..n spans [t[2k−1], t[2k]). In an
EnergyRunner trace that is the half-open sample range [round(t·rate), round(t·rate)) of the energy array;
in a raw V/I trace, the samples with begin ≤ t < end, each holding its V·I until the next sample.
Per inference = window energy / inferences in the window; the result is the median over the windows.

Uncertainty (standard, same unit): the meter's stated accuracy a, read as a rectangular bound and fully
correlated across samples (a gain error does not average out), gives a/√3 of the energy; each window edge
is only known to one sample, giving e_edge/√12 per edge. The median's uncertainty is that of the median
window. Without a per-sample uncertainty or a known meter accuracy it is None ("unknown").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from analyzers.trace import SAMPLE_OK, Trace
from rules.arithmetic import sequential_dot

UJ_PER_J = 1e6
SQRT3 = math.sqrt(3.0)
SQRT12 = math.sqrt(12.0)
MIN_WINDOW_S = 10.0
"""MLPerf Tiny energy mode: every measurement window lasts at least 10 s."""


@dataclass(frozen=True)
class TinyWindow:
    index: int
    begin_s: float
    end_s: float
    samples: int
    energy_uj: float
    uj_per_inference: float
    uncertainty_uj: float | None
    """Standard uncertainty of `uj_per_inference`, µJ; None when the meter accuracy is unknown."""

    def to_json(self) -> dict[str, object]:
        return {
            "window": self.index,
            "begin_s": self.begin_s,
            "end_s": self.end_s,
            "samples": self.samples,
            "energy_uj": self.energy_uj,
            "uj_per_inference": self.uj_per_inference,
            "uncertainty_uj": self.uncertainty_uj,
        }


@dataclass(frozen=True)
class TinyEnergy:
    windows: list[TinyWindow]
    median_uj: float
    uncertainty_uj: float | None
    notes: list[str] = field(default_factory=list)

    @property
    def short_windows(self) -> list[TinyWindow]:
        return [w for w in self.windows if w.end_s - w.begin_s < MIN_WINDOW_S]


def window_pairs(timestamps: np.ndarray) -> list[tuple[float, float]]:
    """[(t[2k−1], t[2k]) for k = 1..n]; raises ValueError when there is not even one window."""
    count = (len(timestamps) - 1) // 2
    if count < 1:
        raise ValueError(f"{len(timestamps)} timestamps make no window (need a start mark and a pair)")
    return [(float(timestamps[2 * k - 1]), float(timestamps[2 * k])) for k in range(1, count + 1)]


def from_energy_samples(
    energy_uj: np.ndarray,
    rate_hz: float,
    timestamps_s: np.ndarray,
    inferences_per_window: int,
    meter_accuracy: float | None,
) -> TinyEnergy:
    """Windows of an EnergyRunner energy array (µJ per sample)."""
    windows = []
    for k, (begin, end) in enumerate(window_pairs(timestamps_s), start=1):
        first, stop = round(begin * rate_hz), round(end * rate_hz)
        if not 0 <= first < stop <= len(energy_uj):
            raise ValueError(
                f"window {k} [{begin} s, {end} s) is samples [{first}, {stop}) of a {len(energy_uj)}-sample trace"
            )
        part = energy_uj[first:stop]
        impossible = np.flatnonzero(~np.isfinite(part) | (part < 0))
        if len(impossible):
            at = first + int(impossible[0])
            raise ValueError(
                f"window {k} holds {len(impossible)} energy sample(s) that are negative or not finite "
                f"(first: sample {at}, {float(energy_uj[at])!r} µJ); energy is never negative"
            )
        energy = math.fsum(part.tolist())
        meter = None if meter_accuracy is None else abs(energy) * meter_accuracy / SQRT3
        edges = math.hypot(float(part[0]), float(part[-1])) / SQRT12
        windows.append(_window(k, begin, end, len(part), energy, inferences_per_window, meter, edges))
    return _summarise(windows, [])


def from_trace(
    trace: Trace,
    event_times_ns: np.ndarray | list[int],
    inferences_per_window: int,
    meter_accuracy: float | None = None,
) -> TinyEnergy:
    """Windows of a raw current/voltage trace (e.g. an LPM01A), GPIO events as UTC epoch nanoseconds.

    Power per sample is V·I where both are present, else the trace's watts. Per-sample uncertainty comes
    from `trace.uncertainty` (relative bound) where it is known; `meter_accuracy` stands in where it is not.
    Samples flagged by the source (sentinels) contribute no energy and are counted in the notes.
    """
    events = np.asarray(event_times_ns, dtype=np.int64)
    time_ns = trace.time_ns
    if len(time_ns) < 2:
        raise ValueError("a trace needs at least two samples to integrate")
    vi = trace.volts * trace.amps
    power_w = np.where(np.isfinite(vi), vi, trace.watts)
    usable = (trace.flags == SAMPLE_OK) & np.isfinite(power_w)
    # Each sample holds until the next one; the last holds for the median period.
    dt_s = np.diff(time_ns, append=time_ns[-1] + np.int64(np.median(np.diff(time_ns)))) / 1e9
    sample_j = np.where(usable, power_w, 0.0) * dt_s
    relative = np.where(np.isfinite(trace.uncertainty), trace.uncertainty, np.nan)
    if meter_accuracy is not None:
        relative = np.where(np.isfinite(relative), relative, meter_accuracy)

    notes: list[str] = []
    windows = []
    origin = int(events[0]) if len(events) else 0
    window_pairs(events)  # validates the count
    for k in range(1, (len(events) - 1) // 2 + 1):
        begin, end = int(events[2 * k - 1]), int(events[2 * k])
        lo, hi = np.searchsorted(time_ns, [begin, end], side="left")
        if hi <= lo:
            raise ValueError(f"window {k} holds no sample of the trace")
        energy_j = math.fsum(sample_j[lo:hi].tolist())
        lost = int(np.count_nonzero(~usable[lo:hi]))
        if lost:
            notes.append(f"window {k}: {lost} flagged or empty sample(s) contribute no energy")
        part_rel = relative[lo:hi][usable[lo:hi]]
        meter = None
        if len(part_rel) and np.all(np.isfinite(part_rel)):
            meter = sequential_dot(part_rel, np.abs(sample_j[lo:hi][usable[lo:hi]])) / SQRT3 * UJ_PER_J
        edges = math.hypot(float(sample_j[lo]), float(sample_j[hi - 1])) / SQRT12 * UJ_PER_J
        windows.append(
            _window(
                k,
                (begin - origin) / 1e9,
                (end - origin) / 1e9,
                hi - lo,
                energy_j * UJ_PER_J,
                inferences_per_window,
                meter,
                edges,
            )
        )
    return _summarise(windows, notes)


def _window(
    index: int,
    begin_s: float,
    end_s: float,
    samples: int,
    energy_uj: float,
    inferences: int,
    meter_uj: float | None,
    edges_uj: float,
) -> TinyWindow:
    uncertainty = None if meter_uj is None else math.hypot(meter_uj, edges_uj) / inferences
    return TinyWindow(index, begin_s, end_s, samples, energy_uj, energy_uj / inferences, uncertainty)


def _summarise(windows: list[TinyWindow], notes: list[str]) -> TinyEnergy:
    values = np.array([w.uj_per_inference for w in windows])
    median = float(np.median(values))
    # The median is (or, for an even count, sits between) actual windows; take the nearest one's.
    nearest = windows[int(np.argmin(np.abs(values - median)))]
    return TinyEnergy(windows, median, nearest.uncertainty_uj, notes)
