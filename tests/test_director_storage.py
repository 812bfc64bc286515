"""The recorder's storage (Arrow IPC stream files) and the merge of several analyzers by time.

No network here: these are the two pieces whose exact behaviour the session tests rely on.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from analyzers.formats.ptd_time import format_ptd_time
from analyzers.trace import SAMPLE_MISSED, ChannelBlock, Trace
from power_director.phase_files import write_merged
from power_director.storage import RecordingReader, RecordingWriter

MS = 1_000_000
T0 = 1_700_000_000_000 * MS
MARK = "2024-01-01_00-00-00_x_testing"


def chunk(times_ms: list[int], watts: list[float], channels: int = 0) -> Trace:
    times = np.array([T0 + t * MS for t in times_ms], dtype=np.int64)
    w = np.array(watts, dtype=np.float64)
    blocks = [ChannelBlock.from_columns(w / channels, volts=np.full(len(w), 230.0)) for _ in range(channels)]
    return Trace.from_columns(
        times, w, volts=np.full(len(w), 230.0), amps=w / 230.0, marks=MARK, channels=blocks
    )


def test_a_recording_reads_back_up_to_the_last_complete_batch_after_a_cut(tmp_path: Path) -> None:
    path = tmp_path / "recording" / "wt.arrows"
    writer = RecordingWriter(path, "wt")
    parts = [chunk([i * 10, i * 10 + 5], [100.0 + i, 101.0 + i], channels=3) for i in range(5)]
    sizes = []
    for part in parts:
        writer.append(part)
        sizes.append(path.stat().st_size)  # flushed to the OS at once: what survives kill -9
    assert writer.rows == 10 and writer.batches == 5
    whole = RecordingReader(path).read()
    assert len(whole) == 10 and whole.channel_count == 3
    np.testing.assert_array_equal(whole.time_ns, Trace.concat(parts).time_ns)
    np.testing.assert_array_equal(whole.channels[2].watts, Trace.concat(parts).channels[2].watts)
    assert list(whole.mark_names) == [MARK]

    # A crash in the middle of the fourth batch: three batches read back, no error.
    cut = tmp_path / "cut.arrows"
    cut.write_bytes(path.read_bytes()[: sizes[3] - 7])
    reader = RecordingReader(cut)
    survived = reader.read()
    assert reader.truncated is True
    assert len(survived) == 6
    np.testing.assert_array_equal(survived.watts, [100, 101, 101, 102, 102, 103])
    writer.close()


def test_several_analyzers_merge_by_time_not_by_line(tmp_path: Path) -> None:
    # Analyzer 2 has an extra early sample (400 ms), none near 2000 ms, and drifts around the others.
    # Pairing by index would add 10 W to its 400 ms reading; by time, 1000 ms pairs with 1100 ms.
    base = [chunk([1000, 2000], [10, 20]), chunk([3000, 4000], [30, 40])]
    other = [chunk([400], [1]), chunk([1100, 2950], [2, 3]), chunk([4020], [4])]
    out = io.BytesIO()
    alignment = write_merged(out, "a", base, [("b", other)], tolerance_ns=300 * MS, mark=MARK)
    lines = out.getvalue().decode().splitlines()
    assert len(lines) == 4

    def fields(line: str) -> tuple[str, str, str, str, str]:
        head, first, second = line.split(",Analyzer")
        parts = head.split(",")
        a = first.split(",")
        b = second.split(",")
        return parts[1], parts[3], a[2], b[2], b[4]  # time, sum watts, time of 1, time of 2, watts of 2

    assert [fields(line) for line in lines] == [
        (
            format_ptd_time(T0 + 1000 * MS),
            "12.000000",
            format_ptd_time(T0 + 1000 * MS),
            format_ptd_time(T0 + 1100 * MS),
            "2.000000",
        ),
        (
            format_ptd_time(T0 + 2000 * MS),
            "-2.000000",
            format_ptd_time(T0 + 2000 * MS),
            format_ptd_time(T0 + 2000 * MS),
            "-2.000000",
        ),
        (
            format_ptd_time(T0 + 3000 * MS),
            "33.000000",
            format_ptd_time(T0 + 3000 * MS),
            format_ptd_time(T0 + 2950 * MS),
            "3.000000",
        ),
        (
            format_ptd_time(T0 + 4000 * MS),
            "44.000000",
            format_ptd_time(T0 + 4000 * MS),
            format_ptd_time(T0 + 4020 * MS),
            "4.000000",
        ),
    ]
    assert all(line.split(",")[11] == MARK for line in lines)
    first, second = alignment
    assert first.as_json() == {
        "name": "a",
        "samples": 4,
        "matched": 4,
        "missing": 0,
        "unused": 0,
        "max_abs_error_s": 0.0,
        "mean_abs_error_s": 0.0,
        "mean_offset_s": 0.0,
    }
    assert (second.samples, second.matched, second.missing, second.unused) == (4, 3, 1, 1)
    assert second.max_abs_error_s == pytest.approx(0.100)
    assert second.mean_abs_error_s == pytest.approx((0.100 + 0.050 + 0.020) / 3)
    assert second.mean_offset_s == pytest.approx((0.100 - 0.050 + 0.020) / 3)

    # The same samples in other chunkings merge to the same bytes (the merge streams).
    again = io.BytesIO()
    write_merged(
        again,
        "a",
        [Trace.concat(base)],
        [("b", [chunk([400, 1100], [1, 2]), chunk([2950], [3]), chunk([4020], [4])])],
        tolerance_ns=300 * MS,
        mark=MARK,
    )
    assert again.getvalue() == out.getvalue()


def test_a_sample_nearest_to_two_lines_is_used_once() -> None:
    # 1500 ms is 500 ms from both 1000 and 2000: it goes to the first, 2000 gets the missed sentinel.
    out = io.BytesIO()
    _a, b = write_merged(
        out,
        "a",
        [chunk([1000, 2000], [10, 20])],
        [("b", [chunk([1500], [5])])],
        tolerance_ns=500 * MS,
        mark=MARK,
    )
    lines = out.getvalue().decode().splitlines()
    assert [line.split(",")[3] for line in lines] == ["15.000000", f"{SAMPLE_MISSED:.6f}"]
    assert (b.matched, b.missing, b.unused) == (1, 1, 0)
