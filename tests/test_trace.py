"""The trace model: columns, sentinels, marks, selection and the pandas/Parquet round trip."""

import numpy as np
import pytest

from analyzers.trace import NO_MARK, SAMPLE_ERROR, SAMPLE_MISSED, ChannelBlock, Trace


def _two_channel_trace() -> Trace:
    t = np.array([1_000, 2_000, 3_000, 4_000], dtype=np.int64)
    ch1 = ChannelBlock.from_columns(
        [1.0, 2.0, np.nan, 4.0], volts=[230.0] * 4, flags=[0, 0, SAMPLE_MISSED, 0]
    )
    ch2 = ChannelBlock.from_columns([10.0, 20.0, 30.0, 40.0], uncertainty=[0.01, 0.01, 0.02, 0.01])
    return Trace.from_columns(
        t,
        [11.0, 22.0, np.nan, 44.0],
        flags=[0, 0, SAMPLE_MISSED, 0],
        uncertainty=[0.005, np.nan, np.nan, 0.004],
        marks=["a_ranging", "a_ranging", None, "a_testing"],
        channels=[ch1, ch2],
        source="unit",
    )


def test_sentinels_are_flags_not_power_values() -> None:
    trace = _two_channel_trace()
    assert trace.sentinel_counts() == {"error": 0, "missed": 1}
    assert trace.valid_mask().tolist() == [True, True, False, True]
    assert np.nanmax(trace.watts) == 44.0


def test_between_is_strict_on_both_ends() -> None:
    trace = _two_channel_trace()
    inside = trace.between(1_000, 4_000)
    assert inside.time_ns.tolist() == [2_000, 3_000]
    assert inside.channels[1].watts.tolist() == [20.0, 30.0]


def test_marks_select_and_no_mark_is_kept() -> None:
    trace = _two_channel_trace()
    assert trace.with_mark("a_testing").time_ns.tolist() == [4_000]
    assert trace.with_mark("absent").time_ns.tolist() == []
    assert trace.mark_codes[2] == NO_MARK


def test_concat_merges_mark_names() -> None:
    a = Trace.from_columns([1, 2], [1.0, 2.0], marks="x")
    b = Trace.from_columns([3, 4], [3.0, 4.0], marks=["y", "x"], flags=[SAMPLE_ERROR, 0])
    joined = Trace.concat([a, b])
    assert [joined.mark_names[c] for c in joined.mark_codes] == ["x", "x", "y", "x"]
    assert joined.sentinel_counts()["error"] == 1


def test_pandas_and_parquet_round_trip(tmp_path) -> None:
    trace = _two_channel_trace()
    frame = trace.to_pandas()
    assert list(frame.columns[:8]) == [
        "time_ns",
        "watts",
        "volts",
        "amps",
        "pf",
        "uncertainty",
        "flag",
        "mark",
    ]
    path = tmp_path / "trace.parquet"
    trace.to_parquet(path)
    back = Trace.from_parquet(path)
    assert back.source == "unit"
    assert back.time_ns.tolist() == trace.time_ns.tolist()
    np.testing.assert_array_equal(back.watts, trace.watts)
    np.testing.assert_array_equal(back.uncertainty, trace.uncertainty)
    assert back.flags.tolist() == trace.flags.tolist()
    assert back.channel_count == 2
    np.testing.assert_array_equal(back.channels[0].flags, trace.channels[0].flags)
    assert list(back.marks.astype(object)) == list(trace.marks.astype(object))


def test_mismatched_columns_are_rejected() -> None:
    with pytest.raises(ValueError, match="watts"):
        Trace.from_columns([1, 2, 3], [1.0, 2.0])
    with pytest.raises(TypeError, match="int64"):
        Trace(
            time_ns=np.array([1.0]),
            watts=np.array([1.0]),
            volts=np.array([1.0]),
            amps=np.array([1.0]),
            pf=np.array([1.0]),
            uncertainty=np.array([1.0]),
            flags=np.zeros(1, dtype=np.int8),
            mark_codes=np.zeros(1, dtype=np.int32),
        )
