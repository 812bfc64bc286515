"""The readings of any power log, found by scanning it for its keys: the path of last resort.

A log whose readings are of many shapes (several writers, hand-edited lines) has no template for
`mllog_template` or `mllog_block` to compare with; here every `power_reading`, `time_ms`, `value` and
`:::MLLOG` is found by a whole-buffer scan, a line with exactly one of each and a closing brace is
taken, and its two numbers are read as tokens. Anything unusual is left to the JSON path.
"""

from __future__ import annotations

import numpy as np

MARKER = b":::MLLOG"
_TIME_KEY = b'"time_ms":'
_VALUE_KEY = b'"value":'
_READING_KEY = b'"power_reading"'
_TIME_WIDTH = 20
_VALUE_WIDTH = 28
_SPACE = np.zeros(256, dtype=bool)
_SPACE[list(b" \t\r")] = True


def scanned_readings(
    buf: np.ndarray, line_starts: np.ndarray, line_ends: np.ndarray
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
