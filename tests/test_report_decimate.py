"""The min/max envelope a long trace is drawn with: every column's extremes kept, gaps kept as breaks."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.report.decimate import envelope, gap_starts, spread_markers


def _columns_of(time_s: np.ndarray, columns: int) -> np.ndarray:
    edges = np.linspace(time_s[0], time_s[-1], columns + 1)
    return np.clip(np.searchsorted(edges, time_s, side="right") - 1, 0, columns - 1)


@settings(max_examples=60, deadline=None)
@given(
    count=st.integers(1, 5000),
    columns=st.integers(2, 400),
    seed=st.integers(0, 2**32 - 1),
)
def test_every_column_keeps_its_minimum_and_maximum(count: int, columns: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    time_s = np.cumsum(rng.uniform(0.5, 1.5, count))
    values = rng.normal(100, 10, count)
    values[rng.random(count) < 0.01] = np.nan  # sentinels
    line = envelope(time_s, values, gap_starts(time_s, 10.0), columns=columns)
    assert line.samples == count
    assert len(line.x) <= max(2 * columns, count)
    drawn = line.y[~np.isnan(line.y)]
    if np.isfinite(values).any():
        assert drawn.max() == np.nanmax(values) and drawn.min() == np.nanmin(values)
    if count > 2 * columns:
        # Each column of the input shows its own extremes among the drawn points.
        column = _columns_of(time_s, columns)
        drawn_column = _columns_of(line.x, columns)
        for c in np.unique(column)[:20]:
            inside = values[column == c]
            if np.isfinite(inside).any():
                shown = line.y[drawn_column == c]
                assert np.nanmax(shown) == np.nanmax(inside) and np.nanmin(shown) == np.nanmin(inside)
    assert np.all(np.diff(line.x[~np.isnan(line.x)]) >= 0)


def test_a_gap_breaks_the_line_once_decimated_or_not() -> None:
    time_s = np.concatenate((np.arange(0, 1000.0), np.arange(1100.0, 2000.0)))
    values = np.ones(len(time_s))
    for columns in (100, 5000):
        line = envelope(time_s, values, gap_starts(time_s, 2.5), columns=columns)
        breaks = np.flatnonzero(np.isnan(line.y))
        assert len(breaks) == 1
        assert line.x[breaks[0] - 1] == 999.0 and line.x[breaks[0] + 1] == 1100.0


def test_markers_are_spread_one_per_column_first_kept() -> None:
    time_s = np.arange(10_000.0)
    chosen = np.arange(0, 10_000, 2)
    shown = spread_markers(time_s, chosen, columns=100)
    assert len(shown) == 100 and shown[0] == 0 and np.all(np.diff(shown) > 0)
    assert np.array_equal(spread_markers(time_s, chosen[:50], columns=100), chosen[:50])
