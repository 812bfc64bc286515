"""The PTD console log (`power/ptd_logs.txt`), scanned column-wise with Arrow; and its checks.

Every line is classified at once (timestamp, ERROR, WARNING, uncertainty-above-limit, Go marks,
`Completed test`) by Arrow compute kernels; only the few lines quoted as evidence become Python
strings. Unlike the reference checker the scan never stops at the first finding: every ERROR and
WARNING is counted and the first of each kind is quoted with its line number.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.lib.stride_tricks import sliding_window_view

from analyzers.ptd_time import parse_ptd_time_matrix
from rules.compliance.verdict import Check, Verdict

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


@dataclass(frozen=True)
class ConsoleLog:
    path: str
    lines: pa.Array  # every line, line endings removed (CR, LF or CRLF)
    time_ns: np.ndarray  # per line; valid where `stamped`
    stamped: np.ndarray
    messages: pa.Array  # the text after "<timestamp>: "
    errors: np.ndarray
    warnings: np.ndarray
    uncertainty_above: np.ndarray
    _found: dict[str, np.ndarray] = field(default_factory=dict, compare=False, repr=False)
    """message -> the stamped lines that are exactly it: each checks asks for the same few."""

    def lines_saying(self, text: str) -> np.ndarray:
        rows = self._found.get(text)
        if rows is None:
            equal = np.asarray(pc.equal(self.messages, text), dtype=bool)
            rows = self._found[text] = np.flatnonzero(self.stamped & equal)
        return rows

    def first_index(self, text: str) -> int | None:
        hits = self.lines_saying(text)
        return int(hits[0]) if len(hits) else None

    def quote(self, index: int) -> str:
        return f"{self.path}:{index + 1}: {str(self.lines[index])[:160]!r}"

    def phase_ns(self, session_name: str, mode: str) -> tuple[int, int] | None:
        """Time of `Go with mark '<session>_<mode>'` and of the next `Completed test`."""
        go = self.first_index(f"Go with mark '{session_name}_{mode}'")
        if go is None:
            return None
        completed = self.lines_saying("Completed test")
        after = completed[completed >= go]
        end = int(self.time_ns[after[0]]) if len(after) else int(self.time_ns[self.stamped].max())
        return int(self.time_ns[go]), end


def read_console_log(path: str, content: bytes | None = None) -> ConsoleLog:
    """Classify every line; with `content` (the log's bytes, read by the caller) the file is not opened."""
    if content is None:
        with open(path, "rb") as file:
            content = file.read()
    data = _utf8(content)
    starts, ends = _line_spans(data)
    lines = _string_array(data, starts, ends)
    # Every line's first bytes side by side: the stamp and its ": " are checked and parsed as a matrix.
    padded = np.concatenate((data, np.zeros(_MESSAGE_START + _TAG_WIDTH, dtype=np.uint8)))
    rows = sliding_window_view(padded, _MESSAGE_START + _TAG_WIDTH)[starts]
    lengths = ends - starts
    time_ns, ok = parse_ptd_time_matrix(rows, np.full(len(starts), _STAMP_LENGTH))
    stamped = ok & (lengths >= _MESSAGE_START) & (rows[:, _STAMP_LENGTH] == ord(":"))
    stamped &= rows[:, _STAMP_LENGTH + 1] == ord(" ")
    # A line without a stamp has no message (and its bytes are not cut inside a character).
    messages = _string_array(data, np.where(stamped, starts + _MESSAGE_START, ends), ends)
    tags = rows[:, _MESSAGE_START:]
    errors = stamped & _starts_with(tags, lengths - _MESSAGE_START, b"ERROR:")
    warnings = stamped & _starts_with(tags, lengths - _MESSAGE_START, b"WARNING:")
    # The one pattern that needs a regular expression runs on the few WARNING lines only.
    uncertainty_above = np.zeros(len(starts), dtype=bool)
    warned = np.flatnonzero(warnings)
    if len(warned):
        hits = pc.match_substring_regex(messages.take(pa.array(warned)), UNCERTAINTY_ABOVE)
        uncertainty_above[warned] = np.asarray(hits, dtype=bool)
    return ConsoleLog(
        path=path,
        lines=lines,
        time_ns=time_ns,
        stamped=stamped,
        messages=messages,
        errors=errors,
        warnings=warnings,
        uncertainty_above=uncertainty_above,
    )


def _utf8(content: bytes) -> np.ndarray:
    """The log as UTF-8 bytes: undecodable bytes become U+FFFD, as a text editor shows them."""
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        content = content.decode("utf-8", errors="replace").encode("utf-8")
    return np.frombuffer(content, dtype=np.uint8)


def _line_spans(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive, line ending removed) of every line; LF, CRLF and a lone CR end one."""
    if not len(data):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    is_lf = data == 10
    raw = data.tobytes()
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


def _string_array(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    """Arrow strings over `data` (no copy of the text): string i is data[starts[i]:ends[i]]."""
    if not len(starts):
        return pa.array([], type=pa.large_string())
    # Arrow wants contiguous offsets: a string array over every span, gaps included, then every other one.
    bounds = np.empty(2 * len(starts), dtype=np.int64)
    bounds[0::2] = starts
    bounds[1::2] = ends
    spans = pa.Array.from_buffers(
        pa.large_string(), len(bounds) - 1, [None, pa.py_buffer(bounds), pa.py_buffer(data)]
    )
    return spans.take(pa.array(np.arange(0, len(bounds) - 1, 2)))


def _starts_with(tags: np.ndarray, lengths: np.ndarray, prefix: bytes) -> np.ndarray:
    width = len(prefix)
    return (lengths >= width) & (tags[:, :width] == np.frombuffer(prefix, dtype=np.uint8)).all(axis=1)


def check_uncertainty_activated(log: ConsoleLog, session_name: str) -> Check:
    # The prefix kernel first, the regular expression on the few lines it finds.
    candidates = np.flatnonzero(
        log.stamped & np.asarray(pc.starts_with(log.messages, "Uncertainty checking for "), dtype=bool)
    )
    pattern = r"^Uncertainty checking for \S+ is activated$"
    matched = pc.match_substring_regex(log.messages.take(pa.array(candidates)), pattern)
    hits = candidates[np.asarray(matched, dtype=bool)] if len(candidates) else candidates
    ranging = log.phase_ns(session_name, "ranging")
    if not len(hits):
        return Check(
            "ptd_log.uncertainty_activated",
            Verdict.FAIL,
            f"{log.path}: no 'Uncertainty checking for <model> is activated' line",
        )
    first = int(hits[0])
    if ranging is None:
        return Check(
            "ptd_log.uncertainty_activated",
            Verdict.FAIL,
            f"{log.path}: no Go with mark '{session_name}_ranging'",
        )
    if log.time_ns[first] >= ranging[0]:
        return Check(
            "ptd_log.uncertainty_activated",
            Verdict.FAIL,
            f"{log.quote(first)} comes after ranging started",
        )
    return Check("ptd_log.uncertainty_activated", Verdict.PASS, f"{log.quote(first)}, before ranging")


def check_errors(log: ConsoleLog, session_name: str) -> Check:
    """ERROR lines: in ranging the common ones are expected (autorange), others are warnings; outside
    ranging only `ERROR: USB.` is tolerated (as a warning); anything else fails."""
    ranging = log.phase_ns(session_name, "ranging")
    rows = np.flatnonzero(log.errors)
    if not len(rows):
        return Check("ptd_log.errors", Verdict.PASS, f"{log.path}: no ERROR line")
    if ranging is None:
        return Check(
            "ptd_log.errors",
            Verdict.FAIL,
            f"{log.path}: ERROR lines and no ranging Go to place them ({log.quote(int(rows[0]))})",
        )
    messages = log.messages.take(pa.array(rows))
    times = log.time_ns[rows]
    in_ranging = (times > ranging[0]) & (times < ranging[1])
    common = np.zeros(len(rows), dtype=bool)
    for prefix in COMMON_RANGING_ERRORS:
        common |= np.asarray(pc.starts_with(messages, prefix), dtype=bool)
    usb = np.asarray(pc.starts_with(messages, ACCEPTED_TESTING_ERROR), dtype=bool)
    failing = rows[~in_ranging & ~usb]
    warned = rows[(in_ranging & ~common) | (~in_ranging & usb)]
    summary = f"{len(rows)} ERROR lines ({int(in_ranging.sum())} in ranging, {int((in_ranging & common).sum())} of them the usual autorange ones)"
    if len(failing):
        return Check(
            "ptd_log.errors",
            Verdict.FAIL,
            f"{summary}; {len(failing)} outside ranging, first {log.quote(int(failing[0]))}",
        )
    if len(warned):
        return Check(
            "ptd_log.errors",
            Verdict.WARN,
            f"{summary}; {len(warned)} accepted as warnings (uncommon in ranging or 'USB.'), first {log.quote(int(warned[0]))}",
        )
    return Check("ptd_log.errors", Verdict.PASS, f"{log.path}: {summary}; none outside ranging")


def check_warnings(log: ConsoleLog, window_ns: tuple[int, int]) -> Check:
    """WARNING lines other than uncertainty-above-limit inside the LoadGen testing window (auditor's look)."""
    inside = (log.time_ns > window_ns[0]) & (log.time_ns < window_ns[1])
    rows = np.flatnonzero(log.warnings & ~log.uncertainty_above & inside)
    if len(rows):
        return Check(
            "ptd_log.warnings",
            Verdict.WARN,
            f"{len(rows)} PTD WARNING line(s) inside the testing window, first {log.quote(int(rows[0]))}",
        )
    return Check(
        "ptd_log.warnings", Verdict.PASS, f"{log.path}: no other PTD WARNING inside the testing window"
    )
