"""`power-calibrate` end to end in real time, with short windows, then its certificate on `power-measure`.

The reference is the simulated meter and the candidate NVML's real driver on the fake `pynvml`
(tests/fakes_system/nvml_site), both following one load-control file: the GPU draws 0.90 x the load
+ 12 W. The loads are small scripts that set the load and sleep less than the windows need, so
power-calibrate has to rerun them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from browser.chromium import chromium, render

from analyzers.simulated.control import append_load_step

SITE = Path(__file__).parent / "fakes_system" / "nvml_site"
CALIBRATE = [sys.executable, "-m", "power_client.metering.calibrate_cli"]
MEASURE = [sys.executable, "-m", "power_client.metering.cli"]


def environment(control: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SITE), os.environ.get("PYTHONPATH", "")]),
        "JOULEBENCH_SIM_CONTROL": str(control),
        "FAKE_NVML_GPUS": json.dumps([{"watts": 80.0}]),
        "FAKE_NVML_UPDATE_NS": "1000000",
        "FAKE_NVML_FOLLOW": str(control),
        "FAKE_NVML_GAIN": "0.90",
        "FAKE_NVML_OFFSET": "12",
    }


def load(control: Path, watts: float, seconds: float) -> str:
    script = (
        "import sys, time; from analyzers.simulated.control import append_load_step; "
        f"append_load_step(sys.argv[1], {watts}); time.sleep({seconds})"
    )
    return f"{sys.executable} -c '{script}' {control}"


@pytest.fixture
def control(tmp_path: Path) -> Path:
    path = tmp_path / "load.control"
    append_load_step(path, 80.0, at_ns=0)  # controlled from the start: idle until a load runs
    return path


def test_calibrate_then_measure_with_the_certificate(tmp_path: Path, control: Path) -> None:
    env = environment(control)
    output = tmp_path / "calibration"
    command = [
        *CALIBRATE,
        "--reference", "simulated",
        "--candidate", "nvml:0",
        "--idle", "6",
        "--load", load(control, 300.0, 2.5),
        "--load", load(control, 600.0, 2.5),
        "--windows", "5", "--window-s", "1.2", "--interval-ms", "200",
        "--output", str(output),
    ]  # fmt: skip
    began = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr  # 0.90 x 600 W + 12 W is 8 % low: the rule fails it
    assert time.monotonic() - began < 60
    assert "nvml:0: fail" in done.stderr and "Traceback" not in done.stderr
    certificate = json.loads((output / "certificate.json").read_text())
    assert certificate["verdict"] == "fail"
    assert "Olympic score drops its highest and its lowest window" in certificate["rule"]["reading"]
    [candidate] = certificate["candidates"]
    names = [c["name"] for c in certificate["conditions"]]
    assert names[0] == "idle" and len(names) == 3
    assert all(c["duration_s"] >= 6 for c in certificate["conditions"])  # the 2.5 s loads were rerun
    response = candidate["response"]
    assert response["gain"] == pytest.approx(0.90, rel=0.02)
    assert response["offset_w"] == pytest.approx(12.0, abs=5.0)
    by_name = {c["name"]: c for c in candidate["conditions"]}
    assert by_name[names[2]]["difference_percent"] == pytest.approx(-8.0, abs=1.0)
    # Real time with 1.2 s windows: a loaded host's scheduling moves a window's edges by a sample; the
    # exact recovery is the virtual-clock tests' (test_calibration.py). Here: the correction works.
    assert all(abs(c["corrected_difference_percent"]) < 2.0 for c in candidate["conditions"])
    assert sorted(p.name for p in (output / "traces").iterdir()) == [
        "00-simulated.parquet",
        "01-nvml_0.parquet",
    ]

    # The page: the candidate as read and corrected over the reference, every window shaded.
    with chromium() as browser:
        page = render(browser, output / "certificate.html", tmp_path / "certificate.png")
    assert page.errors == []
    plot = page.plot("candidate-0")
    assert plot["drawn"] and [t["name"] for t in plot["traces"]] == [
        "simulated", "nvml:0 as read", "nvml:0 corrected"
    ]  # fmt: skip
    assert len(plot["shapes"]) == 3 * 5 and {s["name"] for s in plot["shapes"]} == set(names)
    assert f"gain {response['gain']:.4f}" in page.text and "nvml:0: fail" in page.text

    # The certificate on a later measurement: NVML's corrected energy agrees with the reference's.
    measured = subprocess.run(
        [*MEASURE, "--source", "simulated", "--source", "nvml:0",
         "--certificate", str(output / "certificate.json"), "--json", "--",
         *load(control, 450.0, 3.0).split(" ", 1)[:1], "-c",
         load(control, 450.0, 3.0).split("'")[1], str(control)],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert measured.returncode == 0, measured.stderr
    document = json.loads(measured.stdout)
    nvml = next(s for s in document["sources"] if s["label"] == "nvml:0")
    assert nvml["correction"]["gain"] == pytest.approx(response["gain"])
    [whole] = [w for w in document["windows"] if w["name"] == "command"]
    energies = {s["source"]: s for s in whole["sources"]}
    reference_j, corrected_j = energies["simulated"]["energy_j"], energies["nvml:0"]["energy_j"]
    assert corrected_j == pytest.approx(reference_j, rel=0.02)
    assert energies["nvml:0"]["uncertainty_j"] >= corrected_j * candidate["correction"]["relative_bound"] / 2


def test_bad_input_is_one_sentence(tmp_path: Path, control: Path) -> None:
    env = environment(control)
    cases = [
        (["--reference", "simulated", "--candidate", "nvml:0", "--idle", "1", "--load", "true", "--output", "x"],
         "--idle 1 s is shorter than its 5 windows of 60 s (300 s)"),
        (["--reference", "simulated", "--idle", "300", "--load", "true", "--output", "x"], "--candidate is required"),
        (["--reference", "simulated", "--candidate", "nvml:0", "--idle", "1", "--window-s", "0.2",
          "--load", "exit 3", "--interval-ms", "100", "--output", str(tmp_path / "x")],
         "load 'exit 3' failed with exit status 3 (run 1); no certificate written"),
        (["--reference", "simulated", "--candidate", "nvml:0", "--idle", "1", "--window-s", "0.2",
          "--load", "true", "--no-rerun", "--interval-ms", "100", "--output", str(tmp_path / "y")],
         "condition 'true' lasted 0.0 s, shorter than its 5 windows of 0.2 s (1 s); no certificate written"),
    ]  # fmt: skip
    for arguments, sentence in cases:
        done = subprocess.run([*CALIBRATE, *arguments], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2
        assert sentence in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
    other = tmp_path / "other.json"
    other.write_text('{"format": "joulebench-calibration/1", "candidates": [{"source": "rapl"}]}')
    done = subprocess.run(
        [*MEASURE, "--source", "nvml:0", "--certificate", str(other), "--", "true"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert f"--certificate: {other}: certifies rapl, not source 'nvml:0' (sources: nvml:0)" in done.stderr
