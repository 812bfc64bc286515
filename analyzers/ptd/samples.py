"""PTD sample lines <-> `Trace`, vectorised: `Time,<MM-DD-YYYY HH:MM:SS.mmm>,Watts,w,Volts,v,Amps,a,PF,pf`.

The same grammar serves `RL` replies (no mark, no channel labels: the sum block then one block per
channel) and the `-l` data log (`,Mark,<mark>` after the sum block, `ChN,` before each channel block,
numbered from PTD's start channel). Formatting primitives come from `analyzers.spl_writer` (Arrow
compute kernels, no Python per sample); this module adds what a daemon prints differently from
`spl.txt`: the mark the daemon assigns, start-channel labels, a watts-only sum block.
Values are printed with six decimals; a sample flagged missed prints `-2.000000`, an error or an
unknown value `-1.000000`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzers.ptd_time import format_ptd_time, parse_ptd_times
from analyzers.spl_writer import format_fixed6, format_ptd_times, lines_to_bytes
from analyzers.trace import (
    SAMPLE_ERROR,
    SAMPLE_MISSED,
    SAMPLE_OK,
    ChannelBlock,
    Trace,
    decode_sentinel_watts,
    without_sentinels,
)

NOT_SET_MARK = "notset"
PTD_UNKNOWN = float(SAMPLE_ERROR)


def format_time(epoch_ns: int) -> str:
    return format_ptd_time(epoch_ns)


def _quantity(values: np.ndarray, flags: np.ndarray, is_watts: bool) -> np.ndarray:
    """A column as PTD prints it: sentinels for flagged samples, -1 for unknown values."""
    out = np.where(np.isfinite(values), values, PTD_UNKNOWN)
    if is_watts:
        out = np.where(flags != SAMPLE_OK, flags.astype(np.float64), out)
    return np.where(flags == SAMPLE_MISSED, float(SAMPLE_MISSED), out)


def _block_fields(block: ChannelBlock | Trace, flags: np.ndarray, sum_block: bool) -> list[pa.Array | str]:
    n = len(flags)
    if sum_block:
        # PTD's multi-channel sum block carries watts only.
        unknown = format_fixed6(np.full(n, PTD_UNKNOWN))
        others: list[pa.Array] = [unknown, unknown, unknown]
    else:
        others = [
            format_fixed6(_quantity(getattr(block, name), flags, False)) for name in ("volts", "amps", "pf")
        ]
    watts = format_fixed6(_quantity(block.watts, flags, True))
    return ["Watts", watts, "Volts", others[0], "Amps", others[1], "PF", others[2]]


def sample_lines(
    trace: Trace,
    *,
    with_channels: bool,
    mark: str | None = None,
    channel_labels: Sequence[str] = (),
) -> pa.Array:
    """One PTD line per sample, without line ends.

    `with_channels` appends one block per channel (a multi-channel `RL,*,*` or data log line); the sum
    block then prints `-1` for volts, amps and PF as PTD does. `mark` adds `,Mark,<mark>` after the sum
    block; `channel_labels` (e.g. `Ch1`) go before each channel block, as in the data log.
    """
    if len(trace) == 0:
        return pa.array([], type=pa.string())
    multi = with_channels and trace.channel_count > 0
    fields: list[pa.Array | str] = ["Time", format_ptd_times(trace.time_ns)]
    fields += _block_fields(trace, trace.flags, sum_block=trace.channel_count > 0)
    if mark is not None:
        fields += ["Mark", mark]
    if multi:
        for index, block in enumerate(trace.channels):
            if channel_labels:
                fields.append(channel_labels[index])
            fields += _block_fields(block, block.flags, sum_block=False)
    return pc.binary_join_element_wise(*fields, ",")


def lines_payload(lines: pa.Array, line_end: str = "\r\n") -> bytes:
    """The lines as one byte string, each followed by `line_end`, copied out of Arrow in one piece."""
    return lines_to_bytes(lines, line_end)


def parse_times(texts: Sequence[str]) -> np.ndarray:
    """`MM-DD-YYYY HH:MM:SS.mmm` strings (UTC) to epoch ns; raises ValueError on a malformed one."""
    epoch_ns, ok = parse_ptd_times(pa.array(list(texts), type=pa.string()))
    if not ok.all():
        bad = int(np.flatnonzero(~ok)[0])
        raise ValueError(f"not a MM-DD-YYYY HH:MM:SS.mmm timestamp: {texts[bad]!r}")
    return epoch_ns


def _column(rows: list[list[str]], index: int) -> np.ndarray:
    return np.array([row[index] for row in rows], dtype=np.float64)


def parse_sample_lines(lines: Sequence[str], source: str = "") -> Trace:
    """Sample lines of one shape (an `RL` reply or data-log lines) back into a `Trace`.

    `-1`/`-2` watts become NaN with the sentinel in `flags`; `-1`/`-2` volts, amps and PF become NaN.
    Raises ValueError naming the first line that does not have the shape of the first one.
    """
    rows = [line.rstrip("\r\n").split(",") for line in lines]
    if not rows:
        return Trace.empty(source=source)
    first = rows[0]
    block_starts = [index for index, field in enumerate(first) if field == "Watts"]
    mark_index = first.index("Mark") + 1 if "Mark" in first else None
    for number, row in enumerate(rows, start=1):
        if len(row) != len(first) or row[0] != "Time" or any(row[i] != "Watts" for i in block_starts):
            raise ValueError(
                f"sample line {number} does not match the first line's layout: {lines[number - 1]!r}"
            )
    if not block_starts:
        raise ValueError(f"sample line 1 has no Watts field: {lines[0]!r}")

    def block(start: int) -> ChannelBlock:
        watts, flags = decode_sentinel_watts(_column(rows, start + 1))
        return ChannelBlock.from_columns(
            watts=watts,
            volts=without_sentinels(_column(rows, start + 3)),
            amps=without_sentinels(_column(rows, start + 5)),
            pf=without_sentinels(_column(rows, start + 7)),
            flags=flags,
        )

    total = block(block_starts[0])
    return Trace.from_columns(
        time_ns=parse_times([row[1] for row in rows]),
        watts=total.watts,
        volts=total.volts,
        amps=total.amps,
        pf=total.pf,
        flags=total.flags,
        marks=[row[mark_index] for row in rows] if mark_index is not None else None,
        channels=[block(start) for start in block_starts[1:]],
        source=source,
    )
