"""PTD sample logs (`spl.txt`, the `-l` data log) -> `Trace`: the decoder's entry for files.

Every layout of `analyzers.formats.sample_layout` is read the same way: the layout is detected from
the first sample line, and pyarrow's CSV reader parses the whole file with typed columns at the
places `layout.columns()` names; the values are converted by `sample_values`. A file is what someone
hands us, so lines of another shape (NOTICE/ERROR lines, a truncated last line, garbage, a line
missing a channel block) are skipped and reported with their line number; blank lines are ignored.
For the MLPerf metric (`detail=False`) a file of canonical lines takes the byte-level fast path of
`sample_fast`. The strict entry, for a daemon's reply, is `sample_reply.decode_sample_lines`.
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from analyzers.formats.ptd_time import parse_ptd_times
from analyzers.formats.sample_fast import read_spl_power
from analyzers.formats.sample_layout import (
    SPL_FILE,
    SampleColumns,
    SplFormatError,
    detect_layout,
)
from analyzers.formats.sample_values import column_name, marks, not_provided, physical, sentinel_flags
from analyzers.physical_limits import FIRST_YEAR, LAST_YEAR, MAX_AMPS, MAX_VOLTS
from analyzers.trace import NO_MARK, ChannelBlock, Trace

_NUMBER = r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$|^\s*[-+]?(nan|NaN|inf|Inf)\s*$"
_LAYOUT_PROBE_BYTES = 1 << 16


@dataclass(frozen=True)
class SkippedLine:
    line: int | None
    reason: str


@dataclass
class SplReadResult:
    trace: Trace
    layout: SampleColumns
    skipped: list[SkippedLine] = field(default_factory=list)
    analyzer_skew_ns: int = 0
    """Merged layout: the largest |t(analyzer k) - t(analyzer 1)| on one line (the pairing error)."""
    implausible: list[SkippedLine] = field(default_factory=list)
    """Volts or amps readings outside their physical range, dropped (NaN) while the line was kept:
    the first of each quantity, its reason naming how many there were."""

    def skipped_summary(self, path: str | Path, limit: int = 3) -> list[str]:
        """One sentence per skipped line (the first `limit`), then a count of the rest."""
        sentences = [
            f"{path}:{s.line if s.line is not None else '?'}: skipped line ({s.reason})"
            for s in self.skipped[:limit]
        ]
        if len(self.skipped) > limit:
            sentences.append(f"{path}: {len(self.skipped) - limit} more lines skipped")
        sentences += [f"{path}:{s.line if s.line is not None else '?'}: {s.reason}" for s in self.implausible]
        return sentences


def _columns_of(line: str) -> SampleColumns:
    return detect_layout(line).columns()


def _first_sample_line(handle: BinaryIO) -> str | None:
    probe = handle.read(_LAYOUT_PROBE_BYTES)
    while True:
        for raw in probe.splitlines():
            if raw.startswith(b"Time,") and b",Watts," in raw:
                try:
                    _columns_of(raw.decode("utf-8", "replace"))
                except SplFormatError:
                    continue
                return raw.decode("utf-8", "replace")
        more = handle.read(_LAYOUT_PROBE_BYTES)
        if not more:
            return None
        # Keep the partial last line of the previous probe so a line split across reads is seen whole.
        probe = probe[probe.rfind(b"\n") + 1 :] + more


def _utf8_lines_only(content: bytes) -> tuple[bytes, list[SkippedLine]]:
    """The file with every line that is not UTF-8 text blanked (line numbers kept), and those lines."""
    kept: list[bytes] = []
    skipped: list[SkippedLine] = []
    for number, line in enumerate(content.split(b"\n"), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            skipped.append(SkippedLine(number, "bytes that are not UTF-8 text"))
            line = b""
        kept.append(line)
    return b"\n".join(kept), skipped


def _read_table(
    path: Path | io.BytesIO | pa.BufferReader,
    layout: SampleColumns,
    numeric_type: pa.DataType,
    use_threads: bool,
    detail: bool,
) -> tuple[pa.Table, list[SkippedLine]]:
    skipped: list[SkippedLine] = []

    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        try:
            text = row.text
        except UnicodeDecodeError:  # pyarrow decodes the row for us; undecodable means damaged
            text = "?"
        if text.strip():
            reason = f"{row.actual_columns} fields, expected {row.expected_columns}"
            skipped.append(SkippedLine(row.number, reason))
        return "skip"

    # Converting a column costs about as much as tokenising the line: without `detail` only what the
    # MLPerf metric needs (time, total watts, mark) is converted.
    numeric = [layout.total.watts]
    strings = [layout.time]
    if detail:
        numeric += [layout.total.volts, layout.total.amps, layout.total.pf]
        for block in layout.blocks:
            numeric += [block.watts, block.volts, block.amps, block.pf]
        strings += layout.block_times
    column_types: dict[str, pa.DataType] = {column_name(0): pa.dictionary(pa.int32(), pa.string())}
    column_types.update({column_name(i): numeric_type for i in numeric})
    column_types.update({column_name(i): pa.string() for i in strings})
    if layout.mark is not None:
        column_types[column_name(layout.mark)] = pa.dictionary(pa.int32(), pa.string())
    with _undecodable_rows_raise():
        table = _read_csv(path, layout, column_types, use_threads, on_invalid_row)
    return table, skipped


@contextlib.contextmanager
def _undecodable_rows_raise() -> Iterator[None]:
    """pyarrow decodes an invalid row's text before it calls our handler, and a row that is not UTF-8
    fails there, inside pyarrow, where the error can only be printed ("Exception ignored in …") and
    the read then ends with ArrowInvalid. Catch it instead, and raise it as the UnicodeDecodeError it
    is, so the caller reads the file again with those lines blanked (`_utf8_lines_only`)."""
    caught: list[BaseException] = []
    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, UnicodeDecodeError):
            caught.append(unraisable.exc_value)
        else:
            previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    except pa.ArrowInvalid:
        if caught:
            raise caught[0] from None
        raise
    finally:
        sys.unraisablehook = previous


def _read_csv(
    path: Path | io.BytesIO | pa.BufferReader,
    layout: SampleColumns,
    column_types: dict[str, pa.DataType],
    use_threads: bool,
    on_invalid_row: Callable[[pacsv.InvalidRow], str],
) -> pa.Table:
    return pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(
            column_names=[column_name(i) for i in range(layout.field_count)],
            use_threads=use_threads,
            block_size=1 << 22,
        ),
        parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid_row, ignore_empty_lines=False),
        convert_options=pacsv.ConvertOptions(
            column_types=column_types,
            include_columns=list(column_types),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )


def _table_line_numbers(row_count: int, skipped: list[SkippedLine]) -> np.ndarray | None:
    """Physical line number of each table row, when pyarrow told us every skipped line's number."""
    numbers = [s.line for s in skipped]
    if any(n is None for n in numbers):
        return None
    total_lines = row_count + len(numbers)
    return np.setdiff1d(
        np.arange(1, total_lines + 1), np.asarray(numbers, dtype=np.int64), assume_unique=True
    )


def _to_float(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Numeric column (typed, or strings after a conversion error) -> (float64 values, parsed-ok mask)."""
    if pa.types.is_string(column.type):
        good = pc.fill_null(pc.match_substring_regex(column, _NUMBER), False)
        cleaned = pc.if_else(good, column, pa.scalar(None, pa.string()))
        values = pc.cast(pc.utf8_trim_whitespace(cleaned), pa.float64()).to_numpy(zero_copy_only=False)
        return np.asarray(values, dtype=np.float64), np.asarray(
            good.to_numpy(zero_copy_only=False), dtype=bool
        )
    values = np.asarray(column.to_numpy(), dtype=np.float64)
    if column.null_count == 0:  # the usual column: every field a number, no kernel call to say so
        return values, np.ones(len(values), dtype=bool)
    return values, np.asarray(pc.is_valid(column).to_numpy(zero_copy_only=False), dtype=bool)


def read_spl(path: str | Path, detail: bool = True, data: bytes | None = None) -> SplReadResult:
    """Parse a PTD sample log. An empty file gives an empty trace; a file with no sample line raises.

    With `detail=False` only timestamps and total watts are read (volts, amps and PF are NaN, no
    marks, no channel blocks): what the MLPerf metric needs. A file whose every line is canonical then
    takes the byte-level fast path of `analyzers.formats.sample_fast`; any other file the general parser below.
    With `data` (the file's bytes, already read by the caller) the file is not opened: `path` only
    names it in the trace and in what is reported.
    """
    path = Path(path)
    with io.BytesIO(data) if data is not None else path.open("rb") as handle:
        first = _first_sample_line(handle)
    if first is None:
        content = data if data is not None else path.read_bytes()
        if not content.strip():
            return SplReadResult(Trace.empty(source=str(path)), SPL_FILE.for_channels(0).columns())
        raise SplFormatError("no PTD sample line (Time,<ts>,Watts,..) in the file")
    layout = _columns_of(first)
    if not detail:
        fast = read_spl_power(path, data)
        if fast is not None:
            watts, flags = sentinel_flags(fast[1], np.ones(len(fast[1]), dtype=bool))
            return SplReadResult(Trace.from_columns(fast[0], watts, flags=flags, source=str(path)), layout)

    def source() -> Path | pa.BufferReader:
        return path if data is None else pa.BufferReader(pa.py_buffer(data))

    try:
        table, skipped = _read_table(source(), layout, pa.float64(), True, detail)
        if any(s.line is None for s in skipped):
            # pyarrow numbers rows only when reading on one thread: re-read the (rare) damaged file so
            # every skipped line can be named.
            table, skipped = _read_table(source(), layout, pa.float64(), False, detail)
    except (pa.ArrowInvalid, UnicodeDecodeError):
        try:
            # A garbage value in a numeric field: re-read numbers as strings and drop the bad rows below.
            table, skipped = _read_table(source(), layout, pa.string(), False, detail)
        except (pa.ArrowInvalid, UnicodeDecodeError):
            # Bytes that are not UTF-8 text (a copy gone wrong, another encoding): those lines are
            # blanked, and named, and the rest is read as it is.
            cleaned, undecodable = _utf8_lines_only(data if data is not None else path.read_bytes())
            if not cleaned.strip():
                return SplReadResult(Trace.empty(source=str(path)), layout, skipped=undecodable)
            table, skipped = _read_table(io.BytesIO(cleaned), layout, pa.string(), False, detail)
            skipped = sorted(skipped + undecodable, key=lambda s: s.line or 0)

    is_sample, blank = _first_field_is(table, ("Time", ""))
    time_ns, time_ok = parse_ptd_times(table[column_name(layout.time)])
    watts_raw, watts_parsed = _to_float(table[column_name(layout.total.watts)])
    keep = is_sample & time_ok & watts_parsed
    block_values = []
    blocks = layout.blocks if detail else ()
    for block in blocks:
        values, parsed = _to_float(table[column_name(block.watts)])
        keep &= parsed | ~is_sample
        block_values.append(values)

    # Line numbers before the bad rows below join `skipped` (those rows are in the table).
    line_numbers = _table_line_numbers(len(table), skipped)
    bad = ~keep & ~blank
    if bad.any():
        for row in np.flatnonzero(bad)[:100]:
            line = int(line_numbers[row]) if line_numbers is not None else None
            reason = "not a sample line"
            if is_sample[row] and not time_ok[row]:
                reason = f"bad timestamp: not MM-DD-YYYY HH:MM:SS[.fff] between {FIRST_YEAR} and {LAST_YEAR}"
            if is_sample[row] and time_ok[row]:
                reason = "a value is not a number"
            skipped.append(SkippedLine(line, reason))
        skipped.sort(key=lambda s: s.line or 0)

    kept = int(keep.sum())
    every_row = kept == len(keep)

    def rows_kept(values: np.ndarray) -> np.ndarray:
        # Most files keep every row: no copy through a mask that selects all.
        return values if every_row else values[keep]

    watts, flags = sentinel_flags(rows_kept(watts_raw), rows_kept(watts_parsed))
    total = layout.total
    channels = []
    implausible_rows: dict[str, list[np.ndarray]] = {"volts": [], "amps": []}

    def quantity(index: int, name: str = "") -> np.ndarray:
        values = not_provided(rows_kept(_to_float(table[column_name(index)])[0]))
        if not name:
            return values
        values, implausible = physical(values, MAX_VOLTS if name == "volts" else MAX_AMPS)
        implausible_rows[name].append(implausible)
        return values

    for block, values in zip(blocks, block_values, strict=True):
        channel_watts, channel_flags = sentinel_flags(rows_kept(values), np.ones(kept, dtype=bool))
        channels.append(
            ChannelBlock.from_columns(
                channel_watts,
                volts=quantity(block.volts, "volts"),
                amps=quantity(block.amps, "amps"),
                pf=quantity(block.pf),
                flags=channel_flags,
            )
        )
    if layout.mark is not None:
        codes, names = marks(table[column_name(layout.mark)])
        codes = codes[keep]  # a copy: the Arrow-backed codes are read-only
    else:
        codes, names = np.full(kept, NO_MARK, dtype=np.int32), ()
    skew = 0
    for time_column in layout.block_times if detail else ():
        block_ns, block_ok = parse_ptd_times(table[column_name(time_column)])
        usable = keep & block_ok
        if usable.any():
            skew = max(skew, int(np.abs(block_ns[usable] - time_ns[usable]).max()))

    def total_quantity(index: int, name: str = "") -> np.ndarray:
        if not detail:
            return np.full(kept, np.nan)
        return quantity(index, name)

    trace = Trace(
        time_ns=np.ascontiguousarray(rows_kept(time_ns)),
        watts=watts,
        volts=total_quantity(total.volts, "volts"),
        amps=total_quantity(total.amps, "amps"),
        pf=total_quantity(total.pf),
        uncertainty=np.full(kept, np.nan),
        flags=flags,
        mark_codes=np.ascontiguousarray(codes, dtype=np.int32),
        mark_names=names,
        channels=tuple(channels),
        source=str(path),
    )
    implausible = _implausible_summary(implausible_rows, line_numbers, keep)
    return SplReadResult(
        trace=trace, layout=layout, skipped=skipped, analyzer_skew_ns=skew, implausible=implausible
    )


def _implausible_summary(
    rows: dict[str, list[np.ndarray]], line_numbers: np.ndarray | None, keep: np.ndarray
) -> list[SkippedLine]:
    limits = {"volts": (MAX_VOLTS, "V"), "amps": (MAX_AMPS, "A")}
    summary = []
    for name, masks in rows.items():
        if not masks:
            continue
        bad = np.logical_or.reduce(masks)
        if not bad.any():
            continue
        first = int(np.flatnonzero(bad)[0])
        line = int(line_numbers[np.flatnonzero(keep)[first]]) if line_numbers is not None else None
        limit, unit = limits[name]
        summary.append(
            SkippedLine(
                line,
                f"{int(bad.sum())} {name} readings beyond ±{limit:g} {unit} (infinite or absurd) "
                f"were dropped, the first here; the lines' watts were kept",
            )
        )
    return summary


def _first_field_is(table: pa.Table, texts: tuple[str, ...]) -> list[np.ndarray]:
    """Row masks, one per text: the first field equals it (compared on the dictionary, not per row)."""
    column = table[column_name(0)].unify_dictionaries()
    if column.num_chunks == 0:
        return [np.zeros(0, dtype=bool) for _ in texts]
    dictionary = [entry.strip() for entry in column.chunk(0).dictionary.to_pylist()]
    indices = np.concatenate(
        [np.asarray(chunk.indices.fill_null(-1).to_numpy(), dtype=np.int64) for chunk in column.chunks]
    )
    return [np.array([entry == text for entry in dictionary] + [False])[indices] for text in texts]
