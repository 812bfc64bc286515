"""Two verdicts a user and a CI can act on: the metric, and compliance under the rule set used.

Exit 0 only when the metric is valid and the folder complies; 1 otherwise; 2 for unusable input,
and a forced rule set of the wrong kind is unusable input, not a silent substitution.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from rules.cli import main

ORIN = Path(__file__).parent / "data" / "inference" / "v2.0-nvidia-orin-resnet50-singlestream"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_a_rule_set_of_another_kind_is_unusable_input(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "--json", "--ruleset", "mlperf-training-v4.0", str(ORIN))
    assert status == 2
    assert json.loads(out)[0]["valid"] is False
    assert err == (
        f"power-check: {ORIN}: rule set mlperf-training-v4.0 is for training results, and this is an "
        "inference result; give an inference rule set (power-check --list-rulesets), joulebench or "
        "joulebench-strict\n"
    )


def test_a_trace_cut_in_half_makes_the_metric_invalid_with_how_much_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "performance"
    shutil.copytree(ORIN, folder)
    spl = folder / "run_1" / "spl.txt"
    lines = spl.read_bytes().splitlines(keepends=True)
    spl.write_bytes(b"".join(lines[: len(lines) // 2]))
    status, out, _err = run(capsys, "--json", "--ruleset", "mlperf-inference-v2.0", str(folder))
    [result] = json.loads(out)
    assert status == 1 and result["valid"] is False
    missing = [e for e in result["errors"] if "of the trace is missing" in e]
    assert len(missing) == 1 and missing[0].startswith(f"{spl}: ")
    assert "(at most 5% may be)" in missing[0]
    assert any("of the window have no sample (at most 3 s may)" in e for e in result["errors"])
    # The headline says so too, not only the compliance checks further down.
    status, out, _err = run(capsys, "--ruleset", "mlperf-inference-v2.0", str(folder))
    assert "[metric INVALID]" in out.splitlines()[1]


def test_human_and_csv_state_both_verdicts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _err = run(capsys, "--ruleset", "mlperf-inference-v2.0", str(ORIN))
    assert status == 0
    assert "[metric VALID]" in out
    assert "compliance under mlperf-inference-v2.0: COMPLIANT" in out
    status, out, _err = run(capsys, "--ruleset", "mlperf-inference-v5.1", str(ORIN))
    assert status == 1
    assert "[metric VALID]" in out  # the metric stands; compliance under today's round does not
    head = next(line for line in out.splitlines() if "compliance under mlperf-inference-v5.1" in line)
    assert head.endswith("; failing: ptd.identity")
    assert (
        "FAIL ptd.identity: " in out
        and "[only SPEC PTDaemon and the MLCommons reference tool can clear this]" in out
    )
    status, out, _err = run(capsys, "--csv", "--ruleset", "mlperf-inference-v5.1", str(ORIN))
    [row] = list(csv.DictReader(io.StringIO(out)))
    assert (row["valid"], row["compliant"], row["compliance_ruleset"], row["failing_checks"]) == (
        "True",
        "False",
        "mlperf-inference-v5.1",
        "ptd.identity",
    )
