"""PTD timestamps: the vectorised parser agrees with datetime, and formatting inverts it."""

import datetime as dt

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzers.formats.ptd_time import format_ptd_time, format_ptd_times, parse_ptd_time, parse_ptd_times


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


def test_a_log_of_one_day_parses_as_a_log_of_many() -> None:
    # One date for every row takes the shortcut that converts the date once; the answer is the same.
    day = [
        f"07-04-2023 {h:02d}:{m:02d}:{s:02d}.{ms:03d}"
        for h, m, s, ms in ((0, 0, 0, 0), (12, 30, 5, 7), (23, 59, 60, 999))
    ]
    parsed, ok = parse_ptd_times(pa.array(day))
    mixed, mixed_ok = parse_ptd_times(pa.array([*day, "07-05-2023 00:00:00.000"]))
    assert ok.all() and mixed_ok.all()
    assert parsed.tolist() == mixed[:3].tolist()
    assert parsed[0] == int(dt.datetime(2023, 7, 4, tzinfo=dt.timezone.utc).timestamp()) * 1_000_000_000


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="0123456789-: .x", min_size=0, max_size=32))
def test_scalar_parser_agrees_with_the_vectorised_one(text: str) -> None:
    # The scalar path re-implements the matrix parser's rules in integers: same verdict, same ns.
    parsed, ok = parse_ptd_times(pa.array([text.strip()], type=pa.string()))
    try:
        scalar = parse_ptd_time(text)
    except ValueError:
        assert not ok[0]
    else:
        assert ok[0] and scalar == int(parsed[0])


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 4_000_000_000), st.integers(0, 999_999_999), st.integers(0, 9))
def test_scalar_parser_reads_every_fraction_length(seconds: int, nanos: int, digits: int) -> None:
    moment = dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc)
    fraction = f"{nanos:09d}"[:digits]
    text = f"{moment:%m-%d-%Y %H:%M:%S}" + (f".{fraction}" if digits else "")
    expected = seconds * 1_000_000_000 + (int(fraction.ljust(9, "0")) if digits else 0)
    assert parse_ptd_time(text) == expected


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(alphabet="0123456789-: .x", max_size=30),
            st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2199, 12, 31)).map(
                lambda moment: f"{moment:%m-%d-%Y %H:%M:%S.%f}"[: 20 + moment.microsecond % 7]
            ),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_many_rows_agree_with_one_at_a_time(texts: list[str]) -> None:
    # Several rows take the vectorised paths (several dates, mixed fraction lengths); each row must
    # read as the scalar parser reads it alone.
    parsed, ok = parse_ptd_times(pa.array(texts, type=pa.string()))
    for text, value, good in zip(texts, parsed.tolist(), ok.tolist(), strict=True):
        try:
            expected = parse_ptd_time(text)
        except ValueError:
            assert not good and value == 0
        else:
            assert good and value == expected
