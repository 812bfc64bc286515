"""`power-check` with compliance: JSON keys, exit status, JUnit, rule sets for joulebench's own folders."""

import hashlib
import json
import shutil
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from rules.cli import main
from rules.compliance.console_log import read_console_log
from rules.compliance.minimums import NodeReadings, check_training_readings, check_training_runs
from rules.compliance.policy import policy_for
from rules.compliance.verdict import Verdict
from rules.rulesets import get_ruleset

DATA = Path(__file__).parent / "data"
ORIN = DATA / "inference" / "v2.0-nvidia-orin-resnet50-singlestream"


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    status = main(list(args))
    return status, capsys.readouterr().out


def _verdicts(obj: dict) -> dict[str, str]:
    return {check["id"]: check["verdict"] for check in obj["checks"]}


def test_json_carries_compliant_and_checks(capsys: pytest.CaptureFixture[str]) -> None:
    status, out = _run(capsys, "--json", str(DATA / "inference"))
    assert status == 0
    objects = json.loads(out)
    assert [o["compliant"] for o in objects] == [True, True, True]
    for obj in objects:
        assert obj["valid"] is True and obj["value"] is not None  # the existing keys stay
        assert all(set(check) == {"id", "verdict", "message"} for check in obj["checks"])
    assert objects[0]["compliance_ruleset"] == "mlperf-inference-v1.0"


def test_a_fail_exits_one_and_lands_in_junit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junit = tmp_path / "checks.xml"
    status, out = _run(capsys, "--ruleset", "mlperf-inference-v5.1", "--junit", str(junit), str(ORIN))
    assert status == 1
    assert "compliance under mlperf-inference-v5.1: NOT COMPLIANT (1 FAIL, 2 INFO, 28 PASS)" in out
    assert "     FAIL ptd.identity: " in out
    root = ET.parse(junit).getroot()
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("31", "1", "0")
    [failure] = root.iter("failure")
    assert "PTD version 1.9.2 is not allowed" in (failure.get("message") or "")


def test_human_output_lists_every_check_when_verbose(capsys: pytest.CaptureFixture[str]) -> None:
    status, out = _run(capsys, "--verbose", str(ORIN))
    assert status == 0
    assert "compliance under mlperf-inference-v2.0: COMPLIANT (2 WARN, 2 INFO, 27 PASS)" in out
    assert "     PASS timing.loadgen_window: " in out


def _joulebench_folder(tmp_path: Path, window_s: int) -> Path:
    """Orin's folder rewritten as joulebench's director/client would write it, with a short testing run."""
    folder = tmp_path / "SingleStream" / "performance"
    shutil.copytree(ORIN, folder)
    detail = folder / "run_1" / "mlperf_log_detail.txt"
    text = detail.read_text()
    assert text.count("02-17-2022 15:34:27.960") == 1
    end_minute = 24 + window_s // 60
    detail.write_text(text.replace("02-17-2022 15:34:27.960", f"02-17-2022 15:{end_minute:02d}:27.960"))
    for side in ("client", "server"):
        path = folder / "power" / f"{side}.json"
        data = json.loads(path.read_text())
        data["messages"][0]["cmd"] = "joulebench/power client v1"
        data["messages"][0]["reply"] = "joulebench/power server v1"
        data["sources"] = {"power_director/api.py": "0" * 40}
        for name in data["results"]:
            if (folder / name).is_file():
                data["results"][name] = hashlib.sha1((folder / name).read_bytes()).hexdigest()
        data["joulebench"] = {"state": "done"}  # the origin marker
        if side == "server":
            for exchange in data["ptd_messages"]:
                if exchange["cmd"] == "Identify":
                    exchange["reply"] = (
                        "Simulated,1000,1,1,1,1,0,0,0,version=0.1.0-1a2b3c4d-20250101,OS=Linux,mode=power,1,1,1,0,0,no_cal_date,joulebench;Simulated;0;0"
                    )
        path.write_text(json.dumps(data, indent=4))
    return folder


def test_joulebench_folder_is_judged_by_joulebench_and_fails_mlperf_on_identity(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _joulebench_folder(tmp_path, window_s=300)
    status, out = _run(capsys, "--json", str(folder))
    [demo] = json.loads(out)
    assert status == 0 and demo["compliant"] is True and demo["compliance_ruleset"] == "joulebench"
    status, out = _run(capsys, "--json", "--ruleset", "joulebench-demo", str(folder))  # the earlier name
    assert json.loads(out)[0]["compliance_ruleset"] == "joulebench"
    verdicts = _verdicts(demo)
    assert {k for k, v in verdicts.items() if v == "INFO"} == {
        "ruleset.scope", "sources.client", "sources.server", "ptd.identity", "ptd.uncertainty_summary", "timing.minimum",
    }  # fmt: skip
    messages = {c["id"]: c["message"] for c in demo["checks"]}
    assert (
        "made by joulebench (first message 'joulebench/power client v1'), not the MLCommons reference tool"
        in messages["sources.client"]
    )
    assert (
        "the testing window lasts 300.002 s, under the 600 s minimum run (not submission-valid)"
        in messages["timing.minimum"]
    )
    assert "not a submission judgement" in messages["ruleset.scope"]

    status, out = _run(capsys, "--json", "--ruleset", "mlperf-inference-v5.1", str(folder))
    [strict_mlperf] = json.loads(out)
    assert status == 1 and strict_mlperf["compliant"] is False
    failed = {k for k, v in _verdicts(strict_mlperf).items() if v == "FAIL"}
    assert failed == {
        "sources.client",
        "sources.server",
        "session.messages",
        "ptd.identity",
        "timing.minimum",
    }
    # Which failures only SPEC's binary and the reference tool can clear, and which this run can.
    identity = {c["id"] for c in strict_mlperf["checks"] if c.get("identity_only")}
    assert identity == failed - {"timing.minimum"}
    assert strict_mlperf["failing_checks"] == [
        c["id"] for c in strict_mlperf["checks"] if c["verdict"] == "FAIL"
    ]

    status, out = _run(capsys, "--json", "--ruleset", "joulebench-strict", str(folder))
    [strict] = json.loads(out)
    assert _verdicts(strict)["sources.client"] == "WARN"
    assert _verdicts(strict)["session.messages"] == "PASS"


def test_folders_without_power_records_are_not_judged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "Offline" / "performance"
    shutil.copytree(ORIN, folder)
    shutil.rmtree(folder / "power")
    status, out = _run(capsys, "--json", str(folder))
    [obj] = json.loads(out)
    assert status == 0
    assert obj["compliant"] is None and obj["checks"] == []
    assert "no power/ folder: compliance not judged, only the metric" in obj["notes"]


def test_training_and_tiny_minimums(capsys: pytest.CaptureFixture[str]) -> None:
    status, out = _run(capsys, "--json", str(DATA / "training"), str(DATA / "tiny"))
    assert status == 0
    training, tiny = json.loads(out)
    assert _verdicts(training) == {
        "training.readings": "PASS",
        "training.sampling_rate": "WARN",
        "training.coverage": "PASS",  # every node log's readings span its run
        "training.runs": "PASS",  # llama2_70b_lora needs 10 runs; the folder has 10
        "training.time_order": "PASS",  # no power_reading goes back in time
    }
    assert "10 of 10 node logs read power slower than 1 Hz" in training["checks"][1]["message"]
    assert _verdicts(tiny) == {"tiny.windows": "PASS"}
    status, out = _run(capsys, "--json", "--ruleset", "joulebench-strict", str(DATA / "training"))
    [strict] = json.loads(out)
    assert status == 1
    assert _verdicts(strict)["training.sampling_rate"] == "FAIL"


def test_training_run_count_follows_the_benchmark() -> None:
    policy = policy_for(get_ruleset("mlperf-training-v4.0"))
    assert check_training_runs("bert", 10, policy).verdict is Verdict.PASS
    short = check_training_runs("bert", 9, policy)
    assert (short.verdict, short.message) == (
        Verdict.FAIL,
        "9 runs (result_*.txt) for bert, 10 required by mlperf-training-v4.0",
    )
    assert check_training_runs("unet3d", 10, policy).verdict is Verdict.FAIL
    assert check_training_runs("unet3d", 40, policy).verdict is Verdict.PASS
    assert check_training_runs("unet3d", 40, policy_for(get_ruleset("joulebench"))).verdict is Verdict.INFO


def test_training_log_with_too_few_readings_fails() -> None:
    policy = policy_for(get_ruleset("mlperf-training-v4.0"))
    count, rate, coverage = check_training_readings([NodeReadings("run_1/node_0.txt", 59, 59.0)], policy)
    assert count.verdict is Verdict.FAIL
    assert count.message == "1 of 1 node logs hold under 60 readings, e.g. run_1/node_0.txt: 59"
    assert rate.verdict is Verdict.PASS and coverage.verdict is Verdict.PASS
    [*_, cut] = check_training_readings(
        [NodeReadings("run_1/node_0.txt", 600, 600.0, uncovered_s=42.5)], policy
    )
    assert cut.verdict is Verdict.FAIL and cut.message == (
        "1 of 1 node logs do not cover their run: run_1/node_0.txt misses 42.5 s of it (limit 5 s); "
        "its readings end early or start late"
    )


def test_list_rulesets_includes_every_family(capsys: pytest.CaptureFixture[str]) -> None:
    status, out = _run(capsys, "--list-rulesets")
    rows = {line.split("\t")[0]: line.split("\t")[1] for line in out.splitlines()}
    assert status == 0
    assert rows["joulebench-strict"] == rows["joulebench"] == "any"
    assert rows["mlperf-training-v4.0"] == "training" and rows["mlperf-tiny-v1.0"] == "tiny"
    assert sum(kind == "inference" for kind in rows.values()) == 10


def test_console_log_scan_is_vectorised(tmp_path: Path) -> None:
    # 300,000 per-sample warning lines (about 3.5 days of 1 Hz logging) scan in well under a second or two.
    line = "03-03-2021 00:54:07.185: WARNING: Uncertainty 1.15% above 1.00% limit for the last measurement sample!\r\n"
    log = tmp_path / "ptd_logs.txt"
    log.write_text(line * 300_000, newline="")
    started = time.perf_counter()
    scanned = read_console_log(str(log))
    elapsed = time.perf_counter() - started
    assert int(scanned.uncertainty_above.sum()) == 300_000
    assert elapsed < 3.0


def test_strict_rules_also_require_the_run_count() -> None:
    policy = policy_for(get_ruleset("joulebench-strict"))
    assert check_training_runs("unet3d", 39, policy).verdict is Verdict.FAIL
