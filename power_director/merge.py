"""Several analyzers' samples aligned by time, not by line index, streaming chunk by chunk.

The reference director pairs the n-th line of each analyzer; two meters that start a few hundred
milliseconds apart, or one that misses a sample, then add up readings taken at different moments.
Here analyzer 1 is the time base (its sample times become the merged lines' `Time`, as in the
reference's format) and each other analyzer contributes, for every analyzer-1 sample, its own
sample nearest in time, if one lies within `tolerance_ns` and was not used for another line.
Where none does, that analyzer's part of the line is a missed sample (`-2`), which makes the
summed watts a sentinel too: visible and counted, never a silent partial sum.

Per analyzer the alignment is measured: lines matched, lines with its sample missing, its samples
left unused, and the time differences (analyzer k − analyzer 1) of the matched pairs.

Memory holds one chunk of analyzer 1 and, per other analyzer, the samples within the tolerance of
it; the rows are handed on as they are produced (`phase_files` writes them).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from analyzers.formats.units import NS_PER_S
from analyzers.trace import SAMPLE_MISSED, ChannelBlock, Trace


@dataclass
class Alignment:
    """How one analyzer's samples lined up with analyzer 1's (times in seconds)."""

    name: str
    samples: int = 0
    matched: int = 0
    missing: int = 0
    max_abs_error_s: float = 0.0
    mean_abs_error_s: float = 0.0
    mean_offset_s: float = 0.0
    _abs_sum_ns: float = 0.0
    _signed_sum_ns: float = 0.0

    @property
    def unused(self) -> int:
        return self.samples - self.matched

    def add(self, differences_ns: np.ndarray) -> None:
        if not len(differences_ns):
            return
        self.matched += len(differences_ns)
        absolute = np.abs(differences_ns.astype(np.float64))
        self._abs_sum_ns += float(absolute.sum())
        self._signed_sum_ns += float(differences_ns.astype(np.float64).sum())
        self.max_abs_error_s = max(self.max_abs_error_s, float(absolute.max()) / NS_PER_S)
        self.mean_abs_error_s = self._abs_sum_ns / self.matched / NS_PER_S
        self.mean_offset_s = self._signed_sum_ns / self.matched / NS_PER_S

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "samples": self.samples,
            "matched": self.matched,
            "missing": self.missing,
            "unused": self.unused,
            "max_abs_error_s": self.max_abs_error_s,
            "mean_abs_error_s": self.mean_abs_error_s,
            "mean_offset_s": self.mean_offset_s,
        }


class _Follower:
    """Another analyzer's samples, read ahead just far enough to match the current base chunk."""

    def __init__(self, name: str, chunks: Iterable[Trace]) -> None:
        self.alignment = Alignment(name)
        self._chunks: Iterator[Trace] = iter(chunks)
        self._buffer: Trace | None = None
        self._exhausted = False
        self._last_used_ns = np.iinfo(np.int64).min

    def _fill(self, until_ns: int) -> None:
        while not self._exhausted and (not self._buffer or self._buffer.time_ns[-1] <= until_ns):
            chunk = next(self._chunks, None)
            if chunk is None:
                self._exhausted = True
            elif len(chunk):
                self.alignment.samples += len(chunk)
                self._buffer = chunk if not self._buffer else Trace.concat([self._buffer, chunk])

    def align(self, base_ns: np.ndarray, tolerance_ns: int) -> Trace:
        """One row per base time: the nearest unused sample within the tolerance, else a missed one."""
        self._fill(int(base_ns[-1]) + tolerance_ns)
        buffer = self._buffer
        chosen = np.full(len(base_ns), -1, dtype=np.int64)
        if buffer is not None and len(buffer):
            first = int(np.searchsorted(buffer.time_ns, self._last_used_ns, side="right"))
            times = buffer.time_ns[first:]
            if len(times):
                right = np.clip(np.searchsorted(times, base_ns, side="left"), 0, len(times) - 1)
                left = np.clip(right - 1, 0, len(times) - 1)
                take_left = np.abs(times[left] - base_ns) <= np.abs(times[right] - base_ns)
                nearest = np.where(take_left, left, right)
                distance = np.abs(times[nearest] - base_ns)
                ok = distance <= tolerance_ns
                # A sample nearest to two base times goes to the closer one (the first on a tie).
                candidates = np.flatnonzero(ok)
                order = candidates[np.lexsort((distance[candidates], nearest[candidates]))]
                keep = np.ones(len(order), dtype=bool)
                keep[1:] = nearest[order][1:] != nearest[order][:-1]
                winners = order[keep]
                chosen[winners] = nearest[winners] + first
        matched = chosen >= 0
        if buffer is not None and matched.any():
            self.alignment.add(buffer.time_ns[chosen[matched]] - base_ns[matched])
            self._last_used_ns = int(buffer.time_ns[chosen[matched]].max())
        self.alignment.missing += int((~matched).sum())
        aligned = _rows(buffer, chosen, base_ns)
        self._discard_before(int(base_ns[-1]) + 1 - tolerance_ns)
        return aligned

    def _discard_before(self, time_ns: int) -> None:
        """Drop samples no later base time can use (too early, or already used)."""
        if self._buffer is None:
            return
        cut = max(time_ns, self._last_used_ns + 1)
        start = int(np.searchsorted(self._buffer.time_ns, cut, side="left"))
        if start:
            self._buffer = self._buffer.take(np.arange(start, len(self._buffer)))

    def drain_count(self) -> None:
        """Count the samples after the last base time (they stay unused)."""
        for chunk in self._chunks:
            self.alignment.samples += len(chunk)


def _rows(buffer: Trace | None, chosen: np.ndarray, base_ns: np.ndarray) -> Trace:
    """Rows of `buffer` at `chosen` (-1 = a missed sample at the base time)."""
    missing = chosen < 0
    n = len(base_ns)
    if buffer is None or not len(buffer):
        return Trace.from_columns(base_ns, np.full(n, np.nan), flags=np.full(n, SAMPLE_MISSED, dtype=np.int8))
    rows = buffer.take(np.where(missing, 0, chosen))

    def blank(values: np.ndarray) -> np.ndarray:
        return np.where(missing, np.nan, values)

    def flagged(flags: np.ndarray) -> np.ndarray:
        return np.where(missing, np.int8(SAMPLE_MISSED), flags).astype(np.int8)

    blocks = tuple(
        ChannelBlock(
            watts=blank(b.watts),
            volts=blank(b.volts),
            amps=blank(b.amps),
            pf=blank(b.pf),
            uncertainty=blank(b.uncertainty),
            flags=flagged(b.flags),
        )
        for b in rows.channels
    )
    return Trace.from_columns(
        np.where(missing, base_ns, rows.time_ns),
        blank(rows.watts),
        blank(rows.volts),
        blank(rows.amps),
        blank(rows.pf),
        blank(rows.uncertainty),
        flagged(rows.flags),
        channels=blocks,
        source=rows.source,
    )


class AnalyzerMerge:
    """Several analyzers' chunks as rows aligned to analyzer 1's samples, streaming."""

    def __init__(
        self,
        base_name: str,
        base: Iterable[Trace],
        others: Sequence[tuple[str, Iterable[Trace]]],
        tolerance_ns: int,
    ) -> None:
        self._base = base
        self._reference = Alignment(base_name)
        self._followers = [_Follower(name, chunks) for name, chunks in others]
        self._tolerance_ns = tolerance_ns

    @property
    def alignments(self) -> list[Alignment]:
        """How each analyzer lined up (analyzer 1's first); complete once `rows` is exhausted."""
        return [self._reference, *(f.alignment for f in self._followers)]

    def rows(self) -> Iterator[list[Trace]]:
        """Per chunk of analyzer 1: it and every other analyzer's rows at its sample times."""
        for chunk in self._base:
            if not len(chunk):
                continue
            self._reference.samples += len(chunk)
            self._reference.add(np.zeros(len(chunk), dtype=np.int64))
            yield [chunk] + [f.align(chunk.time_ns, self._tolerance_ns) for f in self._followers]
        for follower in self._followers:
            follower.drain_count()
