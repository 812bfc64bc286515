"""PTD / LoadGen wall-clock strings `MM-DD-YYYY HH:MM:SS[.fff…]` <-> UTC epoch nanoseconds.

Both PTDaemon (`spl.txt`, console log) and LoadGen (`power_begin`/`power_end`) write this form. The
vectorised parser reads the digits straight out of an Arrow string buffer, so a million timestamps
cost a few milliseconds and no Python objects; it accepts 0 to 9 fractional digits.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.lib.stride_tricks import sliding_window_view

from analyzers.formats.units import NS_PER_DAY, NS_PER_MS, NS_PER_S
from analyzers.physical_limits import FIRST_YEAR, LAST_YEAR

_BASE_LEN = 19  # "MM-DD-YYYY HH:MM:SS"
_MAX_FRACTION_DIGITS = 9
_ROW_WIDTH = _BASE_LEN + 1 + _MAX_FRACTION_DIGITS
_DIGIT_POSITIONS = [0, 1, 3, 4, 6, 7, 8, 9, 11, 12, 14, 15, 17, 18]
_FRACTION_WEIGHTS = 10 ** np.arange(_MAX_FRACTION_DIGITS - 1, -1, -1, dtype=np.int64)
# One stamp as a regular expression, for the scalar path: ASCII digits only (`\d` would take any script's).
_ONE_STAMP = re.compile(
    r"([0-9]{2})-([0-9]{2})-([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
)
# Byte offsets of the fixed separators and their expected characters.
_SEPARATOR_POSITIONS = [2, 5, 10, 13, 16]
_SEPARATOR_BYTES = np.frombuffer(b"-- ::", dtype=np.uint8)


class PtdTimeError(ValueError):
    """A string that is not a `MM-DD-YYYY HH:MM:SS[.fff]` timestamp."""


def _days_from_civil(year: Any, month: Any, day: Any) -> Any:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm), for Python ints
    and int64 arrays alike (`//` floors in both)."""
    year = year - (month <= 2)
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + 9 - 12 * (month > 2)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - 719_468


def parse_ptd_time_matrix(rows: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Core parser: `rows[i, :lengths[i]]` holds the bytes of timestamp i (rows at least 29 wide).

    Returns (epoch_ns int64, ok bool); rows not ok hold 0.
    """
    # Digit values, one contiguous vector per byte position (separators become other numbers,
    # checked below); a byte that is no digit reads as a value above 9 once taken as unsigned.
    # (Transposed first while still bytes: numpy's astype of a transposed view is ten times slower.)
    columns = np.ascontiguousarray(rows[:, :_ROW_WIDTH].T).astype(np.int32) - 48
    ok = (lengths == _BASE_LEN) | ((lengths > _BASE_LEN + 1) & (lengths <= _ROW_WIDTH))
    ok &= (rows[:, _SEPARATOR_POSITIONS] == _SEPARATOR_BYTES).all(axis=1)
    ok &= (columns[_DIGIT_POSITIONS].view(np.uint32) <= 9).all(axis=0)
    c = columns
    month = c[0] * 10 + c[1]
    day = c[3] * 10 + c[4]
    year = ((c[6] * 10 + c[7]) * 10 + c[8]) * 10 + c[9]
    hour = c[11] * 10 + c[12]
    minute = c[14] * 10 + c[15]
    second = c[17] * 10 + c[18]
    ok &= (lengths == _BASE_LEN) | (rows[:, _BASE_LEN] == ord("."))
    fraction = _fraction_ns(columns, lengths, ok)
    ok &= (month >= 1) & (month <= 12) & (day >= 1) & (day <= 31)
    ok &= (hour <= 23) & (minute <= 59) & (second <= 60)
    # Outside the era int64 nanoseconds would wrap (past 2262) into a plausible-looking wrong time.
    ok &= (year >= FIRST_YEAR) & (year <= LAST_YEAR)
    if len(year) and (year == year[0]).all() and (month == month[0]).all() and (day == day[0]).all():
        # A log of one day (the usual case): its date converted once.
        days = np.full(1, _days_from_civil(int(year[0]), int(month[0]), int(day[0])), dtype=np.int64)
    else:
        days = _days_from_civil(year.astype(np.int64), month.astype(np.int64), day.astype(np.int64))
    seconds = (hour * 3600 + minute * 60 + second).astype(np.int64)
    epoch_ns = days * NS_PER_DAY + seconds * NS_PER_S + fraction
    return np.where(ok, epoch_ns, 0), ok


def _fraction_ns(columns: np.ndarray, lengths: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Nanoseconds of the fractional digits after the point; clears `ok` where one is not a digit."""
    first = _BASE_LEN + 1
    if len(lengths) and (lengths == lengths[0]).all():
        # The usual case (every stamp with milliseconds): one digit count for all rows.
        count = int(np.clip(lengths[0] - first, 0, _MAX_FRACTION_DIGITS))
        if count == 0:
            return np.zeros(len(lengths), dtype=np.int64)
        digits = columns[first : first + count]
        ok &= (digits.view(np.uint32) <= 9).all(axis=0)
        fraction = digits[0].astype(np.int64)
        for index in range(1, count):
            fraction = fraction * 10 + digits[index]
        return fraction * 10 ** (_MAX_FRACTION_DIGITS - count)
    fraction_digits = np.clip(lengths - first, 0, _MAX_FRACTION_DIGITS)
    values = columns[first:_ROW_WIDTH].T
    present = np.arange(_MAX_FRACTION_DIGITS) < fraction_digits[:, None]
    ok &= (~present | (values.view(np.uint32) <= 9)).all(axis=1)
    # Digit i after the point weighs 10^(8 - i) ns.
    return (np.where(present, values, 0).astype(np.int64) * _FRACTION_WEIGHTS).sum(axis=1)


def parse_ptd_times(strings: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Parse an Arrow string array; returns (epoch_ns int64, ok bool). Rows not ok hold 0."""
    if isinstance(strings, pa.ChunkedArray):
        parts = [parse_ptd_times(chunk) for chunk in strings.chunks]
        if not parts:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=bool)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    if pa.types.is_large_string(strings.type):
        offset_type: type[np.integer] = np.int64
    elif pa.types.is_string(strings.type):
        offset_type = np.int32
    else:
        raise TypeError(f"expected an Arrow string array, got {strings.type}")
    n = len(strings)
    if n == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=bool)
    _validity, offsets_buffer, data_buffer = strings.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=offset_type)[strings.offset : strings.offset + n + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
    starts = offsets[:-1].astype(np.int64)
    lengths = (offsets[1:] - offsets[:-1]).astype(np.int64)
    # One row of bytes per string, gathered through a sliding window (no per-byte index arrays).
    padded = np.concatenate((data[: int(offsets[-1])], np.zeros(_ROW_WIDTH, dtype=np.uint8)))
    rows = sliding_window_view(padded, _ROW_WIDTH)[starts]
    epoch_ns, ok = parse_ptd_time_matrix(rows, lengths)
    if strings.null_count:
        valid = np.asarray(strings.is_valid())
        ok &= valid
        epoch_ns = np.where(valid, epoch_ns, 0)
    return epoch_ns, ok


def parse_ptd_time(text: str) -> int:
    """One timestamp to UTC epoch ns (the string is taken as UTC, as MLPerf tooling does).

    The rules of `parse_ptd_time_matrix` in plain integers: building one-row Arrow and numpy arrays
    costs a millisecond, and power-check parses a handful of single stamps per folder."""
    match = _ONE_STAMP.fullmatch(text.strip())
    epoch_ns = _stamp_ns(match) if match else None
    if epoch_ns is None:
        raise PtdTimeError(
            f"not a MM-DD-YYYY HH:MM:SS.fff timestamp between {FIRST_YEAR} and {LAST_YEAR}: {text!r}"
        )
    return epoch_ns


def _stamp_ns(match: re.Match[str]) -> int | None:
    month, day, year, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour <= 23 and minute <= 59 and second <= 60):
        return None
    if not FIRST_YEAR <= year <= LAST_YEAR:
        return None
    fraction = match.group(7) or ""
    fraction_ns = int(fraction.ljust(_MAX_FRACTION_DIGITS, "0")) if fraction else 0
    days = _days_from_civil(year, month, day)
    return days * NS_PER_DAY + (hour * 3600 + minute * 60 + second) * NS_PER_S + fraction_ns


def format_ptd_time(epoch_ns: int) -> str:
    """UTC epoch ns to PTD's `MM-DD-YYYY HH:MM:SS.mmm` (milliseconds truncated, as PTD prints)."""
    seconds, rest_ns = divmod(int(epoch_ns), NS_PER_S)
    moment = dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc)
    return f"{moment:%m-%d-%Y %H:%M:%S}.{rest_ns // NS_PER_MS:03d}"


# "YYYY-MM-DDTHH:MM:SS.mmm" (numpy) -> "MM-DD-YYYY HH:MM:SS.mmm" (PTD): byte positions to take.
_PTD_ORDER = np.array([5, 6, 4, 8, 9, 7, 0, 1, 2, 3, 10, *range(11, 23)])
_STAMP_WIDTH = 23


def format_ptd_times(time_ns: np.ndarray) -> pa.Array:
    """`format_ptd_time` for a whole column, as an Arrow string array: numpy's ISO strings with
    their bytes reordered, no Python per stamp."""
    iso = np.datetime_as_string(
        np.asarray(time_ns, dtype=np.int64).astype("datetime64[ns]").astype("datetime64[ms]")
    )
    raw = iso.astype(f"S{_STAMP_WIDTH}").view(np.uint8).reshape(-1, _STAMP_WIDTH)[:, _PTD_ORDER]
    raw[:, 10] = ord(" ")
    data = np.ascontiguousarray(raw).tobytes()
    offsets = np.arange(0, _STAMP_WIDTH * (len(time_ns) + 1), _STAMP_WIDTH, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), len(time_ns), [None, pa.py_buffer(offsets), pa.py_buffer(data)])
