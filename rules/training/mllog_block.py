"""The readings of a power log whose reading lines are all of one length: read in place, no gather.

A node's logger writes every reading with one call, and a real log's times have 13 digits and its
watts as many digits line after line, so its run of reading lines is a matrix of bytes: one row per
line, the same bytes in every column but the time's and the value's. That run is found by a strided
look at its newline column; the two numbers of every row are copied out as one item per row, copied
into the template line tiled once, so that one memcmp compares the whole run, and read as digits.
Rows that differ (another record of the same length) and every line outside the run go the way of
`mllog_template`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from rules.training.mllog_template import (
    _READING,
    _integers,
    _no_leading_zero,
    numbers,
    template_of,
)

_MIN_ROWS = 64
_NEWLINE = 10


@dataclass(frozen=True)
class ReadingBlock:
    """A run of `count` lines of `width` bytes (newline included) from byte `start`; `rows` are those
    that are readings, with their times (ms) and watts."""

    start: int
    width: int
    count: int
    rows: np.ndarray
    times_ms: np.ndarray
    watts: np.ndarray
    others: np.ndarray
    """The rows that are not readings of the template (another record of the same length)."""

    @property
    def end(self) -> int:
        return self.start + self.count * self.width

    def newlines(self) -> np.ndarray:
        return self.start + np.arange(self.count, dtype=np.int64) * self.width + self.width - 1


def reading_block(data: bytes | bytearray, buf: np.ndarray) -> ReadingBlock | None:
    """The run of equal-length reading lines that starts at the first reading; None when there is
    none worth the path (no reading, an unusual first reading, fewer than 64 lines)."""
    at = data.find(_READING)
    if at < 0:
        return None
    start = data.rfind(b"\n", 0, at) + 1
    stop = data.find(b"\n", at)
    if stop < 0:
        return None
    raw = bytes(data[start:stop])
    template = template_of(raw)
    if template is None:
        return None
    prefix, tail, time_span = template
    width = len(raw) + 1
    most = (len(buf) - start) // width
    breaks = np.flatnonzero(buf[start + width - 1 : start + most * width : width] != _NEWLINE)
    count = int(breaks[0]) if len(breaks) else most
    if count < _MIN_ROWS:
        return None
    value_span = (len(prefix), width - 1 - len(tail))
    free = (time_span, value_span)
    digits = [_column(buf, start, width, count, span).copy() for span in free]
    matches = _rows_like(data, start, count, raw + b"\n", dict(zip(free, digits, strict=True)))
    times_ms, time_ok = _integers(_digit_rows(digits[0]))
    matches &= time_ok & _no_leading_zero(_digit_rows(digits[0]))
    watts, value_ok = _watts(_digit_rows(digits[1]))
    matches &= value_ok
    kept = np.flatnonzero(matches)
    others = np.flatnonzero(~matches) if len(kept) < count else np.zeros(0, dtype=np.int64)
    return ReadingBlock(start, width, count, kept, times_ms[kept], watts[kept], others)


def _rows_like(
    data: bytes | bytearray, start: int, count: int, line: bytes, free: dict[tuple[int, int], np.ndarray]
) -> np.ndarray:
    """Which of the `count` lines of `data` from byte `start`, each as long as `line`, equal `line`
    outside the `free` spans (each given with the rows' own bytes there). Those bytes are copied into
    this thread's tiled template, so one memcmp of the whole run says whether every row matches; only
    when one does not are the rows compared byte by byte to find which."""
    expected = _tiled(_blanked(line, tuple(free)), count)
    for span, column in free.items():
        _column(expected, 0, len(line), count, span)[:] = column
    keep = np.ones(count, dtype=bool)
    if not data.startswith(expected.data, start):
        rows = np.frombuffer(data, dtype=np.uint8, count=expected.size, offset=start).reshape(count, -1)
        keep[np.flatnonzero(rows != expected) // len(line)] = False
    return keep


def _column(buffer: np.ndarray, start: int, width: int, count: int, span: tuple[int, int]) -> np.ndarray:
    """Bytes `span` of each of `count` lines of `width` bytes from `start`, as one opaque item per line:
    numpy copies such items whole, four times faster than a strided byte matrix."""
    return np.ndarray(
        (count,), dtype=f"V{span[1] - span[0]}", buffer=buffer, offset=start + span[0], strides=(width,)
    )


def _digit_rows(column: np.ndarray) -> np.ndarray:
    return column.view(np.uint8).reshape(len(column), -1)


def _watts(digits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The values of the run: integers read straight from their digits (what a meter that logs whole
    watts writes); any other number by `numbers`."""
    if digits[0].max() <= ord("9") and digits[0].min() >= ord("0"):
        watts, ok = _integers(digits)
        return watts.astype(np.float64), ok & _no_leading_zero(digits)
    return numbers(digits, np.full(len(digits), digits.shape[1]))


def _blanked(line: bytes, free: tuple[tuple[int, int], ...]) -> bytes:
    # Every node of one writer has this same line once its numbers are blanked: they share the tiles.
    blanked = bytearray(line)
    for begin, end in free:
        blanked[begin:end] = bytes(end - begin)
    return bytes(blanked)


_local = threading.local()


def _tiled(line: bytes, count: int) -> np.ndarray:
    """`count` rows of `line`, writable: this thread's own, kept while the line stays the same."""
    tiles: np.ndarray | None = getattr(_local, "tiles", None)
    if tiles is None or getattr(_local, "line", None) != line or len(tiles) < count:
        tiles = np.tile(np.frombuffer(line, dtype=np.uint8), (count, 1))
        _local.tiles, _local.line = tiles, line
    return tiles[:count]
