"""What a PTD console line reports about samples, in both PTDaemon wordings.

PTD 1.9.x: `WARNING: Uncertainty 1.59% above 1.00% limit for the last measurement sample!`;
1.10+: `WARNING: Uncertainty 1.45%, which is above 1.00% limit for the last sample!`. Both count as
one sample above the uncertainty limit. Counting these while the daemon runs lets a launcher report
them without re-reading the console file.
"""

from __future__ import annotations

import re
from collections import Counter

ABOVE_LIMIT = "uncertainty_above_limit"
UNKNOWN_UNCERTAINTY = "uncertainty_unknown"
MISSED = "missed_samples"
BAD_READING = "bad_readings"
OTHER_ERROR = "other_errors"

_STAMP = r"^(?:\d\d-\d\d-\d{4} \d\d:\d\d:\d\d\.\d{3}: )?"
_PATTERNS = (
    (ABOVE_LIMIT, re.compile(_STAMP + r"WARNING: Uncertainty [\d.]+%,? (?:which is )?above [\d.]+% limit")),
    (UNKNOWN_UNCERTAINTY, re.compile(_STAMP + r"ERROR: Can't evaluate uncertainty")),
    (MISSED, re.compile(_STAMP + r"WARNING: Missed (\d+) samples?")),
    (BAD_READING, re.compile(_STAMP + r"ERROR: Bad \w+ reading")),
    (OTHER_ERROR, re.compile(_STAMP + r"ERROR: ")),
)


def classify(line: str) -> tuple[str, int] | None:
    """(what, how many) for a console line that reports a sample problem, else None."""
    for name, pattern in _PATTERNS:
        match = pattern.match(line)
        if match:
            return name, int(match.group(1)) if match.groups() else 1
    return None


class ConsoleCounts:
    """Running totals of `classify` over the lines seen so far."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    def add(self, line: str) -> None:
        found = classify(line)
        if found is not None:
            self._counts[found[0]] += found[1]

    def snapshot(self) -> dict[str, int]:
        return {name: self._counts[name] for name, _ in _PATTERNS}
