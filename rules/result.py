"""What every kind of check returns, and the fields the CLI prints for all kinds alike."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from rules.compliance.verdict import Check, Verdict, failing


@dataclass
class CheckResult:
    """One result (an inference scenario, a training benchmark, a tiny energy run).

    `value`/`unit` are the metric as MLPerf published it for that kind and round. Subclasses add their
    own fields and extend `to_json`; `valid` is False when the metric cannot be computed or the logs
    say the run was invalid, and `errors` then holds one sentence per reason.
    """

    path: str
    kind: str
    value: float | None
    unit: str
    valid: bool
    scenario: str = ""
    uncertainty: float | None = None
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checks: list[Check] | None = None
    """Compliance checks under `compliance_ruleset`; None when the folder was not judged (no power/ records)."""
    compliance_ruleset: str = ""

    @property
    def compliant(self) -> bool | None:
        """True when no check FAILed, None when compliance was not judged."""
        if self.checks is None:
            return None
        return all(check.verdict is not Verdict.FAIL for check in self.checks)

    def _figures(self) -> dict[str, Any]:
        """What the JSON and the CSV row both start with: which result, its value and validity."""
        return {
            "path": self.path,
            "kind": self.kind,
            "scenario": self.scenario,
            "value": self.value,
            "unit": self.unit,
            "uncertainty": self.uncertainty,
            "valid": self.valid,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            **self._figures(),
            "errors": list(self.errors),
            "notes": list(self.notes),
            "compliant": self.compliant,
            "compliance_ruleset": self.compliance_ruleset or None,
            "failing_checks": failing(self.checks),
            "checks": [check.to_json() for check in self.checks or []],
        }

    def csv_row(self) -> dict[str, Any]:
        return {
            **self._figures(),
            "errors": " | ".join(self.errors),
            "compliant": "" if self.compliant is None else self.compliant,
            "compliance_ruleset": self.compliance_ruleset,
            "failing_checks": " ".join(failing(self.checks)),
        }

    def detail_lines(self) -> list[str]:
        """Lines the human output prints under the summary (a kind's own table); none by default."""
        return []

    def summary_line(self) -> str:
        value = "n/a" if self.value is None else f"{self.value:.10g} {self.unit}"
        if self.uncertainty is not None and self.value is not None:
            value += f" ± {self.uncertainty:.2g}"
        verdict = "metric VALID" if self.valid else "metric INVALID"
        scenario = f" {self.scenario}" if self.scenario else ""
        line = f"{self.path}: {self.kind}{scenario} {value} [{verdict}]"
        if self.errors:
            line += " — " + "; ".join(self.errors)
        return line


CSV_COLUMNS = (
    "path",
    "kind",
    "scenario",
    "value",
    "unit",
    "uncertainty",
    "valid",
    "errors",
    "compliant",
    "compliance_ruleset",
    "failing_checks",
)


def json_safe(value: Any) -> Any:
    """`value` with every non-finite float as None, so the JSON written is JSON (no NaN, no Infinity)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value
