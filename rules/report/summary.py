"""The words every page and the index use for a result: its metric, its verdicts, its page's frame."""

from __future__ import annotations

from collections.abc import Sequence

from rules.compliance.verdict import Check
from rules.report.page import Figure, Page
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


def result_page(
    result: CheckResult,
    figures: list[Figure],
    facts: list[tuple[str, str]],
    other_checks: Sequence[Check] = (),
    problems: Sequence[str] = (),
    judged: bool = True,
) -> Page:
    """A result's page: its path, metric and verdicts (compliance left out when the kind is never
    judged), its errors then the page's own `problems` (what could not be plotted), its notes."""
    badges = verdict_badges(result)
    return Page(
        title=result.path,
        headline=headline(result),
        verdicts=badges if judged else badges[:1],
        facts=facts,
        figures=figures,
        other_checks=list(other_checks),
        errors=[*result.errors, *problems],
        notes=list(result.notes),
    )
