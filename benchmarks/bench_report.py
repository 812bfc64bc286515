"""Benchmark: the report page of a 1,000,000-sample inference result, written and opened in Chromium.

Baseline, in the same process on the same folder: `power-check` without `--report` (the check alone).
Then the report's cost against it, the page's size, and the seconds Chromium takes to open the page
until every plot is drawn, decimated (min/max per pixel column) and, for contrast, with every sample.

    python benchmarks/bench_report.py [--samples N] [--keep DIR] [--no-full]
"""

from __future__ import annotations

import argparse
import functools
import shutil
import sys
import tempfile
import time
from pathlib import Path

from analyzers.formats.mlperf_layout import TESTING_SAMPLES

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from browser.chromium import chromium

import rules.report.plots as plots
from rules.cli import check_paths
from rules.inference.synthetic import write_performance_folder
from rules.report.decimate import envelope
from rules.report.writer import write_report


def open_seconds(browser, page: Path) -> float:  # type: ignore[no-untyped-def]
    """Wall seconds from navigation to the last plot drawn (the median of three openings)."""
    times = []
    for _ in range(3):
        tab = browser.new_page(viewport={"width": 1400, "height": 900})
        start = time.perf_counter()
        tab.goto(page.resolve().as_uri())
        tab.wait_for_function(
            "() => Array.from(document.querySelectorAll('.plot')).every(d => d.querySelector('.main-svg'))",
            timeout=300_000,
        )
        times.append(time.perf_counter() - start)
        tab.close()
    return sorted(times)[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="write the folder and reports here and keep them")
    parser.add_argument("--no-full", action="store_true", help="skip the undecimated page (slow)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-report-"))
    try:
        interval_s = 0.01
        folder = work / "performance"
        if not (folder / TESTING_SAMPLES).is_file():
            write_performance_folder(folder, duration_s=args.samples * interval_s - 10, interval_s=interval_s)
        spl_mb = (folder / TESTING_SAMPLES).stat().st_size / 1e6
        start = time.perf_counter()
        (result,) = check_paths([str(folder)], None)
        check_s = time.perf_counter() - start
        start = time.perf_counter()
        _index, problems = write_report([result], work / "report")  # type: ignore[list-item]
        report_s = time.perf_counter() - start
        assert not problems, problems
        (page,) = (work / "report" / "results").glob("*.html")
        print(f"samples per run                {args.samples:,} ({spl_mb:.0f} MB spl.txt, ranging as large)")
        print(f"power-check alone (baseline)   {check_s:.2f} s")
        print(f"write_report                   {report_s:.2f} s  ({report_s / check_s:.2f}x the check)")
        print(f"page                           {page.stat().st_size / 1e3:.0f} kB")
        print(
            f"plotly.min.js (once a report)  {(work / 'report' / 'plotly.min.js').stat().st_size / 1e6:.2f} MB"
        )
        with chromium() as browser:
            decimated_s = open_seconds(browser, page)
            print(f"open in Chromium, decimated    {decimated_s:.2f} s")
            if not args.no_full:
                plots.envelope = functools.partial(envelope, columns=10**9)  # type: ignore[assignment]
                write_report([result], work / "full")  # type: ignore[list-item]
                (full,) = (work / "full" / "results").glob("*.html")
                full_s = open_seconds(browser, full)
                print(f"page with every sample         {full.stat().st_size / 1e6:.1f} MB")
                print(
                    f"open in Chromium, every sample {full_s:.2f} s  ({full_s / decimated_s:.1f}x decimated)"
                )
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
