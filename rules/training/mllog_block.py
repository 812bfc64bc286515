"""The readings of a power log whose reading lines are all of one length: read in place, no gather.

A node's logger writes every reading with one call, and a real log's times have 13 digits and its
watts as many digits line after line, so its run of reading lines is a matrix of bytes: one row per
line, the same bytes in every column but the time's and the value's. That run is found by a strided
look at its newline column; the rows are compared with the template line tiled once (8-byte words,
only the two numbers free), and the numbers are read from their columns in place. Rows that differ
(another record of the same length) and every line outside the run go the way of `mllog_template`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from rules.training.mllog_template import (
    _READING,
    _integers,
    _no_leading_zero,
    masked_pattern,
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

    @property
    def end(self) -> int:
        return self.start + self.count * self.width

    def newlines(self) -> np.ndarray:
        return self.start + np.arange(self.count, dtype=np.int64) * self.width + self.width - 1


def reading_block(data: bytes, buf: np.ndarray) -> ReadingBlock | None:
    """The run of equal-length reading lines that starts at the first reading; None when there is
    none worth the path (no reading, an unusual first reading, fewer than 64 lines)."""
    at = data.find(_READING)
    if at < 0:
        return None
    start = data.rfind(b"\n", 0, at) + 1
    stop = data.find(b"\n", at)
    if stop < 0:
        return None
    raw = data[start:stop]
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
    block = buf[start : start + count * width]
    value_span = (len(prefix), width - 1 - len(tail))
    matches = _rows_like(block, raw + b"\n", (time_span, value_span), count, width)
    rows = block.reshape(count, width)
    time_digits = rows[:, time_span[0] : time_span[1]]
    times_ms, time_ok = _integers(time_digits)
    matches &= time_ok & _no_leading_zero(time_digits)
    watts, value_ok = numbers(
        rows[:, value_span[0] : value_span[1]], np.full(count, value_span[1] - value_span[0])
    )
    matches &= value_ok
    kept = np.flatnonzero(matches)
    return ReadingBlock(start, width, count, kept, times_ms[kept], watts[kept])


def _rows_like(
    block: np.ndarray, line: bytes, free: tuple[tuple[int, int], ...], count: int, width: int
) -> np.ndarray:
    """Rows of `block` (count x width bytes) equal to `line` outside the `free` spans."""
    offset = (-block.ctypes.data) % 8  # the words compared start on an 8-byte boundary
    words = (len(block) - offset) // 8
    line_bytes, line_mask = masked_pattern(line, len(line), free)
    # Keyed by the line with its free bytes blanked, so every node of one writer shares the tiles.
    wanted, mask = _tiled((line_bytes & line_mask).tobytes(), free, count, offset, words)
    difference = np.bitwise_xor(block[offset : offset + 8 * words].view(np.uint64), wanted)
    np.bitwise_and(difference, mask, out=difference)
    keep = np.ones(count, dtype=bool)
    if difference.any():  # a pass without output first: in a log of one writer no row differs
        first_byte = np.flatnonzero(difference) * 8 + offset
        keep[first_byte // width] = False
        keep[(first_byte + 7) // width] = False
    # The few bytes outside the aligned words, compared one by one.
    for index in (*range(offset), *range(offset + 8 * words, len(block))):
        if line_mask[index % width] and block[index] != line_bytes[index % width]:
            keep[index // width] = False
    return keep


@functools.lru_cache(maxsize=16)  # one writer: one entry per 8-byte phase of the buffer
def _tiled(
    line: bytes, free: tuple[tuple[int, int], ...], count: int, offset: int, words: int
) -> tuple[np.ndarray, np.ndarray]:
    """The line (free bytes blanked) and its mask repeated `count` times, cut to the aligned words."""
    line_bytes, line_mask = masked_pattern(line, len(line), free)
    tiled = np.tile(line_bytes, count)[offset : offset + 8 * words].view(np.uint64)
    mask = np.tile(line_mask, count)[offset : offset + 8 * words].view(np.uint64)
    return tiled, mask
