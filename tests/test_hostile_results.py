"""Result folders with impossible numbers: never VALID without a finite metric, nothing on stderr.

Copies of the public fixtures with one kind of damage each: an infinite reading in `spl.txt` (dropped,
noted, the rest still measured), NaN energy samples in an EnergyRunner trace, and a training
`power_reading` of 1.8e308 W (an overflow to infinity). Run as a user would: `power-check` in a
process of its own, its stderr read.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from rules.cli import _valid_only_if_finite
from rules.result import CheckResult

DATA = Path(__file__).resolve().parent / "data"


def power_check(folder: Path) -> tuple[int, dict[str, object], str]:
    done = subprocess.run(
        [sys.executable, "-m", "rules.cli", "--json", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, json.loads(done.stdout)[0], done.stderr


def test_an_infinite_reading_is_dropped_with_a_note(tmp_path: Path) -> None:
    folder = tmp_path / "inference"
    shutil.copytree(DATA / "inference" / "v2.0-nvidia-orin-resnet50-singlestream", folder)
    spl = folder / "run_1" / "spl.txt"
    lines = spl.read_text().splitlines()
    fields = lines[300].split(",")
    fields[3] = "inf"
    lines[300] = ",".join(fields)
    spl.write_text("\n".join(lines) + "\n")
    _status, result, stderr = power_check(folder)
    assert stderr == ""
    assert isinstance(result["value"], float) and np.isfinite(result["value"])
    assert (
        f"{spl}: 1 zero, negative, infinite or implausible (over 1e+07 W) readings inside the window were not counted"
        in result["notes"]
    )  # type: ignore[operator]


def test_impossible_energy_samples_make_a_tiny_folder_unusable_with_the_sample_named(tmp_path: Path) -> None:
    for damage in ("nan", "-inf", "-3.4e38"):
        folder = tmp_path / f"tiny{damage}"
        shutil.copytree(DATA / "tiny" / "v1.0-octoml-l4r5zi-cmsis-ad-energy", folder)
        trace = folder / "trace1-energy.bin"
        raw = trace.read_bytes()
        energy = np.frombuffer(raw[1:], dtype="<f4").copy()
        energy[1::997] = np.float32(damage)
        trace.write_bytes(raw[:1] + energy.tobytes())
        status, _result, stderr = power_check(folder)
        assert status == 2 and stderr.startswith(f"power-check: {trace}: window 1 holds "), (damage, stderr)
        assert "energy sample(s) that are negative or not finite (first: sample " in stderr


def test_an_absurd_training_scaling_factor_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "training"
    shutil.copytree(DATA / "training" / "v4.0-smc-dc-1x-h100-llama2_70b_lora", folder)
    (folder / "scaling.json").write_text('{"scaling_factor": 1.2e22}')
    status, _result, stderr = power_check(folder)
    assert status == 2
    assert stderr == (
        f"power-check: {folder / 'scaling.json'}: scaling_factor 1.2e+22 is not a number above 0 and at most 100\n"
    )


def test_implausible_training_readings_are_dropped_with_a_note_naming_the_line(tmp_path: Path) -> None:
    folder = tmp_path / "training"
    shutil.copytree(DATA / "training" / "v4.0-smc-dc-1x-h100-llama2_70b_lora", folder)
    runs = sorted(path for path in (folder / "power").iterdir() if path.is_dir())
    node_log = sorted(runs[0].rglob("*.txt"))[0]
    text = node_log.read_text()
    first = text.index('"key": "power_reading", "value": ') + len('"key": "power_reading", "value": ')
    end = text.index(",", first)
    line = text[:first].count("\n") + 1
    node_log.write_text(text[:first] + "1.7976931348623157e308" + text[end:])  # would overflow to inf
    status, result, stderr = power_check(folder)
    assert stderr == "" and status in (0, 1)
    assert isinstance(result["value"], float) and np.isfinite(result["value"])
    assert any(
        f"{node_log.name}: dropped 1 power_reading value(s) outside 0 to 1e+06 W (first: line {line}, 1.7976931348623157e+308 W)"
        in note
        for note in result["notes"]  # type: ignore[union-attr]
    ), result["notes"]


def test_no_result_is_valid_without_a_finite_positive_metric() -> None:
    for value in (float("inf"), float("nan"), None, 0.0, -3.0):
        result = CheckResult(path="x", kind="tiny", value=value, unit="uJ/inference", valid=True)
        judged = _valid_only_if_finite(result)
        assert judged.valid is False and judged.errors == [
            f"x: the metric is {value} uJ/inference, not a finite positive number: "
            "its logs hold non-finite or out-of-range values"
        ]
    fine = CheckResult(path="x", kind="tiny", value=443.18, unit="uJ/inference", valid=True)
    assert _valid_only_if_finite(fine).valid is True


def test_bytes_that_are_not_utf8_are_a_named_skipped_line_not_a_traceback(tmp_path: Path) -> None:
    folder = tmp_path / "inference"
    shutil.copytree(DATA / "inference" / "v2.0-nvidia-orin-resnet50-singlestream", folder)
    spl = folder / "run_1" / "spl.txt"
    damaged = bytearray(spl.read_bytes())
    at = damaged.index(b",Volts,", 60_000)
    damaged[at] = 0xAC  # one field fewer, and a byte no UTF-8 text has
    spl.write_bytes(bytes(damaged))
    line = damaged[:at].count(b"\n") + 1
    _status, result, stderr = power_check(folder)
    assert stderr == ""
    assert f"{spl}:{line}: skipped line (bytes that are not UTF-8 text)" in result["notes"]  # type: ignore[operator]
    assert isinstance(result["value"], float) and result["samples"] == 599


def test_a_node_log_cut_before_its_run_ends_fails_coverage(tmp_path: Path) -> None:
    folder = tmp_path / "training"
    shutil.copytree(DATA / "training" / "v4.0-smc-dc-1x-h100-llama2_70b_lora", folder)
    runs = sorted(path for path in (folder / "power").iterdir() if path.is_dir())
    node_log = sorted(runs[0].rglob("*.txt"))[0]
    lines = node_log.read_text().splitlines(keepends=True)
    node_log.write_text("".join(lines[: len(lines) * 3 // 4]))  # the last quarter of the run is gone
    _status, result, stderr = power_check(folder)
    assert stderr == ""
    coverage = next(c for c in result["checks"] if c["id"] == "training.coverage")  # type: ignore[union-attr]
    assert coverage["verdict"] == "FAIL"
    assert coverage["message"].startswith(
        f"1 of 10 node logs do not cover their run: {runs[0].name}/{node_log.name} misses "
    )


def _damage_spl(path: Path, line_index: int, field: int, value: str) -> None:
    lines = path.read_text().splitlines()
    fields = lines[line_index].split(",")
    fields[field] = value
    lines[line_index] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")


def _checks(result: dict[str, object]) -> dict[str, dict[str, str]]:
    return {c["id"]: c for c in result["checks"]}  # type: ignore[attr-defined,index]


def test_a_timestamp_past_the_era_is_a_named_skipped_line(tmp_path: Path) -> None:
    """Year 9999 would wrap int64 nanoseconds into a plausible-looking wrong time; the line is skipped."""
    folder = tmp_path / "inference"
    shutil.copytree(DATA / "inference" / "v2.0-nvidia-orin-resnet50-singlestream", folder)
    spl = folder / "run_1" / "spl.txt"
    _status, before, _ = power_check(folder)
    lines = spl.read_text().splitlines()
    lines[300] = lines[300].replace(lines[300].split(",")[1][6:10], "9999", 1)
    spl.write_text("\n".join(lines) + "\n")
    _status, result, stderr = power_check(folder)
    assert stderr == ""
    assert (
        f"{spl}:301: skipped line (bad timestamp: not MM-DD-YYYY HH:MM:SS[.fff] between 1970 and 2199)"
        in result["notes"]  # type: ignore[operator]
    )
    assert result["skipped_lines"] == 1
    assert result["samples"] == before["samples"] - 1  # type: ignore[operator]


def test_implausible_ranging_volts_and_amps_are_dropped_and_flagged_for_the_auditor(tmp_path: Path) -> None:
    folder = tmp_path / "inference"
    shutil.copytree(DATA / "inference" / "v2.0-nvidia-orin-resnet50-singlestream", folder)
    _status, before, _ = power_check(folder)
    spl = folder / "ranging" / "spl.txt"
    _damage_spl(spl, 40, 5, "1e300")  # Volts
    _damage_spl(spl, 41, 7, "inf")  # Amps
    _damage_spl(spl, 42, 7, "-2e5")
    _status, result, stderr = power_check(folder)
    assert stderr == ""
    checks = _checks(result)
    warning = checks["samples.ranging_readings"]
    assert warning["verdict"] == "WARN"
    assert (
        f"{spl}:41: 1 volts readings beyond ±100000 V (infinite or absurd) were dropped" in warning["message"]
    )
    assert (
        f"{spl}:42: 2 amps readings beyond ±100000 A (infinite or absurd) were dropped" in warning["message"]
    )
    # The dropped readings do not move the maxima the testing ranges are judged against.
    assert checks["ptd.testing_ranges"] == _checks(before)["ptd.testing_ranges"]
    assert _checks(before)["samples.ranging_readings"]["verdict"] == "PASS"
