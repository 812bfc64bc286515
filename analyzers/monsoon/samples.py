"""The sample engine's CSV rows, read as they are written, and binned into measurement intervals.

PyMonsoon's `SampleEngine` hands samples out in two ways: `getSamples()`, which empties lists the
sampling loop is appending to (from another thread that loses samples), and a CSV file it writes
from its own loop every few hundred samples. The driver takes the file: `CsvTail` reads the complete
rows added since the last read (the header and any cut-off last line are left for later), in
whatever text the package prints its numbers in (NumPy 2's `np.float64(1.5)` as much as `1.5`).

`TimeBins` places each sample in time and groups them into intervals. The instrument samples at
a steady 5 kHz, but the engine stamps its rows with the host's clock when it processed their packet
(a batch of ~77 ms at once), so a row's own time is only good to a batch. Samples are therefore
spaced by their count at the nominal rate from the first row's time; when the rows' own times run
ahead of that by more than `REANCHOR_S` (the instrument dropped a stretch), the count is moved to
them, so dropped samples cost at most that much timing error and never accumulate. Per interval:
the mean current, voltage and power, its energy (the mean power × the interval: samples the
instrument dropped are estimated, not counted as zero), how many of the nominal-rate samples it
lacks, and whether enough of them arrived to stand (`MIN_PRESENT_FRACTION`; else missed, no energy). The last, still open interval waits for the
next read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analyzers.trace import MIN_PRESENT_FRACTION

REANCHOR_S = 0.25
"""Beyond the engine's batch latency (~0.08 s): a lead this large is samples the instrument dropped."""
_NUMPY_REPR = re.compile(r"np\.float(?:32|64)\(([^)]*)\)")


class CsvTail:
    """Rows of (time s, main current mA, main voltage V) appended to `path` since the last read."""

    def __init__(self, path: Path, columns: int = 3) -> None:
        self.path = path
        self.columns = columns
        self._offset = 0
        self._header_seen = False
        self.bad_lines = 0

    def read(self) -> np.ndarray:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                data = handle.read()
        except FileNotFoundError:
            return np.empty((0, self.columns))
        end = data.rfind(b"\n")
        if end < 0:
            return np.empty((0, self.columns))
        self._offset += end + 1
        text = _NUMPY_REPR.sub(r"\1", data[: end + 1].decode("ascii", errors="replace"))
        rows = []
        for line in text.splitlines():
            fields = [f for f in line.strip().split(",") if f.strip()]
            if not fields:
                continue
            try:
                values = [float(f) for f in fields]
            except ValueError:
                if not self._header_seen:  # "Time(ms),Main(mA),Main Voltage(V),"
                    self._header_seen = True
                else:
                    self.bad_lines += 1
                continue
            if len(values) != self.columns:
                self.bad_lines += 1
                continue
            rows.append(values)
        return np.array(rows, dtype=np.float64).reshape(-1, self.columns)


@dataclass(frozen=True)
class Bins:
    end_s: np.ndarray  # each interval's end, s since sampling began
    current_a: np.ndarray
    volts: np.ndarray
    watts: np.ndarray
    energy_j: np.ndarray
    samples: np.ndarray
    missing: np.ndarray
    usable: np.ndarray

    def __len__(self) -> int:
        return len(self.end_s)


class TimeBins:
    def __init__(self, interval_s: float, rate_hz: float) -> None:
        self.interval_s = interval_s
        self.rate_hz = rate_hz
        self._origin: float | None = None
        self._first_s: float | None = None
        self._shift_s = 0.0
        self._next_bin = 0
        self._carry = np.empty((0, 3))
        self.samples = 0
        self.missing = 0
        self.reanchored = 0

    def _placed(self, rows: np.ndarray) -> np.ndarray:
        """The rows with their time replaced by the sample count's (see the module's note)."""
        if self._first_s is None:
            self._first_s = float(rows[0, 0])
        count = self.samples + np.arange(len(rows))
        placed = self._first_s + count / self.rate_hz + self._shift_s
        lead = rows[:, 0] - placed
        while True:
            ahead = np.flatnonzero(lead > REANCHOR_S)
            if not len(ahead):
                break
            first, shift = int(ahead[0]), float(lead[ahead[0]])
            self._shift_s += shift
            self.reanchored += 1
            placed[first:] += shift
            lead[first:] -= shift
        out = rows.copy()
        out[:, 0] = placed
        return out

    def add(self, rows: np.ndarray) -> Bins:
        """Rows (time s, mA, V) in time order; the intervals they complete."""
        if len(rows):
            rows = self._placed(rows)
        self.samples += len(rows)
        rows = np.concatenate((self._carry, rows)) if len(self._carry) else rows
        if not len(rows):
            return self._empty()
        if self._origin is None:  # the first sample stands at the end of its 1/rate period
            self._origin = float(rows[0, 0]) - 1 / self.rate_hz
        # A sample stands for the period ending at its time: one exactly at an interval's end is its last.
        position = (rows[:, 0] - self._origin) / self.interval_s
        index = (np.ceil(position - 1e-9) - 1).astype(np.int64)
        index = np.maximum(index, self._next_bin)  # a late row joins the open interval
        last = int(index[-1])
        done = index < last
        self._carry = rows[~done]
        rows, index = rows[done], index[done]
        count = last - self._next_bin
        if count <= 0:
            return self._empty()
        slot = index - self._next_bin
        samples = np.bincount(slot, minlength=count)
        amps = rows[:, 1] / 1000
        watts = amps * rows[:, 2]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = {
                name: np.where(samples > 0, np.bincount(slot, column, minlength=count) / samples, np.nan)
                for name, column in (("a", amps), ("v", rows[:, 2]), ("w", watts))
            }
        expected = round(self.interval_s * self.rate_hz)
        missing = np.maximum(expected - samples, 0)
        usable = samples >= MIN_PRESENT_FRACTION * expected
        self.missing += int(missing.sum())
        ends = self._origin + (self._next_bin + np.arange(1, count + 1)) * self.interval_s
        self._next_bin = last
        return Bins(
            end_s=ends,
            current_a=mean["a"],
            volts=mean["v"],
            watts=mean["w"],
            energy_j=np.where(usable, mean["w"] * self.interval_s, 0.0),
            samples=samples,
            missing=missing,
            usable=usable,
        )

    def _empty(self) -> Bins:
        empty = np.empty(0)
        none = np.empty(0, np.int64)
        return Bins(empty, empty, empty, empty, empty, none, none, np.empty(0, bool))
