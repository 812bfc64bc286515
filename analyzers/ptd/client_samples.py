"""The body of an `RL` reply (bytes) -> `Trace`, vectorised with pyarrow's CSV reader.

Lines are `Time,<MM-DD-YYYY HH:MM:SS.mmm>,Watts,w,Volts,v,Amps,a,PF,pf` then, for `RL,*,*` on a
multi-channel meter, one more `Watts,..,PF,..` block per channel. Timestamps are the daemon's UTC
wall clock and are kept as the sample times. `-1`/`-2` watts become NaN with the sentinel in
`flags`; `-1`/`-2` volts, amps and PF become NaN. A body that does not parse is handed to the
line-by-line parser of `analyzers.ptd.samples`, which names the first bad line.
"""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from analyzers.ptd.samples import parse_sample_lines
from analyzers.ptd_time import parse_ptd_times
from analyzers.trace import ChannelBlock, Trace, decode_sentinel_watts, without_sentinels

_BLOCK_WIDTH = 8  # Watts,w,Volts,v,Amps,a,PF,pf
_LABELS = ("Watts", "Volts", "Amps", "PF")


def _layout(first_line: bytes) -> int:
    """Number of quantity blocks (1 = sum only); ValueError if the line is not a sample line."""
    fields = first_line.rstrip(b"\r\n").split(b",")
    if fields[0] != b"Time" or len(fields) < 2 + _BLOCK_WIDTH or (len(fields) - 2) % _BLOCK_WIDTH:
        raise ValueError(f"sample line 1 is not a PTD sample line: {first_line[:200]!r}")
    return (len(fields) - 2) // _BLOCK_WIDTH


def _read_table(payload: bytes, blocks: int) -> pa.Table:
    names = [f"f{i}" for i in range(2 + blocks * _BLOCK_WIDTH)]
    types: dict[str, pa.DataType] = {"f0": pa.string(), "f1": pa.string()}
    for block in range(blocks):
        base = 2 + block * _BLOCK_WIDTH
        for offset in range(0, _BLOCK_WIDTH, 2):
            types[names[base + offset]] = pa.string()
            types[names[base + offset + 1]] = pa.float64()
    return pacsv.read_csv(
        io.BytesIO(payload),
        read_options=pacsv.ReadOptions(column_names=names, use_threads=False),
        parse_options=pacsv.ParseOptions(quote_char=False),
        convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=False),
    )


def _labels_ok(table: pa.Table, blocks: int) -> bool:
    """Every line has `Time` and `Watts`/`Volts`/`Amps`/`PF` where the first line has them.

    The label columns are joined into one string per line and compared once: a few Arrow calls
    instead of one per column, which dominates the cost of a small `RL` reply."""
    names = ["f0"] + [f"f{2 + b * _BLOCK_WIDTH + 2 * i}" for b in range(blocks) for i in range(len(_LABELS))]
    expected = ",".join(["Time", *(_LABELS * blocks)])
    joined = pc.binary_join_element_wise(*(table[name] for name in names), ",")
    return bool(pc.all(pc.equal(joined, expected)).as_py())


def _values(table: pa.Table, index: int) -> np.ndarray:
    column = table[f"f{index}"]
    if column.null_count:
        raise ValueError(f"empty value in field {index + 1}")
    return column.to_numpy()


def _block(table: pa.Table, base: int) -> ChannelBlock:
    watts, flags = decode_sentinel_watts(_values(table, base + 1))
    return ChannelBlock.from_columns(
        watts=watts,
        volts=without_sentinels(_values(table, base + 3)),
        amps=without_sentinels(_values(table, base + 5)),
        pf=without_sentinels(_values(table, base + 7)),
        flags=flags,
    )


def parse_rl_body(payload: bytes, source: str = "") -> Trace:
    """Sample lines (CRLF or LF ends) to a `Trace`; raises ValueError naming the first bad line."""
    if not payload.strip():
        return Trace.empty(source=source)
    first_end = payload.find(b"\n")
    blocks = _layout(payload if first_end < 0 else payload[: first_end + 1])
    try:
        table = _read_table(payload, blocks)
        if not _labels_ok(table, blocks):
            raise ValueError("labels")
        time_ns, ok = parse_ptd_times(table["f1"])
        if not ok.all():
            raise ValueError("timestamps")
        total = _block(table, 2)
        channels = [_block(table, 2 + b * _BLOCK_WIDTH) for b in range(1, blocks)]
    except (pa.ArrowInvalid, ValueError):
        # Slow path, only for a bad reply: the per-line parser says which line is wrong.
        lines = payload.decode("ascii", "replace").splitlines()
        parse_sample_lines(lines, source)
        raise ValueError("sample lines do not parse as PTD samples") from None
    return Trace.from_columns(
        time_ns=time_ns,
        watts=total.watts,
        volts=total.volts,
        amps=total.amps,
        pf=total.pf,
        flags=total.flags,
        channels=channels,
        source=source,
    )
