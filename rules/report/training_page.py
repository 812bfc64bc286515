"""The report page of one training result: energy per run with the Olympic selection, and per node."""

from __future__ import annotations

from typing import Any

import numpy as np

from rules.report.page import Figure, Page, numbers, sort_checks
from rules.report.plots import axes
from rules.report.summary import result_page
from rules.training.kind import TrainingResult

SECTIONS = {
    "runs": ("training.runs", "training.time_order"),
    "nodes": ("training.readings", "training.sampling_rate", "training.coverage"),
}
KEPT_COLOR = "#1f77b4"
DROPPED_COLOR = "#bbbbbb"
NODES_AS_POINTS = 64
"""Up to this many nodes a run's nodes are drawn one point each; above, as a box (a 10,000-node run's
points would hide each other)."""


def training_page(result: TrainingResult) -> Page:
    placed = sort_checks(result.checks or [], SECTIONS)
    figures = [_runs_figure(result, placed["runs"])]
    nodes = _nodes_figure(result, placed["nodes"])
    if nodes is not None:
        figures.append(nodes)
    else:
        placed[""] += placed["nodes"]
    kept = [r for r in result.runs if not r.dropped and r.energy_j is not None]
    facts = [
        ("rule set", result.compliance_ruleset or "-"),
        ("runs", f"{len(result.runs)}, {len(kept)} kept for the Olympic mean"),
        ("nodes", str(result.nodes)),
    ]
    if result.energy_kj is not None:
        facts.append(("score", f"{result.energy_kj:.6g} kJ"))
    return result_page(result, figures, facts, placed[""])


def _runs_figure(result: TrainingResult, checks: list) -> Figure:
    names = [run.name for run in result.runs]
    energy = [np.nan if run.energy_j is None else run.energy_j / 1000 for run in result.runs]
    errors = [np.nan if run.uncertainty_j is None else run.uncertainty_j / 1000 for run in result.runs]
    status = [
        ("dropped" if run.dropped else "kept") + ("" if run.converged else ", not converged")
        for run in result.runs
    ]
    hover = [
        f"{run.name}<br>{s}<br>time to train {run.ttt_s:.1f} s"
        if run.ttt_s is not None
        else f"{run.name}<br>{s}"
        for run, s in zip(result.runs, status, strict=True)
    ]
    traces: list[dict[str, Any]] = [
        {
            "type": "bar",
            "name": "energy per run (kJ)",
            "x": names,
            "y": numbers(energy),
            "error_y": {"type": "data", "array": numbers(errors), "visible": True},
            "marker": {"color": [DROPPED_COLOR if run.dropped else KEPT_COLOR for run in result.runs]},
            "text": status,
            "hovertext": hover,
            "hoverinfo": "text+y",
            "meta": {"kept": [not run.dropped for run in result.runs]},
        }
    ]
    kept = [e for run, e in zip(result.runs, energy, strict=True) if not run.dropped and np.isfinite(e)]
    if kept:
        mean = float(np.mean(kept))
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": f"Olympic mean of the kept runs {mean:.6g} kJ",
                "x": [names[0], names[-1]],
                "y": [mean, mean],
                "line": {"dash": "dash", "color": "#d62728"},
            }
        )
    dropped = sum(run.dropped for run in result.runs)
    return Figure(
        "runs",
        "Energy per run",
        traces,
        axes("run", "kJ"),
        f"Blue bars count toward the score, grey ones were dropped ({dropped}: the fastest and slowest "
        "converged runs, failed runs first); whiskers: each run's standard uncertainty where known.",
        checks,
    )


def _nodes_figure(result: TrainingResult, checks: list) -> Figure | None:
    runs = [run for run in result.runs if run.node_energy_j]
    if not runs:
        return None
    traces: list[dict[str, Any]] = []
    many = max(len(run.node_energy_j) for run in runs) > NODES_AS_POINTS
    for run in runs:
        energy_kj = np.asarray(run.node_energy_j) / 1000
        color = DROPPED_COLOR if run.dropped else KEPT_COLOR
        if many:
            traces.append(
                {
                    "type": "box",
                    "name": run.name,
                    "y": numbers(energy_kj),
                    "marker": {"color": color},
                    "boxpoints": "outliers",
                }
            )
        else:
            traces.append(
                {
                    "type": "scatter",
                    "mode": "markers",
                    "name": run.name,
                    "x": [run.name] * len(energy_kj),
                    "y": numbers(energy_kj),
                    "text": [f"node {i + 1}" for i in range(len(energy_kj))],
                    "marker": {"color": color, "size": 8},
                }
            )
    return Figure(
        "nodes",
        "Energy per node, each run",
        traces,
        axes("run", "kJ per node", showlegend=False),
        "One point per node (a box when runs have more than 64 nodes); grey runs were dropped. "
        "Switch energy is in the run's total only.",
        checks,
    )
