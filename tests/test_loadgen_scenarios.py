"""The real MLPerf LoadGen (`mlcommons-loadgen`) in each scenario, through `power-check`.

`examples/loadgen_sut.py` runs LoadGen for 3 s per scenario; its own logs (not ours) go into a result
folder with a PTD sample log spanning the window it stamped. `power-check` must read LoadGen's log as
LoadGen wrote it: VALID, the LoadGen version named, and the metric recomputed here by hand from the
samples strictly inside the window and LoadGen's own query count or throughput.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from analyzers.formats.sample_decode import read_spl
from analyzers.formats.sample_encode import write_spl
from rules.inference.loadgen_log import read_loadgen_log
from rules.inference.synthetic import synthetic_trace

SUT = Path(__file__).resolve().parents[1] / "examples" / "loadgen_sut.py"
NS = 1_000_000_000
THROUGHPUT_KEY = {
    "Offline": "result_samples_per_second",
    "Server": "result_scheduled_samples_per_sec",
}  # MLPerf's Server figure


def loadgen_folder(tmp_path: Path, scenario: str) -> Path:
    logs = tmp_path / "loadgen"
    command = [sys.executable, str(SUT), "--scenario", scenario, "--min-duration", "3"]
    done = subprocess.run(
        [*command, "--output-dir", str(logs), "--lead", "0", "--tail", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    folder = tmp_path / scenario / "performance"
    for mode in ("ranging", "run_1"):
        (folder / mode).mkdir(parents=True)
        for name in ("mlperf_log_detail.txt", "mlperf_log_summary.txt"):
            shutil.copy(logs / name, folder / mode / name)
    log = read_loadgen_log(folder / "run_1" / "mlperf_log_detail.txt")
    start = log.time_ns("power_begin") - 2 * NS
    count = int((log.time_ns("power_end") - start) / NS) + 3
    trace = synthetic_trace(start, count, 1.0, base_watts=300.0, seed=7)
    for mode in ("ranging", "run_1"):
        write_spl(folder / mode / "spl.txt", trace)
    return folder


@pytest.mark.parametrize("scenario", ["SingleStream", "MultiStream", "Server", "Offline"])
def test_loadgen_logs_of_every_scenario_give_the_hand_computed_metric(tmp_path: Path, scenario: str) -> None:
    folder = loadgen_folder(tmp_path, scenario)
    done = subprocess.run(
        [sys.executable, "-m", "rules.cli", "--json", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stderr == ""
    result = json.loads(done.stdout)[0]
    assert result["scenario"] == scenario and result["valid"] is True, result["errors"]
    assert result["loadgen_version"].startswith("6.")
    assert result["loadgen_validity"] == "VALID"

    log = read_loadgen_log(folder / "run_1" / "mlperf_log_detail.txt")
    trace = read_spl(folder / "run_1" / "spl.txt").trace
    begin, end = log.time_ns("power_begin"), log.time_ns("power_end")
    inside = (trace.time_ns > begin) & (trace.time_ns < end)
    watts = float(np.mean(trace.watts[inside]))
    assert result["avg_power_w"] == pytest.approx(watts, rel=1e-12)
    if scenario in THROUGHPUT_KEY:
        assert result["unit"] == "W" and result["value"] == pytest.approx(watts, rel=1e-12)
        assert result["efficiency"] == pytest.approx(float(log.get(THROUGHPUT_KEY[scenario])) / watts)
    else:
        per_query_j = watts * (end - begin) / NS / int(log.get("result_query_count"))
        assert result["unit"] == "mJ/query"
        assert result["value"] == pytest.approx(per_query_j * 1e3, rel=1e-9)
