"""PTD sample logs: every layout, and the damaged lines real files contain, with line numbers."""

from pathlib import Path

import numpy as np
import pytest

from analyzers.formats.ptd_time import parse_ptd_time
from analyzers.formats.sample_decode import read_spl
from analyzers.formats.sample_encode import write_spl
from analyzers.formats.sample_fast import read_spl_power
from analyzers.formats.sample_layout import SplFormatError
from analyzers.trace import SAMPLE_ERROR, SAMPLE_MISSED

DATA = Path(__file__).parent / "data" / "inference"
SINGLE = (
    "Time,03-03-2021 00:54:{s:02d}.184,Watts,{w},Volts,249.210000,Amps,0.040400,PF,0.442300,Mark,m_testing"
)
CH = "Ch{i},Watts,{w},Volts,206.2,Amps,1.45,PF,0.958"


def _single(tmp_path: Path, lines: list[str], newline: str = "\n") -> Path:
    path = tmp_path / "spl.txt"
    path.write_bytes(newline.join(lines).encode() + newline.encode())
    return path


def _sample(second: int, watts: str = "4.450000") -> str:
    return SINGLE.format(s=second, w=watts)


def test_single_channel_values_marks_and_times(tmp_path: Path) -> None:
    path = _single(tmp_path, [_sample(0), _sample(1, "5.5")])
    result = read_spl(path)
    trace = result.trace
    assert trace.watts.tolist() == [4.45, 5.5]
    assert trace.volts.tolist() == [249.21, 249.21]
    assert trace.time_ns.tolist() == [
        parse_ptd_time("03-03-2021 00:54:00.184"),
        parse_ptd_time("03-03-2021 00:54:01.184"),
    ]
    assert trace.mark_names == ("m_testing",)
    assert result.skipped == []


def test_truncated_last_line_is_skipped_with_its_line_number(tmp_path: Path) -> None:
    path = tmp_path / "spl.txt"
    path.write_text(_sample(0) + "\n" + _sample(1) + "\n" + _sample(2)[:40])
    result = read_spl(path)
    assert len(result.trace) == 2
    assert [(s.line, "fields" in s.reason) for s in result.skipped] == [(3, True)]


def test_garbage_lines_are_skipped_and_named(tmp_path: Path) -> None:
    lines = [_sample(0), "%%% garbage from a serial hiccup %%%", _sample(2), _sample(3, "abc"), _sample(4)]
    result = read_spl(_single(tmp_path, lines))
    assert result.trace.watts.tolist() == [4.45, 4.45, 4.45]
    assert [s.line for s in result.skipped] == [2, 4]
    assert "not a number" in result.skipped[1].reason
    summary = result.skipped_summary("x/spl.txt")
    assert summary[0].startswith("x/spl.txt:2: skipped line")


def test_times_with_and_without_milliseconds(tmp_path: Path) -> None:
    lines = [_sample(0), _sample(1).replace(".184", ""), _sample(2).replace(".184", ".5")]
    trace = read_spl(_single(tmp_path, lines)).trace
    base = parse_ptd_time("03-03-2021 00:54:00")
    assert (trace.time_ns - base).tolist() == [184_000_000, 1_000_000_000, 2_500_000_000]


def test_bad_timestamp_is_skipped(tmp_path: Path) -> None:
    lines = [_sample(0), _sample(1).replace("03-03-2021", "13-45-2021"), _sample(2)]
    result = read_spl(_single(tmp_path, lines))
    assert len(result.trace) == 2
    assert [(s.line, s.reason) for s in result.skipped] == [
        (2, "bad timestamp: not MM-DD-YYYY HH:MM:SS[.fff] between 1970 and 2199")
    ]


def test_blank_trailing_lines_and_crlf(tmp_path: Path) -> None:
    path = _single(tmp_path, [_sample(0), _sample(1), "", ""], newline="\r\n")
    result = read_spl(path)
    assert len(result.trace) == 2
    assert result.skipped == []


def test_sentinels_become_flags(tmp_path: Path) -> None:
    lines = [_sample(0), _sample(1, "-1.000000"), _sample(2, "-2.000000"), _sample(3)]
    trace = read_spl(_single(tmp_path, lines)).trace
    assert trace.flags.tolist() == [0, SAMPLE_ERROR, SAMPLE_MISSED, 0]
    assert np.isnan(trace.watts[1]) and np.isnan(trace.watts[2])


def test_multichannel_missing_channel_block_is_skipped(tmp_path: Path) -> None:
    head = "Time,03-19-2021 01:31:5{s}.365,Watts,700.8,Volts,-1.000000,Amps,-1.000000,PF,-1.000000,Mark,t"
    full = [head.format(s=s) + "," + ",".join(CH.format(i=i, w=100 * i) for i in (1, 2, 3)) for s in range(4)]
    full[2] = head.format(s=2) + "," + ",".join(CH.format(i=i, w=100 * i) for i in (1, 2))
    result = read_spl(_single(tmp_path, full))
    trace = result.trace
    assert len(trace) == 3
    assert trace.channel_count == 3
    assert trace.channels[2].watts.tolist() == [300.0] * 3
    assert np.isnan(trace.volts).all()  # the sum block's -1 volts mean "not provided"
    assert [s.line for s in result.skipped] == [3]


def test_merged_analyzers_layout(tmp_path: Path) -> None:
    a = "Time,03-19-2021 01:31:56.365,Watts,10.0,Volts,230,Amps,0.1,PF,0.9,Mark,t"
    b = "Time,03-19-2021 01:31:56.401,Watts,20.0,Volts,231,Amps,0.2,PF,0.9,Mark,t"
    line = (
        "Time,03-19-2021 01:31:56.365,Watts,30.0,Volts,-1,Amps,-1,PF,-1,Mark,t,Analyzer1,"
        + a
        + ",Analyzer2,"
        + b
    )
    result = read_spl(_single(tmp_path, [line, line]))
    assert result.layout.merged_analyzers
    assert result.layout.block_labels == ("Analyzer1", "Analyzer2")
    assert result.trace.watts.tolist() == [30.0, 30.0]
    assert result.trace.channels[1].watts.tolist() == [20.0, 20.0]
    assert result.analyzer_skew_ns == 36_000_000


def test_empty_file_and_file_without_samples(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert len(read_spl(empty).trace) == 0
    notes = tmp_path / "notes.txt"
    notes.write_text("Time,03-03-2021 00:54:00.184,NOTICE,Logging started\n")
    with pytest.raises(SplFormatError):
        read_spl(notes)


def test_data_log_notice_lines_are_skipped(tmp_path: Path) -> None:
    lines = ["Time,03-03-2021 00:53:59.000,NOTICE,Go with mark 'm_testing'", _sample(0), _sample(1)]
    result = read_spl(_single(tmp_path, lines))
    assert len(result.trace) == 2
    assert [s.line for s in result.skipped] == [1]


@pytest.mark.parametrize("folder", sorted(p.name for p in DATA.iterdir()))
def test_real_files_round_trip_byte_for_byte(folder: str, tmp_path: Path) -> None:
    for mode in ("ranging", "run_1"):
        original = (DATA / folder / mode / "spl.txt").read_bytes().replace(b"\r\n", b"\n")
        written = tmp_path / f"{mode}.txt"
        write_spl(written, read_spl(DATA / folder / mode / "spl.txt").trace)
        assert written.read_bytes() == original


@pytest.mark.parametrize("folder", sorted(p.name for p in DATA.iterdir()))
def test_fast_path_agrees_with_the_general_parser(folder: str) -> None:
    for mode in ("ranging", "run_1"):
        path = DATA / folder / mode / "spl.txt"
        fast = read_spl_power(path)
        assert fast is not None
        general = read_spl(path).trace
        np.testing.assert_array_equal(fast[0], general.time_ns)
        np.testing.assert_array_equal(fast[1], np.where(general.flags == 0, general.watts, general.flags))


def test_fast_path_gives_way_on_lines_it_does_not_know(tmp_path: Path) -> None:
    assert read_spl_power(_single(tmp_path, [_sample(0), _sample(1).replace(".184", "")])) is None
    assert read_spl_power(_single(tmp_path, [_sample(0), "garbage"])) is None
    assert read_spl_power(_single(tmp_path, [_sample(0), _sample(1, "4.4e")])) is None
    # ... and read_spl then still reads the file through the general parser, naming the line.
    result = read_spl(_single(tmp_path, [_sample(0), _sample(1, "4.4e")]), detail=False)
    assert [s.line for s in result.skipped] == [2]


def test_fast_path_handles_a_last_line_without_newline(tmp_path: Path) -> None:
    path = tmp_path / "spl.txt"
    path.write_text(_sample(0) + "\n" + _sample(1, "-1.000000"))
    _, watts = read_spl_power(path) or (None, None)
    assert watts is not None and watts.tolist() == [4.45, -1.0]
    trace = read_spl(path, detail=False).trace
    assert trace.flags.tolist() == [0, SAMPLE_ERROR]
