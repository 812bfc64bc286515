"""The mark protocol: how a program under `power-measure` names its windows.

`power-measure` creates a FIFO and passes its path in `JOULEBENCH_MARKS`. The program writes lines

    begin NAME [@<epoch_ns>]
    end NAME [@<epoch_ns>]
    mark LABEL [@<epoch_ns>]

each ending in `\\n` and written whole (one `write` of at most 4096 bytes is atomic on a pipe, so
lines of several writers never interleave). A line without a stamp is stamped when it arrives.
From a shell: `echo "begin load" > "$JOULEBENCH_MARKS"`. From Python, `power_client.marks`
(`begin`, `end`, `mark`) or a `Monitor` write them; without the variable they do nothing.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

MARKS_ENV = "JOULEBENCH_MARKS"
KINDS = ("begin", "end", "mark")
_LINE = re.compile(r"(begin|end|mark) +(\S(?:.*?\S)?)(?: +@(\d+))?")
_MAX_LINE = 4096


class MarkLineError(ValueError):
    """A line that is not `begin|end|mark NAME [@<epoch_ns>]`; the message quotes it."""


@dataclass(frozen=True)
class MarkEvent:
    kind: str
    name: str
    time_ns: int
    stamped: bool  # False: stamped on arrival


def parse_mark_line(line: str, arrival_ns: int) -> MarkEvent:
    match = _LINE.fullmatch(line.strip())
    if match is None:
        raise MarkLineError(f"mark line {line.strip()[:80]!r} is not 'begin|end|mark NAME [@<epoch_ns>]'")
    kind, name, stamp = match.groups()
    return MarkEvent(kind, name, int(stamp) if stamp else arrival_ns, stamp is not None)


def format_mark_line(kind: str, name: str, time_ns: int | None = None) -> str:
    if kind not in KINDS:
        raise ValueError(f"a mark is one of {KINDS}, got {kind!r}")
    if not name.strip() or "\n" in name or "\r" in name:
        raise ValueError(f"a window or mark name is one non-empty line, got {name!r}")
    line = f"{kind} {name.strip()}" + (f" @{time_ns}" if time_ns is not None else "") + "\n"
    if len(line.encode()) > _MAX_LINE:
        raise ValueError(f"a mark line is at most {_MAX_LINE} bytes")
    return line


class MarkWriter:
    """Writes mark lines to the FIFO named by `JOULEBENCH_MARKS` (opened once, kept open)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY)
        self._lock = threading.Lock()

    @classmethod
    def from_environment(cls) -> MarkWriter | None:
        path = os.environ.get(MARKS_ENV)
        if not path:
            return None
        with _writers_lock:
            writer = _writers.get(path)
            if writer is None:
                writer = _writers[path] = cls(path)
            return writer

    def write(self, kind: str, name: str, time_ns: int | None = None) -> None:
        data = format_mark_line(kind, name, time_ns).encode()
        with self._lock:
            os.write(self._fd, data)


_writers: dict[str, MarkWriter] = {}
_writers_lock = threading.Lock()


def begin(name: str) -> None:
    """Open window `name` in the `power-measure` around this program (nothing without one)."""
    _write("begin", name)


def end(name: str) -> None:
    _write("end", name)


def mark(label: str) -> None:
    _write("mark", label)


def _write(kind: str, name: str) -> None:
    writer = MarkWriter.from_environment()
    if writer is not None:
        writer.write(kind, name, time.time_ns())


class MarkReader:
    """Reads the FIFO in a thread and hands each event (or each bad line's sentence) on.

    The FIFO is opened read-write, so it never reports end-of-file when a writer closes and a new
    writer can always open it without blocking."""

    def __init__(
        self, path: str, on_event: Callable[[MarkEvent], None], on_error: Callable[[str], None]
    ) -> None:
        self.path = path
        self._on_event = on_event
        self._on_error = on_error
        self._fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
        self._stop = threading.Event()
        self._pending = b""
        self._thread = threading.Thread(target=self._run, name="marks", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._fd], [], [], 0.05)
            if ready:
                self._read_available()

    def _read_available(self) -> None:
        try:
            data = os.read(self._fd, 65536)
        except BlockingIOError:
            return
        arrival = time.time_ns()
        lines = (self._pending + data).split(b"\n")
        self._pending = lines.pop()
        for raw in lines:
            if not raw.strip():
                continue
            try:
                self._on_event(parse_mark_line(raw.decode("utf-8", "replace"), arrival))
            except MarkLineError as error:
                self._on_error(str(error))

    def close(self) -> None:
        """Read what is left, then stop."""
        self._stop.set()
        self._thread.join(timeout=5)
        with contextlib.suppress(OSError):
            self._read_available()
        if self._pending.strip():
            self._on_error(f"mark line {self._pending.decode('utf-8', 'replace')[:80]!r} has no line end")
        os.close(self._fd)
