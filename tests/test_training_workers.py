"""One large training result, its node logs read on workers (`-j N`, `--dask`): the same result."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rules.executor import ProcessPool
from rules.training.kind import TrainingKind, check_training
from rules.training.synthetic import SyntheticRunSpec, write_benchmark


@pytest.fixture(scope="module")
def benchmark(tmp_path_factory: pytest.TempPathFactory) -> Path:
    specs = [SyntheticRunSpec(ttt_s=300 + 7 * i, node_watts=900 + 40 * i) for i in range(10)]
    return write_benchmark(
        tmp_path_factory.mktemp("training") / "bert", "bert", specs, nodes=24, interval_s=1.0
    )


def _check(folder: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rules.cli", "--json", *arguments, str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_node_logs_on_a_pool_or_a_dask_cluster_give_the_in_process_result(benchmark: Path) -> None:
    alone = check_training(benchmark)
    pooled = check_training(benchmark, node_executor=ProcessPool(2))
    assert pooled.to_json() == alone.to_json()
    assert [r.node_energy_j for r in pooled.runs] == [r.node_energy_j for r in alone.runs]
    assert len(alone.runs[0].node_energy_j) == 24
    in_process = _check(benchmark, "-j", "1")
    for arguments in (("-j", "2"), ("--dask", "local")):
        spread = _check(benchmark, *arguments)
        assert spread.returncode == in_process.returncode and spread.stdout == in_process.stdout, arguments


def test_a_bad_node_log_is_the_same_sentence_from_a_worker(benchmark: Path, tmp_path: Path) -> None:
    broken = tmp_path / "bert"
    subprocess.run(["cp", "-r", str(benchmark), str(broken)], check=True)
    node = broken / "power" / "result_3" / "node_17.txt"
    lines = node.read_text().splitlines(keepends=True)
    lines[40] = ':::MLLOG {"time_ms": 1, "key": "power_reading", "value": \n'
    node.write_text("".join(lines))
    alone, spread = _check(broken, "-j", "1"), _check(broken, "-j", "2")
    assert alone.returncode == spread.returncode == 2
    assert alone.stderr == spread.stderr == f"power-check: {node}:41: malformed MLLOG line\n"
    assert TrainingKind().using(ProcessPool(2)).node_executor.workers == 2  # type: ignore[attr-defined]
    assert json.loads(spread.stdout)[0]["unusable"] is True
