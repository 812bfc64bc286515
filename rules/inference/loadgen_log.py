"""LoadGen `mlperf_log_detail.txt`: the keys the power metric needs, first occurrence winning.

Two forms are read: MLLOG JSON lines (`:::MLLOG {...}`, LoadGen from v1.0 on) and the older text
form in which the power window appears as `POWER_BEGIN: ... <MM-DD-YYYY HH:MM:SS.fff>`.

A log holds a few hundred records and a check asks for a dozen keys, so the file is scanned, not
parsed: each record's key is read off the start of its line (LoadGen writes `{"key": ...` first) and
only the records of keys asked for are decoded as JSON, each once. A line that cannot be a JSON object
(cut short, garbage) is noted at once; a well-shaped one that still fails to decode is noted when its
key is asked for, and the key's next occurrence is used instead.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzers.formats.ptd_time import PtdTimeError, parse_ptd_time
from rules.errors import InputError

_MLLOG_MARKER = ":::MLLOG"
_LEGACY_POWER = re.compile(
    r"\b(POWER_BEGIN|POWER_END)\b\s*:?.*?(\d{2}-\d{2}-\d{4} \d{2}:\d{2}:\d{2}(?:\.\d+)?)"
)
_LEADING_KEY = re.compile(r'\s*\{\s*"key"\s*:\s*"([^"\\]*)"')
# An MLLOG record as LoadGen writes it: marker, then an object whose first member is the key, to the
# line's end. It starts with a literal, so the engine jumps from marker to marker.
_LEADING_RECORD = re.compile(
    r':::MLLOG[^\S\n]*(\{[^\S\n]*"key"[^\S\n]*:[^\S\n]*"([^"\\\n]*)"[^\n]*\})[^\S\n]*$', re.M
)
_MISSING = object()


@dataclass
class LoadgenLog:
    path: Path
    problems: list[str] = field(default_factory=list)
    _records: dict[str, list[tuple[int, str]]] = field(default_factory=dict, repr=False)
    """key -> (line number, JSON payload or, for the legacy form, the bare value) of each occurrence."""
    _decoded: dict[str, tuple[Any, int | None]] = field(default_factory=dict, repr=False)

    def get(self, key: str, default: Any = None) -> Any:
        value, _line = self._resolve(key)
        return default if value is _MISSING else value

    def line(self, key: str) -> int | None:
        """The line the key's value was taken from, or None if the log has no usable one."""
        return self._resolve(key)[1]

    def where(self, key: str) -> str:
        line = self.line(key)
        return f"{self.path}:{line}" if line is not None else str(self.path)

    def time_ns(self, key: str) -> int:
        """A `power_begin`/`power_end` value as UTC epoch ns; InputError naming the line if absent or bad."""
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise InputError(self.path, f"no {key} entry (was the run made with power measurement on?)")
        try:
            return parse_ptd_time(str(value))
        except PtdTimeError as error:
            raise InputError(self.path, f"{key}: {error}", line=self.line(key)) from None

    def _resolve(self, key: str) -> tuple[Any, int | None]:
        known = self._decoded.get(key)
        if known is not None:
            return known
        resolved: tuple[Any, int | None] = (_MISSING, None)
        for number, payload in self._records.get(key, ()):
            if number < 0:  # the legacy text form: the value as it stands
                resolved = (payload, -number)
                break
            try:
                record = json.loads(payload)
                if not isinstance(record, dict) or record.get("key") != key:
                    raise TypeError
            except (json.JSONDecodeError, TypeError):
                self.problems.append(f"{self.path}:{number}: not a complete MLLOG record, ignored")
                continue
            resolved = (record.get("value"), number)
            break
        self._decoded[key] = resolved
        return resolved


def read_loadgen_log(path: str | Path, data: bytes | None = None) -> LoadgenLog:
    """Scan a detail log; with `data` (its bytes, read by the caller) the file is not opened."""
    path = Path(path)
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as error:
            raise InputError(path, f"cannot read: {error.strerror}") from None
    log = LoadgenLog(path)
    # Lines as str.splitlines() cuts them (CR, CRLF and the rest), so line numbers match an editor's.
    text = "\n".join(data.decode("utf-8", errors="replace").splitlines())
    # One regular-expression pass finds every record whose key leads its line; only the few lines it
    # does not explain (another writer's key order, damage, the legacy form) are looked at one by one.
    explained = set()
    line_starts = None
    for match in _LEADING_RECORD.finditer(text):
        if line_starts is None:
            line_starts = _line_starts(text)
        number = bisect.bisect_right(line_starts, match.start())
        if text.find(_MLLOG_MARKER, line_starts[number - 1], match.start()) >= 0:
            continue  # not the line's first marker: the line is read one by one below
        explained.add(number)
        log._records.setdefault(match.group(2), []).append((number, match.group(1)))
    if len(explained) != text.count(_MLLOG_MARKER) or "POWER_" in text:
        for number, line in enumerate(text.split("\n"), start=1):
            if number in explained:
                continue
            marker = line.find(_MLLOG_MARKER)
            if marker >= 0:
                _scan_mllog_line(log, line[marker + len(_MLLOG_MARKER) :], number)
                continue
            legacy = _LEGACY_POWER.search(line)
            if legacy:
                # A negative line number marks a value that needs no decoding.
                log._records.setdefault(legacy.group(1).lower(), []).append((-number, legacy.group(2)))
        for records in log._records.values():
            records.sort(key=lambda record: abs(record[0]))
    return log


def _line_starts(text: str) -> list[int]:
    starts = [0]
    position = text.find("\n")
    while position >= 0:
        starts.append(position + 1)
        position = text.find("\n", position + 1)
    return starts


def _scan_mllog_line(log: LoadgenLog, payload: str, number: int) -> None:
    body = payload.strip()
    if not (body.startswith("{") and body.endswith("}")):
        log.problems.append(f"{log.path}:{number}: not a complete MLLOG record, ignored")
        return
    leading = _LEADING_KEY.match(body)
    if leading:
        log._records.setdefault(leading.group(1), []).append((number, body))
        return
    # Another writer's key order (or an escaped key): decode this one line now to find its key.
    try:
        record = json.loads(body)
        key = record["key"]
    except (json.JSONDecodeError, KeyError, TypeError):
        log.problems.append(f"{log.path}:{number}: not a complete MLLOG record, ignored")
        return
    if isinstance(key, str):
        log._records.setdefault(key, []).append((number, body))
