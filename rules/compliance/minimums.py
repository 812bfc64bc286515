"""Training and Tiny minimums: enough node readings at a sufficient rate; five tiny windows of ≥ 10 s."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rules.compliance.policy import CompliancePolicy
from rules.compliance.verdict import Check, failed, noted, passed


@dataclass(frozen=True)
class NodeReadings:
    """One node power log of one run: how many readings it holds over how long."""

    name: str
    readings: int
    window_s: float
    uncovered_s: float = 0.0
    """How much of the run (run_start to run_stop) lies before its first reading or after its last."""

    @property
    def rate_hz(self) -> float:
        return self.readings / self.window_s if self.window_s > 0 else 0.0


@dataclass(frozen=True)
class BackwardsTime:
    """A node log whose `power_reading` times go back somewhere: the first such line, and how many."""

    name: str
    line: int
    seconds: float
    count: int


def check_backwards_time(logs: Sequence[BackwardsTime], policy: CompliancePolicy) -> Check:
    """Readings out of time order: harmless where the round sorts them, a changed energy where it
    integrates in file order (MLPerf Training v4.0), so the rule set says how much it matters."""
    if not logs:
        return passed("training.time_order", "every node log's power_reading times go forward")
    first = logs[0]
    total = sum(log.count for log in logs)
    return Check(
        "training.time_order",
        policy.training.backwards_time_verdict,
        f"{first.name} line {first.line}: power_reading time goes back {first.seconds:.3f} s "
        f"({total} such reading(s) in {len(logs)} node log(s)); {policy.training.backwards_time_effect}",
    )


def check_training_readings(
    nodes: Sequence[NodeReadings], policy: CompliancePolicy, without_energy: int = 0
) -> list[Check]:
    """`without_energy`: node logs the rule set's arithmetic gives no energy for (no window to judge)."""
    rules = policy.training
    if without_energy:
        return [
            failed(
                "training.readings",
                f"{without_energy} node log(s) give no energy under {policy.ruleset}, so their readings "
                "are not judged",
            )
        ]
    if not nodes:
        return [failed("training.readings", "no node power log to judge")]
    few = [n for n in nodes if n.readings < rules.min_node_readings]
    fewest = min(nodes, key=lambda n: n.readings)
    if few:
        count = failed(
            "training.readings",
            f"{len(few)} of {len(nodes)} node logs hold under {rules.min_node_readings} readings, e.g. {few[0].name}: {few[0].readings}",
        )
    else:
        count = passed(
            "training.readings",
            f"every one of {len(nodes)} node logs holds ≥ {rules.min_node_readings} readings (fewest {fewest.readings}, {fewest.name})",
        )
    slow = [n for n in nodes if n.rate_hz < rules.min_rate_hz]
    slowest = min(nodes, key=lambda n: n.rate_hz)
    if slow:
        rate = Check(
            "training.sampling_rate",
            rules.rate_verdict,
            f"{len(slow)} of {len(nodes)} node logs read power slower than {rules.min_rate_hz:g} Hz, "
            f"slowest {slowest.name}: {slowest.rate_hz:.3f} Hz ({slowest.readings} readings in {slowest.window_s:.0f} s)",
        )
    else:
        rate = passed(
            "training.sampling_rate",
            f"every node log reads at ≥ {rules.min_rate_hz:g} Hz (slowest {slowest.rate_hz:.3f} Hz)",
        )
    return [count, rate, _coverage(nodes, rules.max_uncovered_s)]


def _coverage(nodes: Sequence[NodeReadings], limit_s: float) -> Check:
    """A node log that starts after the run or ends before it (a copy cut short) measured part of it."""
    short = [n for n in nodes if n.uncovered_s > limit_s]
    if short:
        worst = max(short, key=lambda n: n.uncovered_s)
        return failed(
            "training.coverage",
            f"{len(short)} of {len(nodes)} node logs do not cover their run: {worst.name} misses "
            f"{worst.uncovered_s:.1f} s of it (limit {limit_s:g} s); its readings end early or start late",
        )
    return passed("training.coverage", f"every node log's readings span its run (within {limit_s:g} s)")


def check_training_runs(benchmark: str, runs: int, policy: CompliancePolicy) -> Check:
    """Enough runs for the benchmark (10, or 40 for unet3d): fewer cannot give the round's Olympic mean."""
    table = policy.training.required_runs
    if not table:
        return noted("training.runs", f"{policy.ruleset} sets no required run count ({runs} runs)")
    required = int(table.get(benchmark, table.get("default", 0)))
    if runs < required:
        return failed(
            "training.runs",
            f"{runs} runs (result_*.txt) for {benchmark}, {required} required by {policy.ruleset}",
        )
    return passed("training.runs", f"{runs} runs for {benchmark} ({required} required)")


def check_tiny_windows(durations_s: Sequence[float], policy: CompliancePolicy) -> Check:
    rules = policy.tiny
    short = [(i + 1, d) for i, d in enumerate(durations_s) if d < rules.min_window_s]
    if len(durations_s) < rules.windows:
        return failed(
            "tiny.windows",
            f"{len(durations_s)} energy windows, {rules.windows} required",
        )
    if short:
        index, seconds = short[0]
        return failed(
            "tiny.windows",
            f"{len(short)} window(s) under {rules.min_window_s:g} s, e.g. window {index}: {seconds:.3f} s",
        )
    return passed(
        "tiny.windows",
        f"{len(durations_s)} windows, shortest {min(durations_s):.3f} s (≥ {rules.min_window_s:g} s each)",
    )
