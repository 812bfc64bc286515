"""`power-check --dask`: the same results, in the same order, from a dask.distributed cluster."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from dask.distributed import LocalCluster

DATA = Path(__file__).resolve().parent / "data"
FOLDERS = [DATA / "inference", DATA / "training", DATA / "tiny", DATA / "profiles" / "tiny_mlp_cpu_power"]


def _check(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rules.cli", "--json", *arguments, *map(str, FOLDERS)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_scheduler_at_an_address_and_a_local_cluster_give_the_in_process_results() -> None:
    alone = _check("-j", "1")
    assert alone.returncode == 0, alone.stderr
    expected = json.loads(alone.stdout)
    assert len(expected) == 6 and {r["kind"] for r in expected} == {
        "inference",
        "training",
        "tiny",
        "measure",
    }
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        remote = _check("--dask", cluster.scheduler_address)
    assert remote.returncode == 0, remote.stderr
    assert json.loads(remote.stdout) == expected
    local = _check("--dask", "local")
    assert local.returncode == 0, local.stderr
    assert local.stdout == alone.stdout  # byte for byte


def test_an_unreachable_scheduler_is_one_sentence_and_exit_status_2() -> None:
    done = _check("--dask", "tcp://127.0.0.1:9")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("power-check: cannot reach the Dask scheduler at tcp://127.0.0.1:9: ")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
