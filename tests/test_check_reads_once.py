"""`power-check` opens each file of an inference power folder once, whoever needs it.

Counted with an audit hook on `open` (it sees builtins.open, io.open, pathlib and os.open alike), while
the real check runs on each real fixture: the metric, every compliance check and the checksums.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

from rules.cli import check_paths
from rules.result import CheckResult

DATA = Path(__file__).resolve().parent / "data" / "inference"
FOLDERS = sorted(p for p in DATA.iterdir() if p.is_dir())
_opens: Counter[str] | None = None


def _count(event: str, args: tuple[object, ...]) -> None:
    if _opens is not None and event == "open" and isinstance(args[0], str | Path):
        _opens[str(args[0])] += 1


sys.addaudithook(_count)  # hooks cannot be removed: it counts only while `_opens` is set


@pytest.mark.parametrize("folder", FOLDERS, ids=[f.name for f in FOLDERS])
def test_every_file_is_opened_once(folder: Path) -> None:
    global _opens
    check_paths([str(folder)], None)  # warm: rule sets and allow-lists are package data, read once
    _opens = Counter()
    try:
        [result] = check_paths([str(folder)], None)
    finally:
        opened, _opens = _opens, None
    assert isinstance(result, CheckResult) and result.checks
    inside = {name: count for name, count in opened.items() if name.startswith(str(folder))}
    files = {str(p) for p in folder.rglob("*") if p.is_file()}
    assert {name: count for name, count in inside.items() if count != 1} == {}
    # Every file the layout requires is read (it is hashed or parsed); nothing outside the folder.
    required = {str(folder / part / name) for part, name in (
        ("run_1", "spl.txt"), ("run_1", "mlperf_log_detail.txt"), ("ranging", "spl.txt"),
        ("ranging", "mlperf_log_detail.txt"), ("power", "ptd_logs.txt"), ("power", "server.json"),
        ("power", "client.json"),
    )}  # fmt: skip
    assert required <= set(inside) <= files
    assert [name for name in opened if not name.startswith(str(folder))] == []


def test_a_sample_log_too_large_to_hold_is_streamed_with_the_same_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import rules.result_files
    from rules.inference.folder import InferenceFolder
    from rules.inference.kind import InferenceKind

    folder = FOLDERS[-1]
    held = InferenceKind().check(folder, None).to_json()
    # Every spl.txt of the fixture (tens of kB) now counts as too large: parsed and hashed by streaming.
    monkeypatch.setattr(rules.result_files, "HELD_BYTES", 10_000)
    streamed_folder = InferenceFolder(folder)
    assert not streamed_folder.files.held("run_1/spl.txt")
    assert streamed_folder.files.held("power/server.json")
    assert InferenceKind().check(folder, None).to_json() == held
