"""The two logs PTDaemon writes: the console log (stdout, `ptd_logs.txt`) and the `-l` data log.

Console lines are `MM-DD-YYYY HH:MM:SS.mmm: <message>`; data-log lines are sample lines with
`,Mark,<mark>` (`notset` outside a measurement) plus `Time,<ts>,NOTICE|ERROR,<text>` lines. Both are
flushed line by line because the reference director reads the data log while we write it, and tees
the console into `ptd_logs.txt`. Both are thread-safe: the sampling pump and the client handler write.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TextIO

from analyzers.ptd.samples import format_time, lines_payload, sample_lines
from analyzers.trace import Trace

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


class ConsoleLog:
    """PTD's console log: one timestamped line per event, written and flushed at once."""

    def __init__(self, stream: TextIO, clock: Clock = time.time_ns) -> None:
        self._stream = stream
        self._clock = clock
        self._lock = threading.Lock()

    def raw(self, lines: Iterable[str]) -> None:
        """Lines without a timestamp (the banner)."""
        with self._lock:
            for line in lines:
                self._stream.write(line + "\n")
            self._stream.flush()

    def log(self, message: str, at_ns: int | None = None) -> None:
        """`<time>: <message>`; `at_ns` stamps a per-sample message with the sample's time, as PTD does."""
        stamp = format_time(self._clock() if at_ns is None else at_ns)
        with self._lock:
            self._stream.write(f"{stamp}: {message}\n")
            self._stream.flush()

    def log_many(self, messages: Sequence[tuple[int, str]]) -> None:
        """Several `(time_ns, message)` lines in one write (per-sample warnings of a chunk)."""
        if not messages:
            return
        text = "".join(f"{format_time(at)}: {message}\n" for at, message in messages)
        with self._lock:
            self._stream.write(text)
            self._stream.flush()


class DataLog:
    """The `-l` file: every sample with its mark, and NOTICE/ERROR lines. A no-op without a path."""

    def __init__(
        self, path: str | Path | None, clock: Clock = time.time_ns, channel_labels: Sequence[str] = ()
    ):
        self.path = None if path is None else Path(path)
        self._clock = clock
        self._labels = tuple(channel_labels)
        self._lock = threading.Lock()
        # Binary append, unbuffered writes of whole chunks: one write per fetch, readable at once.
        self._file = None if self.path is None else self.path.open("ab", buffering=0)

    def samples(self, chunk: Trace, mark: str) -> None:
        if self._file is None or len(chunk) == 0:
            return
        lines = sample_lines(chunk, with_channels=True, mark=mark, channel_labels=self._labels)
        payload = lines_payload(lines, "\n")
        with self._lock:
            self._file.write(payload)

    def notice(self, text: str) -> None:
        self._event("NOTICE", text)

    def error(self, text: str, at_ns: int | None = None) -> None:
        self._event("ERROR", text, at_ns)

    def _event(self, kind: str, text: str, at_ns: int | None = None) -> None:
        if self._file is None:
            return
        stamp = format_time(self._clock() if at_ns is None else at_ns)
        with self._lock:
            self._file.write(f"Time,{stamp},{kind},{text}\n".encode())

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
