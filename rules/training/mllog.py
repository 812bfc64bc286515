"""MLPerf Training MLLOG files: result logs (`result_*.txt`) and power logs (`node_*.txt`, `sw_*.txt`).

A line is `:::MLLOG {json}`, possibly behind a rank prefix (`0: :::MLLOG {...}`); `time_ms` is UTC epoch
milliseconds. Result logs are small and full of other stdout, so their MLLOG lines are decoded one by one.
Power logs are the bulk of a large submission (one reading a second per node), so `read_power_log` finds
the `power_reading` lines with whole-buffer numpy scans and decodes only the few other lines as JSON.

Damaged lines: a power log's last line cut mid-record (a logger killed while writing) is skipped with a
note; any other malformed MLLOG line in a power log is an `InputError` naming file and line, because a
reading lost silently would bias the energy. Result logs interleave the stdout of many ranks, so a
malformed MLLOG line there is skipped with a note; only missing `run_start`/`run_stop` make them unusable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from analyzers.formats.units import NS_PER_MS
from rules.errors import InputError
from rules.training.mllog_block import reading_block
from rules.training.mllog_template import template_readings

MARKER = b":::MLLOG"


@dataclass(frozen=True)
class MllogEvent:
    """One decoded MLLOG record; `line` is 1-based in its file."""

    key: str
    time_ns: int
    value: Any
    metadata: Any
    line: int


@dataclass
class PowerLog:
    """A node or switch power log: the readings as columns in file order, every other MLLOG record as
    events."""

    path: Path
    reading_time_ns: np.ndarray
    reading_watts: np.ndarray
    reading_line: np.ndarray
    events: list[MllogEvent] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def first(self, key: str) -> MllogEvent | None:
        return next((e for e in self.events if e.key == key), None)

    def all(self, key: str) -> list[MllogEvent]:
        return [e for e in self.events if e.key == key]


# -- result logs --------------------------------------------------------------------------------


def read_result_log(path: Path) -> tuple[list[MllogEvent], list[str]]:
    """Decode every MLLOG line of a result log; malformed ones are skipped and reported in the notes."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot be read ({exc.strerror})") from exc
    events: list[MllogEvent] = []
    bad: list[int] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if MARKER not in raw:
            continue
        event = _decode_line(raw, number)
        if event is None:
            bad.append(number)
        else:
            events.append(event)
    notes = []
    if bad:
        where = ", ".join(str(n) for n in bad[:5]) + (" …" if len(bad) > 5 else "")
        notes.append(f"{path.name}: skipped {len(bad)} malformed MLLOG line(s) (line {where})")
    return events, notes


MAX_LOG_WATTS = 1_000_000.0
"""1 MW for one power log (a node, or a PDU): MLPerf's largest systems draw ~10 MW across thousands."""
MAX_TIME_MS = 7_258_118_400_000
"""2200-01-01 UTC: a `time_ms` past it (or before 1970) is no time a run was logged at."""


def _decode_line(raw: bytes, number: int) -> MllogEvent | None:
    """The MLLOG record on one line, or None when it is not a complete, well-formed record."""
    start = raw.find(MARKER)
    try:
        record = json.loads(raw[start + len(MARKER) :])
        time_ms = record["time_ms"]
        key = record["key"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(record, dict) or not isinstance(key, str) or not isinstance(time_ms, int | float):
        return None
    if isinstance(time_ms, bool) or not 0 <= time_ms <= MAX_TIME_MS:  # NaN fails this too
        return None  # not a time of this era: a damaged line, counted with the malformed ones
    return MllogEvent(
        key=key,
        time_ns=_ms_to_ns(time_ms),
        value=record.get("value"),
        metadata=record.get("metadata"),
        line=number,
    )


def _ms_to_ns(time_ms: float) -> int:
    # Integer milliseconds (the usual case) convert exactly; fractional ones keep µs precision.
    if isinstance(time_ms, int) or float(time_ms).is_integer():
        return int(time_ms) * NS_PER_MS
    return round(time_ms * 1000) * 1000


# -- power logs ---------------------------------------------------------------------------------

_TEMPLATE_LEAVES_AT_MOST = 64
"""Lines the one-template path may leave to JSON (the start and stop records, a few odd readings)."""
_TIME_KEY = b'"time_ms":'
_VALUE_KEY = b'"value":'
_READING_KEY = b'"power_reading"'
_TIME_WIDTH = 20
_VALUE_WIDTH = 28
_SPACE = np.zeros(256, dtype=bool)
_SPACE[list(b" \t\r")] = True


def read_power_log(path: Path) -> PowerLog:
    """Read a node or switch log; readings in file order (whether to sort them is the round's rule)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot be read ({exc.strerror})") from exc
    return parse_power_log(data, path)


def parse_power_log(data: bytes, path: Path) -> PowerLog:
    buf = np.frombuffer(data, dtype=np.uint8)
    block = reading_block(data, buf)
    if block is None:
        newlines = np.flatnonzero(buf == ord("\n"))
    else:  # the run of equal-length readings has its newlines where its width says
        tail = np.flatnonzero(buf[block.end :] == ord("\n")) + block.end
        newlines = np.concatenate((np.flatnonzero(buf[: block.start] == ord("\n")), block.newlines(), tail))
    line_starts = np.concatenate(([0], newlines + 1))
    line_ends = np.concatenate((newlines, [len(buf)]))  # exclusive, before the newline
    if line_starts[-1] == len(buf):  # file ends with a newline: no empty last line
        line_starts, line_ends = line_starts[:-1], line_ends[:-1]
    line_count = len(line_starts)

    def few_left(taken: tuple[np.ndarray, np.ndarray, np.ndarray] | None) -> bool:
        return (
            taken is not None and line_count - len(taken[0]) <= _TEMPLATE_LEAVES_AT_MOST + line_count // 100
        )

    taken = None
    if block is not None:
        first_row = int(np.searchsorted(line_starts, block.start))
        taken = (block.rows + first_row, block.times_ms, block.watts)
    if not few_left(taken):
        taken = template_readings(data, buf, line_starts, line_ends)
    if taken is None or not few_left(taken):
        # Readings of several shapes (several writers, or hand-edited lines): the general scan.
        taken = _fast_readings(buf, line_starts, line_ends, path)
    fast_lines, times_ms, watts = taken

    slow = np.ones(line_count, dtype=bool)
    slow[fast_lines] = False
    events: list[MllogEvent] = []
    slow_times: list[int] = []
    slow_watts: list[float] = []
    slow_lines: list[int] = []
    notes: list[str] = []
    ignored = 0
    for index in np.flatnonzero(slow).tolist():
        raw = data[line_starts[index] : line_ends[index]]
        if MARKER not in raw:
            ignored += raw.strip() != b""
            continue
        number = index + 1
        event = _decode_line(raw, number)
        if event is None:
            if index == line_count - 1 and data[-1:] != b"\n":
                notes.append(f"{path.name}: skipped the truncated last line {number}")
                continue
            raise InputError(path, "malformed MLLOG line", line=number)
        if event.key == "power_reading":
            watts_value = _reading_watts(event.value)
            if watts_value is None:
                raise InputError(path, f"power_reading value {event.value!r} is not a number", line=number)
            slow_times.append(event.time_ns)
            slow_watts.append(watts_value)
            slow_lines.append(number)
        else:
            events.append(event)
    if ignored:
        notes.append(f"{path.name}: ignored {ignored} line(s) without an MLLOG record")

    time_ns = np.concatenate((times_ms * NS_PER_MS, np.asarray(slow_times, dtype=np.int64)))
    power = np.concatenate((watts, np.asarray(slow_watts, dtype=np.float64)))
    lines = np.concatenate((fast_lines + 1, np.asarray(slow_lines, dtype=np.int64)))
    if len(slow_lines) and len(fast_lines):  # the JSON path's readings back into file order
        order = np.argsort(lines, kind="stable")
        time_ns, power, lines = time_ns[order], power[order], lines[order]
    implausible = ~np.isfinite(power) | (power < 0) | (power > MAX_LOG_WATTS)
    if implausible.any():
        first = int(np.flatnonzero(implausible)[0])
        notes.append(
            f"{path.name}: dropped {int(implausible.sum())} power_reading value(s) outside 0 to "
            f"{MAX_LOG_WATTS:g} W (first: line {int(lines[first])}, {float(power[first])!r} W); "
            "the energy is integrated across them"
        )
        keep = ~implausible
        time_ns, power, lines = time_ns[keep], power[keep], lines[keep]
    return PowerLog(path, time_ns, power, lines, events, notes)


def _reading_watts(value: Any) -> float | None:
    # The MLLOG helper can wrap a value as {"value": x}; accept that as well as a bare number.
    if isinstance(value, dict):
        value = value.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _fast_readings(
    buf: np.ndarray, line_starts: np.ndarray, line_ends: np.ndarray, path: Path
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lines that are plainly `power_reading` records with integer `time_ms` and a numeric value.

    Returns (0-based line indices, time in ms as int64, watts). Anything unusual (a second record on the
    line, a quoted value, no closing brace, fractional `time_ms`) is left to the JSON path, so this
    path only has to be right for the common shape, never complete.
    """
    empty = (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty(0))
    if len(buf) == 0:
        return empty
    reading_pos = _find_all(buf, _READING_KEY, anchor=3)  # anchor on 'w', rare in MLLOG
    if len(reading_pos) == 0:
        return empty
    time_pos = _find_all(buf, _TIME_KEY, anchor=5)  # '_'
    value_pos = _find_all(buf, _VALUE_KEY, anchor=1)  # 'v'
    marker_pos = _find_all(buf, MARKER, anchor=7)  # 'G'

    def line_of(pos: np.ndarray) -> np.ndarray:
        return np.searchsorted(line_starts, pos, side="right") - 1

    count = len(line_starts)
    once = np.ones(count, dtype=bool)
    for positions in (reading_pos, time_pos, value_pos, marker_pos):
        once &= np.bincount(line_of(positions), minlength=count) == 1
    # The record must be complete: last non-space byte of the line is the closing brace.
    last = _last_non_space(buf, line_starts, line_ends)
    once &= last >= 0
    once[once] &= buf[np.maximum(last[once], 0)] == ord("}")
    # The value must follow the key: `"power_reading", "value":` (with or without the space).
    good_reading = once[line_of(reading_pos)]
    reading_pos = reading_pos[good_reading]
    value_pos = value_pos[once[line_of(value_pos)]]
    time_pos = time_pos[once[line_of(time_pos)]]
    lines = line_of(reading_pos)
    gap = value_pos - (reading_pos + len(_READING_KEY))
    adjacent = (gap == 1) | (
        (gap == 2) & (buf[np.minimum(reading_pos + len(_READING_KEY) + 1, len(buf) - 1)] == 32)
    )
    adjacent &= buf[reading_pos + len(_READING_KEY)] == ord(",")

    # Zero padding lets a token near the end of the file have a full-width window.
    padded = np.concatenate((buf, np.zeros(max(_TIME_WIDTH, _VALUE_WIDTH) + 1, dtype=np.uint8)))
    time_tokens, time_ok = _tokens(padded, time_pos + len(_TIME_KEY), _TIME_WIDTH)
    value_tokens, value_ok = _tokens(padded, value_pos + len(_VALUE_KEY), _VALUE_WIDTH)
    keep = adjacent & time_ok & value_ok
    times_ms_f, time_ok = _as_float(time_tokens[keep])
    watts, value_ok = _as_float(value_tokens[keep])
    # Integer milliseconds only on this path; `…207.5` or `1.7e12` go through JSON.
    time_ok &= (np.floor(times_ms_f) == times_ms_f) & (np.abs(times_ms_f) < 2.0**53)
    parsed = time_ok & value_ok
    lines = lines[keep][parsed]
    times_ms = times_ms_f[parsed].astype(np.int64)
    watts = watts[parsed]
    return lines.astype(np.int64), times_ms, watts


def _find_all(buf: np.ndarray, pattern: bytes, anchor: int) -> np.ndarray:
    """Start offsets of `pattern` in `buf`; scanning for its rarest byte first keeps the candidates few."""
    n = len(buf) - len(pattern) + 1
    if n <= 0:
        return np.empty(0, dtype=np.int64)
    candidates = np.flatnonzero(buf[anchor : anchor + n] == pattern[anchor])
    for offset, byte in enumerate(pattern):
        if offset != anchor and len(candidates):
            candidates = candidates[buf[candidates + offset] == byte]
    return candidates


def _last_non_space(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Offset of the last byte of each line that is not a space/tab/CR; -1 for a blank line."""
    last = ends - 1
    for _ in range(4):  # a CR and a few trailing spaces; more than that goes the JSON way
        blank = (last >= starts) & _SPACE[buf[np.maximum(last, 0)]]
        if not blank.any():
            break
        last = np.where(blank, last - 1, last)
    return np.where(last >= starts, last, -1)


def _tokens(buf: np.ndarray, pos: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The text after each `pos` up to the next `,` or `}` (one leading space skipped), as `S<width>`
    strings, and whether such a terminator was found within `width` bytes."""
    limit = len(buf) - width
    pos = np.minimum(pos + (buf[np.minimum(pos, limit)] == ord(" ")), limit)
    # A strided view gathers whole rows at once; far cheaper than fancy-indexing every byte.
    window = np.lib.stride_tricks.sliding_window_view(buf, width)[pos]
    stop = (window == ord(",")) | (window == ord("}"))
    length = stop.argmax(axis=1)
    ok = stop[np.arange(len(pos)), length] & (length > 0)
    offsets = np.arange(width)
    window[offsets >= length[:, None]] = 0  # the terminator and all after it
    return window.view(f"S{width}").ravel(), ok


def _as_float(tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parse in one C call; only when some token is not a number, find which (those go the JSON way)."""
    try:
        return tokens.astype(np.float64), np.ones(len(tokens), dtype=bool)
    except ValueError:
        values = np.full(len(tokens), np.nan)
        ok = np.zeros(len(tokens), dtype=bool)
        for index, token in enumerate(tokens.tolist()):
            try:
                values[index] = float(token)
                ok[index] = True
            except ValueError:
                pass
        return values, ok
