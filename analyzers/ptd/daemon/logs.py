"""The two logs PTDaemon writes: the console log (stdout, `ptd_logs.txt`) and the `-l` data log.

Console lines are `MM-DD-YYYY HH:MM:SS.mmm: <message>`; data-log lines are sample lines with
`,Mark,<mark>` (`notset` outside a measurement) plus `Time,<ts>,NOTICE|ERROR,<text>` lines. Both are
flushed line by line because the reference director reads the data log while we write it, and tees
the console into `ptd_logs.txt`. Both are thread-safe: the sampling pump and the client handler write.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from analyzers.base import CAP_UNCERTAINTY, Analyzer, Identity
from analyzers.errors import AnalyzerError
from analyzers.formats.ptd_time import format_ptd_time
from analyzers.formats.sample_encode import encode
from analyzers.formats.sample_layout import DATA_LOG, SampleLineLayout
from analyzers.trace import SAMPLE_ERROR, SAMPLE_MISSED, SAMPLE_OK, Trace

Clock = Callable[[], int]
"""Returns UTC epoch nanoseconds; injectable so tests get deterministic timestamps."""

_BANNER_WIDTH = 78


def banner(version: str, model: str, source: str, data_log: str | None) -> list[str]:
    """The untimestamped lines PTD prints before its first timestamped one, with our own identity."""
    star = "  " + "*" * (_BANNER_WIDTH - 2)
    inner = " " * 20 + "*" * 35

    def centred(text: str) -> str:
        return text.center(_BANNER_WIDTH).rstrip()

    lines = [
        f"Selected power meter '{model}' from {source}",
        star,
        inner,
        centred("joulebench PTD-compatible daemon (not SPEC PTDaemon)"),
        centred(f"Version {version}"),
        inner,
        centred("Apache-2.0, https://github.com/joulebench"),
        star,
        "",
        "",
    ]
    if data_log is not None:
        lines.append(f"Redirecting data output to file {data_log}")
    return lines


class ConsoleRecord:
    """The console lines a daemon keeps for a director on another host (`JB-Console`).

    The preamble (banner to "Waiting for a connection...") is kept whole, as a per-session PTDaemon's
    console starts with it; after it, the last `limit` lines, numbered from 0 in the order written.
    """

    def __init__(self, limit: int = 100_000, preamble_limit: int = 1_000) -> None:
        self._preamble: list[str] = []
        self._preamble_limit = preamble_limit
        self._in_preamble = True
        self._lines: deque[str] = deque(maxlen=limit)
        self._next = 0
        self.connection_index = 0
        """Number of the line that accepted the client now connected."""

    def add(self, lines: Iterable[str], connection: bool = False) -> None:
        """Called by `ConsoleLog` under its lock; `connection`: these lines accept a client."""
        if connection:
            self.connection_index = self._next
        for line in lines:
            if self._in_preamble and len(self._preamble) < self._preamble_limit:
                self._preamble.append(line)
            else:
                self._lines.append(line)
                self._next += 1

    def end_preamble(self) -> None:
        self._in_preamble = False

    def preamble(self) -> list[str]:
        return list(self._preamble)

    @property
    def next_index(self) -> int:
        return self._next

    def since(self, index: int) -> tuple[int, list[str]]:
        """(number of the first line returned, the lines from `index` on that are still kept)."""
        oldest = self._next - len(self._lines)
        first = min(max(index, oldest), self._next)
        return first, list(itertools.islice(self._lines, first - oldest, None))


class ConsoleLog:
    """PTD's console log: one timestamped line per event, written and flushed at once (also into
    `record`, when a daemon keeps one for `JB-Console`)."""

    def __init__(
        self, stream: TextIO, clock: Clock = time.time_ns, record: ConsoleRecord | None = None
    ) -> None:
        self._stream = stream
        self._clock = clock
        self._lock = threading.Lock()
        self.record = record

    def raw(self, lines: Iterable[str]) -> None:
        """Lines without a timestamp (the banner)."""
        self._write(list(lines))

    def log(self, message: str, at_ns: int | None = None, connection: bool = False) -> None:
        """`<time>: <message>`; `at_ns` stamps a per-sample message with the sample's time, as PTD does;
        `connection`: the line that accepts a client (where its console span starts)."""
        stamp = format_ptd_time(self._clock() if at_ns is None else at_ns)
        self._write([f"{stamp}: {message}"], connection)

    def log_many(self, messages: Sequence[tuple[int, str]]) -> None:
        """Several `(time_ns, message)` lines in one write (per-sample warnings of a chunk)."""
        if messages:
            self._write([f"{format_ptd_time(at)}: {message}" for at, message in messages])

    def _write(self, lines: list[str], connection: bool = False) -> None:
        text = "".join(line + "\n" for line in lines)
        with self._lock:
            self._stream.write(text)
            self._stream.flush()
            if self.record is not None:
                self.record.add(lines, connection)

    def end_preamble(self) -> None:
        with self._lock:
            if self.record is not None:
                self.record.end_preamble()


class DataLog:
    """The `-l` file: every sample with its mark, and NOTICE/ERROR lines. A no-op without a path."""

    def __init__(
        self, path: str | Path | None, clock: Clock = time.time_ns, layout: SampleLineLayout = DATA_LOG
    ):
        self.path = None if path is None else Path(path)
        self._clock = clock
        self._layout = layout
        self._lock = threading.Lock()
        # Binary append, unbuffered writes of whole chunks: one write per fetch, readable at once.
        self._file = None if self.path is None else self.path.open("ab", buffering=0)

    def samples(self, chunk: Trace, mark: str) -> None:
        if self._file is None or len(chunk) == 0:
            return
        payload = encode(chunk, self._layout, mark)
        with self._lock:
            self._file.write(payload)

    def notice(self, text: str) -> None:
        self._event("NOTICE", text)

    def error(self, text: str, at_ns: int | None = None) -> None:
        self._event("ERROR", text, at_ns)

    def _event(self, kind: str, text: str, at_ns: int | None = None) -> None:
        if self._file is None:
            return
        stamp = format_ptd_time(self._clock() if at_ns is None else at_ns)
        with self._lock:
            self._file.write(f"Time,{stamp},{kind},{text}\n".encode())

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


@dataclass(frozen=True)
class SampleProblemWatch:
    """What the daemon's per-sample console lines need to know of its meter."""

    model: str
    per_channel: bool
    """A multi-channel meter: each channel judged on its own (the lines then name the channel)."""
    uncertainty_limit: float
    judged_here: bool
    """The source gives per-sample uncertainty; one that does not (an upstream PTD daemon) is judged
    upstream, so an unknown uncertainty is not a problem to report here."""


def log_sample_problems(
    console: ConsoleLog, data_log: DataLog, chunk: Trace, watch: SampleProblemWatch
) -> None:
    """PTD's per-sample console lines: errors, missed samples, unknown or too-high uncertainty."""
    if len(chunk) == 0:
        return
    messages: list[tuple[int, str]] = []
    limit_pct = watch.uncertainty_limit * 100
    checked = list(enumerate(chunk.channels, start=1)) if watch.per_channel else [(0, chunk)]
    problem_rows = np.zeros(len(chunk), dtype=bool)
    for _, block in checked:
        unknown = ~np.isfinite(block.uncertainty) & watch.judged_here
        problem_rows |= (block.flags != SAMPLE_OK) | unknown | (block.uncertainty > watch.uncertainty_limit)
    for row in np.flatnonzero(problem_rows).tolist():
        at = int(chunk.time_ns[row])
        for channel, block in checked:
            flag = int(block.flags[row])
            uncertainty = float(block.uncertainty[row])
            if flag == SAMPLE_MISSED:
                messages.append((at, "WARNING: Missed 1 samples"))
            elif flag == SAMPLE_ERROR:
                messages.append((at, f"ERROR: Bad watts reading nan from {watch.model}"))
                data_log.error(f"Bad watts reading nan from {watch.model}", at)
            elif not math.isfinite(uncertainty) and watch.judged_here:
                messages.append((at, "ERROR: Can't evaluate uncertainty of this sample!"))
                messages.append(
                    (at, f"WARNING: Uncertainty unknown for the last measurement sample! channel {channel}")
                )
            elif uncertainty > watch.uncertainty_limit:
                messages.append(
                    (
                        at,
                        f"WARNING: Uncertainty {uncertainty * 100:.2f}% above {limit_pct:.2f}% "
                        "limit for the last measurement sample!",
                    )
                )
    console.log_many(messages)


def connected_lines(analyzer: Analyzer, identity: Identity) -> list[str]:
    """The console lines PTD writes once the meter is connected, before it listens."""
    model = identity.model
    if CAP_UNCERTAINTY not in identity.capabilities:
        return [f"Uncertainty checking for {model} is not available", f"Connected to {model} successfully"]
    lines = [f"Uncertainty checking for {model} is activated"]
    if not analyzer.sample_uncertainty:
        lines.append(
            f"Per-sample uncertainty of {model} is evaluated by the daemon at {analyzer.device}; its "
            "console has the per-sample lines, and its Uncertainty figures are passed on here"
        )
    return [*lines, f"Connected to {model} successfully"]


def source_summaries(analyzer: Analyzer, per_channel: bool, console: ConsoleLog) -> dict[str, str]:
    """A source's own `Watts`/`Uncertainty` lines (an upstream daemon's), kept at Stop to relay."""
    forms = ["Watts", "Uncertainty"] + (["Watts,*", "Uncertainty,*"] if per_channel else [])
    lines = {}
    for form in forms:
        try:
            line = analyzer.summary_reply(form)
        except AnalyzerError as error:
            console.log(f"ERROR: the meter's own {form} figures are not available: {error}")
            continue
        if line is not None:
            lines[form] = line
    return lines
