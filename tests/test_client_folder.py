"""Finding a run's LoadGen logs by their power window, and the exact MLPerf folder layout."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from analyzers.formats.ptd_time import format_ptd_time
from power_client.errors import DirectorFailed, NoLoadgenLog
from power_client.folder import check_layout, place_director_files
from power_client.loadgen_logs import find_run_logs
from power_director.api import FileEntry
from rules.inference.synthetic import write_detail_log

S = 1_000_000_000
RUN_START = 1_700_000_000 * S


def _logs(folder: Path, begin_ns: int, end_ns: int, summary: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    values = {"power_begin": format_ptd_time(begin_ns), "power_end": format_ptd_time(end_ns)}
    write_detail_log(folder / "mlperf_log_detail.txt", values)
    if summary:
        (folder / "mlperf_log_summary.txt").write_text("Result is : VALID\n")
    return folder


def test_the_log_inside_the_run_is_chosen_and_copies_count_once(tmp_path: Path) -> None:
    _logs(tmp_path / "old", RUN_START - 100 * S, RUN_START - 50 * S)  # a previous run's log
    inside = _logs(tmp_path / "a" / "b", RUN_START + 2 * S, RUN_START + 8 * S)
    shutil.copytree(inside, tmp_path / "copy")  # a harness copied it up a level
    _logs(tmp_path / "nowindow", 0, 0).joinpath("mlperf_log_detail.txt").write_text(":::MLLOG {}\n")
    found = find_run_logs(tmp_path, RUN_START, RUN_START + 10 * S, "the testing run")
    assert found.detail == tmp_path / "copy" / "mlperf_log_detail.txt"  # the shallower copy
    assert (found.power_begin_ns, found.power_end_ns) == (RUN_START + 2 * S, RUN_START + 8 * S)


def test_truncated_millisecond_at_the_start_is_accepted_but_not_more(tmp_path: Path) -> None:
    # LoadGen truncates to ms: a first query 0.4 ms after the start can print as 0.6 ms before it.
    _logs(tmp_path, RUN_START - 600_000, RUN_START + 5 * S)
    assert find_run_logs(tmp_path, RUN_START, RUN_START + 6 * S, "x").power_begin_ns == RUN_START - 1_000_000
    with pytest.raises(NoLoadgenLog, match=r"none of the 1 mlperf_log_detail\.txt files there has"):
        find_run_logs(tmp_path, RUN_START + 2_000_000, RUN_START + 6 * S, "the ranging run")


def test_two_different_logs_or_no_summary_are_refused(tmp_path: Path) -> None:
    _logs(tmp_path / "one", RUN_START + 1 * S, RUN_START + 2 * S)
    _logs(tmp_path / "two", RUN_START + 3 * S, RUN_START + 4 * S)
    with pytest.raises(
        NoLoadgenLog, match=r"the testing run produced 2 different LoadGen logs under .*; expected one"
    ):
        find_run_logs(tmp_path, RUN_START, RUN_START + 5 * S, "the testing run")
    lonely = _logs(tmp_path / "lonely", RUN_START + 1 * S, RUN_START + 2 * S, summary=False)
    with pytest.raises(NoLoadgenLog, match=r"has no mlperf_log_summary\.txt beside it"):
        find_run_logs(lonely, RUN_START, RUN_START + 5 * S, "the ranging run")
    with pytest.raises(NoLoadgenLog, match="does not exist after the ranging run"):
        find_run_logs(tmp_path / "missing", RUN_START, RUN_START + 5 * S, "the ranging run")


def _complete(folder: Path) -> None:
    for name in ("client.json", "client.log", "ptd_logs.txt", "server.json", "server.log"):
        (folder / "power").mkdir(parents=True, exist_ok=True)
        (folder / "power" / name).write_text("x")
    for run in ("ranging", "run_1"):
        (folder / run).mkdir(exist_ok=True)
        for name in ("mlperf_log_detail.txt", "mlperf_log_summary.txt", "spl.txt"):
            (folder / run / name).write_text("x")


def test_layout_must_be_exact(tmp_path: Path) -> None:
    _complete(tmp_path)
    assert check_layout(tmp_path)["run_1"] == ["mlperf_log_detail.txt", "mlperf_log_summary.txt", "spl.txt"]
    (tmp_path / "run_1" / "ptd_out.txt").write_text("x")  # what the current reference adds, and fails with
    (tmp_path / "power" / "server.log").unlink()
    with pytest.raises(DirectorFailed) as raised:
        check_layout(tmp_path)
    assert str(raised.value) == (
        f"the folder {tmp_path} is not the MLPerf layout: "
        "power/ holds ['client.json', 'client.log', 'ptd_logs.txt', 'server.json'] instead of "
        "['client.json', 'client.log', 'ptd_logs.txt', 'server.json', 'server.log']; "
        "run_1/ holds ['mlperf_log_detail.txt', 'mlperf_log_summary.txt', 'ptd_out.txt', 'spl.txt'] instead of "
        "['mlperf_log_detail.txt', 'mlperf_log_summary.txt', 'spl.txt']"
    )


def test_director_files_are_verified_and_kept_inside_their_folders(tmp_path: Path) -> None:
    files = {
        "power/ptd_logs.txt": b"p",
        "power/server.json": b"{}",
        "power/server.log": b"s",
        "ranging/spl.txt": b"r",
        "run_1/spl.txt": b"t",
    }
    entries = [FileEntry(path=k, size=len(v), sha1=hashlib.sha1(v).hexdigest()) for k, v in files.items()]
    placed = place_director_files(tmp_path / "out", tmp_path / "extras", entries, files.__getitem__)
    assert placed == list(files)
    bad = [*entries[:4], FileEntry(path="run_1/spl.txt", size=1, sha1="0" * 40)]
    with pytest.raises(
        DirectorFailed, match=r"run_1/spl.txt arrived with 1 bytes and sha1 [0-9a-f]{40}, but was listed"
    ):
        place_director_files(tmp_path / "o2", tmp_path / "e2", bad, files.__getitem__)
    escape = [*entries, FileEntry(path="../evil", size=1, sha1=hashlib.sha1(b"e").hexdigest())]
    with pytest.raises(DirectorFailed, match=r"outside its session folder: '\.\./evil'"):
        place_director_files(tmp_path / "o3", tmp_path / "e3", escape, {**files, "../evil": b"e"}.__getitem__)
