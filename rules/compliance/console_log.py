"""The PTD console log (`power/ptd_logs.txt`), scanned from its bytes; and its checks.

Every line is classified at once (timestamp, ERROR, WARNING) by numpy on a matrix of each line's first
bytes; only the lines a check must read further (WARNING lines for the uncertainty pattern, the few
candidates for a Go mark or `Completed test`, those quoted as evidence) become strings. Unlike the
reference checker the scan never stops at the first finding: every ERROR and WARNING is counted
and the first of each kind is quoted with its line number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.lib.stride_tricks import sliding_window_view

from analyzers.formats.ptd_time import parse_ptd_time_matrix
from rules.compliance.verdict import Check, failed, passed, warned

_STAMP_LENGTH = 23  # MM-DD-YYYY HH:MM:SS.fff, then ": "
_MESSAGE_START = _STAMP_LENGTH + 2
_TAG_WIDTH = 8  # the longest tag a line is classified by, "WARNING:"
# Both PTD wordings: 1.10+ "Uncertainty 1.45%, which is above 1.00% limit for the last sample!" and
# 1.9.x "Uncertainty 1.59% above 1.00% limit for the last measurement sample!" (the reference's pattern
# matches only the first).
UNCERTAINTY_ABOVE = r"^WARNING: Uncertainty \d+(\.\d+)?%,? (which is )?above \d+(\.\d+)?% limit"
COMMON_RANGING_ERRORS = (
    "ERROR: Can't evaluate uncertainty of this sample!",
    "ERROR: Bad watts reading nan from ",
    "ERROR: Bad amps reading nan from ",
    "ERROR: Bad pf reading nan from ",
    "ERROR: Bad volts reading nan from ",
)
ACCEPTED_TESTING_ERROR = "ERROR: USB."
# re.ASCII: \S as RE2 reads it.
_ACTIVATED = re.compile(r"Uncertainty checking for \S+ is activated$", re.ASCII)


@dataclass(frozen=True)
class ConsoleLog:
    path: str
    data: bytes
    """The log as UTF-8 (undecodable bytes replaced); line i is data[starts[i]:ends[i]]."""
    starts: np.ndarray
    ends: np.ndarray  # line endings (CR, LF or CRLF) excluded
    time_ns: np.ndarray  # per line; valid where `stamped`
    stamped: np.ndarray
    errors: np.ndarray
    warnings: np.ndarray
    uncertainty_above: np.ndarray
    _tags: np.ndarray = field(compare=False, repr=False)
    """The first `_TAG_WIDTH` bytes of each message, a row per line: a cheap first filter."""
    _found: dict[str, np.ndarray] = field(default_factory=dict, compare=False, repr=False)
    """message -> the stamped lines that are exactly it: each check asks for the same few."""

    @property
    def line_count(self) -> int:
        return len(self.starts)

    def line(self, index: int) -> str:
        return self.data[self.starts[index] : self.ends[index]].decode("utf-8")

    def message(self, index: int) -> str:
        """The text after `<timestamp>: ` of a stamped line."""
        return self.data[self.starts[index] + _MESSAGE_START : self.ends[index]].decode("utf-8")

    def lines_saying(self, text: str) -> np.ndarray:
        rows = self._found.get(text)
        if rows is None:
            rows = self._found[text] = np.asarray(
                [row for row in self._candidates(text, exact=True) if self.message(row) == text],
                dtype=np.int64,
            )
        return rows

    def lines_starting(self, prefix: str) -> np.ndarray:
        return np.asarray(
            [row for row in self._candidates(prefix, exact=False) if self.message(row).startswith(prefix)],
            dtype=np.int64,
        )

    def messages_of(self, rows: np.ndarray) -> pa.Array:
        """The messages of many stamped lines as one Arrow array, for a kernel to scan at once."""
        return _arrow_strings(self.data, self.starts[rows] + _MESSAGE_START, self.ends[rows])

    def first_index(self, text: str) -> int | None:
        hits = self.lines_saying(text)
        return int(hits[0]) if len(hits) else None

    def quote(self, index: int) -> str:
        return f"{self.path}:{index + 1}: {self.line(index)[:160]!r}"

    def phase_ns(self, session_name: str, mode: str) -> tuple[int, int] | None:
        """Time of `Go with mark '<session>_<mode>'` and of the next `Completed test`."""
        go = self.first_index(f"Go with mark '{session_name}_{mode}'")
        if go is None:
            return None
        completed = self.lines_saying("Completed test")
        after = completed[completed >= go]
        end = int(self.time_ns[after[0]]) if len(after) else int(self.time_ns[self.stamped].max())
        return int(self.time_ns[go]), end

    def _candidates(self, text: str, exact: bool) -> list[int]:
        """Stamped lines whose length and first bytes allow `text`; Python compares only these."""
        encoded = text.encode("utf-8")
        lengths = self.ends - self.starts - _MESSAGE_START
        keep = self.stamped & ((lengths == len(encoded)) if exact else (lengths >= len(encoded)))
        keep &= _starts_with(self._tags, lengths, encoded[:_TAG_WIDTH])
        return [int(row) for row in np.flatnonzero(keep)]


def read_console_log(path: str, content: bytes | None = None) -> ConsoleLog:
    """Classify every line; with `content` (the log's bytes, read by the caller) the file is not opened."""
    if content is None:
        with open(path, "rb") as file:
            content = file.read()
    text = _utf8(content)
    data = np.frombuffer(text, dtype=np.uint8)
    starts, ends = _line_spans(data, text)
    # Every line's first bytes side by side: the stamp and its ": " are checked and parsed as a matrix.
    padded = np.concatenate((data, np.zeros(_MESSAGE_START + _TAG_WIDTH, dtype=np.uint8)))
    rows = sliding_window_view(padded, _MESSAGE_START + _TAG_WIDTH)[starts]
    lengths = ends - starts
    time_ns, ok = parse_ptd_time_matrix(rows, np.full(len(starts), _STAMP_LENGTH))
    stamped = ok & (lengths >= _MESSAGE_START) & (rows[:, _STAMP_LENGTH] == ord(":"))
    stamped &= rows[:, _STAMP_LENGTH + 1] == ord(" ")
    tags = rows[:, _MESSAGE_START:]
    errors = stamped & _starts_with(tags, lengths - _MESSAGE_START, b"ERROR:")
    warnings = stamped & _starts_with(tags, lengths - _MESSAGE_START, b"WARNING:")
    # The one pattern that needs a regular expression runs on the WARNING lines only (at once: a log
    # can hold one per sample).
    uncertainty_above = np.zeros(len(starts), dtype=bool)
    with_warning = np.flatnonzero(warnings)
    if len(with_warning):
        found = pc.match_substring_regex(
            _arrow_strings(text, starts[with_warning] + _MESSAGE_START, ends[with_warning]), UNCERTAINTY_ABOVE
        )
        uncertainty_above[with_warning] = np.asarray(found, dtype=bool)
    return ConsoleLog(
        path=path,
        data=text,
        starts=starts,
        ends=ends,
        time_ns=time_ns,
        stamped=stamped,
        errors=errors,
        warnings=warnings,
        uncertainty_above=uncertainty_above,
        _tags=tags,
    )


def _utf8(content: bytes) -> bytes:
    """The log as UTF-8 bytes: undecodable bytes become U+FFFD, as a text editor shows them."""
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        content = content.decode("utf-8", errors="replace").encode("utf-8")
    return content


def _line_spans(data: np.ndarray, raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive, line ending removed) of every line; LF, CRLF and a lone CR end one."""
    if not len(data):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    is_lf = data == 10
    carriage_returns = raw.count(b"\r")
    if carriage_returns and carriage_returns != raw.count(b"\r\n"):
        # A lone CR ends a line too (old Mac files, a copy gone wrong): the rare, slower path.
        is_cr = data == 13
        is_lf = is_lf | (is_cr & ~np.concatenate((is_lf[1:], [False])))
    breaks = np.flatnonzero(is_lf)
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks, [len(data)]))
    if starts[-1] == len(data):
        starts, ends = starts[:-1], ends[:-1]  # a final line ending opens no line
    if carriage_returns:
        at_lf = (ends < len(data)) & (data[np.minimum(ends, len(data) - 1)] == 10)
        ends = ends - (at_lf & (ends > starts) & (data[np.maximum(ends - 1, 0)] == 13))
    return starts, ends


def _arrow_strings(data: bytes, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    """Arrow strings data[starts[i]:ends[i]]: one array over every span and the gaps between, then
    every other one (Arrow wants contiguous offsets)."""
    if not len(starts):
        return pa.array([], type=pa.large_string())
    bounds = np.empty(2 * len(starts), dtype=np.int64)
    bounds[0::2] = starts
    bounds[1::2] = ends
    # A gap runs backwards only between unsorted rows; the callers pass rows in line order.
    spans = pa.Array.from_buffers(
        pa.large_string(), len(bounds) - 1, [None, pa.py_buffer(bounds), pa.py_buffer(data)]
    )
    return spans.take(pa.array(np.arange(0, len(bounds) - 1, 2)))


def _starts_with(tags: np.ndarray, lengths: np.ndarray, prefix: bytes) -> np.ndarray:
    width = len(prefix)
    return (lengths >= width) & (tags[:, :width] == np.frombuffer(prefix, dtype=np.uint8)).all(axis=1)


def check_uncertainty_activated(log: ConsoleLog, session_name: str) -> Check:
    hits = [
        row for row in log.lines_starting("Uncertainty checking for ") if _ACTIVATED.match(log.message(row))
    ]
    ranging = log.phase_ns(session_name, "ranging")
    if not len(hits):
        return failed(
            "ptd_log.uncertainty_activated",
            f"{log.path}: no 'Uncertainty checking for <model> is activated' line",
        )
    first = int(hits[0])
    if ranging is None:
        return failed(
            "ptd_log.uncertainty_activated",
            f"{log.path}: no Go with mark '{session_name}_ranging'",
        )
    if log.time_ns[first] >= ranging[0]:
        return failed(
            "ptd_log.uncertainty_activated",
            f"{log.quote(first)} comes after ranging started",
        )
    return passed("ptd_log.uncertainty_activated", f"{log.quote(first)}, before ranging")


def check_errors(log: ConsoleLog, session_name: str) -> Check:
    """ERROR lines: in ranging the common ones are expected (autorange), others are warnings; outside
    ranging only `ERROR: USB.` is tolerated (as a warning); anything else fails."""
    ranging = log.phase_ns(session_name, "ranging")
    rows = np.flatnonzero(log.errors)
    if not len(rows):
        return passed("ptd_log.errors", f"{log.path}: no ERROR line")
    if ranging is None:
        return failed(
            "ptd_log.errors",
            f"{log.path}: ERROR lines and no ranging Go to place them ({log.quote(int(rows[0]))})",
        )
    messages = log.messages_of(rows)
    times = log.time_ns[rows]
    in_ranging = (times > ranging[0]) & (times < ranging[1])
    common = np.zeros(len(rows), dtype=bool)
    for prefix in COMMON_RANGING_ERRORS:
        common |= np.asarray(pc.starts_with(messages, prefix), dtype=bool)
    usb = np.asarray(pc.starts_with(messages, ACCEPTED_TESTING_ERROR), dtype=bool)
    failing = rows[~in_ranging & ~usb]
    accepted = rows[(in_ranging & ~common) | (~in_ranging & usb)]
    summary = f"{len(rows)} ERROR lines ({int(in_ranging.sum())} in ranging, {int((in_ranging & common).sum())} of them the usual autorange ones)"
    if len(failing):
        return failed(
            "ptd_log.errors",
            f"{summary}; {len(failing)} outside ranging, first {log.quote(int(failing[0]))}",
        )
    if len(accepted):
        return warned(
            "ptd_log.errors",
            f"{summary}; {len(accepted)} accepted as warnings (uncommon in ranging or 'USB.'), first {log.quote(int(accepted[0]))}",
        )
    return passed("ptd_log.errors", f"{log.path}: {summary}; none outside ranging")


def check_warnings(log: ConsoleLog, window_ns: tuple[int, int]) -> Check:
    """WARNING lines other than uncertainty-above-limit inside the LoadGen testing window (auditor's look)."""
    inside = (log.time_ns > window_ns[0]) & (log.time_ns < window_ns[1])
    rows = np.flatnonzero(log.warnings & ~log.uncertainty_above & inside)
    if len(rows):
        return warned(
            "ptd_log.warnings",
            f"{len(rows)} PTD WARNING line(s) inside the testing window, first {log.quote(int(rows[0]))}",
        )
    return passed("ptd_log.warnings", f"{log.path}: no other PTD WARNING inside the testing window")
