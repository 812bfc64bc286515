"""Uncertainty: PTD's per-sample above-limit warnings inside the testing window, and its `Uncertainty` summary.

The reference checker meant to flag warnings more than its tolerance inside the LoadGen window but
added the tolerance (milliseconds) to epoch seconds, so in runs under ~27 minutes no warning ever
counted. Here the tolerance is applied in milliseconds.
"""

from __future__ import annotations

import numpy as np

from analyzers.formats.units import NS_PER_MS
from rules.compliance.console_log import ConsoleLog
from rules.compliance.policy import CompliancePolicy
from rules.compliance.ptd import testing_uncertainty_reply
from rules.compliance.session_files import SessionRecord
from rules.compliance.verdict import Check, failed, passed


def check_uncertainty_warnings(
    log: ConsoleLog,
    window_ns: tuple[int, int],
    testing_phase_ns: tuple[int, int] | None,
    policy: CompliancePolicy,
) -> Check:
    margin = round(policy.phase_tolerance_ms * NS_PER_MS)
    inside = (log.time_ns > window_ns[0] + margin) & (log.time_ns < window_ns[1] - margin)
    rows = np.flatnonzero(log.uncertainty_above & inside)
    in_phase = ""
    if testing_phase_ns is not None:
        phase = (log.time_ns > testing_phase_ns[0]) & (log.time_ns < testing_phase_ns[1])
        in_phase = f" ({int(np.count_nonzero(log.uncertainty_above & phase))} in the whole testing Go…Stop)"
    if len(rows):
        return policy.judged(
            "ptd_log.uncertainty",
            "uncertainty_warning_in_testing",
            f"{len(rows)} uncertainty-above-limit warnings more than {policy.phase_tolerance_ms:g} ms inside the "
            f"LoadGen testing window{in_phase}, first {log.quote(int(rows[0]))}",
        )
    return passed(
        "ptd_log.uncertainty",
        f"no uncertainty-above-limit warning inside the LoadGen testing window{in_phase}",
    )


def check_uncertainty_summary(server: SessionRecord, policy: CompliancePolicy) -> Check:
    """PTD's `Uncertainty,<avg>,<min>,<max>,<total>,<invalid>,<valid>,<unknown>` after the testing Stop."""
    reply = testing_uncertainty_reply(server)
    if reply is None:
        return policy.judged(
            "ptd.uncertainty_summary",
            "uncertainty_summary_missing",
            f"{server.path}: no Uncertainty summary recorded after testing (the director did not ask PTD for one)",
        )
    fields = reply.split(",")
    try:
        average, _low, high = (float(v) for v in fields[1:4])
        total, invalid, valid, unknown = (int(float(v)) for v in fields[4:8])
    except ValueError:
        return failed(
            "ptd.uncertainty_summary",
            f"{server.path}: unreadable Uncertainty reply {reply!r}",
        )
    text = f"{server.path}: {reply!r}: {valid} of {total} samples with a known uncertainty, max {high:.2%}"
    if invalid or unknown or high > 0.01:
        return failed(
            "ptd.uncertainty_summary",
            f"{text}; {invalid} invalid and {unknown} unknown (uncertain samples must be 0, max ≤ 1 %)",
        )
    return passed("ptd.uncertainty_summary", f"{text} (average {average:.2%})")
