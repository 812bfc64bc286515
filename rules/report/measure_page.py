"""The report page of one `power-measure` folder: each source's power with the command's windows and
marks over it, the energy of every window, and (when given) the energy per phase and operator."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import numpy as np

from rules.measure.attribution import Attribution, EnergyShare
from rules.measure.folder import COMMAND_WINDOW, read_measure_folder
from rules.measure.kind import MeasureResult
from rules.report.page import Figure, Page, numbers, plotted
from rules.report.plots import axes, flag_markers, gap_spans, power_line, span, trace_gaps
from rules.report.summary import result_page

WINDOW_COLORS = ("#2ca02c", "#1f77b4", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")
TOP_OPERATORS = 15


def measure_page(result: MeasureResult, attribution: Attribution | None = None) -> Page:
    problems: list[str] = []
    figures = plotted(lambda: _power_figure(result), problems)
    if result.windows:
        figures.append(_windows_figure(result))
    if attribution is not None:
        figures += _attribution_figures(attribution)
    facts = [("command", shlex.join(result.command) or "-")]
    if result.exit_status is not None:
        facts.append(("exit status", str(result.exit_status)))
    return result_page(result, figures, facts, problems=problems, judged=False)


def _origin_ns(result: MeasureResult) -> int:
    command = next((w for w in result.windows if w.name == COMMAND_WINDOW), None)
    if command is not None:
        return command.begin_ns
    return min((w.begin_ns for w in result.windows), default=0)


def _power_figure(result: MeasureResult) -> Figure:
    folder = read_measure_folder(Path(result.path))
    origin = _origin_ns(result)
    traces: list[dict[str, Any]] = []
    shapes: list[dict[str, Any]] = []
    gap_total = 0
    for source in folder.samples():
        columns = source.total
        time_s = (columns.time_ns - origin) / 1e9
        gaps = trace_gaps(time_s)
        traces.append(power_line(f"{source.label} (W)", time_s, columns.watts, gaps))
        traces += flag_markers(time_s, columns.watts, columns.flags, columns.uncertainty)
        bands, count = gap_spans(time_s, gaps)
        shapes += bands
        gap_total += count
    annotations = []
    windows = [w for w in result.windows if w.name != COMMAND_WINDOW]
    for number, window in enumerate(windows):
        color = WINDOW_COLORS[number % len(WINDOW_COLORS)]
        begin, end = (window.begin_ns - origin) / 1e9, (window.end_ns - origin) / 1e9
        shapes.append(span(begin, end, color, 0.14, f"window-{window.name}"))
        annotations.append(
            {
                "x": begin,
                "y": 1,
                "xref": "x",
                "yref": "paper",
                "text": window.name,
                "showarrow": False,
                "xanchor": "left",
                "yanchor": "bottom",
                "font": {"size": 11, "color": color},
            }
        )
    for mark in folder.document.get("marks") or []:
        if isinstance(mark, dict) and isinstance(mark.get("time_ns"), int):
            at = (mark["time_ns"] - origin) / 1e9
            shapes.append(
                {
                    "type": "line",
                    "xref": "x",
                    "yref": "paper",
                    "x0": at,
                    "x1": at,
                    "y0": 0,
                    "y1": 1,
                    "line": {"color": "#555", "dash": "dot", "width": 1},
                    "name": f"mark-{mark.get('label')}",
                }
            )
            annotations.append(
                {
                    "x": at,
                    "y": 0,
                    "xref": "x",
                    "yref": "paper",
                    "text": str(mark.get("label")),
                    "showarrow": False,
                    "xanchor": "left",
                    "yanchor": "bottom",
                    "font": {"size": 10, "color": "#555"},
                }
            )
    return Figure(
        "power",
        "Power over time, each source",
        traces,
        axes("seconds from the command's start", "W", shapes=shapes, annotations=annotations),
        f"Shaded: the {len(windows)} window(s) the command named; dotted: its marks; red: "
        f"{gap_total} gap(s) in the samples; lines show each pixel column's minimum and maximum.",
    )


def _windows_figure(result: MeasureResult) -> Figure:
    labels = [s.source for s in result.windows[0].sources]
    traces = []
    for label in labels:
        energies, errors = [], []
        for window in result.windows:
            energy = next((s for s in window.sources if s.source == label), None)
            energies.append(np.nan if energy is None else energy.energy_j)
            errors.append(np.nan if energy is None else energy.uncertainty_j)
        traces.append(
            {
                "type": "bar",
                "name": label,
                "x": [w.name for w in result.windows],
                "y": numbers(energies),
                "error_y": {"type": "data", "array": numbers(errors), "visible": True},
            }
        )
    return Figure(
        "windows",
        "Energy per window",
        traces,
        axes("window", "J", barmode="group"),
        "Each source's energy over each window; whiskers: the window's stated uncertainty.",
    )


def _attribution_figures(attribution: Attribution) -> list[Figure]:
    figures = []
    if attribution.phases:
        figures.append(_shares_figure("phases", "Energy per phase", attribution.phases, attribution))
    if attribution.operators:
        top = sorted(attribution.operators, key=lambda s: s.energy_j, reverse=True)[:TOP_OPERATORS]
        figures.append(
            _shares_figure("operators", f"Energy per operator (top {len(top)})", tuple(top), attribution)
        )
    return figures


def _shares_figure(key: str, title: str, shares: tuple[EnergyShare, ...], attribution: Attribution) -> Figure:
    ordered = sorted(shares, key=lambda s: s.energy_j)
    trace = {
        "type": "bar",
        "orientation": "h",
        "name": "J",
        "y": [_short(s.name) for s in ordered],
        "x": numbers([s.energy_j for s in ordered]),
        "text": [f"{100 * s.share:.1f} %" for s in ordered],
        "textposition": "auto",
        "hovertext": [
            f"{s.name}: {s.calls} call(s), {s.time_s:.3f} s, {s.avg_power_w:.3g} W" for s in ordered
        ],
        "meta": {"names": [s.name for s in ordered]},
    }
    if any(s.ci95_j is not None for s in ordered):
        trace["error_x"] = {
            "type": "data",
            "array": numbers([np.nan if s.ci95_j is None else s.ci95_j for s in ordered]),
        }
    return Figure(
        key,
        title,
        [trace],
        axes("J", "", margin={"l": 220, "t": 50}),
        f"From source {attribution.source}, profile aligned by {attribution.clock}; shares are of the attributed total.",
    )


def _short(name: str, keep: int = 36) -> str:
    """An operator's name as a bar label: PyTorch's autograd names run past any margin."""
    return name if len(name) <= keep else "…" + name[-(keep - 1) :]
