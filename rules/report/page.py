"""One report page: the result's figures, each with the compliance checks it is the evidence for.

A page is data (`Page`, `Figure`) until `render_page` writes it as HTML. The figures are Plotly
figure specifications (plain dicts: traces and layout), drawn in the browser by the plotly.js bundle
the report folder carries, so a page opens with no network.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rules.compliance.verdict import Check, Verdict
from rules.errors import InputError

PLOTLY_ASSET = "plotly.min.js"


@dataclass
class Figure:
    """A plot (`traces` and `layout` in Plotly's schema) and the checks whose evidence it shows."""

    key: str
    title: str
    traces: list[dict[str, Any]]
    layout: dict[str, Any] = field(default_factory=dict)
    caption: str = ""
    checks: list[Check] = field(default_factory=list)


@dataclass
class Page:
    title: str
    headline: str
    verdicts: list[tuple[str, str]]
    """(label, state) pairs shown as badges; state is one of good, bad, neutral."""
    facts: list[tuple[str, str]] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    other_checks: list[Check] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def numbers(values: np.ndarray | Sequence[float], digits: int = 6) -> list[float | None]:
    """A float array as a JSON list: rounded to `digits` decimals (smaller pages); NaN and infinities,
    which JSON has no word for, as null (a break in a line, a missing bar)."""
    array = np.round(np.asarray(values, dtype=np.float64), digits)
    listed: list[float | None] = array.tolist()
    missing = np.flatnonzero(~np.isfinite(array))
    for index in missing.tolist():
        listed[index] = None
    return listed


def plotted(draw: Callable[[], Figure], problems: list[str]) -> list[Figure]:
    """[the figure `draw` makes], or none and the reason added to `problems`: a page shows what it can."""
    try:
        return [draw()]
    except InputError as error:
        problems.append(f"not plotted: {error}")
        return []


def sort_checks(checks: Sequence[Check], sections: Mapping[str, Sequence[str]]) -> dict[str, list[Check]]:
    """Each check under the first section one of whose id prefixes it starts with; the rest under ''."""
    placed: dict[str, list[Check]] = {name: [] for name in sections}
    placed[""] = []
    for check in checks:
        home = next((name for name, prefixes in sections.items() if check.id.startswith(tuple(prefixes))), "")
        placed[home].append(check)
    return placed


def render_page(page: Page, asset_href: str, index_href: str | None) -> str:
    """The page as one HTML document; `asset_href` is where plotly.js lies relative to it."""
    specs: list[dict[str, Any]] = [
        {"key": f.key, "data": f.traces, "layout": _titled(f.title, f.layout)} for f in page.figures
    ]
    body = [f"<h1>{escape(page.title)}</h1>"]
    if index_href:
        body.append(f'<p class="nav"><a href="{escape(index_href)}">← all results</a></p>')
    body.append(f'<p class="headline">{escape(page.headline)}</p>')
    body.append(
        '<p class="verdicts">'
        + " ".join(f'<span class="badge {state}">{escape(label)}</span>' for label, state in page.verdicts)
        + "</p>"
    )
    if page.errors:
        body.append('<ul class="errors">' + "".join(f"<li>{escape(e)}</li>" for e in page.errors) + "</ul>")
    if page.facts:
        rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in page.facts)
        body.append(f'<table class="facts">{rows}</table>')
    for figure in page.figures:
        body.append(f'<section class="figure" id="section-{escape(figure.key)}">')
        body.append(
            f'<div class="plot" id="plot-{escape(figure.key)}" data-key="{escape(figure.key)}"></div>'
        )
        if figure.caption:
            body.append(f'<p class="caption">{escape(figure.caption)}</p>')
        body.append(_checks_list(figure.checks))
        body.append("</section>")
    if page.other_checks:
        body.append('<section class="records"><h2>Records and identity checks</h2>')
        body.append(_checks_list(page.other_checks))
        body.append("</section>")
    if page.notes:
        body.append(
            '<h2>Notes</h2><ul class="notes">'
            + "".join(f"<li>{escape(n)}</li>" for n in page.notes)
            + "</ul>"
        )
    return _document(page.title, "\n".join(body), specs, asset_href)


def _titled(title: str, layout: dict[str, Any]) -> dict[str, Any]:
    titled: dict[str, Any] = {"title": {"text": title}}
    titled.update(layout)
    return titled


def _checks_list(checks: Sequence[Check]) -> str:
    if not checks:
        return ""
    order = {Verdict.FAIL: 0, Verdict.WARN: 1, Verdict.INFO: 2, Verdict.PASS: 3}
    items = "".join(
        f'<li class="check {c.verdict.value.lower()}" data-check="{escape(c.id)}">'
        f'<span class="verdict">{escape(c.verdict.value)}</span> <code>{escape(c.id)}</code> {escape(c.message)}</li>'
        for c in sorted(checks, key=lambda c: order[c.verdict])
    )
    return f'<ul class="checks">{items}</ul>'


def escape(text: object) -> str:
    return html.escape(str(text), quote=True)


def embedded_json(value: object) -> str:
    """JSON safe inside a <script> element: no `<` at all, so neither `</script>` nor `<!--` (which
    changes how the HTML parser reads the rest of the script) can appear in it."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 1560px; padding: 0 1em; color: #222; }
h1 { font-size: 1.35em; word-break: break-all; } h2 { font-size: 1.1em; margin-top: 1.6em; }
.headline { font-size: 1.15em; }
.badge { display: inline-block; padding: .1em .6em; border-radius: .8em; margin-right: .4em; font-weight: 600; }
.badge.good { background: #d8f3dc; color: #1b4332; } .badge.bad { background: #ffd6d6; color: #7a0000; }
.badge.neutral { background: #e9ecef; color: #333; }
table { border-collapse: collapse; } th { white-space: nowrap; } th, td { text-align: left; padding: .2em .8em .2em 0; vertical-align: top; }
table.index td, table.index th { border-bottom: 1px solid #ddd; padding: .3em .8em; }
.plot { width: 100%; height: 430px; } .caption { color: #555; margin: .2em 0 .6em; }
ul.checks { list-style: none; padding-left: 0; } ul.checks li { margin: .15em 0; }
.verdict { display: inline-block; min-width: 3.2em; font-weight: 700; }
li.fail .verdict { color: #b00020; } li.warn .verdict { color: #a05a00; }
li.info .verdict { color: #245; } li.pass .verdict { color: #2d6a4f; }
ul.errors li { color: #b00020; } .notes { color: #444; }
"""

_SCRIPT = """
(function () {
  var specs = JSON.parse(document.getElementById("figures").textContent);
  var config = {responsive: true, displaylogo: false};
  specs.forEach(function (spec) {
    Plotly.newPlot("plot-" + spec.key, spec.data, spec.layout, config);
  });
})();
"""


def _document(title: str, body: str, specs: list[dict[str, Any]], asset_href: str | None) -> str:
    scripts = ""
    if specs:
        scripts = (
            f'<script src="{escape(asset_href)}"></script>\n'
            f'<script type="application/json" id="figures">{embedded_json(specs)}</script>\n'
            f"<script>{_SCRIPT}</script>"
        )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n"
        f"<body>\n{body}\n{scripts}\n</body></html>\n"
    )
