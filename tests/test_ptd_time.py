"""PTD timestamps: the vectorised parser agrees with datetime, and formatting inverts it."""

import datetime as dt

import numpy as np
import pyarrow as pa

from analyzers.ptd_time import format_ptd_time, parse_ptd_time, parse_ptd_times
from analyzers.spl_writer import format_ptd_times


def test_vectorised_parser_matches_datetime_on_random_times() -> None:
    rng = np.random.default_rng(7)
    seconds = rng.integers(0, 4_000_000_000, 2000)
    millis = rng.integers(0, 1000, 2000)
    strings = []
    expected = []
    for s, ms in zip(seconds.tolist(), millis.tolist(), strict=True):
        moment = dt.datetime.fromtimestamp(s, tz=dt.timezone.utc)
        strings.append(f"{moment:%m-%d-%Y %H:%M:%S}.{ms:03d}")
        expected.append(s * 1_000_000_000 + ms * 1_000_000)
    parsed, ok = parse_ptd_times(pa.array(strings))
    assert ok.all()
    assert parsed.tolist() == expected
    assert format_ptd_times(parsed).to_pylist() == strings


def test_rejects_malformed_strings() -> None:
    _, ok = parse_ptd_times(
        pa.array(["03-03-2021 00:54:05.983", "03/03/2021 00:54:05", "", None, "3-3-2021 0:54:05"])
    )
    assert ok.tolist() == [True, False, False, False, False]


def test_scalar_round_trip_truncates_to_milliseconds() -> None:
    ns = parse_ptd_time("12-31-1999 23:59:59.999999")
    assert format_ptd_time(ns) == "12-31-1999 23:59:59.999"
