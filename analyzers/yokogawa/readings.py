"""Numeric replies in, `Trace` chunks out: sentinels, flags and per-sample uncertainty, vectorised.

The sampling thread stores each update as one raw row (the floats exactly as the meter sent them,
the ranges in force, a status); `RowBuffer.take()` hands the rows over and `build_trace` decodes a
whole chunk at once, so nothing per sample runs in Python beyond splitting one reply line.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

import numpy as np

from analyzers.errors import AnalyzerProtocolError
from analyzers.trace import (
    NO_MARK,
    SAMPLE_ERROR,
    SAMPLE_MISSED,
    SAMPLE_OK,
    ChannelBlock,
    Trace,
    combine_channel_flags,
)
from analyzers.yokogawa.dialects import OVER_RANGE, QUANTITIES, Accuracy

ROW_OK = 0
ROW_GARBLED = 1  # the reply did not parse: the update happened but its values are lost
ROW_MISSED = 2  # no reply for an update the meter made (the loop fell behind)

_SENTINEL_FLOOR = 1e37  # every sentinel is 9.9E+37 or 9.91E+37; no real reading comes near
_ITEMS_PER_ELEMENT = len(QUANTITIES)


def parse_values(reply: str, expected: int, device: str) -> np.ndarray:
    """The comma-separated floats of a numeric reply; `AnalyzerProtocolError` unless exactly `expected`."""
    fields = reply.split(",")
    if len(fields) != expected:
        raise AnalyzerProtocolError(
            device,
            f"numeric reply has {len(fields)} values, expected {expected}: {reply[:60]!r}",
            "another program may be talking to the meter, or its command mode is not the expected one",
        )
    try:
        return np.array([float(field) for field in fields], dtype=np.float64)
    except ValueError:
        raise AnalyzerProtocolError(
            device,
            f"numeric reply is not numbers: {reply[:60]!r}",
            "check the baud rate and that nothing else shares the port",
        ) from None


def is_over_range(values: np.ndarray) -> np.ndarray:
    return np.isclose(np.abs(values), OVER_RANGE, rtol=1e-4, atol=0.0)


@dataclass
class RawRows:
    """Rows as the sampling thread recorded them: one per meter update."""

    time_ns: np.ndarray  # (n,)
    values: np.ndarray  # (n, items); NaN for rows that are not ROW_OK
    status: np.ndarray  # (n,)
    volts_range: np.ndarray  # (n, elements)
    amps_range: np.ndarray  # (n, elements)
    mark_codes: np.ndarray  # (n,)
    mark_names: tuple[str, ...]


class RowBuffer:
    """Thread-safe row store between the sampling thread and `fetch()`."""

    def __init__(self, items: int, elements: int) -> None:
        self.items = items
        self.elements = elements
        self._lock = threading.Lock()
        self._marks: list[str] = []
        self._clear()

    def _clear(self) -> None:
        self._time: list[int] = []
        self._values: list[np.ndarray] = []
        self._status: list[int] = []
        self._vr: list[np.ndarray] = []
        self._ar: list[np.ndarray] = []
        self._mark: list[int] = []

    def add(
        self,
        time_ns: int,
        values: np.ndarray | None,
        status: int,
        volts_range: np.ndarray,
        amps_range: np.ndarray,
        mark: str,
    ) -> None:
        with self._lock:
            if mark not in self._marks:
                self._marks.append(mark)
            self._time.append(time_ns)
            self._values.append(values if values is not None else np.full(self.items, np.nan))
            self._status.append(status)
            self._vr.append(volts_range)
            self._ar.append(amps_range)
            self._mark.append(self._marks.index(mark))

    def take(self) -> RawRows:
        with self._lock:
            n = len(self._time)
            rows = RawRows(
                time_ns=np.array(self._time, dtype=np.int64),
                values=np.array(self._values, dtype=np.float64).reshape(n, self.items),
                status=np.array(self._status, dtype=np.int8),
                volts_range=np.array(self._vr, dtype=np.float64).reshape(n, self.elements),
                amps_range=np.array(self._ar, dtype=np.float64).reshape(n, self.elements),
                mark_codes=np.array(self._mark, dtype=np.int32),
                mark_names=tuple(self._marks),
            )
            self._clear()
            return rows


def _relative(absolute: np.ndarray, watts: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = absolute / np.abs(watts)
    # At 0 W the relative uncertainty is unbounded: unknown, as PTD reports it.
    return np.where(np.isfinite(watts) & (watts != 0), relative, np.nan)


def build_trace(rows: RawRows, accuracy: Accuracy, elements: int, has_sigma: bool, source: str) -> Trace:
    """Decode a chunk of rows.

    A sample is flagged `SAMPLE_ERROR` (watts NaN) when its power is a sentinel, its voltage or current
    is over range, or its reply was garbled; `SAMPLE_MISSED` when the meter updated but no reply was
    read for that update. Uncertainty per element: (reading% × |P| + range% × V-range × A-range) / |P|.
    Several elements: the total is the meter's Σ power (its wiring decides what Σ covers), flagged
    when any element is, and its uncertainty sums the elements' absolute uncertainties (worst case:
    a gain error shared by all elements does not average out).
    """
    n = len(rows.time_ns)
    status_flag = np.select(
        [rows.status == ROW_MISSED, rows.status == ROW_GARBLED], [SAMPLE_MISSED, SAMPLE_ERROR], SAMPLE_OK
    ).astype(np.int8)
    values = rows.values
    sentinel = np.abs(values) >= _SENTINEL_FLOOR  # no data or over range
    over = is_over_range(values)
    clean = np.where(sentinel, np.nan, values)
    blocks: list[ChannelBlock] = []
    absolute_total = np.zeros(n)
    for element in range(elements):
        base = element * _ITEMS_PER_ELEMENT
        volts, amps, watts, pf = (clean[:, base + k] for k in range(_ITEMS_PER_ELEMENT))
        bad = sentinel[:, base + 2] | over[:, base] | over[:, base + 1]
        flags = np.where((status_flag == SAMPLE_OK) & bad, SAMPLE_ERROR, status_flag).astype(np.int8)
        watts = np.where(flags == SAMPLE_OK, watts, np.nan)
        absolute = (
            accuracy.reading_fraction * np.abs(watts)
            + accuracy.range_fraction * rows.volts_range[:, element] * rows.amps_range[:, element]
        )
        absolute_total += absolute
        blocks.append(
            ChannelBlock.from_columns(
                watts=watts,
                volts=volts,
                amps=amps,
                pf=pf,
                uncertainty=_relative(absolute, watts),
                flags=flags,
            )
        )
    if elements == 1:
        only = blocks[0]
        trace = Trace.from_columns(time_ns=rows.time_ns, **only.columns(), source=source)
        return _with_marks(trace, rows)
    parts = [b.flags for b in blocks]
    if has_sigma:
        sigma_watts = clean[:, elements * _ITEMS_PER_ELEMENT]
        # The meter's own sum is one more part: its sentinel makes the total an error.
        sigma_bad = sentinel[:, elements * _ITEMS_PER_ELEMENT]
        parts.append(np.where((status_flag == SAMPLE_OK) & sigma_bad, SAMPLE_ERROR, status_flag))
    else:
        sigma_watts = np.sum([b.watts for b in blocks], axis=0)
    total_flags = combine_channel_flags(parts)
    total_watts = np.where(total_flags == SAMPLE_OK, sigma_watts, np.nan)
    trace = Trace.from_columns(
        time_ns=rows.time_ns,
        watts=total_watts,
        uncertainty=_relative(absolute_total, total_watts),
        flags=total_flags,
        channels=blocks,
        source=source,
    )
    return _with_marks(trace, rows)


def _with_marks(trace: Trace, rows: RawRows) -> Trace:
    """The rows' marks on `trace`; the empty mark is "no mark" (PTD's `notset`)."""
    names = tuple(name for name in rows.mark_names if name)
    recode = np.array([names.index(name) if name else NO_MARK for name in rows.mark_names] or [NO_MARK])
    codes = recode[rows.mark_codes].astype(np.int32) if len(rows.mark_codes) else rows.mark_codes
    return replace(trace, mark_codes=codes, mark_names=names)
