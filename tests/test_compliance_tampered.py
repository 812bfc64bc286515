"""Tampered copies of the real folders: each change adds a FAIL of the check that should catch it."""

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from rules.compliance.verdict import Verdict
from rules.inference.kind import InferenceKind

DATA = Path(__file__).parent / "data" / "inference"
KRAI = "v1.0-krai-rpi4-resnet50-singlestream"
ORIN = "v2.0-nvidia-orin-resnet50-singlestream"


def _copy(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(DATA / name, target)
    return target


def _fails(folder: Path, ruleset: str | None = None) -> dict[str, str]:
    result = InferenceKind().check(folder, ruleset)
    assert result.checks is not None
    return {c.id: c.message for c in result.checks if c.verdict is Verdict.FAIL}


def _replace_line(path: Path, old: str, new: str) -> None:
    data = path.read_bytes()
    assert data.count(old.encode()) == 1
    path.write_bytes(data.replace(old.encode(), new.encode()))


def test_a_changed_sample_fails_the_checksum(tmp_path: Path) -> None:
    folder = _copy(tmp_path, KRAI)
    spl = folder / "run_1" / "spl.txt"
    _replace_line(spl, "Time,03-03-2021 00:58:00.185,Watts,6.", "Time,03-03-2021 00:58:00.185,Watts,9.")
    fails = _fails(folder)
    assert set(fails) == {"results.checksums"}
    assert fails["results.checksums"].startswith("run_1/spl.txt: sha1 ")
    assert "but ca5da332ff30bc1aa40bc83041d6d50b2209f8f4 recorded" in fails["results.checksums"]


def test_power_begin_outside_the_phases_fails_the_window_check(tmp_path: Path) -> None:
    folder = _copy(tmp_path, KRAI)
    # Ten minutes earlier: before the testing Go (00:53:30) and inside no other reading of the clock.
    _replace_line(
        folder / "run_1" / "mlperf_log_detail.txt",
        '"value": "03-03-2021 00:54:05.983"',
        '"value": "03-03-2021 00:44:05.983"',
    )
    fails = _fails(folder)
    assert "timing.loadgen_window" in fails
    assert set(fails) <= {"timing.loadgen_window", "results.checksums", "samples.gap", "samples.count"}
    message = fails["timing.loadgen_window"]
    assert "mlperf_log_detail.txt:" in message
    assert "testing power_begin..power_end (03-03-2021 00:44:05.983" in message
    assert (
        "outside the testing Go…Stop phase (03-03-2021 00:53:30.892 – 03-03-2021 01:04:12.581 UTC)" in message
    )


def test_an_error_line_in_testing_fails_the_log_scan(tmp_path: Path) -> None:
    folder = _copy(tmp_path, ORIN)
    log = folder / "power" / "ptd_logs.txt"
    go = "02-17-2022 15:23:03.091: Response to client sent: Starting untimed measurement"
    _replace_line(log, go, "02-17-2022 15:30:00.000: ERROR: Bad watts reading nan from WT330\r\n" + go)
    fails = _fails(folder)
    assert set(fails) == {"ptd_log.errors", "results.checksums"}
    assert "1 outside ranging" in fails["ptd_log.errors"]
    assert "ERROR: Bad watts reading nan from WT330" in fails["ptd_log.errors"]
    assert "power/ptd_logs.txt: sha1 " in fails["results.checksums"]


def test_an_uncertainty_warning_in_a_ten_minute_window_counts(tmp_path: Path) -> None:
    # The reference adds its 800 "ms" tolerance to epoch seconds, so in a 600 s run no warning is ever
    # inside its shrunken window. Here one warning 30 s into the run fails under today's rules.
    folder = _copy(tmp_path, ORIN)
    log = folder / "power" / "ptd_logs.txt"
    stop = "02-17-2022 15:34:40.999: Response to client sent: Stopping untimed measurement"
    warning = "02-17-2022 15:24:58.000: WARNING: Uncertainty 1.12% above 1.00% limit for the last measurement sample!"
    _replace_line(log, stop, warning + "\r\n" + stop)
    baseline = set(_fails(DATA / ORIN, "mlperf-inference-v5.1"))
    fails = _fails(folder, "mlperf-inference-v5.1")
    assert set(fails) - baseline == {"ptd_log.uncertainty", "results.checksums"}
    assert fails["ptd_log.uncertainty"].startswith(
        "1 uncertainty-above-limit warnings more than 800 ms inside the LoadGen testing window"
    )
    # Under its own round (2022) the same line is reported, as a warning.
    result = InferenceKind().check(folder, None)
    assert result.checks is not None
    [own] = [c for c in result.checks if c.id == "ptd_log.uncertainty"]
    assert own.verdict is Verdict.WARN


def test_a_thirty_second_gap_fails_the_gap_check(tmp_path: Path) -> None:
    folder = _copy(tmp_path, KRAI)
    spl = folder / "run_1" / "spl.txt"
    lines = spl.read_bytes().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith(b"Time,03-03-2021 01:00:00"))
    spl.write_bytes(b"".join(lines[:start] + lines[start + 30 :]))
    fails = _fails(folder)
    assert set(fails) == {"samples.gap", "results.checksums"}
    assert "the longest stretch without a counted sample in the window is 31.0" in fails["samples.gap"]
    assert "(limit 3 s)" in fails["samples.gap"]


def test_mismatched_uuids_fail_the_uuid_check(tmp_path: Path) -> None:
    folder = _copy(tmp_path, KRAI)
    client = folder / "power" / "client.json"
    data = json.loads(client.read_text())
    data["uuid"]["server"] = "00000000-0000-4000-8000-000000000000"
    client.write_text(json.dumps(data, indent=4))
    fails = _fails(folder)
    assert set(fails) == {"session.uuid"}
    assert fails["session.uuid"] == (
        "server UUID differs: client.json 00000000-0000-4000-8000-000000000000, "
        "server.json ca1ae056-28d0-4c03-9173-2ced4ac57f68"
    )


def test_an_extra_file_and_a_broken_session_file_fail_with_a_sentence(tmp_path: Path) -> None:
    folder = _copy(tmp_path, KRAI)
    (folder / "run_1" / "ptd_out.txt").write_text("Watts,5.8\n")
    (folder / "power" / "server.json").write_text('{"version": "1.0"')
    fails = _fails(folder)
    assert fails["files.layout"].endswith(
        "not allowed there (the submission checker lists these folders exactly): run_1/ptd_out.txt"
    )
    assert fails["files.session_json"].startswith(f"{folder / 'power' / 'server.json'}: not JSON")
    assert fails["files.session_json"].endswith("session, PTD and timing checks not run")
    # The checks that need no session file still ran.
    assert "samples.gap" not in fails


@pytest.mark.parametrize("ruleset", ["mlperf-inference-v1.0", "joulebench-strict"])
def test_tampering_is_caught_under_every_rule_set(tmp_path: Path, ruleset: str) -> None:
    folder = _copy(tmp_path, KRAI)
    samples = folder / "run_1" / "spl.txt"
    recorded = hashlib.sha1(samples.read_bytes()).hexdigest()
    _replace_line(samples, "Time,03-03-2021 00:58:00.185,Watts,6.", "Time,03-03-2021 00:58:00.185,Watts,9.")
    tampered = hashlib.sha1(samples.read_bytes()).hexdigest()
    assert _fails(folder, ruleset)["results.checksums"] == (
        f"run_1/spl.txt: sha1 {tampered} but {recorded} recorded; 4 other listed file(s) not required "
        "and not compared (e.g. ranging/mlperf_log_accuracy.json)"
    )


@pytest.mark.parametrize(("offset_s", "verdict"), [(0.0, Verdict.PASS), (1000.0, Verdict.FAIL)])
def test_the_clock_offset_joulebench_records_places_the_loadgen_window(
    tmp_path: Path, offset_s: float, verdict: Verdict
) -> None:
    folder = _copy(tmp_path, KRAI)
    client_json = folder / "power" / "client.json"
    data = json.loads(client_json.read_text())
    data["joulebench"] = {"clock_offset_s": offset_s, "clock_offset_uncertainty_s": 0.0004, "rounds": 32}
    client_json.write_text(json.dumps(data))
    result = InferenceKind().check(folder, None)
    assert result.checks is not None
    [window] = [c for c in result.checks if c.id == "timing.loadgen_window"]
    assert window.verdict is verdict, window.message
    if verdict is Verdict.PASS:
        assert "recorded clock offset" in window.message
