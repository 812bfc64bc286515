"""Benchmark: the inference power metric from a 1,000,000-line 3-channel spl.txt.

Ours (pyarrow-typed parse + vectorised window) against the baseline the MLCommons submission checker
uses (per line: `split`, `strptime`, `float`), in the same process on the same file; then our peak
memory, measured in a fresh child process as the rise of its resident set size during the check.

    python benchmarks/bench_inference_check.py [--lines N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from analyzers.formats.mlperf_layout import TESTING_SAMPLES
from analyzers.formats.sample_decode import read_spl
from rules.inference.kind import InferenceKind, InferenceResult
from rules.inference.synthetic import write_performance_folder

CHILD = """
import json, sys, time
from pathlib import Path
from rules.inference.kind import InferenceKind

def status_kib(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])

# Reset the high-water mark (Linux clear_refs 5) so the peak below is the check's own.
Path("/proc/self/clear_refs").write_text("5")
before = status_kib("VmRSS")
start = time.perf_counter()
result = InferenceKind().check(Path(sys.argv[1]), None)
elapsed = time.perf_counter() - start
print(json.dumps({"rise_kib": status_kib("VmHWM") - before, "seconds": elapsed, "value": result.value}))
"""


def baseline_average(spl: Path, begin: dt.datetime, end: dt.datetime) -> float:
    """The submission checker's loop, kept as it is written there (it is the baseline)."""
    fmt = "%m-%d-%Y %H:%M:%S.%f"
    power = []
    with spl.open() as handle:
        for line in handle:
            timestamp = dt.datetime.strptime(line.split(",")[1], fmt)
            if begin < timestamp < end:
                power.append(float(line.split(",")[3]))
    return sum(power) / len(power)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = args.keep or Path(scratch)
        folder = root / "Offline" / "performance"
        t0 = time.perf_counter()
        run = write_performance_folder(
            folder, "Offline", duration_s=args.lines - 10, channels=3, query_count=1,
            throughput={"result_samples_per_second": 5000.0},
        )  # fmt: skip
        # The baseline reads one file; so does ours: the ranging companion is left out of the timing.
        shutil.rmtree(folder / "ranging")
        spl = folder / TESTING_SAMPLES
        size = spl.stat().st_size
        print(f"generated {args.lines:,} lines, {size / 1e6:.1f} MB in {time.perf_counter() - t0:.1f} s")

        ours_s = math.inf
        for _ in range(3):
            start = time.perf_counter()
            result = InferenceKind().check(folder, None)
            ours_s = min(ours_s, time.perf_counter() - start)
        assert isinstance(result, InferenceResult) and result.avg_power_w is not None
        start = time.perf_counter()
        general = read_spl(spl, detail=True)
        general_s = time.perf_counter() - start
        del general

        begin = dt.datetime.strptime(run.log_values["power_begin"], "%m-%d-%Y %H:%M:%S.%f")
        end = dt.datetime.strptime(run.log_values["power_end"], "%m-%d-%Y %H:%M:%S.%f")
        start = time.perf_counter()
        expected = baseline_average(spl, begin, end)
        baseline_s = time.perf_counter() - start
        agree = abs(expected - result.avg_power_w) <= 1e-9 * abs(expected)

        child = subprocess.run(
            [sys.executable, "-c", CHILD, str(folder)], capture_output=True, text=True, check=True
        )
        memory = json.loads(child.stdout)
        rise_bytes = memory["rise_kib"] * 1024
    print(
        f"ours:     {ours_s:8.3f} s  ({args.lines / ours_s / 1e6:.2f} M lines/s; the whole check, best of 3)"
    )
    print(f"general:  {general_s:8.3f} s  (every field of every channel into a Trace, pyarrow CSV reader)")
    print(f"baseline: {baseline_s:8.3f} s  (split + strptime + float per line, testing file only)")
    print(f"speed-up: {baseline_s / ours_s:8.1f} x   results agree: {agree} ({result.avg_power_w:.9f} W)")
    print(
        f"peak memory rise in a fresh process: {rise_bytes / 1e6:.1f} MB = {rise_bytes / size:.2f} x the file "
        f"size (check took {memory['seconds']:.3f} s there)"
    )
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
