"""Write traces as PTD sample lines (`spl.txt`, data logs, `RL` replies), byte for byte in PTD's format.

`Time,MM-DD-YYYY HH:MM:SS.mmm,Watts,w,Volts,v,Amps,a,PF,pf,Mark,m` with six decimals; a sample with a
sentinel flag prints its sentinel (`-1.000000`, `-2.000000`) as watts, and a quantity the source did
not provide (NaN) prints `-1.000000`, as PTD does for the volts of a multi-channel sum block.
Everything is formatted column-wise with Arrow compute kernels: no per-sample Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzers.spl import NOT_SET_MARK
from analyzers.trace import NO_MARK, SAMPLE_OK, ChannelBlock, Trace

_MICRO = 1_000_000
# "YYYY-MM-DDTHH:MM:SS.mmm" (numpy) -> "MM-DD-YYYY HH:MM:SS.mmm" (PTD): byte positions to take.
_PTD_ORDER = np.array([5, 6, 4, 8, 9, 7, 0, 1, 2, 3, 10, *range(11, 23)])


def format_ptd_times(time_ns: np.ndarray) -> pa.Array:
    """UTC epoch ns -> PTD timestamps (milliseconds truncated), as an Arrow string array."""
    iso = np.datetime_as_string(
        np.asarray(time_ns, dtype=np.int64).astype("datetime64[ns]").astype("datetime64[ms]")
    )
    raw = iso.astype("S23").view(np.uint8).reshape(-1, 23)[:, _PTD_ORDER]
    raw[:, 10] = ord(" ")
    data = np.ascontiguousarray(raw).tobytes()
    offsets = np.arange(0, 23 * (len(time_ns) + 1), 23, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), len(time_ns), [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def format_fixed6(values: np.ndarray) -> pa.Array:
    """Floats -> strings with exactly six decimals (`%.6f`); NaN prints as PTD's `-1.000000`."""
    values = np.where(np.isfinite(values), values, -1.0)
    scaled = np.rint(np.asarray(values, dtype=np.float64) * _MICRO).astype(np.int64)
    negative = scaled < 0
    magnitude = np.abs(scaled)
    whole = pc.cast(pa.array(magnitude // _MICRO), pa.string())
    fraction = pc.utf8_lpad(pc.cast(pa.array(magnitude % _MICRO), pa.string()), width=6, padding="0")
    sign = pc.if_else(pa.array(negative), "-", "")
    return pc.binary_join_element_wise(sign, whole, ".", fraction, "")


def _watts_with_sentinels(watts: np.ndarray, flags: np.ndarray) -> np.ndarray:
    return np.where(flags == SAMPLE_OK, watts, flags.astype(np.float64))


def _quantity_fields(watts: np.ndarray, volts: np.ndarray, amps: np.ndarray, pf: np.ndarray) -> list[object]:
    return [
        "Watts",
        format_fixed6(watts),
        "Volts",
        format_fixed6(volts),
        "Amps",
        format_fixed6(amps),
        "PF",
        format_fixed6(pf),
    ]


def _block_fields(block: ChannelBlock) -> list[object]:
    return _quantity_fields(
        _watts_with_sentinels(block.watts, block.flags), block.volts, block.amps, block.pf
    )


def _mark_strings(trace: Trace) -> pa.Array:
    names = pa.array([*trace.mark_names, NOT_SET_MARK], type=pa.string())
    codes = np.where(trace.mark_codes == NO_MARK, len(trace.mark_names), trace.mark_codes)
    return pc.take(names, pa.array(codes))


def format_sample_lines(trace: Trace, with_mark: bool = True, channel_labels: bool = True) -> pa.Array:
    """One PTD line per sample (no line terminator).

    `with_mark=False, channel_labels=False` gives the bare form of PTD's `RL` replies (the director
    inserts `Mark` and `ChN` itself); the defaults give the `spl.txt` / data-log form.
    """
    fields: list[object] = ["Time", format_ptd_times(trace.time_ns)]
    fields += _quantity_fields(
        _watts_with_sentinels(trace.watts, trace.flags), trace.volts, trace.amps, trace.pf
    )
    if with_mark:
        fields += ["Mark", _mark_strings(trace)]
    for index, block in enumerate(trace.channels, start=1):
        if channel_labels:
            fields.append(f"Ch{index}")
        fields += _block_fields(block)
    if len(trace) == 0:
        return pa.array([], type=pa.string())
    return pc.binary_join_element_wise(*fields, ",")


def format_merged_lines(traces: Sequence[Trace]) -> pa.Array:
    """The reference director's merge of several analyzers, rows already aligned one to one:
    `Time,<t1>,Watts,<sum>,Volts,-1,...,Mark,<m1>,Analyzer1,<line 1>,Analyzer2,<line 2>,...`."""
    if not traces:
        raise ValueError("no analyzer traces to merge")
    length = len(traces[0])
    if any(len(t) != length for t in traces):
        raise ValueError("merged analyzer traces must be aligned row by row")
    if length == 0:
        return pa.array([], type=pa.string())
    first = traces[0]
    flags = np.minimum.reduce([t.flags for t in traces])  # any sentinel makes the sum a sentinel
    total = np.sum([np.where(t.flags == SAMPLE_OK, t.watts, 0.0) for t in traces], axis=0)
    nan = np.full(length, np.nan)
    fields: list[object] = ["Time", format_ptd_times(first.time_ns)]
    fields += _quantity_fields(_watts_with_sentinels(total, flags), nan, nan, nan)
    fields += ["Mark", _mark_strings(first)]
    for index, trace in enumerate(traces, start=1):
        fields += [f"Analyzer{index}", format_sample_lines(trace)]
    return pc.binary_join_element_wise(*fields, ",")


def lines_to_bytes(lines: pa.Array, newline: str = "\n") -> bytes:
    if len(lines) == 0:
        return b""
    terminated = pc.binary_join_element_wise(lines, newline, "")
    _validity, offsets, data = terminated.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int32)[
        terminated.offset : terminated.offset + len(terminated) + 1
    ]
    return data.to_pybytes()[int(bounds[0]) : int(bounds[-1])]


def write_spl(path: str | Path, trace: Trace, newline: str = "\n") -> None:
    Path(path).write_bytes(lines_to_bytes(format_sample_lines(trace), newline))


def write_merged_spl(path: str | Path, traces: Sequence[Trace], newline: str = "\n") -> None:
    Path(path).write_bytes(lines_to_bytes(format_merged_lines(traces), newline))
