"""Debian's Chromium, headless, driven by Playwright: what the report tests look at pages with.

The machine's network is closed, so Chromium's background traffic (updates, sync, Google's hosts) is
switched off; it runs as root in CI, hence no sandbox.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, sync_playwright

CHROMIUM_ENV = "JOULEBENCH_CHROMIUM"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# What the page's plots hold once drawn: Plotly's own data (traces, points, shapes) and what it
# put in the SVG (one group per drawn trace, one path per bar).
_READ_PLOTS = """
() => Array.from(document.querySelectorAll('.plot')).map(div => ({
  key: div.dataset.key,
  drawn: div.querySelector('.main-svg') !== null,
  traces: (div.data || []).map(t => ({
    name: t.name, type: t.type, mode: t.mode || '',
    points: (t.type === 'box' ? t.y : (t.x || t.y)).length,
    nulls: (t.y || []).filter(v => v === null).length,
    meta: t.meta || null,
  })),
  shapes: ((div.layout || {}).shapes || []).map(s => ({name: s.name || '', type: s.type, x0: s.x0, x1: s.x1})),
  drawnScatter: div.querySelectorAll('.scatterlayer .trace').length,
  drawnBars: div.querySelectorAll('.barlayer .point').length,
}))
"""


def chromium_path() -> str:
    path = os.environ.get(CHROMIUM_ENV) or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        raise AssertionError(
            f"no Chromium: install Debian's chromium package (.ci/run does), or set {CHROMIUM_ENV}"
        )
    return path


@dataclass
class RenderedPage:
    path: Path
    plots: list[dict[str, Any]]
    errors: list[str]
    checks: list[str]
    load_s: float
    text: str = ""
    links: list[str] = field(default_factory=list)

    def plot(self, key: str) -> dict[str, Any]:
        found = [p for p in self.plots if p["key"] == key]
        assert len(found) == 1, (
            f"{self.path}: plot {key!r} not found once in {[p['key'] for p in self.plots]}"
        )
        return found[0]


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def render(browser: Browser, path: Path, screenshot: Path | None = None) -> RenderedPage:
    """Open `path`, wait until every plot is drawn, and read what was drawn (and any console error)."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    # Nothing may come from the network: any request that is not a file of the report is an error.
    page.on("request", lambda r: None if r.url.startswith("file://") else errors.append(f"request {r.url}"))
    page.goto(path.resolve().as_uri())
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.plot')).every(d => d.querySelector('.main-svg'))",
        timeout=20_000,
    )
    load_s = page.evaluate(
        "() => { const n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd / 1000; }"
    )
    plots = page.evaluate(_READ_PLOTS)
    checks = page.evaluate(
        "() => Array.from(document.querySelectorAll('[data-check]')).map(e => e.dataset.check)"
    )
    links = page.evaluate("() => Array.from(document.querySelectorAll('a')).map(a => a.getAttribute('href'))")
    text = page.inner_text("body")
    if screenshot is not None:
        page.screenshot(path=str(screenshot), full_page=True)
    page.close()
    return RenderedPage(path, plots, errors, checks, load_s, text, links)
