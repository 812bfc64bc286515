"""The page of a calibration certificate: each candidate over the reference, raw and corrected, with
the timed windows of every condition shaded, and the figures the certificate holds.

`write_calibration_page(document, traces, directory)` writes `directory/certificate.html` next to
`plotly.min.js`; `power-calibrate` calls it after `certificate.json` is written.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from analyzers.formats.atomic import write_text_atomically
from analyzers.trace import Trace
from rules.report.page import PLOTLY_ASSET, Figure, Page, render_page
from rules.report.plots import axes, power_line, span
from rules.report.writer import ReportError, plotly_bundle

PAGE = "certificate.html"
_WINDOW_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b")


def _seconds(time_ns: np.ndarray, origin_ns: int) -> np.ndarray:
    return (time_ns - origin_ns) / 1e9


def _interval(pair: Any) -> str:
    return f"[{pair[0]:.4g}, {pair[1]:.4g}]"


def calibration_page(document: Mapping[str, Any], traces: Mapping[str, Trace]) -> Page:
    reference_label = document["reference"]["source"]
    reference = traces[reference_label]
    origin = (
        int(document["conditions"][0]["begin_ns"]) if document["conditions"] else int(reference.time_ns[0])
    )
    settings = document.get("settings", {})
    page = Page(
        title=f"Calibration against {reference_label}",
        headline=(
            f"{len(document['candidates'])} candidate(s), {len(document['conditions'])} condition(s), "
            f"{settings.get('windows', '?')} windows of {settings.get('window_s', '?')} s, "
            f"tolerance {settings.get('tolerance', '?')} %"
        ),
        verdicts=[
            (f"{c['source']}: {c['verdict']}", "good" if c["verdict"] == "pass" else "bad")
            for c in document["candidates"]
        ],
        facts=[("date", str(document.get("date", ""))), ("rule", str(document["rule"]["source"]))],
        notes=[f"Reading of the rule: {document['rule']['reading']}"],
    )
    for number, candidate in enumerate(document["candidates"]):
        page.figures.append(_overlay(number, candidate, reference_label, reference, traces, origin))
        page.facts.extend(_candidate_facts(candidate))
        page.notes.extend(
            f"{candidate['source']}: {flaw['kind']}: {flaw['detail']}" for flaw in candidate["flaws"]
        )
    return page


def _overlay(
    number: int,
    candidate: Mapping[str, Any],
    reference_label: str,
    reference: Trace,
    traces: Mapping[str, Trace],
    origin: int,
) -> Figure:
    trace = traces[candidate["source"]]
    lines = [
        power_line(reference_label, _seconds(reference.time_ns, origin), reference.watts),
        power_line(f"{candidate['source']} as read", _seconds(trace.time_ns, origin), trace.watts),
    ]
    correction = candidate.get("correction")
    if correction:
        corrected = (trace.watts - correction["offset_w"]) / correction["gain"]
        lines.append(
            power_line(
                f"{candidate['source']} corrected",
                _seconds(trace.time_ns, origin),
                corrected,
                line={"dash": "dot"},
            )
        )
    shapes = [
        span(
            (b - origin) / 1e9,
            (e - origin) / 1e9,
            _WINDOW_COLOURS[i % len(_WINDOW_COLOURS)],
            0.12,
            condition["name"],
        )
        for i, condition in enumerate(candidate["conditions"])
        for b, e in condition["windows"]
    ]
    rows = "; ".join(
        f"{c['name']}: reference {c['reference_score']:.2f} W, candidate {c['candidate_score']:.2f} W "
        f"({c['difference_percent']:+.2f} %, corrected {c['corrected_difference_percent']:+.2f} %) "
        f"{'pass' if c['passed'] else 'FAIL'}"
        for c in candidate["conditions"]
    )
    return Figure(
        key=f"candidate-{number}",
        title=f"{candidate['source']} over {reference_label}",
        traces=lines,
        layout=axes("seconds from the first condition", "W", shapes=shapes),
        caption=f"Shaded: the timed windows of each condition. Olympic scores: {rows}.",
    )


def _candidate_facts(candidate: Mapping[str, Any]) -> list[tuple[str, str]]:
    response = candidate.get("response")
    if not response:
        return [(candidate["source"], f"no response fitted: {candidate.get('response_problem', '')}")]
    bound = candidate["correction"]["relative_bound"]
    return [
        (
            f"{candidate['source']} response",
            f"gain {response['gain']:.4f} {_interval(response['gain_ci'])}, offset {response['offset_w']:+.2f} W "
            f"{_interval(response['offset_ci'])}, lag {response['lag_s']:.2f} s {_interval(response['lag_ci'])}, "
            f"averaging {response['averaging_s']:.2f} s {_interval(response['averaging_ci'])} (95 %)",
        ),
        (
            f"{candidate['source']} correction",
            f"(W - {response['offset_w']:.3f}) / {response['gain']:.5f}, stated accuracy "
            + (f"{bound * 100:.2f} %" if math.isfinite(bound) else "unknown"),
        ),
    ]


def write_calibration_page(document: Mapping[str, Any], traces: Mapping[str, Trace], directory: Path) -> Path:
    page = calibration_page(document, traces)
    bundle = plotly_bundle()
    target = directory / PAGE
    try:
        write_text_atomically(directory / PLOTLY_ASSET, bundle)
        write_text_atomically(target, render_page(page, PLOTLY_ASSET, None))
    except OSError as error:
        raise ReportError(f"{directory}: cannot write the calibration page: {error.strerror}") from None
    return target
