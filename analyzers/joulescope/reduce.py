"""Full-rate Joulescope samples reduced to one statistics row per measurement interval (vectorised).

The stream arrives in blocks of any length (float32 current, voltage and power, u8 general-purpose
input bits, by sample id). `IntervalReducer` carries what does not fill an interval over to the next
block, and returns per whole interval: the mean, minimum and maximum of current, voltage and power,
the interval's charge and energy (Σ x / fs, the same sums the instrument's accumulators add), how
many of its samples were missing (NaN: the instrument marks samples it lost that way), and the
input edges with their sample ids. A missing stretch's energy is estimated from the interval's
present samples (their mean × the whole interval); an interval with fewer than half its samples
is not `usable` (the driver makes it a missed sample, with no energy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analyzers.trace import MIN_PRESENT_FRACTION

EDGES = ("rising", "falling", "both")


@dataclass(frozen=True)
class IntervalRows:
    """Whole intervals reduced; every array has one entry per interval."""

    end_sample_id: np.ndarray  # int64, exclusive end of each interval
    mean: dict[str, np.ndarray]  # "current", "voltage", "power" -> float64 (NaN when all missing)
    minimum: dict[str, np.ndarray]
    maximum: dict[str, np.ndarray]
    charge_c: np.ndarray
    energy_j: np.ndarray
    missing: np.ndarray  # int64 samples lost in each interval
    usable: np.ndarray  # bool: enough samples arrived for the interval to stand (MIN_PRESENT_FRACTION)
    edge_sample_ids: np.ndarray  # int64, first sample after each input edge (in these intervals' span)
    edge_kinds: list[str]

    def __len__(self) -> int:
        return len(self.end_sample_id)


SIGNALS = ("current", "voltage", "power")


class IntervalReducer:
    def __init__(self, samples_per_interval: int, frequency_hz: float, edge: str = "falling") -> None:
        if samples_per_interval < 1:
            raise ValueError("an interval holds at least one sample")
        if edge not in EDGES:
            raise ValueError(f"edge must be one of {', '.join(EDGES)}, got {edge!r}")
        self.samples_per_interval = samples_per_interval
        self.frequency_hz = frequency_hz
        self.edge = edge
        self.next_sample_id: int | None = None  # the id the carried-over samples continue from
        self._carry: dict[str, np.ndarray] = {name: np.empty(0, np.float64) for name in SIGNALS}
        self._carry_start: int | None = None
        self._last_bit: int | None = None
        self._pending_edges: list[tuple[int, str]] = []
        self.full_rate_samples = 0
        self.missing_samples = 0

    def add(
        self, start_sample_id: int, signals: dict[str, np.ndarray], gpi: np.ndarray | None = None
    ) -> IntervalRows:
        """A block of samples from `start_sample_id` on; a jump past the expected id is a gap of
        missing samples (the instrument's buffer overran), filled as NaN."""
        length = len(signals["current"])
        if self.next_sample_id is not None and start_sample_id > self.next_sample_id:
            gap = start_sample_id - self.next_sample_id
            signals = {n: np.concatenate((np.full(gap, np.nan), signals[n])) for n in SIGNALS}
            if gpi is not None:
                held = self._last_bit if self._last_bit is not None else int(gpi[0]) if len(gpi) else 0
                gpi = np.concatenate((np.full(gap, held, dtype=np.uint8), gpi))
            start_sample_id, length = self.next_sample_id, length + gap
        elif self.next_sample_id is not None and start_sample_id < self.next_sample_id:
            skip = self.next_sample_id - start_sample_id  # an overlap: samples already counted
            signals = {n: signals[n][skip:] for n in SIGNALS}
            gpi = gpi[skip:] if gpi is not None else None
            start_sample_id, length = self.next_sample_id, max(0, length - skip)
        if self._carry_start is None:
            self._carry_start = start_sample_id
        self.next_sample_id = start_sample_id + length
        self.full_rate_samples += length
        if gpi is not None and length:
            self._find_edges(start_sample_id, gpi)
        joined = {n: np.concatenate((self._carry[n], np.asarray(signals[n], np.float64))) for n in SIGNALS}
        k = self.samples_per_interval
        whole = len(joined["current"]) // k
        first = self._carry_start
        self._carry = {n: joined[n][whole * k :] for n in SIGNALS}
        self._carry_start = first + whole * k
        return self._rows(first, whole, {n: joined[n][: whole * k].reshape(whole, k) for n in SIGNALS})

    def _find_edges(self, start_sample_id: int, gpi: np.ndarray) -> None:
        bits = np.asarray(gpi, dtype=np.int8) & 1
        previous = np.concatenate(([self._last_bit if self._last_bit is not None else bits[0]], bits[:-1]))
        step = bits - previous
        wanted = {"rising": step > 0, "falling": step < 0, "both": step != 0}[self.edge]
        for index in np.flatnonzero(wanted).tolist():
            self._pending_edges.append((start_sample_id + index, "rising" if step[index] > 0 else "falling"))
        self._last_bit = int(bits[-1])

    def _rows(self, first: int, whole: int, blocks: dict[str, np.ndarray]) -> IntervalRows:
        k = self.samples_per_interval
        ends = first + k * np.arange(1, whole + 1, dtype=np.int64)
        present = (
            np.isfinite(blocks["current"]) & np.isfinite(blocks["voltage"]) & np.isfinite(blocks["power"])
        )
        count = present.sum(axis=1)
        missing = (k - count).astype(np.int64)
        self.missing_samples += int(missing.sum())
        mean, minimum, maximum = {}, {}, {}
        with np.errstate(invalid="ignore", divide="ignore"):
            for name, block in blocks.items():
                kept = np.where(present, block, 0.0)
                mean[name] = np.where(count > 0, kept.sum(axis=1) / np.maximum(count, 1), np.nan)
                minimum[name] = np.where(
                    count > 0, np.where(present, block, np.inf).min(axis=1, initial=np.inf), np.nan
                )
                maximum[name] = np.where(
                    count > 0, np.where(present, block, -np.inf).max(axis=1, initial=-np.inf), np.nan
                )
        seconds = k / self.frequency_hz
        usable = count >= MIN_PRESENT_FRACTION * k
        charge = np.where(usable, mean["current"] * seconds, 0.0)
        energy = np.where(usable, mean["power"] * seconds, 0.0)
        limit = int(ends[-1]) if whole else first
        ready = [e for e in self._pending_edges if e[0] < limit]
        self._pending_edges = [e for e in self._pending_edges if e[0] >= limit]
        return IntervalRows(
            end_sample_id=ends,
            mean=mean,
            minimum=minimum,
            maximum=maximum,
            charge_c=charge,
            energy_j=energy,
            missing=missing,
            usable=usable,
            edge_sample_ids=np.array([e[0] for e in ready], dtype=np.int64),
            edge_kinds=[e[1] for e in ready],
        )
