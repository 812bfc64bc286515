"""Long traces drawn at the resolution of the screen: the minimum and maximum of each pixel column.

A plot 1,500 pixels wide cannot show more than 1,500 columns; a million samples sent to the browser
cost seconds to parse and draw and show nothing more. The envelope keeps what the eye must see: every
peak and every dip (a mean per column would hide a spike). A gap in the samples stays a gap: the line
is broken there (a NaN point), not drawn straight across the missing time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PLOT_COLUMNS = 1500
"""Pixel columns of a full-width plot on a common laptop screen; each gets at most two points."""


@dataclass(frozen=True)
class Line:
    """The points of one plotted line; NaN in `y` breaks it. `samples` is how many it stands for."""

    x: np.ndarray
    y: np.ndarray
    samples: int


def gap_starts(time_s: np.ndarray, longest_s: float) -> np.ndarray:
    """Indices i where the step from sample i to sample i+1 exceeds `longest_s` (a gap in the trace)."""
    if len(time_s) < 2:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.diff(time_s) > longest_s)


def envelope(time_s: np.ndarray, values: np.ndarray, gaps: np.ndarray, columns: int = PLOT_COLUMNS) -> Line:
    """`values` over `time_s` (sorted) as at most 2 × `columns` points plus one break per gap, `gaps`
    being `gap_starts` of `time_s` (computed once by a caller drawing several lines on one time axis).

    Each non-empty column contributes its minimum at its first sample's time and its maximum at its
    last sample's time, so the drawn line spans the column's whole range. NaN values (sentinels) are
    ignored unless a column holds nothing else.
    """
    time_s = np.asarray(time_s, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    n = len(time_s)
    if n <= 2 * columns:
        x, y = time_s, values
    else:
        edges = np.linspace(time_s[0], time_s[-1], columns + 1)
        starts = np.unique(np.searchsorted(time_s, edges[:-1], side="left"))
        starts = starts[starts < n]
        ends = np.append(starts[1:], n) - 1
        with np.errstate(invalid="ignore"):
            low = np.fmin.reduceat(values, starts)
            high = np.fmax.reduceat(values, starts)
        x = np.column_stack((time_s[starts], time_s[ends])).ravel()
        y = np.column_stack((low, high)).ravel()
    if len(gaps):
        # A break just after each gap's first sample: the line stops there and resumes after the gap.
        after = np.searchsorted(x, time_s[gaps + 1], side="left")
        x = np.insert(x, after, np.nan)
        y = np.insert(y, after, np.nan)
    return Line(x, y, n)


def spread_markers(time_s: np.ndarray, chosen: np.ndarray, columns: int = PLOT_COLUMNS) -> np.ndarray:
    """At most one of the `chosen` sample indices per pixel column (the first), in time order."""
    if len(chosen) <= columns:
        return chosen
    times = time_s[chosen]
    column = np.floor((times - times[0]) / max(times[-1] - times[0], 1e-12) * (columns - 1)).astype(np.int64)
    _, first = np.unique(column, return_index=True)
    return chosen[first]
