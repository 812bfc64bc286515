"""`power-check -j N`: folders checked across processes give the output of one process, in its order.

A tree of real fixtures (each twice, under names that sort differently from the walk's order) plus a
broken folder and a path that does not exist; then the executors alone, with a task that raises and a
worker that dies.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rules.cli import Unusable, check_paths
from rules.executor import InProcess, ProcessPool, executor_for

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    sources = [*sorted((DATA / "inference").iterdir()), *sorted((DATA / "training").iterdir())]
    for index, source in enumerate(sources * 2):
        shutil.copytree(source, root / f"{9 - index}-{source.name}")
    broken = root / "5-broken" / "run_1"
    broken.mkdir(parents=True)
    (broken / "spl.txt").write_text("Time,not a time,Watts,1\n")
    (broken / "mlperf_log_detail.txt").write_text(":::MLLOG {cut")
    return root


def test_processes_give_the_output_of_one(tree: Path) -> None:
    paths = [str(tree), str(tree / "missing")]
    one = [o.to_json() for o in check_paths(paths, None, jobs=1)]
    two = [o.to_json() for o in check_paths(paths, None, jobs=2)]
    assert len(one) == 10 and one == two
    assert [Path(o["path"]).name for o in one[:-1]] == sorted(p.name for p in tree.iterdir())
    unusable = [o for o in one if o.get("unusable")]
    assert [Path(o["path"]).name for o in unusable] == ["5-broken", "missing"]


def test_command_line_output_is_the_same_with_every_job_count(tree: Path) -> None:
    def run(jobs: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "rules.cli", "--json", "-j", jobs, str(tree)],
            capture_output=True,
            text=True,
            timeout=300,
        )

    one, three = run("1"), run("3")
    assert one.returncode == three.returncode == 2  # the broken folder is unusable
    assert one.stdout == three.stdout and json.loads(one.stdout)
    assert one.stderr == three.stderr and one.stderr.count("power-check: ") == 1


def test_a_bad_job_count_is_one_sentence() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rules.cli", "-j", "0", str(DATA)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "at least 1 process" in done.stderr and "Traceback" not in done.stderr


def _square_or_fail(n: int) -> int:
    if n == 3:
        raise ValueError("three is refused")
    if n == 5:
        os._exit(9)  # the worker dies as a crash in a C extension would take it down
    return n * n


def _sentence(n: int, error: BaseException) -> int:
    return -n if isinstance(error, ValueError) else -100 * n


def test_in_process_keeps_order_and_turns_an_error_into_its_outcome() -> None:
    assert list(InProcess().run(_square_or_fail, [1, 2, 3, 4], _sentence)) == [1, 4, -3, 16]


def test_a_pool_keeps_order_and_survives_a_raising_task() -> None:
    assert list(ProcessPool(2, window_per_worker=1).run(_square_or_fail, [4, 3, 2, 1, 0], _sentence)) == [
        16,
        -3,
        4,
        1,
        0,
    ]


def test_a_dead_worker_is_an_outcome_not_a_traceback() -> None:
    outcomes = list(ProcessPool(2).run(_square_or_fail, [1, 5, 2], _sentence))
    assert outcomes[1] == -500  # BrokenProcessPool, reported for the item whose worker died
    assert len(outcomes) == 3 and all(isinstance(o, int) for o in outcomes)


def test_one_job_runs_in_this_process() -> None:
    assert isinstance(executor_for(1), InProcess) and isinstance(executor_for(4), ProcessPool)


def test_a_worker_failure_names_the_folder(tree: Path) -> None:
    from rules.cli import _worker_failed
    from rules.inference.kind import InferenceKind

    outcome = _worker_failed((tree / "x", InferenceKind(), None), RuntimeError("worker died"))
    assert isinstance(outcome, Unusable) and outcome.sentence.startswith(f"{tree / 'x'}: the check stopped")
