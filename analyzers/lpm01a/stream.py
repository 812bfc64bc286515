"""The ASCII sample stream, parsed in blocks: sample tokens vectorised, side-band lines in order.

Samples are `dddd-ee` tokens (mantissa × 10^-ee, in A or in J per sample). Between them the board
prints `TimeStamp: 012s 345ms, buff 00%`, `event <n> ris|fal`, acks, `Acquisition completed` and
`summary beg` … `summary end`. `StreamParser.feed(bytes)` returns the items in arrival order, with
runs of samples as one numpy array, so a 10 kHz stream costs one small loop over lines and one
vectorised conversion per block.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analyzers.lpm01a.protocol import EVENT, TIMESTAMP, strip_prompt


@dataclass(frozen=True)
class SampleBlock:
    values: np.ndarray  # float64, A or J per sample


@dataclass(frozen=True)
class EventLine:
    number: int
    edge: str  # "ris" or "fal"


@dataclass(frozen=True)
class TimeStampLine:
    board_s: float
    buffer_pct: int


@dataclass(frozen=True)
class TextLine:
    text: str  # an ack, an error, a status line: whatever else the board said


StreamItem = SampleBlock | EventLine | TimeStampLine | TextLine


def parse_tokens(tokens: list[bytes]) -> np.ndarray:
    """`dddd-ee` tokens -> floats; mantissa / 10**ee, so `6409-07` is exactly the double nearest 6.409e-4."""
    parts = np.char.partition(np.array(tokens), b"-")
    mantissa = parts[:, 0].astype(np.int64)
    exponent = parts[:, 2].astype(np.int64)
    return mantissa / np.power(10.0, exponent)


def _is_sample(line: bytes) -> bool:
    return bool(line) and line[:1].isdigit() and b"-" in line and line.replace(b"-", b"", 1).isdigit()


class StreamParser:
    def __init__(self) -> None:
        self._pending = b""
        self._in_summary = False

    def feed(self, data: bytes) -> list[StreamItem]:
        lines = (self._pending + data).split(b"\n")
        self._pending = lines.pop()
        items: list[StreamItem] = []
        tokens: list[bytes] = []
        for raw in lines:
            line = raw.strip()
            if _is_sample(line):
                tokens.append(line)
                continue
            if tokens:
                items.append(SampleBlock(parse_tokens(tokens)))
                tokens = []
            item = self._side_band(line.decode("ascii", "replace"))
            if item is not None:
                items.append(item)
        if tokens:
            items.append(SampleBlock(parse_tokens(tokens)))
        return items

    def _side_band(self, line: str) -> StreamItem | None:
        text = strip_prompt(line)
        if not text:
            return None
        if text.lower().startswith("summary beg"):
            self._in_summary = True
            return None
        if self._in_summary:
            self._in_summary = not text.lower().startswith("summary end")
            return None
        if (match := TIMESTAMP.search(text)) is not None:
            return TimeStampLine(int(match.group(1)) + int(match.group(2)) / 1000, int(match.group(3)))
        if (match := EVENT.search(text)) is not None:
            return EventLine(int(match.group(1)), match.group(2).lower())
        return TextLine(text)
