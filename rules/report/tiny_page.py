"""The report page of one MLPerf Tiny energy run: power with the GPIO windows, energy per window."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rules.report.page import Figure, Page, numbers, plotted, sort_checks
from rules.report.plots import axes, power_line, span
from rules.report.summary import result_page
from rules.tiny.energy_runner import read_energy_trace
from rules.tiny.kind import TinyResult

SECTIONS = {"windows": ("tiny.",)}


def tiny_page(result: TinyResult) -> Page:
    placed = sort_checks(result.checks or [], SECTIONS)
    problems: list[str] = []
    figures = plotted(lambda: _power_figure(result), problems)
    figures.append(_windows_figure(result, placed["windows"]))
    facts = [("windows", str(len(result.windows)))]
    if result.uj_per_inference is not None:
        facts.append(("median energy per inference", f"{result.uj_per_inference:.6g} µJ"))
    return result_page(result, figures, facts, placed[""], problems)


def _power_figure(result: TinyResult) -> Figure:
    trace = read_energy_trace(Path(result.path))
    time_s = np.arange(len(trace.energy_uj)) / trace.rate_hz
    milliwatts = trace.energy_uj * trace.rate_hz / 1000  # µJ per sample × samples per s = µW
    shapes = [span(w.begin_s, w.end_s, "#2ca02c", 0.15, f"window-{w.index}") for w in result.windows]
    return Figure(
        "power",
        "Power over the energy run",
        [power_line("power (mW)", time_s, milliwatts)],
        axes("seconds from the trace start", "mW", shapes=shapes),
        f"{len(time_s)} samples at {trace.rate_hz:g} Hz; green: the {len(result.windows)} inference windows "
        "the GPIO timestamps bound; lines show each pixel column's minimum and maximum.",
    )


def _windows_figure(result: TinyResult, checks: list) -> Figure:
    windows = result.windows
    uncertainty = [np.nan if w.uncertainty_uj is None else w.uncertainty_uj for w in windows]
    traces: list[dict[str, Any]] = [
        {
            "type": "bar",
            "name": "µJ per inference",
            "x": [f"window {w.index}" for w in windows],
            "y": numbers([w.uj_per_inference for w in windows]),
            "error_y": {"type": "data", "array": numbers(uncertainty), "visible": True},
            "hovertext": [f"{w.samples} samples, {w.end_s - w.begin_s:.3f} s" for w in windows],
        }
    ]
    if result.uj_per_inference is not None and windows:
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": f"median {result.uj_per_inference:.6g} µJ",
                "x": [f"window {windows[0].index}", f"window {windows[-1].index}"],
                "y": [result.uj_per_inference, result.uj_per_inference],
                "line": {"dash": "dash", "color": "#d62728"},
            }
        )
    return Figure(
        "windows",
        "Energy per inference, each window",
        traces,
        axes("window", "µJ per inference"),
        "The score is the median over the windows; whiskers: each window's standard uncertainty where the "
        "meter's accuracy is known.",
        checks,
    )
