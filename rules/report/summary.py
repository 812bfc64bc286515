"""The words every page and the index use for a result: its metric, its verdicts."""

from __future__ import annotations

from rules.result import CheckResult


def metric_text(result: CheckResult) -> str:
    if result.value is None:
        return "n/a"
    text = f"{result.value:.6g} {result.unit}"
    if result.uncertainty is not None:
        text += f" ± {result.uncertainty:.2g}"
    return text


def headline(result: CheckResult) -> str:
    scenario = f"{result.scenario} " if result.scenario else ""
    return f"{result.kind} {scenario}— {metric_text(result)}"


def verdict_badges(result: CheckResult) -> list[tuple[str, str]]:
    badges = [("metric VALID", "good") if result.valid else ("metric INVALID", "bad")]
    compliant = result.compliant
    if compliant is None:
        badges.append(("compliance not judged", "neutral"))
    elif compliant:
        badges.append((f"COMPLIANT under {result.compliance_ruleset}", "good"))
    else:
        badges.append((f"NOT COMPLIANT under {result.compliance_ruleset}", "bad"))
    return badges
