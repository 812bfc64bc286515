"""Sample lines that must all be sample lines: a daemon's `RL` reply body, lines of its data log.

The decoder's strict entry: the layout of the first line, then one typed CSV read of the whole
payload at the columns the layout names; a line of another shape fails the read, and only then does
a slow line-by-line pass run, to say which line it was and why.
"""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from analyzers.formats.ptd_time import PtdTimeError, parse_ptd_time, parse_ptd_times
from analyzers.formats.sample_layout import QuantityColumns, SampleColumns, SplFormatError, detect_layout
from analyzers.formats.sample_values import (
    column_name,
    marks,
    not_provided,
    physical,
    sentinel_flags,
    values_of,
)
from analyzers.physical_limits import MAX_AMPS, MAX_VOLTS
from analyzers.trace import NO_MARK, ChannelBlock, Trace


def decode_sample_lines(payload: bytes, source: str = "") -> Trace:
    """Sample lines of one layout (an `RL` reply body, data-log lines; CRLF or LF ends) -> `Trace`;
    ValueError naming the first line that is not one. Blank lines are ignored."""
    if not payload.strip():
        return Trace.empty(source=source)
    first = payload.lstrip().split(b"\n", 1)[0]
    try:
        layout = detect_layout(first.decode("utf-8")).columns()
    except (SplFormatError, UnicodeDecodeError):
        raise ValueError(f"sample line 1 is not a PTD sample line: {first[:200]!r}") from None
    try:
        return _decode_strictly(payload, layout, source)
    except (pa.ArrowInvalid, ValueError):
        raise ValueError(_first_bad_line(payload, layout)) from None


def _decode_strictly(payload: bytes, layout: SampleColumns, source: str) -> Trace:
    quantity_blocks = (layout.total, *layout.blocks)
    types: dict[str, pa.DataType] = {column_name(column): pa.string() for column, _ in layout.labels}
    types.update({column_name(column): pa.string() for column in (layout.time, *layout.block_times)})
    for block in quantity_blocks:
        types.update({column_name(column): pa.float64() for column in values_of(block)})
    if layout.mark is not None:
        types[column_name(layout.mark)] = pa.dictionary(pa.int32(), pa.string())
    table = pacsv.read_csv(
        io.BytesIO(payload),
        read_options=pacsv.ReadOptions(
            column_names=[column_name(i) for i in range(layout.field_count)], use_threads=False
        ),
        parse_options=pacsv.ParseOptions(quote_char=False),
        convert_options=pacsv.ConvertOptions(
            column_types=types, include_columns=list(types), strings_can_be_null=False
        ),
    )
    # The label columns joined into one string per line and compared once: a few Arrow calls instead
    # of one per column, which would dominate the cost of a small `RL` reply.
    joined = pc.binary_join_element_wise(*(table[column_name(c)] for c, _ in layout.labels), ",")
    if not pc.all(pc.equal(joined, ",".join(text for _, text in layout.labels))).as_py():
        raise ValueError("labels")
    time_ns, ok = parse_ptd_times(table[column_name(layout.time)])
    if not ok.all():
        raise ValueError("timestamps")
    total, *channels = (_strict_block(table, block) for block in quantity_blocks)
    codes, names = marks(table[column_name(layout.mark)]) if layout.mark is not None else (None, ())
    return Trace(
        time_ns=time_ns,
        watts=total.watts,
        volts=total.volts,
        amps=total.amps,
        pf=total.pf,
        uncertainty=np.full(len(time_ns), np.nan),
        flags=total.flags,
        mark_codes=np.full(len(time_ns), NO_MARK, dtype=np.int32) if codes is None else codes.copy(),
        mark_names=names,
        channels=tuple(channels),
        source=source,
    )


def _strict_block(table: pa.Table, block: QuantityColumns) -> ChannelBlock:
    watts, volts, amps, pf = (_present(table[column_name(column)]) for column in values_of(block))
    clean, flags = sentinel_flags(watts, np.ones(len(watts), dtype=bool))
    return ChannelBlock.from_columns(
        clean,
        volts=physical(not_provided(volts), MAX_VOLTS)[0],
        amps=physical(not_provided(amps), MAX_AMPS)[0],
        pf=not_provided(pf),
        flags=flags,
    )


def _present(column: pa.ChunkedArray) -> np.ndarray:
    if column.null_count:
        raise ValueError("an empty value")
    return np.asarray(column.to_numpy(), dtype=np.float64)


def _first_bad_line(payload: bytes, layout: SampleColumns) -> str:
    """The slow path, for a reply that failed: the first line that breaks the layout, in a sentence."""
    labels = dict(layout.labels)
    numbers = [column for block in (layout.total, *layout.blocks) for column in values_of(block)]
    for number, raw in enumerate(payload.split(b"\n"), start=1):
        text = raw.decode("utf-8", "replace").rstrip("\r")
        if not text.strip():
            continue
        fields = text.split(",")
        if len(fields) != layout.field_count or any(fields[c] != label for c, label in labels.items()):
            return f"sample line {number} does not match the first line's layout: {text[:200]!r}"
        for column in (layout.time, *layout.block_times):
            try:
                parse_ptd_time(fields[column])
            except PtdTimeError:
                return f"sample line {number}: not a MM-DD-YYYY HH:MM:SS.mmm timestamp: {fields[column]!r}"
        for column in numbers:
            try:
                float(fields[column])
            except ValueError:
                return f"sample line {number}: field {column + 1} is not a number: {fields[column][:40]!r}"
    return "sample lines do not parse as PTD samples"
