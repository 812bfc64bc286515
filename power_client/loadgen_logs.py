"""Find the LoadGen logs one workload run produced: the detail log whose power window lies inside the run.

A LoadGen output folder is often reused between runs and harnesses copy logs around, so "newest file"
is not evidence. The evidence is the log itself: its `power_begin`/`power_end` (UTC, the SUT clock) must
fall between the moment the client started the command and the moment it ended.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from analyzers.formats.mlperf_layout import DETAIL_LOG, SUMMARY_LOG
from power_client.errors import NoLoadgenLog
from rules.errors import InputError
from rules.inference.loadgen_log import read_loadgen_log

# LoadGen prints milliseconds truncated, so a run's first query can read up to 1 ms before the instant
# the client started the command.
_TRUNCATION_NS = 1_000_000


@dataclass(frozen=True)
class RunLogs:
    detail: Path
    summary: Path
    power_begin_ns: int
    power_end_ns: int


def find_run_logs(root: Path, started_ns: int, ended_ns: int, what: str) -> RunLogs:
    """The one detail log (and its summary) under `root` whose power window lies in [started, ended].

    Copies with identical content count once (harnesses copy the log up a level). NoLoadgenLog, naming
    `what` (e.g. "the ranging run") and the folder, when there is none, several, or no summary beside it.
    """
    if not root.is_dir():
        raise NoLoadgenLog(f"the LoadGen log folder {root} does not exist after {what}")
    inside: dict[str, RunLogs] = {}
    seen = 0
    for detail in sorted(root.rglob(DETAIL_LOG), key=lambda path: (len(path.parts), str(path))):
        seen += 1
        try:
            log = read_loadgen_log(detail)
            begin_ns = log.time_ns("power_begin")
            end_ns = log.time_ns("power_end")
        except InputError:
            continue  # not a power run (no window) or unreadable: not this run's log
        if begin_ns < started_ns - _TRUNCATION_NS or end_ns > ended_ns or end_ns < begin_ns:
            continue
        digest = hashlib.sha1(detail.read_bytes()).hexdigest()
        inside.setdefault(digest, RunLogs(detail, detail.with_name(SUMMARY_LOG), begin_ns, end_ns))
    if not inside:
        found = (
            f"none of the {seen} {DETAIL_LOG} files there has"
            if seen
            else f"there is no {DETAIL_LOG} that has"
        )
        raise NoLoadgenLog(
            f"no LoadGen log from {what} under {root}: {found} power_begin/power_end inside the run"
        )
    if len(inside) > 1:
        names = ", ".join(str(logs.detail) for logs in inside.values())
        raise NoLoadgenLog(
            f"{what} produced {len(inside)} different LoadGen logs under {root} ({names}); expected one"
        )
    logs = next(iter(inside.values()))
    if not logs.summary.is_file():
        raise NoLoadgenLog(f"{logs.detail} from {what} has no {SUMMARY_LOG} beside it")
    return logs
