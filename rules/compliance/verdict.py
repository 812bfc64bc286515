"""What one compliance check says: a stable id, a verdict and one sentence of evidence."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


class Verdict(str, Enum):
    """PASS: the rule holds. INFO: it holds, or does not apply, with something worth knowing.
    WARN: worth an auditor's look, not a failure under this rule set. FAIL: the rule is broken."""

    PASS = "PASS"
    INFO = "INFO"
    WARN = "WARN"
    FAIL = "FAIL"

    @classmethod
    def parse(cls, text: str) -> Verdict:
        return cls(text.strip().upper())


@dataclass(frozen=True)
class Check:
    id: str
    verdict: Verdict
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "verdict": self.verdict.value, "message": self.message}


def compliant(checks: list[Check]) -> bool:
    """No FAIL among the checks."""
    return all(check.verdict is not Verdict.FAIL for check in checks)
