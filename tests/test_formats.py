"""analyzers/formats: every sample-line layout through the one encoder and back through the one decoder,
real result files byte for byte, the atomic writer, and each name and constant defined once."""

from __future__ import annotations

import ast
import os
import stat
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from analyzers.formats.atomic import replacing, write_text_atomically
from analyzers.formats.mlperf_layout import SAMPLE_LOG
from analyzers.formats.sample_decode import read_spl
from analyzers.formats.sample_encode import encode, encode_lines, encode_merged_lines, lines_to_bytes
from analyzers.formats.sample_layout import (
    DATA_LOG,
    SPL_FILE,
    SampleLineLayout,
    SplFormatError,
    data_log_layout,
    detect_layout,
    merged_layout,
    rl_reply_layout,
)
from analyzers.formats.sample_reply import decode_sample_lines
from analyzers.trace import NO_MARK, SAMPLE_ERROR, SAMPLE_MISSED, SAMPLE_OK, ChannelBlock, Trace

DATA = Path(__file__).parent / "data"
REPOSITORY = Path(__file__).parent.parent
T0 = 1_700_000_000_000_000_000
N = 12


def _block(seed: int) -> ChannelBlock:
    rng = np.random.default_rng(seed)
    flags = np.zeros(N, dtype=np.int8)
    flags[[2, 7]] = SAMPLE_ERROR
    flags[[4]] = SAMPLE_MISSED
    watts = np.where(flags == SAMPLE_OK, np.round(rng.uniform(10, 500, N), 6), np.nan)
    return ChannelBlock.from_columns(
        watts=watts,
        volts=np.round(rng.uniform(110, 240, N), 6),
        amps=np.round(rng.uniform(0.1, 3, N), 6),
        pf=np.round(rng.uniform(0.5, 1, N), 6),
        flags=flags,
    )


def _trace(channels: int, marks: list[str | None] | None = None) -> Trace:
    total = _block(0)
    return Trace.from_columns(
        T0 + np.arange(N, dtype=np.int64) * 1_000_000_000 + 123_000_000,
        total.watts,
        total.volts,
        total.amps,
        total.pf,
        flags=total.flags,
        marks=marks,
        channels=[_block(seed) for seed in range(1, channels + 1)],
    )


LAYOUTS = {
    "spl.txt": (SPL_FILE, None),
    "RL,*,*": (rl_reply_layout(True), None),
    "RL": (rl_reply_layout(False), None),
    "data log, channels from 3": (data_log_layout(3, 2), "s_testing"),
    "data log, one channel": (data_log_layout(1, 1), "notset"),
}


@pytest.mark.parametrize("name", LAYOUTS)
@pytest.mark.parametrize("channels", [0, 1, 2])
def test_every_layout_is_detected_from_its_own_line_and_decodes_to_the_trace(
    name: str, channels: int
) -> None:
    layout, mark = LAYOUTS[name]
    trace = _trace(channels, marks=["s_testing"] * 6 + [None] * 6)
    payload = encode(trace, layout, mark)
    first = payload.split(layout.line_end.encode())[0].decode()
    detected = detect_layout(first)
    written = layout.for_channels(trace.channel_count if layout.channels is None else 0)
    if written.channels == 0:
        written = replace(written, channel_labels=False, first_channel=1)
    assert (detected.mark, detected.channels, detected.channel_labels, detected.first_channel) == (
        written.mark,
        written.channels,
        written.channel_labels,
        written.first_channel,
    )
    assert detected.columns().field_count == len(first.split(","))

    back = decode_sample_lines(payload)
    np.testing.assert_array_equal(back.time_ns, trace.time_ns)
    np.testing.assert_array_equal(back.flags, trace.flags)
    np.testing.assert_array_equal(back.watts, trace.watts)
    assert back.channel_count == written.channels
    for ours, theirs in zip(back.channels, trace.channels, strict=False):
        np.testing.assert_array_equal(ours.flags, theirs.flags)
        np.testing.assert_array_equal(ours.watts, theirs.watts)
        ok = theirs.flags == SAMPLE_OK
        np.testing.assert_array_equal(ours.volts[ok], theirs.volts[ok])
    if layout.mark and mark is None:
        assert back.mark_names == ("s_testing",) and (back.mark_codes[6:] == NO_MARK).all()
    # The same payload through the file reader gives the same samples.
    assert np.array_equal(read_spl(Path("reply"), data=payload).trace.watts, back.watts, equal_nan=True)


def test_the_layout_says_how_a_missed_sample_and_a_multi_channel_sum_print() -> None:
    trace = _trace(2)
    daemon = encode_lines(trace, rl_reply_layout(True))[4].as_py().split(",")
    director = encode_lines(trace, SPL_FILE)[4].as_py().split(",")
    # PTDaemon: the sum block of a multi-channel meter is watts only, a missed sample -2 everywhere.
    assert daemon[2:10] == [
        "Watts",
        "-2.000000",
        "Volts",
        "-1.000000",
        "Amps",
        "-1.000000",
        "PF",
        "-1.000000",
    ]
    assert daemon[11:18:2] == ["-2.000000"] * 4
    # spl.txt as the director writes it: the recorded quantities stay, the sentinel only in the watts.
    assert director[3] == "-2.000000" and director[5] == f"{trace.volts[4]:.6f}"
    assert director[10:12] == ["Mark", "notset"] and director[12] == "Ch1"


def test_a_merged_line_maps_each_analyzers_own_line() -> None:
    a, b = _trace(0, ["m"] * N), _trace(2, ["m"] * N)
    line = encode_merged_lines([a, b], mark="m")[0].as_py()
    columns = detect_layout(line).columns()
    assert columns == merged_layout((SPL_FILE.for_channels(0), SPL_FILE.for_channels(2))).columns()
    tokens = line.split(",")
    assert columns.block_labels == ("Analyzer1", "Analyzer2")
    assert all(tokens[column] == text for column, text in columns.labels)
    assert [tokens[t] for t in columns.block_times] == [tokens[1], tokens[1]]
    result = read_spl(Path("merged"), data=lines_to_bytes(encode_merged_lines([a, b], mark="m")))
    assert result.layout.merged_analyzers and len(result.trace) == N
    np.testing.assert_array_equal(result.trace.flags, np.minimum(a.flags, b.flags))


@pytest.mark.parametrize(
    "line",
    [
        "Time,01-01-2024 00:00:00.000,Watts,1,Volts,2,Amps,3",
        "Time,01-01-2024 00:00:00.000,Watts,1,Volts,2,Amps,3,PF,4,Ch2,Watts,1,Volts,2,Amps,3,PF,4,Watts,1",
        "Time,01-01-2024 00:00:00.000,Watts,1,Volts,2,Amps,3,PF,4,Ch1,Watts,1,Volts,2,Amps,3,PF,4,Ch3,Watts,1",
        "Time,01-01-2024 00:00:00.000,Watts,1,Volts,2,Amps,3,PF,4,Analyzer2,Time,x,Watts,1,Volts,2,Amps,3,PF,4",
        "Time,01-01-2024 00:00:00.000,Watts,1,Volts,2,Amps,3,PF,4,Extra",
    ],
)
def test_a_line_no_layout_fits_is_refused_in_one_sentence(line: str) -> None:
    with pytest.raises(SplFormatError) as caught:
        detect_layout(line)
    assert str(caught.value) and "\n" not in str(caught.value)


def test_a_bad_reply_line_is_named_with_its_number_and_why() -> None:
    good = encode(_trace(0), rl_reply_layout(False)).split(b"\r\n")
    bad_number = [*good[:3], good[3].replace(b"Volts,", b"Volts,x"), *good[4:]]
    with pytest.raises(ValueError, match=r"^sample line 4: field 6 is not a number: 'x"):
        decode_sample_lines(b"\r\n".join(bad_number))
    relabelled = [*good[:5], good[5].replace(b"Amps", b"Ohms"), *good[6:]]
    with pytest.raises(ValueError, match=r"^sample line 6 does not match the first line's layout"):
        decode_sample_lines(b"\r\n".join(relabelled))


def _real_sample_logs() -> list[Path]:
    return sorted(p for p in DATA.rglob(SAMPLE_LOG))


@pytest.mark.parametrize("path", _real_sample_logs(), ids=lambda p: str(p.relative_to(DATA)))
def test_real_sample_logs_encode_back_to_their_own_bytes(path: Path) -> None:
    content = path.read_bytes()
    line_end = "\r\n" if b"\r\n" in content[:4096] else "\n"
    result = read_spl(path)
    assert not result.skipped
    assert lines_to_bytes(encode_lines(result.trace), line_end) == content


def test_the_data_log_labels_channels_only_on_a_multi_channel_meter() -> None:
    assert data_log_layout(4, 3) == replace(DATA_LOG, first_channel=4)
    assert not data_log_layout(1, 1).channel_labels
    assert SampleLineLayout() == SPL_FILE  # the defaults are spl.txt's
    with pytest.raises(ValueError, match="channel count must be fixed"):
        SPL_FILE.columns()


def test_a_replaced_file_is_whole_or_untouched_and_readable_as_open_would_make_it(tmp_path: Path) -> None:
    target = tmp_path / "server.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), replacing(target) as temporary:
        temporary.write_text("half")
        raise RuntimeError("the writer failed")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["server.json"]
    write_text_atomically(target, "new")
    assert target.read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["server.json"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


def _definitions(tree: ast.Module) -> set[str]:
    names = set()
    for node in tree.body:
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign)
            else []
        )
        names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def test_each_format_name_and_constant_is_defined_once_and_files_are_replaced_in_one_place() -> None:
    owned = {
        "analyzers/formats/units.py": {"NS_PER_S", "NS_PER_MS", "NS_PER_US"},
        "analyzers/formats/mlperf_layout.py": {
            "SAMPLE_LOG",
            "DETAIL_LOG",
            "SUMMARY_LOG",
            "TESTING_DIR",
            "RANGING_DIR",
        },
        "analyzers/formats/sample_layout.py": {"NOT_SET_MARK"},
    }
    owners = {name: owner for owner, names in owned.items() for name in names}
    for package in ("analyzers", "power_director", "power_client", "rules", "examples", "benchmarks"):
        for path in sorted((REPOSITORY / package).rglob("*.py")):
            relative = path.relative_to(REPOSITORY).as_posix()
            source = path.read_text(encoding="utf-8")
            tree = ast.parse(source)
            for name in _definitions(tree) & set(owners):
                assert owners[name] == relative, f"{relative} defines {name}, which {owners[name]} owns"
            if relative != "analyzers/formats/atomic.py":
                renames = ("os.replace(", "os.rename(", "temporary.replace(", "temporary.rename(")
                assert not any(r in source for r in renames), (
                    f"{relative} replaces a file itself: use formats.atomic"
                )
