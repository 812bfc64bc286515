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


IDENTITY_CHECKS = frozenset(
    {
        "sources.client",
        "sources.server",
        "session.messages",
        "ptd.identity",
        "ptd.device_type",
        "ptd_log.uncertainty_activated",
    }
)
"""Checks only SPEC's PTDaemon binary (its version, its meter list, its console line) and the MLCommons
reference tool (its sources, its handshake) can pass: another tool fails them by design, never by fault
of its measurement (PTD_AND_MLPERF_POWER.md §5)."""


@dataclass(frozen=True)
class Check:
    id: str
    verdict: Verdict
    message: str

    @property
    def identity_only(self) -> bool:
        """A FAIL that only SPEC's PTDaemon and the reference tool can clear."""
        return self.verdict is Verdict.FAIL and self.id in IDENTITY_CHECKS

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "verdict": self.verdict.value, "message": self.message}
        if self.identity_only:
            data["identity_only"] = True
        return data


def passed(check_id: str, message: str) -> Check:
    return Check(check_id, Verdict.PASS, message)


def noted(check_id: str, message: str) -> Check:
    return Check(check_id, Verdict.INFO, message)


def warned(check_id: str, message: str) -> Check:
    return Check(check_id, Verdict.WARN, message)


def failed(check_id: str, message: str) -> Check:
    return Check(check_id, Verdict.FAIL, message)


def failing(checks: list[Check] | None) -> list[str]:
    """The ids of the FAILed checks, in order."""
    return [check.id for check in checks or [] if check.verdict is Verdict.FAIL]


def compliant(checks: list[Check]) -> bool:
    """No FAIL among the checks."""
    return all(check.verdict is not Verdict.FAIL for check in checks)
