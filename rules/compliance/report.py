"""The readable compliance report of one result: counts per verdict, then every non-PASS check and why."""

from __future__ import annotations

from collections import Counter

from rules.compliance.verdict import Check, Verdict, failing

_ORDER = (Verdict.FAIL, Verdict.WARN, Verdict.INFO, Verdict.PASS)
IDENTITY_MARK = " [only SPEC PTDaemon and the MLCommons reference tool can clear this]"


def report_lines(checks: list[Check] | None, ruleset: str, verbose: bool = False) -> list[str]:
    """Indented lines for the human output; PASS checks are listed only when `verbose`."""
    if checks is None:
        return ["   compliance: not judged (no power/ folder)"]
    counts = Counter(check.verdict for check in checks)
    verdict = "COMPLIANT" if not counts[Verdict.FAIL] else "NOT COMPLIANT"
    tally = ", ".join(f"{counts[v]} {v.value}" for v in _ORDER if counts[v])
    head = f"   compliance under {ruleset}: {verdict} ({tally})"
    if counts[Verdict.FAIL]:
        head += f"; failing: {', '.join(failing(checks))}"
    lines = [head]
    for wanted in _ORDER:
        if wanted is Verdict.PASS and not verbose:
            break
        lines += [
            f"     {check.verdict.value:4} {check.id}: {check.message}"
            + (IDENTITY_MARK if check.identity_only else "")
            for check in checks
            if check.verdict is wanted
        ]
    return lines
