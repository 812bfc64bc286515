"""The readings of a power log whose `power_reading` lines all come from one logging call.

mlperf-logging writes every reading of a node with the same call, so those lines are byte for byte the
same but for the digits of `time_ms` and of the value: `:::MLLOG {"namespace": "", "time_ms": <t>,
"event_type": "POINT_IN_TIME", "key": "power_reading", "value": <w>, "metadata": {...}}`. The first
such line, decoded as JSON, becomes the template; every other line is compared with it whole
(8 bytes at a time) and its two numbers are read from the byte columns where they stand, grouped by
the shape of the value (its length and where its point is), so no token is searched and no string
is converted. A line that differs in any other byte, or whose value is not a plain JSON number, is
not taken: `mllog` reads it the general way, so this path only has to be right, never complete.
"""

from __future__ import annotations

import json

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

_READING = b'"power_reading"'
_MAX_VALUE_BYTES = 17  # a sign, 15 significant digits, a point: exact in float64 as digits / 10^k
_MAX_SHAPES = 16
_TEN = 10 ** np.arange(19, dtype=np.int64)
_DIGIT_ZERO = ord("0")


def template_readings(
    data: bytes | bytearray, buf: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(0-based line indices, time in ms, watts) of the lines that match the first reading's template;
    None when the log has no template (no reading, or a first reading of an unusual shape)."""
    template = _template(data, starts, ends)
    if template is None:
        return None
    prefix, tail, time_span = template
    head_width, tail_width = _round8(len(prefix)), _round8(len(tail))
    value_length = (ends - starts) - len(prefix) - len(tail)
    # A line whose windows would run past the buffer (the last one or two) is left to JSON: no copy
    # of the whole buffer with padding for them.
    fits = (starts + max(head_width, len(prefix) + _MAX_VALUE_BYTES) <= len(buf)) & (
        ends - len(tail) + tail_width <= len(buf)
    )
    rows = np.flatnonzero(fits & (value_length >= 1) & (value_length <= _MAX_VALUE_BYTES))
    heads = sliding_window_view(buf, head_width)[starts[rows]]
    keep = _rows_zero(heads.view(np.uint64), *_words(prefix, head_width, (time_span,)))
    tails = sliding_window_view(buf, tail_width)[ends[rows] - len(tail)]
    keep &= _rows_zero(tails.view(np.uint64), *_words(tail, tail_width, ()))
    time_digits = heads[:, time_span[0] : time_span[1]]
    times_ms, time_ok = _integers(time_digits)
    keep &= time_ok & _no_leading_zero(time_digits)
    rows, times_ms = rows[keep], times_ms[keep]
    values, value_ok = _values(buf, starts[rows] + len(prefix), value_length[rows])
    return rows[value_ok], times_ms[value_ok], values[value_ok]


def _masked_pattern(
    expected: bytes, width: int, free: tuple[tuple[int, int], ...]
) -> tuple[np.ndarray, np.ndarray]:
    """`expected` padded to `width` bytes, and the mask of the bytes to compare (all but `free`)."""
    wanted = np.zeros(width, dtype=np.uint8)
    wanted[: len(expected)] = np.frombuffer(expected, dtype=np.uint8)
    mask = np.zeros(width, dtype=np.uint8)
    mask[: len(expected)] = 0xFF
    for begin, end in free:
        mask[begin:end] = 0
    return wanted, mask


def _words(expected: bytes, width: int, free: tuple[tuple[int, int], ...]) -> tuple[np.ndarray, np.ndarray]:
    """`_masked_pattern` as 8-byte words (`width` a multiple of 8)."""
    wanted, mask = _masked_pattern(expected, width, free)
    return wanted.view(np.uint64), mask.view(np.uint64)


def _rows_zero(words: np.ndarray, wanted: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Rows whose masked words equal `wanted`. The differing words are found in one flat pass and
    their rows struck out: numpy's per-row reduction of a short row costs ten times more, and in a
    log of one writer only the few other records differ."""
    difference = np.bitwise_xor(words, wanted)
    np.bitwise_and(difference, mask, out=difference)
    return _rows_without(difference)


def _rows_without(nonzero: np.ndarray) -> np.ndarray:
    """Rows of a matrix with no nonzero entry, through the flat positions of the nonzero ones."""
    keep = np.ones(len(nonzero), dtype=bool)
    keep[np.flatnonzero(nonzero) // max(nonzero.shape[1], 1)] = False
    return keep


def _template(
    data: bytes | bytearray, starts: np.ndarray, ends: np.ndarray
) -> tuple[bytes, bytes, tuple[int, int]] | None:
    at = data.find(_READING)
    if at < 0:
        return None
    line = int(np.searchsorted(starts, at, side="right")) - 1
    return template_of(bytes(data[int(starts[line]) : int(ends[line])]))


def template_of(raw: bytes) -> tuple[bytes, bytes, tuple[int, int]] | None:
    """(the bytes before the value, the bytes after it, the time digits' span) of one reading line,
    or None when it is not a plain `power_reading` record with an integer time and a number."""
    marker = raw.find(b"{")
    try:
        record = json.loads(raw[marker:])
    except ValueError:
        return None
    if not (
        isinstance(record, dict)
        and record.get("key") == "power_reading"
        and type(record.get("time_ms")) is int
        and 0 < record["time_ms"] < 10**15  # epoch ms have 13 digits; 15 stay exact in a float64 sum
        and type(record.get("value")) in (int, float)
    ):
        return None
    time_start = _after_key(raw, b'"time_ms":')
    value_start = _after_key(raw, b'"value":')
    if time_start < 0 or value_start < 0 or time_start > value_start:
        return None
    time_end = time_start + len(str(record["time_ms"]))
    value_end = value_start
    while value_end < len(raw) and raw[value_end] not in b",}":
        value_end += 1
    if raw[time_start:time_end] != str(record["time_ms"]).encode() or value_end >= len(raw):
        return None
    return raw[:value_start], raw[value_end:], (time_start, time_end)


def _after_key(raw: bytes, key: bytes) -> int:
    """Where the value of `key` starts (one space after the colon allowed); -1 if the key is not once."""
    at = raw.find(key)
    if at < 0 or raw.find(key, at + 1) >= 0:
        return -1
    at += len(key)
    return at + 1 if raw[at : at + 1] == b" " else at


def _round8(width: int) -> int:
    return max(8, -(-width // 8) * 8)


def _integers(digits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of at most 15 ASCII digits -> int64; ok where every byte is a digit. The digits times
    their powers of ten as one float64 matrix product: every partial sum is an integer below 2^53,
    so exact, and BLAS does it in one call."""
    values = digits - np.uint8(_DIGIT_ZERO)  # a byte below '0' wraps round to above 9
    # One pass says so when every byte is a digit (the usual case); only else are the rows found.
    ok = np.ones(len(values), dtype=bool) if values.max(initial=0) <= 9 else _rows_without(values > 9)
    powers = _TEN[digits.shape[1] - 1 :: -1].astype(np.float64) if digits.shape[1] else np.zeros(0)
    return (values.astype(np.float64) @ powers).astype(np.int64), ok


def _no_leading_zero(digits: np.ndarray) -> np.ndarray:
    """JSON writes no leading zero (`0` alone aside); a row with one is no JSON number."""
    return (digits[:, 0] != _DIGIT_ZERO) | (digits.shape[1] == 1)


def _values(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The values at `starts` (each `lengths` bytes), gathered into windows and read by `numbers`."""
    return numbers(sliding_window_view(buf, _MAX_VALUE_BYTES)[starts], lengths)


def numbers(windows: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """JSON numbers `-?(0|[1-9][0-9]*)(.[0-9]+)?`, row i in `windows[i, :lengths[i]]` -> float64,
    exactly as `float()` reads them (an integer of at most 15 digits divided by a power of ten is
    correctly rounded); ok where the bytes are such a number. Rows are read in groups of one shape:
    same length, point at the same place, same sign; a log of one writer usually has one or a few."""
    values = np.full(len(windows), np.nan)
    ok = np.zeros(len(windows), dtype=bool)
    if not len(windows):
        return values, ok
    shapes = _shapes(windows, lengths)
    kinds = [shapes] if isinstance(shapes, tuple) else [_decode_shape(k) for k in np.unique(shapes).tolist()]
    if len(kinds) > _MAX_SHAPES:
        return values, ok
    for length, point, sign in kinds:
        rows = (
            slice(None)
            if isinstance(shapes, tuple)
            else np.flatnonzero(shapes == _shape_code(length, point, sign))
        )
        whole = windows[rows, sign:point]
        fraction = windows[rows, point + 1 : length]
        if whole.shape[1] == 0 or (point < length and fraction.shape[1] == 0):
            continue  # `-`, `.5`, `5.`: not JSON numbers
        if whole.shape[1] + fraction.shape[1] > 15:
            continue
        digits = np.concatenate((whole, fraction), axis=1) if fraction.shape[1] else whole
        mantissa, digits_ok = _integers(digits)
        number = mantissa / float(_TEN[fraction.shape[1]])
        values[rows] = -number if sign else number
        ok[rows] = digits_ok & _no_leading_zero(whole)
    return values, ok


def _shape_code(length: int, point: int, sign: int) -> int:
    return (length * 32 + point) * 2 + sign


def _decode_shape(code: int) -> tuple[int, int, int]:
    return (code // 2) // 32, (code // 2) % 32, code % 2


def _shapes(windows: np.ndarray, lengths: np.ndarray) -> tuple[int, int, int] | np.ndarray:
    """The one (length, point column, sign) every value has, checked in three column passes; else
    each row's shape code. A point elsewhere in a row of the one shape fails its digit check."""
    first = windows[0].tobytes()[: int(lengths[0])]
    sign = int(first.startswith(b"-"))
    point = first.find(b".") if b"." in first else len(first)
    uniform = bool((lengths == len(first)).all()) and bool(((windows[:, 0] == ord("-")) == bool(sign)).all())
    if uniform and (point == len(first) or bool((windows[:, point] == ord(".")).all())):
        return len(first), point, sign
    width = windows.shape[1]
    inside = np.arange(width) < lengths[:, None]
    points = np.flatnonzero((windows == ord(".")) & inside)
    point_at = lengths.copy()
    point_at[points // width] = points % width
    return (lengths * 32 + point_at) * 2 + (windows[:, 0] == ord("-"))
