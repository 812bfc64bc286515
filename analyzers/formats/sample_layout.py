"""The shapes of a PTD sample line, described once as data (PTD_AND_MLPERF_POWER.md §2).

Every shape starts with the sum block, `Time,<MM-DD-YYYY HH:MM:SS.mmm>,Watts,w,Volts,v,Amps,a,PF,pf`,
and then, as its layout says:
- `,Mark,<mark>` (`spl.txt` and the daemon's data log; not an `RL` reply);
- one `Watts,..,PF,..` block per meter channel, each after a `ChN,` label where the layout has labels
  (the data log and `spl.txt`) or bare (`RL,*,*` replies);
- for the director's merge of several analyzers, `AnalyzerK,` and that analyzer's own whole line.

The encoder (`sample_encode`) writes what a `SampleLineLayout` says; the decoder (`sample_decode`)
detects the layout of a file's first sample line and reads every column from `layout.columns()`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

NOT_SET_MARK = "notset"
"""PTD's mark of a sample taken outside any measurement."""
QUANTITY_LABELS = ("Watts", "Volts", "Amps", "PF")
BLOCK_WIDTH = 2 * len(QUANTITY_LABELS)
"""`Watts,w,Volts,v,Amps,a,PF,pf`"""
_SUM_END = 2 + BLOCK_WIDTH  # after `Time,<ts>,` and the sum block
_CHANNEL_LABEL = re.compile(r"^Ch(\d+)$")
_ANALYZER_LABEL = re.compile(r"^Analyzer(\d+)$")


class SplFormatError(ValueError):
    """A line (or a whole file) that no PTD sample layout fits."""


@dataclass(frozen=True)
class QuantityColumns:
    """Column indexes of the values of one `Watts,w,Volts,v,Amps,a,PF,pf` block."""

    watts: int
    volts: int
    amps: int
    pf: int


@dataclass(frozen=True)
class SampleColumns:
    """Where each field of a layout's lines stands, numbered from 0."""

    field_count: int
    time: int
    total: QuantityColumns
    mark: int | None
    blocks: tuple[QuantityColumns, ...] = ()
    block_labels: tuple[str, ...] = ()
    block_times: tuple[int, ...] = ()
    """Per-analyzer timestamp columns (merged layout only)."""
    labels: tuple[tuple[int, str], ...] = ()
    """(column, the text it holds on every line): `Time`, `Watts`, ..., `Mark`, `ChN`, `AnalyzerK`."""

    @property
    def merged_analyzers(self) -> bool:
        return bool(self.block_times)


@dataclass(frozen=True)
class SampleLineLayout:
    """One shape of sample line. The first four fields fix the columns; the rest only how a value is
    printed, so the decoder ignores them."""

    mark: bool = True
    channels: int | None = None
    """Channel blocks after the sum block: None = as many as the trace has (encoding), 0 = none."""
    channel_labels: bool = True
    """`ChN,` before each channel block, N counted from `first_channel`."""
    first_channel: int = 1
    analyzers: tuple[SampleLineLayout, ...] = ()
    """The director's merge: `AnalyzerK,` then analyzer K's own line in this layout."""
    multi_channel_sum: Literal["measured", "watts only"] = "measured"
    """The sum block of a line with channel blocks: the trace's volts, amps and PF, or `-1` for each
    (PTDaemon measures only the summed watts)."""
    missed: Literal["watts", "every quantity"] = "watts"
    """Where a missed sample prints `-2`: in its watts (then its other quantities as they are, `-1` when
    unknown), or in every quantity, as PTDaemon does."""
    line_end: str = "\n"

    def for_channels(self, count: int) -> SampleLineLayout:
        """This layout with `count` channel blocks fixed (what a trace of that many channels gets)."""
        return self if self.channels == 0 else replace(self, channels=count)

    @property
    def field_count(self) -> int:
        return self.columns().field_count

    def columns(self) -> SampleColumns:
        """The column map of lines of this layout (its channel count must be fixed)."""
        if self.channels is None:
            raise ValueError("a layout's channel count must be fixed to map its columns")
        labels = [(0, "Time"), *_block_labels(2)]
        position = _SUM_END
        mark = None
        if self.mark:
            labels.append((position, "Mark"))
            mark = position + 1
            position += 2
        blocks: list[QuantityColumns] = []
        block_labels: list[str] = []
        for index in range(self.channels):
            if self.channel_labels:
                block_labels.append(f"Ch{self.first_channel + index}")
                labels.append((position, block_labels[-1]))
                position += 1
            blocks.append(_quantities(position))
            labels += _block_labels(position)
            position += BLOCK_WIDTH
        times: list[int] = []
        for number, analyzer in enumerate(self.analyzers, start=1):
            block_labels.append(f"Analyzer{number}")
            labels.append((position, block_labels[-1]))
            own = analyzer.columns()
            times.append(position + 1 + own.time)
            blocks.append(_quantities(position + 1 + 2))
            labels += [(position + 1 + column, text) for column, text in own.labels]
            position += 1 + own.field_count
        return SampleColumns(
            field_count=position,
            time=1,
            total=_quantities(2),
            mark=mark,
            blocks=tuple(blocks),
            block_labels=tuple(block_labels),
            block_times=tuple(times),
            labels=tuple(labels),
        )


def _quantities(label_column: int) -> QuantityColumns:
    """The value columns of a block whose `Watts` label stands at `label_column`."""
    return QuantityColumns(label_column + 1, label_column + 3, label_column + 5, label_column + 7)


def _block_labels(label_column: int) -> list[tuple[int, str]]:
    return [(label_column + 2 * i, label) for i, label in enumerate(QUANTITY_LABELS)]


SPL_FILE = SampleLineLayout()
"""`spl.txt` as the reference director writes it: the trace's marks, `Ch1..ChN` blocks."""
RL_REPLY = SampleLineLayout(
    mark=False, channel_labels=False, multi_channel_sum="watts only", missed="every quantity", line_end="\r\n"
)
"""PTDaemon's `RL` reply body (`RL,*,*`: every channel, bare; plain `RL`: the sum block only)."""
DATA_LOG = SampleLineLayout(multi_channel_sum="watts only", missed="every quantity")
"""PTDaemon's `-l` data log: the mark it was given, channels labelled from its start channel."""


def rl_reply_layout(with_channels: bool) -> SampleLineLayout:
    return RL_REPLY if with_channels else replace(RL_REPLY, channels=0)


def data_log_layout(first_channel: int, channel_count: int) -> SampleLineLayout:
    """PTDaemon labels the channel blocks of its data log only on a meter of several channels."""
    return replace(DATA_LOG, channel_labels=channel_count > 1, first_channel=first_channel)


def merged_layout(analyzers: tuple[SampleLineLayout, ...]) -> SampleLineLayout:
    """The director's merged line: a watts-only sum block, the first analyzer's mark, then each line."""
    return SampleLineLayout(channels=0, analyzers=analyzers, multi_channel_sum="watts only")


def detect_layout(first_line: str) -> SampleLineLayout:
    """The layout of a sample line (its channel count fixed); SplFormatError if no layout fits."""
    tokens = first_line.rstrip("\r\n").split(",")
    layout, end = _detect(tokens, 0, merged_allowed=True)
    if end != len(tokens):
        raise SplFormatError(f"unexpected field {tokens[end]!r} at position {end + 1}")
    return layout


def _detect(tokens: list[str], start: int, merged_allowed: bool) -> tuple[SampleLineLayout, int]:
    """The layout of the line starting at `tokens[start]` and the index after it."""
    if tokens[start : start + 1] != ["Time"] or not _is_block(tokens, start + 2):
        if start:
            raise SplFormatError(f"{tokens[start - 1]} is not followed by a Time,<ts>,Watts,.. line")
        raise SplFormatError("not a PTD sample line (expected Time,<ts>,Watts,..,Volts,..,Amps,..,PF,..)")
    position = start + _SUM_END
    mark = tokens[position : position + 1] == ["Mark"] and position + 1 < len(tokens)
    if mark:
        position += 2
    channels = 0
    labelled: bool | None = None
    first_channel = 1
    while position < len(tokens) and not _ANALYZER_LABEL.match(tokens[position]):
        label = _CHANNEL_LABEL.match(tokens[position])
        if label is None and not _is_block(tokens, position):
            raise SplFormatError(f"unexpected field {tokens[position]!r} at position {position + 1}")
        if labelled is None:
            labelled = label is not None
            first_channel = int(label.group(1)) if label else 1
        if labelled != (label is not None):
            raise SplFormatError(f"channel block at position {position + 1}: labelled and bare blocks mixed")
        if label is not None:
            if int(label.group(1)) != first_channel + channels:
                raise SplFormatError(f"channel {tokens[position]} out of order at position {position + 1}")
            if not _is_block(tokens, position + 1):
                raise SplFormatError(f"channel block {tokens[position]} is incomplete")
            position += 1
        channels += 1
        position += BLOCK_WIDTH
    analyzers: list[SampleLineLayout] = []
    while position < len(tokens) and merged_allowed:
        label = _ANALYZER_LABEL.match(tokens[position])
        if label is None or int(label.group(1)) != len(analyzers) + 1:
            raise SplFormatError(f"unexpected field {tokens[position]!r} at position {position + 1}")
        analyzer, position = _detect(tokens, position + 1, merged_allowed=False)
        analyzers.append(analyzer)
    return (
        SampleLineLayout(
            mark=mark,
            channels=channels,
            channel_labels=bool(labelled),
            first_channel=first_channel,
            analyzers=tuple(analyzers),
        ),
        position,
    )


def _is_block(tokens: list[str], start: int) -> bool:
    """`Watts,w,Volts,v,Amps,a,PF,pf` starts at `tokens[start]`."""
    return len(tokens) >= start + BLOCK_WIDTH and all(
        tokens[start + 2 * offset] == label for offset, label in enumerate(QUANTITY_LABELS)
    )
