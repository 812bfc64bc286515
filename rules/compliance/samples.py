"""Sample accounting inside the testing window: count vs expected, longest gap, sentinels, order, analyzers.

None of these is checked by the reference checker; each catches a log that averages to a plausible
number while missing part of the run.
"""

from __future__ import annotations

import numpy as np

from analyzers.trace import Trace
from rules.compliance.policy import CompliancePolicy
from rules.compliance.verdict import Check, failed, passed
from rules.window import WindowStats, whole_samples_due


def check_count(stats: WindowStats, where: str, policy: CompliancePolicy) -> Check:
    # Expected from the rule set's nominal interval (a log with holes would shrink a measured median).
    expected = stats.window_s / (policy.sampling_interval_ms / 1000)
    # Judged against the whole samples a meter on time is sure to place inside (the metric's rule too).
    due = whole_samples_due(stats.window_s, policy.sampling_interval_ms)
    fraction = stats.samples / due if due > 0 else 0.0
    text = f"{where}: {stats.samples} samples in the {stats.window_s:.3f} s window, {expected:.1f} expected at {policy.sampling_interval_ms} ms"
    if fraction < policy.min_sample_fraction:
        return failed(
            "samples.count",
            f"{text} ({fraction:.1%}, under the {policy.min_sample_fraction:.0%} required)",
        )
    return passed("samples.count", f"{text} ({fraction:.1%})")


def check_gap(stats: WindowStats, where: str, policy: CompliancePolicy) -> Check:
    gap = stats.longest_gap_s
    if gap is None:
        return failed("samples.gap", f"{where}: no window to measure gaps in")
    if gap > policy.max_gap_s:
        return failed(
            "samples.gap",
            f"{where}: the longest stretch without a counted sample in the window is {gap:.3f} s (limit {policy.max_gap_s:g} s)",
        )
    return passed("samples.gap", f"{where}: longest gap {gap:.3f} s (limit {policy.max_gap_s:g} s)")


def check_sentinels(stats: WindowStats, where: str, policy: CompliancePolicy) -> Check:
    count = stats.sentinel_errors + stats.sentinel_missed + stats.non_positive
    if count:
        return policy.judged(
            "samples.sentinels",
            "sentinels_in_window",
            f"{where}: {stats.sentinel_errors} error (-1), {stats.sentinel_missed} missed (-2) and "
            f"{stats.non_positive} zero, negative, infinite or implausible samples inside the window (dropped from the MLPerf mean)",
        )
    return passed("samples.sentinels", f"{where}: no -1/-2 sentinel inside the window")


def check_monotonic(traces: dict[str, Trace]) -> Check:
    problems = []
    for where, trace in traces.items():
        backwards = np.flatnonzero(np.diff(trace.time_ns) < 0)
        if len(backwards):
            problems.append(
                f"{where}: {len(backwards)} sample(s) earlier than the one before (first after sample {int(backwards[0]) + 1})"
            )
    if problems:
        return failed("samples.monotonic", "; ".join(problems))
    return passed("samples.monotonic", f"timestamps never go backwards in {', '.join(traces)}")


def check_analyzers(merged: bool, skew_ns: int, where: str, policy: CompliancePolicy) -> Check:
    """Merged multi-analyzer lines: the reference pairs them by index; their own timestamps must agree."""
    if not merged:
        return passed("samples.analyzers", f"{where}: one analyzer, nothing to align")
    skew_ms = skew_ns / 1e6
    if skew_ms > policy.max_analyzer_skew_ms:
        return failed(
            "samples.analyzers",
            f"{where}: analyzer timestamps on one merged line differ by up to {skew_ms:.1f} ms "
            f"(limit {policy.max_analyzer_skew_ms:g} ms): samples paired by index, not time",
        )
    return passed("samples.analyzers", f"{where}: merged analyzers agree within {skew_ms:.1f} ms")
