"""The PTD console log (`power/ptd_logs.txt`), scanned column-wise with Arrow; and its checks.

Every line is classified at once (timestamp, ERROR, WARNING, uncertainty-above-limit, Go marks,
`Completed test`) by Arrow compute kernels; only the few lines quoted as evidence become Python
strings. Unlike the reference checker the scan never stops at the first finding: every ERROR and
WARNING is counted and the first of each kind is quoted with its line number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzers.ptd_time import parse_ptd_times
from rules.compliance.verdict import Check, Verdict

_STAMP = r"^\d\d-\d\d-\d\d\d\d \d\d:\d\d:\d\d\.\d\d\d: "
_STAMP_LENGTH = 23
_MESSAGE_START = _STAMP_LENGTH + 2
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

    def first_index(self, text: str) -> int | None:
        hits = np.flatnonzero(self.stamped & np.asarray(pc.equal(self.messages, text).fill_null(False)))
        return int(hits[0]) if len(hits) else None

    def quote(self, index: int) -> str:
        return f"{self.path}:{index + 1}: {str(self.lines[index])[:160]!r}"

    def phase_ns(self, session_name: str, mode: str) -> tuple[int, int] | None:
        """Time of `Go with mark '<session>_<mode>'` and of the next `Completed test`."""
        go = self.first_index(f"Go with mark '{session_name}_{mode}'")
        if go is None:
            return None
        completed = self.stamped & np.asarray(pc.equal(self.messages, "Completed test").fill_null(False))
        after = np.flatnonzero(completed[go:])
        end = int(self.time_ns[go + after[0]]) if len(after) else int(self.time_ns[self.stamped].max())
        return int(self.time_ns[go]), end


def read_console_log(path: str) -> ConsoleLog:
    with open(path, "rb") as file:
        text = file.read().decode("utf-8", errors="replace")
    lines = pa.array(text.splitlines(), type=pa.large_string())
    stamped = np.asarray(pc.match_substring_regex(lines, _STAMP).fill_null(False), dtype=bool)
    time_ns, ok = parse_ptd_times(pc.utf8_slice_codeunits(lines, 0, _STAMP_LENGTH))
    stamped &= ok
    messages = pc.utf8_slice_codeunits(lines, _MESSAGE_START, 1 << 30)

    def mask(kernel: pa.Array) -> np.ndarray:
        return stamped & np.asarray(kernel.fill_null(False), dtype=bool)

    return ConsoleLog(
        path=path,
        lines=lines,
        time_ns=time_ns,
        stamped=stamped,
        messages=messages,
        errors=mask(pc.starts_with(messages, "ERROR:")),
        warnings=mask(pc.starts_with(messages, "WARNING:")),
        uncertainty_above=mask(pc.match_substring_regex(messages, UNCERTAINTY_ABOVE)),
    )


def check_uncertainty_activated(log: ConsoleLog, session_name: str) -> Check:
    activated = log.stamped & np.asarray(
        pc.match_substring_regex(log.messages, r"^Uncertainty checking for \S+ is activated$").fill_null(
            False
        )
    )
    ranging = log.phase_ns(session_name, "ranging")
    hits = np.flatnonzero(activated)
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
        common |= np.asarray(pc.starts_with(messages, prefix).fill_null(False), dtype=bool)
    usb = np.asarray(pc.starts_with(messages, ACCEPTED_TESTING_ERROR).fill_null(False), dtype=bool)
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
