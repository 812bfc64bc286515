"""MLPerf Training MLLOG files: result logs (`result_*.txt`) and power logs (`node_*.txt`, `sw_*.txt`).

A line is `:::MLLOG {json}`, possibly behind a rank prefix (`0: :::MLLOG {...}`); `time_ms` is UTC epoch
milliseconds. Result logs are small and full of other stdout, so their MLLOG lines are decoded one by one.
Power logs are the bulk of a large submission (one reading a second per node), so `read_power_log` reads
each into a reused buffer (`log_buffer`) and takes its `power_reading` lines with numpy, by the first
of three readers that takes nearly all of them: a run of readings of one length as a byte matrix
(`mllog_block`), every line against the first reading's template (`mllog_template`), a scan for the
keys (`mllog_scan`). Only the few lines left are decoded as JSON.

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
from rules.errors import InputError, reading
from rules.training.log_buffer import read_into_buffer
from rules.training.mllog_block import ReadingBlock, reading_block
from rules.training.mllog_scan import MARKER, scanned_readings
from rules.training.mllog_template import template_readings


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
    with reading(path):
        text = path.read_bytes()
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


def _decode_line(raw: bytes | bytearray, number: int) -> MllogEvent | None:
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


def read_power_log(path: Path) -> PowerLog:
    """Read a node or switch log; readings in file order (whether to sort them is the round's rule)."""
    with reading(path):
        data = read_into_buffer(path)
    return parse_power_log(data, path)


def parse_power_log(data: bytes | bytearray, path: Path) -> PowerLog:
    """The power log in `data`; nothing returned refers to `data`, so its buffer can be reused."""
    buf = np.frombuffer(data, dtype=np.uint8)
    block = reading_block(data, buf)
    rest = _around(buf, block) if block is not None else None
    if block is not None and rest is not None and _few_left(rest.count, len(block.rows)):
        taken = (block.rows + rest.first_row, block.times_ms, block.watts)
    else:
        taken, rest = _scanned(data, buf, block, path)
    fast_lines, times_ms, watts = taken
    events, slow_times, slow_watts, slow_lines, notes = _decode_rest(data, rest, path)

    time_ns = np.concatenate((times_ms * NS_PER_MS, np.asarray(slow_times, dtype=np.int64)))
    power = np.concatenate((watts, np.asarray(slow_watts, dtype=np.float64)))
    lines = np.concatenate((fast_lines + 1, np.asarray(slow_lines, dtype=np.int64)))
    if len(slow_lines) and len(fast_lines):  # the JSON path's readings back into file order
        order = np.argsort(lines, kind="stable")
        time_ns, power, lines = time_ns[order], power[order], lines[order]
    plausible = (power >= 0) & (power <= MAX_LOG_WATTS)  # NaN fails both
    if not plausible.all():
        first = int(np.flatnonzero(~plausible)[0])
        notes.append(
            f"{path.name}: dropped {int((~plausible).sum())} power_reading value(s) outside 0 to "
            f"{MAX_LOG_WATTS:g} W (first: line {int(lines[first])}, {float(power[first])!r} W); "
            "the energy is integrated across them"
        )
        time_ns, power, lines = time_ns[plausible], power[plausible], lines[plausible]
    return PowerLog(path, time_ns, power, lines, events, notes)


@dataclass(frozen=True)
class _Rest:
    """The lines the vectorised paths did not take: their 0-based indices and byte spans (end
    exclusive, before the newline), of a log of `count` lines."""

    count: int
    index: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    first_row: int = 0
    """With a reading block: the index of its first line."""


def _few_left(line_count: int, taken: int) -> bool:
    return line_count - taken <= _TEMPLATE_LEAVES_AT_MOST + line_count // 100


def _lines(newlines: np.ndarray, begin: int, end: int) -> tuple[np.ndarray, np.ndarray]:
    """Spans of the lines of bytes `begin`..`end` given their newlines; no empty line after a final one."""
    starts = np.concatenate(([begin], newlines + 1))
    ends = np.concatenate((newlines, [end]))
    if starts[-1] == end:
        starts, ends = starts[:-1], ends[:-1]
    return starts, ends


def _around(buf: np.ndarray, block: ReadingBlock) -> _Rest | None:
    """The lines around a reading block and the block's rows that are not readings, without a
    span for every line; None when the lines before the block are too many to be worth it."""
    head = np.flatnonzero(buf[: block.start] == ord("\n"))  # the block starts a line: head ends in one
    if len(head) > _TEMPLATE_LEAVES_AT_MOST:
        return None
    head_starts = np.concatenate(([0], head[:-1] + 1)) if len(head) else head
    tail_starts, tail_ends = _lines(
        np.flatnonzero(buf[block.end :] == ord("\n")) + block.end, block.end, len(buf)
    )
    others = block.others
    other_starts = block.start + others * block.width
    return _Rest(
        count=len(head) + block.count + len(tail_starts),
        index=np.concatenate(
            (np.arange(len(head)), others + len(head), np.arange(len(tail_starts)) + len(head) + block.count)
        ),
        starts=np.concatenate((head_starts, other_starts, tail_starts)),
        ends=np.concatenate((head, other_starts + block.width - 1, tail_ends)),
        first_row=len(head),
    )


def _scanned(
    data: bytes | bytearray, buf: np.ndarray, block: ReadingBlock | None, path: Path
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], _Rest]:
    """The readings found by the line-by-line vectorised paths, with a span for every line."""
    if block is None:
        newlines = np.flatnonzero(buf == ord("\n"))
    else:  # the run of equal-length readings has its newlines where its width says
        tail = np.flatnonzero(buf[block.end :] == ord("\n")) + block.end
        newlines = np.concatenate((np.flatnonzero(buf[: block.start] == ord("\n")), block.newlines(), tail))
    line_starts, line_ends = _lines(newlines, 0, len(buf))
    line_count = len(line_starts)
    taken = template_readings(data, buf, line_starts, line_ends)
    if taken is None or not _few_left(line_count, len(taken[0])):
        # Readings of several shapes (several writers, or hand-edited lines): the general scan.
        taken = scanned_readings(buf, line_starts, line_ends)
    slow = np.ones(line_count, dtype=bool)
    slow[taken[0]] = False
    index = np.flatnonzero(slow)
    return taken, _Rest(line_count, index, line_starts[index], line_ends[index])


def _decode_rest(
    data: bytes | bytearray, rest: _Rest, path: Path
) -> tuple[list[MllogEvent], list[int], list[float], list[int], list[str]]:
    """The lines left, decoded as JSON: (events, then the readings' times, watts and line numbers,
    then notes)."""
    events: list[MllogEvent] = []
    slow_times: list[int] = []
    slow_watts: list[float] = []
    slow_lines: list[int] = []
    notes: list[str] = []
    ignored = 0
    for index, begin, end in zip(rest.index.tolist(), rest.starts.tolist(), rest.ends.tolist(), strict=True):
        raw = data[begin:end]
        if MARKER not in raw:
            ignored += raw.strip() != b""
            continue
        number = index + 1
        event = _decode_line(raw, number)
        if event is None:
            if index == rest.count - 1 and data[-1:] != b"\n":
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
    return events, slow_times, slow_watts, slow_lines, notes


def _reading_watts(value: Any) -> float | None:
    # The MLLOG helper can wrap a value as {"value": x}; accept that as well as a bare number.
    if isinstance(value, dict):
        value = value.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
