"""`power-check --report DIR`: an index of every result and one page per result, in a folder that
opens with no network (plotly.js lies beside the pages).

    DIR/index.html             every result: metric, verdicts, a link to its page
    DIR/results/NNN-name.html  one page per result
    DIR/plotly.min.js          the plotting library, once for all pages
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from analyzers.formats.atomic import write_text_atomically
from rules.compliance.verdict import failing
from rules.executor import executor_for
from rules.report.page import PLOTLY_ASSET, STYLE, Page, escape, render_page
from rules.report.summary import metric_text, verdict_badges
from rules.result import CheckResult

if TYPE_CHECKING:
    from rules.measure.attribution import Attribution

PAGES_DIR = "results"
INDEX = "index.html"


class ReportError(Exception):
    """The report cannot be written at all (no plotting library, an unwritable folder): one sentence."""


@dataclass(frozen=True)
class IndexRow:
    path: str
    kind: str
    scenario: str
    metric: str
    badges: tuple[tuple[str, str], ...]
    failing: str
    href: str | None
    problem: str = ""


@dataclass(frozen=True)
class Unreported:
    """An input with no result to draw: its sentence stands in the index in place of a page."""

    path: str
    kind: str
    sentence: str


def require_plotting() -> None:
    """ReportError now when plotly is missing, so a long check or run is not wasted on a report that
    cannot be written (only the import: the 4.8 MB bundle is read once, when the report is)."""
    try:
        import plotly.offline  # noqa: F401
    except ImportError:
        raise ReportError(
            "--report needs the plotting library: pip install 'joulebench[report]' (it adds plotly)"
        ) from None


def plotly_bundle() -> str:
    require_plotting()
    from plotly.offline import get_plotlyjs

    bundle: str = get_plotlyjs()
    return bundle


def write_report(
    results: Sequence[CheckResult | Unreported],
    directory: Path,
    jobs: int = 1,
    attributions: Mapping[str, Attribution] | None = None,
) -> tuple[Path, list[str]]:
    """Write the report; returns the index's path and one sentence per page that could not be drawn.
    `attributions` (by result path) adds the energy per phase and operator to `power-measure` pages."""
    bundle = plotly_bundle()
    try:
        (directory / PAGES_DIR).mkdir(parents=True, exist_ok=True)
        write_text_atomically(directory / PLOTLY_ASSET, bundle)
    except OSError as error:
        raise ReportError(f"{directory}: cannot write the report: {error.strerror}") from None
    extras = attributions or {}
    drawn = [
        (i, r, directory, extras.get(r.path)) for i, r in enumerate(results) if isinstance(r, CheckResult)
    ]
    executor = executor_for(jobs if len(drawn) > 1 else 1)
    drawn_rows = list(executor.run(_write_page, drawn, _page_failed))
    next_drawn = iter(drawn_rows)
    rows = [
        next(next_drawn)
        if isinstance(result, CheckResult)
        else IndexRow(result.path, result.kind, "", "n/a", (("unusable", "bad"),), "", None, result.sentence)
        for result in results
    ]
    index = directory / INDEX
    try:
        write_text_atomically(index, render_index(rows))
    except OSError as error:
        raise ReportError(f"{index}: cannot write: {error.strerror}") from None
    return index, [row.problem for row in drawn_rows if row.href is None]


def page_for(result: CheckResult, attribution: Attribution | None = None) -> Page:
    """The page of one result, by its kind; reads the evidence (the traces) from the result's folder."""
    from rules.inference.kind import InferenceResult
    from rules.measure.kind import MeasureResult
    from rules.tiny.kind import TinyResult
    from rules.training.kind import TrainingResult

    if isinstance(result, InferenceResult):
        from rules.report.inference_page import inference_page

        return inference_page(result)
    if isinstance(result, TrainingResult):
        from rules.report.training_page import training_page

        return training_page(result)
    if isinstance(result, TinyResult):
        from rules.report.tiny_page import tiny_page

        return tiny_page(result)
    if isinstance(result, MeasureResult):
        from rules.report.measure_page import measure_page

        return measure_page(result, attribution)
    raise TypeError(f"no report page for {type(result).__name__}")


_PageItem = tuple[int, CheckResult, Path, "Attribution | None"]


def _write_page(item: _PageItem) -> IndexRow:
    number, result, directory, attribution = item
    name = f"{number + 1:03d}-{_slug(result.path)}.html"
    page = page_for(result, attribution)
    write_text_atomically(
        directory / PAGES_DIR / name, render_page(page, f"../{PLOTLY_ASSET}", f"../{INDEX}")
    )
    return _row(result, f"{PAGES_DIR}/{name}")


def _page_failed(item: _PageItem, error: BaseException) -> IndexRow:
    result = item[1]
    detail = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
    return _row(
        result, None, f"{result.path}: its report page could not be drawn: {type(error).__name__}: {detail}"
    )


def _row(result: CheckResult, href: str | None, problem: str = "") -> IndexRow:
    return IndexRow(
        result.path,
        result.kind,
        result.scenario,
        metric_text(result),
        tuple(verdict_badges(result)),
        ", ".join(failing(result.checks)),
        href,
        problem,
    )


def _slug(path: str) -> str:
    tail = "-".join(Path(path).parts[-3:])
    return re.sub(r"[^A-Za-z0-9._-]+", "_", tail)[:80] or "result"


def render_index(rows: Sequence[IndexRow]) -> str:
    body = []
    for row in rows:
        name = f'<a href="{escape(row.href)}">{escape(row.path)}</a>' if row.href else escape(row.path)
        badges = " ".join(
            f'<span class="badge {state}">{escape(label)}</span>' for label, state in row.badges
        )
        problem = f'<div class="problem">{escape(row.problem)}</div>' if row.problem else ""
        body.append(
            f"<tr><td>{name}{problem}</td><td>{escape(row.kind)}</td><td>{escape(row.scenario)}</td>"
            f"<td>{escape(row.metric)}</td><td>{badges}</td><td>{escape(row.failing)}</td></tr>"
        )
    valid = sum(1 for row in rows if row.badges and row.badges[0][1] == "good")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>power-check report</title>'
        f"<style>{STYLE} .problem {{ color: #b00020; }}</style></head>\n<body>\n"
        f"<h1>power-check report</h1><p>{len(rows)} result(s), {valid} with a valid metric.</p>\n"
        '<table class="index"><tr><th>result</th><th>kind</th><th>scenario</th><th>metric</th>'
        "<th>verdicts</th><th>failing checks</th></tr>\n" + "\n".join(body) + "\n</table>\n</body></html>\n"
    )


def write_measure_report(
    folder: Path, directory: Path, attribution: Attribution | None = None
) -> tuple[Path, list[str]]:
    """The report of one `power-measure` folder (what `power-measure --report` writes)."""
    from rules.measure.kind import MeasureKind

    result = MeasureKind().check(folder, None)
    extras = {result.path: attribution} if attribution is not None else None
    return write_report([result], directory, attributions=extras)
