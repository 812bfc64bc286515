"""Plotly traces and shapes the report pages share: a decimated power line, flag markers, shaded spans."""

from __future__ import annotations

from typing import Any

import numpy as np

from analyzers.trace import SAMPLE_ERROR, SAMPLE_MISSED
from rules.report.decimate import envelope, gap_starts, spread_markers
from rules.report.page import numbers

HIGH_UNCERTAINTY = 0.01
"""Per-sample relative uncertainty above which a sample is marked (the 1 % the issue names)."""
MAX_SHAPES = 200
"""Shaded gaps drawn; more would slow the page and hide the trace (the caption counts the rest)."""


def typical_step_s(time_s: np.ndarray) -> float:
    """The median step between samples (the sampling interval as delivered), 1 s when unknown."""
    if len(time_s) < 2:
        return 1.0
    return float(np.median(np.diff(time_s))) or 1.0


def gap_threshold_s(time_s: np.ndarray) -> float:
    """A step longer than 2.5 typical steps means at least one sample is missing."""
    return 2.5 * typical_step_s(time_s)


def trace_gaps(time_s: np.ndarray) -> np.ndarray:
    """`gap_starts` of a trace at its own threshold: what its lines break at and its bands shade."""
    return gap_starts(time_s, gap_threshold_s(time_s))


def power_line(
    name: str, time_s: np.ndarray, watts: np.ndarray, gaps: np.ndarray | None = None, **style: Any
) -> dict[str, Any]:
    line = envelope(time_s, watts, trace_gaps(time_s) if gaps is None else gaps)
    return {
        "type": "scatter",
        "mode": "lines",
        "name": name,
        "x": numbers(line.x),
        "y": numbers(line.y),
        "meta": {"samples": line.samples},
        "line": {"width": 1.2, **style.pop("line", {})},
        **style,
    }


def flag_markers(
    time_s: np.ndarray, watts: np.ndarray, flags: np.ndarray, uncertainty: np.ndarray
) -> list[dict[str, Any]]:
    """Markers for sentinel samples and for samples whose own uncertainty exceeds 1 %, at most one per
    pixel column; the legend names the full count. Sentinels have no watts: they sit on the lowest
    reading of the trace."""
    finite = watts[np.isfinite(watts)]
    baseline_w = float(finite.min()) if len(finite) else 0.0
    markers = []
    for label, sentinel, symbol, color in (
        ("error samples (-1)", SAMPLE_ERROR, "x", "#d62728"),
        ("missed samples (-2)", SAMPLE_MISSED, "x-thin-open", "#9467bd"),
    ):
        chosen = np.flatnonzero(flags == sentinel)
        if len(chosen):
            shown = spread_markers(time_s, chosen)
            at = np.full(len(shown), baseline_w)
            markers.append(_markers(f"{label}: {len(chosen)}", time_s[shown], at, symbol, color, len(chosen)))
    with np.errstate(invalid="ignore"):
        uncertain = np.flatnonzero(uncertainty > HIGH_UNCERTAINTY)
    if len(uncertain):
        shown = spread_markers(time_s, uncertain)
        name = f"uncertainty > 1 %: {len(uncertain)}"
        markers.append(_markers(name, time_s[shown], watts[shown], "circle-open", "#ff7f0e", len(uncertain)))
    return markers


def _markers(name: str, x: np.ndarray, y: np.ndarray, symbol: str, color: str, count: int) -> dict[str, Any]:
    return {
        "type": "scatter",
        "mode": "markers",
        "name": name,
        "x": numbers(x),
        "y": numbers(y),
        "meta": {"samples": count},
        "marker": {"symbol": symbol, "color": color, "size": 7},
    }


def span(x0: float, x1: float, color: str, opacity: float, name: str = "") -> dict[str, Any]:
    """A full-height shaded band from x0 to x1 (data units)."""
    shape: dict[str, Any] = {
        "type": "rect",
        "xref": "x",
        "yref": "paper",
        "x0": x0,
        "x1": x1,
        "y0": 0,
        "y1": 1,
        "fillcolor": color,
        "opacity": opacity,
        "line": {"width": 0},
        "layer": "below",
    }
    if name:
        shape["name"] = name
    return shape


def gap_spans(time_s: np.ndarray, gaps: np.ndarray) -> tuple[list[dict[str, Any]], int]:
    """Shaded bands over a trace's `gaps` (the first `MAX_SHAPES`), and how many gaps there are."""
    shapes = [span(float(time_s[i]), float(time_s[i + 1]), "#d62728", 0.18, "gap") for i in gaps[:MAX_SHAPES]]
    return shapes, len(gaps)


def axes(x_title: str, y_title: str, **extra: Any) -> dict[str, Any]:
    return {
        "xaxis": {"title": {"text": x_title}},
        "yaxis": {"title": {"text": y_title}},
        "legend": {"orientation": "h", "y": -0.2},
        "margin": {"t": 50, "r": 20},
        **extra,
    }
