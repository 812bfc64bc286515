"""LoadGen `mlperf_log_detail.txt`: the keys the power metric needs, first occurrence winning.

Two forms are read: MLLOG JSON lines (`:::MLLOG {...}`, LoadGen from v1.0 on) and the older text
form in which the power window appears as `POWER_BEGIN: ... <MM-DD-YYYY HH:MM:SS.fff>`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzers.ptd_time import PtdTimeError, parse_ptd_time
from rules.errors import InputError

_MLLOG_MARKER = ":::MLLOG"
_LEGACY_POWER = re.compile(
    r"\b(POWER_BEGIN|POWER_END)\b\s*:?.*?(\d{2}-\d{2}-\d{4} \d{2}:\d{2}:\d{2}(?:\.\d+)?)"
)


@dataclass
class LoadgenLog:
    path: Path
    values: dict[str, Any] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def where(self, key: str) -> str:
        line = self.lines.get(key)
        return f"{self.path}:{line}" if line is not None else str(self.path)

    def time_ns(self, key: str) -> int:
        """A `power_begin`/`power_end` value as UTC epoch ns; InputError naming the line if absent or bad."""
        if key not in self.values:
            raise InputError(self.path, f"no {key} entry (was the run made with power measurement on?)")
        try:
            return parse_ptd_time(str(self.values[key]))
        except PtdTimeError as error:
            raise InputError(self.path, f"{key}: {error}", line=self.lines.get(key)) from None


def read_loadgen_log(path: str | Path) -> LoadgenLog:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise InputError(path, f"cannot read: {error.strerror}") from None
    log = LoadgenLog(path)
    for number, line in enumerate(text.splitlines(), start=1):
        marker = line.find(_MLLOG_MARKER)
        if marker >= 0:
            _read_mllog_line(log, line[marker + len(_MLLOG_MARKER) :], number)
            continue
        legacy = _LEGACY_POWER.search(line)
        if legacy:
            _remember(log, legacy.group(1).lower(), legacy.group(2), number)
    return log


def _read_mllog_line(log: LoadgenLog, payload: str, number: int) -> None:
    try:
        record = json.loads(payload)
        key = record["key"]
    except (json.JSONDecodeError, KeyError, TypeError):
        log.problems.append(f"{log.path}:{number}: not a complete MLLOG record, ignored")
        return
    if isinstance(key, str):
        _remember(log, key, record.get("value"), number)


def _remember(log: LoadgenLog, key: str, value: Any, number: int) -> None:
    # LoadGen can log a key twice (e.g. after an early stop); MLPerf's tooling takes the first.
    if key not in log.values:
        log.values[key] = value
        log.lines[key] = number
