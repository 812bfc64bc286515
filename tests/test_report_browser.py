"""`power-check --report` and `power-measure --report`, looked at in a real browser (headless Chromium).

Each page is opened from disk with the network refused: what Plotly drew (traces, points, shaded
spans, bars) is read back and compared with what the logs say, independently of the report code.
A screenshot of every page lands in the test's temp dir.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from browser.chromium import RenderedPage, chromium, render
from playwright.sync_api import Browser

from analyzers.formats.sample_decode import read_spl
from analyzers.trace import SAMPLE_ERROR, SAMPLE_MISSED, Trace
from rules.inference.loadgen_log import read_loadgen_log
from rules.inference.synthetic import write_performance_folder
from rules.report.decimate import PLOT_COLUMNS

DATA = Path(__file__).resolve().parent / "data"
INFERENCE = sorted((DATA / "inference").iterdir())
TRAINING = DATA / "training" / "v4.0-smc-dc-1x-h100-llama2_70b_lora"
TINY = DATA / "tiny" / "v1.0-octoml-l4r5zi-cmsis-ad-energy"
PROFILES = DATA / "profiles"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as opened:
        yield opened


def _report(tmp_path: Path, *paths: Path) -> tuple[Path, list[dict]]:
    """power-check --json --report on `paths`: the report folder and the JSON results."""
    report = tmp_path / "report"
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "rules.cli", "--json", "--report", str(report), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode in (0, 1), done.stderr
    assert f"report written to {report / 'index.html'}" in done.stderr
    out.write_text(done.stdout)
    return report, json.loads(done.stdout)


def _pages(browser: Browser, report: Path, shots: Path) -> dict[str, RenderedPage]:
    """Every page linked from the index, rendered, by result path; none with a console error."""
    index = render(browser, report / "index.html", shots / "index.png")
    pages = {}
    for number, href in enumerate(h for h in index.links if h and h.startswith("results/")):
        page = render(browser, report / href, shots / f"page-{number}.png")
        assert page.errors == [], (href, page.errors)
        assert all(plot["drawn"] for plot in page.plots), href
        pages[page.text.splitlines()[0]] = page
    return pages


def test_inference_pages_show_the_trace_in_its_loadgen_window_with_every_check(
    browser: Browser, tmp_path: Path
) -> None:
    report, results = _report(tmp_path, *INFERENCE)
    pages = _pages(browser, report, tmp_path)
    assert len(pages) == len(INFERENCE) == len(results)
    for result in results:
        page = pages[result["path"]]
        folder = Path(result["path"])
        # The testing trace: one point per sample of run_1/spl.txt (these are short enough to draw whole).
        samples = read_spl(folder / "run_1" / "spl.txt").trace
        power = page.plot("power")
        line = power["traces"][0]
        assert line["points"] - line["nulls"] == len(samples) == line["meta"]["samples"]
        assert power["drawnScatter"] == len(power["traces"])
        # The shaded window is the LoadGen window, read here from the detail log on its own.
        log = read_loadgen_log(folder / "run_1" / "mlperf_log_detail.txt")
        window = next(s for s in power["shapes"] if s["name"] == "loadgen-window")
        assert window["x0"] == 0
        assert window["x1"] == pytest.approx(
            (log.time_ns("power_end") - log.time_ns("power_begin")) / 1e9, abs=1e-9
        )
        assert window["x1"] == pytest.approx(result["window_s"], abs=1e-9)
        # Ranging beside testing: two lines, two windows.
        ranging = page.plot("ranging")
        names = [t["name"] for t in ranging["traces"]]
        assert "ranging watts" in names and "testing watts" in names
        assert {s["name"] for s in ranging["shapes"]} == {"ranging-window", "testing-window"}
        # Every compliance check of the result is on its page, once.
        assert sorted(page.checks) == sorted(c["id"] for c in result["checks"])
        assert f"{result['value']:.6g}" in page.text
    three_channel = next(r for r in results if r["path"].endswith("-3ch"))
    channels = pages[three_channel["path"]].plot("channels")
    assert [t["name"] for t in channels["traces"]] == ["total", "Ch1", "Ch2", "Ch3"]


def test_a_long_trace_is_drawn_as_its_envelope_and_flags_stay_visible(
    browser: Browser, tmp_path: Path
) -> None:
    # 60,000 samples at 100 Hz, with error and missed sentinels and a 3 s hole in the testing trace.
    run = write_performance_folder(tmp_path / "performance", duration_s=590, interval_s=0.01)
    spl = run.folder / "run_1" / "spl.txt"
    lines = spl.read_text().splitlines(keepends=True)
    for number, sentinel in ((20_000, "-1"), (20_001, "-1"), (40_000, "-1"), (30_000, "-2")):
        fields = lines[number].split(",")
        fields[3] = sentinel  # Time,<stamp>,Watts,<value>,...
        lines[number] = ",".join(fields)
    del lines[45_000:45_300]  # samples 45,000..45,299: 444.99 s to 448.00 s from power_begin
    spl.write_text("".join(lines))
    report, (result,) = _report(tmp_path, run.folder)
    (page,) = _pages(browser, report, tmp_path).values()
    power = page.plot("power")
    line, *markers = power["traces"]
    assert line["meta"]["samples"] == len(lines)
    assert line["points"] <= 2 * PLOT_COLUMNS + line["nulls"] and line["nulls"] == 1  # one break: the hole
    by_name = {m["name"]: m for m in markers}
    assert by_name["error samples (-1): 3"]["meta"]["samples"] == 3
    assert by_name["missed samples (-2): 1"]["meta"]["samples"] == 1
    assert [s for s in power["shapes"] if s["name"] == "gap"] == [
        {
            "name": "gap",
            "type": "rect",
            "x0": pytest.approx(444.99, abs=1e-3),
            "x1": pytest.approx(448.0, abs=1e-3),
        }
    ]
    assert result["sentinels"] == {"error": 3, "missed": 1}


def test_training_and_tiny_pages_show_the_olympic_selection_and_each_window(
    browser: Browser, tmp_path: Path
) -> None:
    report, results = _report(tmp_path, TRAINING, TINY)
    pages = _pages(browser, report, tmp_path)
    training, tiny = results
    runs = pages[training["path"]].plot("runs")
    bars = runs["traces"][0]
    assert bars["points"] == len(training["runs"]) == 10 and runs["drawnBars"] == 10
    assert bars["meta"]["kept"] == [not run["dropped"] for run in training["runs"]]
    assert sum(bars["meta"]["kept"]) == 8
    nodes = pages[training["path"]].plot("nodes")
    assert [t["points"] for t in nodes["traces"]] == [1] * 10  # one node per run
    for result in (training, tiny):
        assert sorted(pages[result["path"]].checks) == sorted(c["id"] for c in result["checks"])
    windows = pages[tiny["path"]].plot("windows")
    assert windows["traces"][0]["points"] == len(tiny["windows"]) == 5 and windows["drawnBars"] == 5
    power = pages[tiny["path"]].plot("power")
    assert power["traces"][0]["meta"]["samples"] == 107_520
    assert power["traces"][0]["points"] <= 2 * PLOT_COLUMNS
    spans = [s for s in power["shapes"] if s["name"].startswith("window-")]
    assert [(s["x0"], s["x1"]) for s in spans] == [
        (pytest.approx(w["begin_s"]), pytest.approx(w["end_s"])) for w in tiny["windows"]
    ]


def test_power_measure_pages_show_windows_marks_flags_and_the_attribution(
    browser: Browser, tmp_path: Path
) -> None:
    # The recorded PyTorch run, with a few samples made suspect: two sentinels, three over 1 % uncertainty.
    power = tmp_path / "power"
    shutil.copytree(PROFILES / "tiny_mlp_cpu_power", power)
    trace = Trace.from_parquet(power / "trace-1.parquet")
    flags, uncertainty = trace.flags.copy(), trace.uncertainty.copy()
    flags[[5, 9]] = [SAMPLE_ERROR, SAMPLE_MISSED]
    uncertainty[[20, 21, 22]] = 0.03
    watts = np.where(flags == 0, trace.watts, np.nan)
    dataclasses.replace(trace, flags=flags, uncertainty=uncertainty, watts=watts).to_parquet(
        power / "trace-1.parquet"
    )
    report = tmp_path / "report"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "power_client.metering.cli",
            "attribute",
            "--profile",
            str(PROFILES / "tiny_mlp_cpu.pt.trace.json"),
            "--power",
            str(power),
            "--report",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    (page,) = _pages(browser, report, tmp_path).values()
    document = json.loads((power / "result.json").read_text())
    plot = page.plot("power")
    named = {t["name"]: t for t in plot["traces"]}
    assert named["error samples (-1): 1"]["points"] == 1 and named["missed samples (-2): 1"]["points"] == 1
    assert named["uncertainty > 1 %: 3"]["points"] == 3
    windows = [w for w in document["windows"] if w["name"] != "command"]
    assert {s["name"] for s in plot["shapes"] if s["name"].startswith("window-")} == {
        f"window-{w['name']}" for w in windows
    }
    assert len([s for s in plot["shapes"] if s["name"].startswith("mark-")]) == len(document["marks"])
    assert page.plot("windows")["drawnBars"] == len(document["windows"])
    phases = page.plot("phases")["traces"][0]
    assert {"forward", "backward", "data loading", "optimizer"} <= set(phases["meta"]["names"])


def test_power_measure_report_of_a_command_and_the_report_extra_missing(
    browser: Browser, tmp_path: Path
) -> None:
    report = tmp_path / "report"
    script = (
        "from power_client import marks; import time; marks.begin('work'); time.sleep(0.5); marks.end('work')"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "power_client.metering.cli",
            "--interval-ms",
            "20",
            "--report",
            str(report),
            "--",
            sys.executable,
            "-c",
            script,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (report / "measurement" / "result.json").is_file()  # the data beside its picture
    (page,) = _pages(browser, report, tmp_path).values()
    assert [s["name"] for s in page.plot("power")["shapes"] if s["name"].startswith("window-")] == [
        "window-work"
    ]
    # Without plotly the option is refused before the command runs, in one sentence.
    blocked = tmp_path / "no-plotly"
    (blocked / "plotly").mkdir(parents=True)
    (blocked / "plotly" / "__init__.py").write_text("raise ImportError('plotly is not installed')\n")
    env = {"PYTHONPATH": f"{blocked}:{Path(__file__).resolve().parents[1]}", "PATH": "/usr/bin:/bin"}
    refused = subprocess.run(
        [sys.executable, "-m", "rules.cli", "--report", str(tmp_path / "r2"), str(TINY)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.strip() == (
        "power-check: --report needs the plotting library: pip install 'joulebench[report]' (it adds plotly)"
    )
