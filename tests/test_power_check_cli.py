"""`power-check` over trees of real and generated folders: output keys, walking, exit status."""

import csv
import datetime as dt
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from rules.cli import main
from rules.inference.synthetic import SyntheticRun, write_detail_log, write_performance_folder

DATA = Path(__file__).parent / "data" / "inference"
JSON_KEYS = {
    "path", "kind", "scenario", "value", "unit", "avg_power_w", "energy_per_query_j",
    "samples", "window_s", "valid", "errors",
}  # fmt: skip
V1_DATE = dt.datetime(2021, 3, 10, 8, 0, 0, tzinfo=dt.timezone.utc)


def _run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _mlperf_mean(run: SyntheticRun) -> float:
    t, w = run.trace.time_ns, run.trace.watts
    inside = (t > run.begin_ns) & (t < run.end_ns) & (w > 0)
    return float(w[inside].mean())


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, SyntheticRun]:
    """Fixtures plus generated variants of every scenario and layout, and one broken folder."""
    shutil.copytree(DATA, tmp_path / "real")
    gen = tmp_path / "generated"
    runs = {
        "ss": write_performance_folder(gen / "bert" / "SingleStream" / "performance", "SingleStream"),
        "ms": write_performance_folder(
            gen / "ssd" / "MultiStream" / "performance", "MultiStream", query_count=2000, channels=3
        ),
        "ms_inferred": write_performance_folder(
            gen / "resnet" / "MultiStream" / "performance", "SingleStream", query_count=40_000
        ),
        "offline": write_performance_folder(
            gen / "resnet" / "Offline" / "performance",
            "Offline",
            query_count=1,
            analyzers=2,
            throughput={"result_samples_per_second": 12_000.0},
        ),
        "server": write_performance_folder(
            gen / "rnnt" / "Server" / "performance",
            "Server",
            throughput={"result_scheduled_samples_per_sec": 900.0},
            channels=3,
        ),
        "interactive": write_performance_folder(
            gen / "llama" / "Interactive" / "performance",
            "Interactive",
            throughput={"result_completed_tokens_per_second": 2400.0},
        ),
        "v1_ss": write_performance_folder(
            gen / "v1" / "SingleStream" / "performance",
            "SingleStream",
            query_count=None,
            qps=812.5,
            start=V1_DATE,
        ),
    }
    broken = gen / "broken" / "Offline" / "performance" / "run_1"
    broken.mkdir(parents=True)
    write_detail_log(broken / "mlperf_log_detail.txt", {"effective_scenario": "Offline"})
    return runs


def test_tree_of_every_scenario_computes_and_reports_the_broken_folder(
    tree: dict[str, SyntheticRun], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _run_cli(capsys, "--json", str(tmp_path))
    assert status == 2  # one unusable folder
    objects = json.loads(out)
    usable = [o for o in objects if not o.get("unusable")]
    assert len(usable) == 3 + len(tree)
    for obj in usable:
        assert obj.keys() >= JSON_KEYS
        assert obj["kind"] == "inference"
        assert obj["valid"] is True, obj
    broken = [o for o in objects if o.get("unusable")]
    assert len(broken) == 1
    assert "broken" in broken[0]["path"]
    assert "power_begin" in broken[0]["errors"][0]
    assert "mlperf_log_detail.txt" in err

    by_path = {Path(o["path"]).resolve(): o for o in usable}

    def obj(key: str) -> dict:
        return by_path[tree[key].folder.resolve()]

    ss = tree["ss"]
    assert obj("ss")["unit"] == "mJ/query"
    expected = _mlperf_mean(ss) * 60.0 / 50_000 * 1000
    assert obj("ss")["value"] == pytest.approx(expected, rel=1e-12)
    assert obj("ms_inferred")["value"] == pytest.approx(
        _mlperf_mean(tree["ms_inferred"]) * 60 / 40_000 * 8e3, 1e-12
    )
    assert obj("ms")["value"] == pytest.approx(_mlperf_mean(tree["ms"]) * 60 / 2000 * 1e3, rel=1e-12)
    offline = obj("offline")
    assert offline["unit"] == "W"
    assert offline["value"] == pytest.approx(_mlperf_mean(tree["offline"]), rel=1e-12)
    assert offline["efficiency"] == pytest.approx(12_000.0 / offline["value"], rel=1e-12)
    assert obj("server")["efficiency_unit"] == "samples/J"
    assert obj("interactive")["efficiency_unit"] == "tokens/J"
    v1 = obj("v1_ss")
    assert v1["ruleset"] == "mlperf-inference-v1.0"
    assert v1["unit"] == "J/query"
    assert v1["query_count_method"] == "qps_with_loadgen_overhead_x_window"
    assert v1["value"] == pytest.approx(_mlperf_mean(tree["v1_ss"]) * 60 / (812.5 * 60), rel=1e-12)


def test_human_output_one_line_per_result_and_exit_zero(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run_cli(capsys, str(DATA))
    assert status == 0
    lines = [line for line in out.splitlines() if line.startswith(str(DATA))]
    assert len(lines) == 3
    assert any("3.443548122 J/query" in line for line in lines)
    assert any("2195.056765 W" in line for line in lines)


def test_csv_has_a_header_and_a_row_per_result(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run_cli(capsys, "--csv", str(DATA))
    assert status == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 3
    assert {row["unit"] for row in rows} == {"J/query", "W"}


def test_invalid_loadgen_run_exits_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_performance_folder(tmp_path / "Offline" / "performance", "Offline", validity="INVALID")
    status, out, _ = _run_cli(capsys, "--json", str(tmp_path))
    assert status == 1
    [obj] = json.loads(out)
    assert obj["valid"] is False
    assert "result_validity=INVALID" in obj["errors"][0]
    assert obj["value"] is not None  # the metric is still computed and shown


def test_empty_window_is_invalid_with_a_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = write_performance_folder(tmp_path / "Offline" / "performance", "Offline")
    detail = run.folder / "run_1" / "mlperf_log_detail.txt"
    values = dict(run.log_values, power_begin="01-01-2020 00:00:00.000", power_end="01-01-2020 00:10:00.000")
    write_detail_log(detail, values)
    status, out, _ = _run_cli(capsys, "--json", str(tmp_path))
    assert status == 1
    [obj] = json.loads(out)
    assert obj["samples"] == 0
    assert "no sample lies inside the power window" in obj["errors"][0]


def test_missing_path_and_unknown_ruleset_exit_two(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = _run_cli(capsys, str(tmp_path / "nope"))
    assert status == 2
    assert "no such file or directory" in err
    status, _, err = _run_cli(capsys, "--ruleset", "mlperf-inference-v0.5", str(DATA))
    assert status == 2
    assert "unknown rule set" in err


def test_list_rulesets_names_first(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run_cli(capsys, "--list-rulesets")
    assert status == 0
    names = [line.split("\t")[0] for line in out.splitlines()]
    assert "mlperf-inference-v1.0" in names and "mlperf-inference-v5.1" in names


def test_sentinels_in_the_window_are_counted_not_averaged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = write_performance_folder(tmp_path / "Offline" / "performance", "Offline")
    spl = run.folder / "run_1" / "spl.txt"
    lines = spl.read_text().splitlines()
    for index, sentinel in ((20, "-1.000000"), (21, "-2.000000")):
        fields = lines[index].split(",")
        fields[3] = sentinel
        lines[index] = ",".join(fields)
    spl.write_text("\n".join(lines) + "\n")
    status, out, _ = _run_cli(capsys, "--json", str(tmp_path))
    [obj] = json.loads(out)
    assert status == 0
    assert obj["sentinels"] == {"error": 1, "missed": 1}
    assert obj["samples"] == 57
    kept = np.delete(run.trace.watts, [20, 21])
    times = np.delete(run.trace.time_ns, [20, 21])
    inside = (times > run.begin_ns) & (times < run.end_ns)
    assert obj["avg_power_w"] == pytest.approx(kept[inside].mean(), rel=1e-12)


def test_a_reader_that_goes_away_ends_quietly() -> None:
    import subprocess
    import sys

    # The reader closes its end before the checker (still importing) writes anything.
    process = subprocess.Popen(
        [sys.executable, "-m", "rules.cli", "--json", str(DATA)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141
    assert "Traceback" not in stderr
