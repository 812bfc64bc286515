"""Traces -> PTD sample lines, byte for byte as PTDaemon and the reference director print them.

One encoder for every layout of `sample_layout`: `spl.txt`, the daemon's data log and `RL` replies,
and the director's merge of several analyzers. Values have six decimals (`%.6f`); a flagged sample
prints its sentinel (`-1.000000` error, `-2.000000` missed) as watts, and a quantity the source did
not provide (NaN) prints `-1.000000`. Everything is formatted column-wise with Arrow compute kernels:
no Python per sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzers.formats.atomic import write_bytes_atomically
from analyzers.formats.ptd_time import format_ptd_times
from analyzers.formats.sample_layout import NOT_SET_MARK, SPL_FILE, SampleLineLayout, merged_layout
from analyzers.trace import NO_MARK, SAMPLE_MISSED, SAMPLE_OK, ChannelBlock, Trace

_MICRO = 1_000_000
_UNKNOWN = "-1.000000"
Field: TypeAlias = "pa.Array | str"


def format_fixed6(values: np.ndarray) -> pa.Array:
    """Floats -> strings with exactly six decimals (`%.6f`); NaN and infinities print as `-1.000000`."""
    values = np.where(np.isfinite(values), values, -1.0)
    scaled = np.rint(np.asarray(values, dtype=np.float64) * _MICRO).astype(np.int64)
    negative = scaled < 0
    magnitude = np.abs(scaled)
    whole = pc.cast(pa.array(magnitude // _MICRO), pa.string())
    fraction = pc.utf8_lpad(pc.cast(pa.array(magnitude % _MICRO), pa.string()), width=6, padding="0")
    sign = pc.if_else(pa.array(negative), "-", "")
    return pc.binary_join_element_wise(sign, whole, ".", fraction, "")


def _printed(values: np.ndarray, flags: np.ndarray, layout: SampleLineLayout, watts: bool) -> pa.Array:
    """A quantity as the layout prints it: sentinels in the watts, and where the layout says so in
    every quantity of a missed sample."""
    if watts:
        values = np.where(flags == SAMPLE_OK, values, flags.astype(np.float64))
    if layout.missed == "every quantity":
        values = np.where(flags == SAMPLE_MISSED, float(SAMPLE_MISSED), values)
    return format_fixed6(values)


def _block(block: ChannelBlock | Trace, layout: SampleLineLayout, watts_only: bool = False) -> list[Field]:
    watts = _printed(block.watts, block.flags, layout, watts=True)
    if watts_only:
        return ["Watts", watts, "Volts", _UNKNOWN, "Amps", _UNKNOWN, "PF", _UNKNOWN]
    others = [
        _printed(getattr(block, name), block.flags, layout, watts=False) for name in ("volts", "amps", "pf")
    ]
    return ["Watts", watts, "Volts", others[0], "Amps", others[1], "PF", others[2]]


def _marks(trace: Trace) -> pa.Array:
    names = pa.array([*trace.mark_names, NOT_SET_MARK], type=pa.string())
    codes = np.where(trace.mark_codes == NO_MARK, len(trace.mark_names), trace.mark_codes)
    return pc.take(names, pa.array(codes))


def _fields(trace: Trace, layout: SampleLineLayout, mark: str | None) -> list[Field]:
    blocks = trace.channels if layout.channels != 0 else ()
    watts_only = layout.multi_channel_sum == "watts only" and trace.channel_count > 0
    fields: list[Field] = ["Time", format_ptd_times(trace.time_ns), *_block(trace, layout, watts_only)]
    if layout.mark:
        fields += ["Mark", mark if mark is not None else _marks(trace)]
    for index, block in enumerate(blocks):
        if layout.channel_labels:
            fields.append(f"Ch{layout.first_channel + index}")
        fields += _block(block, layout)
    return fields


def encode_lines(trace: Trace, layout: SampleLineLayout = SPL_FILE, mark: str | None = None) -> pa.Array:
    """One line per sample, without line ends. `mark`: the mark of every line (the daemon's); without
    it each line gets its sample's mark (`notset` where it has none)."""
    if len(trace) == 0:
        return pa.array([], type=pa.string())
    return pc.binary_join_element_wise(*_fields(trace, layout, mark), ",")


def encode_readings(trace: Trace, layout: SampleLineLayout = SPL_FILE, mark: str | None = None) -> pa.Array:
    """The lines without their `Time,<ts>,` (a daemon's `R*` answer, its console's newest reading)."""
    if len(trace) == 0:
        return pa.array([], type=pa.string())
    return pc.binary_join_element_wise(*_fields(trace, layout, mark)[2:], ",")


def encode_merged_lines(
    traces: Sequence[Trace], layout: SampleLineLayout | None = None, mark: str | None = None
) -> pa.Array:
    """The reference director's merge of several analyzers, rows already aligned one to one:
    `Time,<t1>,Watts,<sum>,Volts,-1,...,Mark,<m1>,Analyzer1,<line 1>,Analyzer2,<line 2>,...`.
    A sentinel in any analyzer's sample makes the summed watts that sentinel. `mark`: the mark of
    every line and every analyzer's part (else the first analyzer's marks, and each one's own)."""
    if not traces:
        raise ValueError("no analyzer traces to merge")
    layout = layout or merged_layout((SPL_FILE,) * len(traces))
    length = len(traces[0])
    if any(len(t) != length for t in traces):
        raise ValueError("merged analyzer traces must be aligned row by row")
    if length == 0:
        return pa.array([], type=pa.string())
    flags = np.minimum.reduce([t.flags for t in traces])
    total = np.sum([np.where(t.flags == SAMPLE_OK, t.watts, 0.0) for t in traces], axis=0)
    first = traces[0]
    summed = Trace.from_columns(first.time_ns, total, flags=flags)
    fields: list[Field] = ["Time", format_ptd_times(first.time_ns), *_block(summed, layout, watts_only=True)]
    fields += ["Mark", mark if mark is not None else _marks(first)]
    for number, (trace, own) in enumerate(zip(traces, layout.analyzers, strict=True), start=1):
        fields += [f"Analyzer{number}", encode_lines(trace, own, mark)]
    return pc.binary_join_element_wise(*fields, ",")


def lines_to_bytes(lines: pa.Array, line_end: str = "\n") -> bytes:
    """The lines as one byte string, each followed by `line_end`, copied out of Arrow in one piece."""
    if len(lines) == 0:
        return b""
    terminated = pc.binary_join_element_wise(lines, line_end, "")
    _validity, offsets, data = terminated.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int32)[
        terminated.offset : terminated.offset + len(terminated) + 1
    ]
    return data.to_pybytes()[int(bounds[0]) : int(bounds[-1])]


def encode(trace: Trace, layout: SampleLineLayout = SPL_FILE, mark: str | None = None) -> bytes:
    """The lines with the layout's line ends."""
    return lines_to_bytes(encode_lines(trace, layout, mark), layout.line_end)


def write_spl(path: str | Path, trace: Trace, newline: str = "\n") -> None:
    write_bytes_atomically(Path(path), lines_to_bytes(encode_lines(trace), newline))


def write_merged_spl(path: str | Path, traces: Sequence[Trace], newline: str = "\n") -> None:
    write_bytes_atomically(Path(path), lines_to_bytes(encode_merged_lines(traces), newline))
