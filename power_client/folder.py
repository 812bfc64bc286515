"""The MLPerf `performance/` folder, exactly: the submission checker compares these file lists.

```
power/   client.json client.log ptd_logs.txt server.json server.log
ranging/ mlperf_log_detail.txt mlperf_log_summary.txt spl.txt
run_1/   mlperf_log_detail.txt mlperf_log_summary.txt spl.txt
```

Anything else the director offers (its Parquet trace, ...) goes to a separate extras folder, never
inside these three.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from analyzers.formats.mlperf_layout import (
    CONSOLE_LOG,
    DETAIL_LOG,
    POWER_DIR,
    POWER_FILES,
    RANGING_DIR,
    RANGING_SAMPLES,
    RUN_FILES,
    SERVER_JSON,
    SERVER_LOG,
    SUMMARY_LOG,
    TESTING_DIR,
    TESTING_SAMPLES,
)
from power_client.errors import DirectorFailed
from power_client.loadgen_logs import RunLogs
from power_director.api import FileEntry

# What the director writes into the folder; the client writes client.json, client.log and the LoadGen logs.
DIRECTOR_FILES = (CONSOLE_LOG, SERVER_JSON, SERVER_LOG, RANGING_SAMPLES, TESTING_SAMPLES)
EXPECTED = {
    POWER_DIR: POWER_FILES,
    RANGING_DIR: RUN_FILES,
    TESTING_DIR: RUN_FILES,
}


def place_run_logs(output: Path, run_dir: str, logs: RunLogs) -> list[str]:
    """Copy the run's detail and summary logs into `output/run_dir`; their folder-relative paths."""
    target = output / run_dir
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(logs.detail, target / DETAIL_LOG)
    shutil.copyfile(logs.summary, target / SUMMARY_LOG)
    return [f"{run_dir}/{DETAIL_LOG}", f"{run_dir}/{SUMMARY_LOG}"]


def place_director_files(
    output: Path,
    extras: Path,
    entries: list[FileEntry],
    download: Callable[[str], bytes],
    with_ranging: bool = True,
) -> list[str]:
    """Download every file the director lists: MLPerf ones into `output`, the rest into `extras`.

    Each file is checked against the size and sha1 the director listed. Returns the paths placed in
    `output`; DirectorFailed when one the folder needs is missing or a download does not match.
    """
    listed = {entry.path for entry in entries}
    needed = [path for path in DIRECTOR_FILES if with_ranging or not path.startswith(RANGING_DIR + "/")]
    missing = [path for path in needed if path not in listed]
    if missing:
        raise DirectorFailed(f"the director's session folder lacks {', '.join(missing)}")
    placed = []
    for entry in entries:
        relative = _safe_relative(entry.path)
        data = download(entry.path)
        digest = hashlib.sha1(data).hexdigest()
        if len(data) != entry.size or digest != entry.sha1:
            raise DirectorFailed(
                f"the director's {entry.path} arrived with {len(data)} bytes and sha1 {digest}, "
                f"but was listed with {entry.size} bytes and sha1 {entry.sha1}"
            )
        inside = entry.path in needed
        target = (output if inside else extras) / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        if inside:
            placed.append(entry.path)
    return placed


def check_layout(output: Path, with_ranging: bool = True) -> dict[str, list[str]]:
    """The folder's file lists; DirectorFailed naming the difference when they are not exactly MLPerf's."""
    expected = {name: files for name, files in EXPECTED.items() if with_ranging or name != RANGING_DIR}
    found = {
        entry.name: sorted(child.name for child in entry.iterdir())
        for entry in sorted(output.iterdir())
        if entry.is_dir()
    }
    loose = sorted(entry.name for entry in output.iterdir() if not entry.is_dir())
    problems = [f"unexpected file {name}" for name in loose]
    for name in sorted(set(found) | set(expected)):
        want = sorted(expected.get(name, ()))
        have = found.get(name, [])
        if want != have:
            problems.append(f"{name}/ holds {have or 'nothing'} instead of {want or 'nothing'}")
    if problems:
        raise DirectorFailed(f"the folder {output} is not the MLPerf layout: {'; '.join(problems)}")
    return found


def _safe_relative(path: str) -> PurePosixPath:
    relative = PurePosixPath(path)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise DirectorFailed(f"the director listed a file outside its session folder: {path!r}")
    return relative
