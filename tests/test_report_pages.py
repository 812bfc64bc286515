"""The report's files without a browser: the index, refusals in one sentence, what a page may hold."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from rules.compliance.verdict import Check, Verdict
from rules.report.page import Figure, Page, embedded_json, numbers, render_page

DATA = Path(__file__).resolve().parent / "data"
TINY = DATA / "tiny" / "v1.0-octoml-l4r5zi-cmsis-ad-energy"


def _power_check(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rules.cli", *arguments], capture_output=True, text=True, timeout=120
    )


def test_the_index_lists_results_and_unusable_inputs_and_the_exit_says_unusable(tmp_path: Path) -> None:
    report = tmp_path / "report"
    done = _power_check("--report", str(report), str(TINY), str(tmp_path / "missing"))
    assert done.returncode == 2
    index = (report / "index.html").read_text()
    assert f"{tmp_path / 'missing'}: no such file or directory" in index
    (page,) = (report / "results").glob("*.html")
    assert f'href="results/{page.name}"' in index
    assert 'src="../plotly.min.js"' in page.read_text()
    assert (report / "plotly.min.js").stat().st_size > 1_000_000
    assert oct((report / "index.html").stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_an_unwritable_report_folder_is_one_sentence(tmp_path: Path) -> None:
    blocker = tmp_path / "report"
    blocker.write_text("a file, not a folder")
    done = _power_check("--report", str(blocker), str(TINY))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith(f"power-check: {blocker}: cannot write the report")
    assert "Traceback" not in done.stderr


def test_page_text_cannot_end_its_script_or_inject_markup() -> None:
    hostile = "</script><script>alert(1)</script>"
    check = Check("samples.count", Verdict.FAIL, hostile)
    figure = Figure(
        "power", hostile, [{"type": "scatter", "name": hostile, "x": [0, 1], "y": [1, 2]}], checks=[check]
    )
    html = render_page(Page(hostile, hostile, [("metric INVALID", "bad")], figures=[figure]), "p.js", None)
    assert html.count("<script") == 3  # the library, the figures' JSON, the drawing code: nothing injected
    specs = json.loads(re.search(r'id="figures">(.*?)</script>', html, re.S).group(1))  # type: ignore[union-attr]
    assert specs[0]["data"][0]["name"] == hostile and "&lt;/script&gt;" in html


def test_numbers_are_rounded_and_non_finite_values_become_null() -> None:
    assert numbers(np.array([1.23456789, np.nan, np.inf, -np.inf, 2.0]), digits=3) == [
        1.235,
        None,
        None,
        None,
        2.0,
    ]
    assert embedded_json({"a": "</b><!--"}) == '{"a":"\\u003c/b>\\u003c!--"}'
