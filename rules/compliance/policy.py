"""The compliance part of a rule set (`[compliance]` in its TOML file) as typed values.

Everything a check compares against comes from here, so a round differs from another by data only.
Keys absent from a file take the defaults below, which are those of the current MLCommons checker.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rules.compliance.verdict import Check, Verdict
from rules.rulesets import Ruleset

CURRENT_ANALYZERS = {
    "YokogawaWT210": 8,
    "YokogawaWT500": 35,
    "YokogawaWT500_multichannel": 48,
    "YokogawaWT310": 49,
    "YokogawaWT310E": 49,
    "YokogawaWT330": 52,
    "YokogawaWT330E": 52,
    "YokogawaWT330_multichannel": 77,
    "YokogawaWT210_DC": 508,
    "YokogawaWT310_DC": 549,
    "YokogawaWT330_DC": 586,
}


@dataclass(frozen=True)
class TrainingMinimums:
    min_node_readings: int = 60
    min_rate_hz: float = 1.0
    rate_verdict: Verdict = Verdict.FAIL
    max_uncovered_s: float = 5.0
    """A node log may start or end this much inside its run (five readings at 1 Hz), no more."""
    # Runs a benchmark result needs, by benchmark name with `default`; empty = the rule set sets none.
    required_runs: Mapping[str, int] = field(default_factory=dict)
    # Readings whose time goes back: how much that matters depends on whether the round sorts them.
    backwards_time_verdict: Verdict = Verdict.INFO
    backwards_time_effect: str = "the readings are integrated in time order"


@dataclass(frozen=True)
class TinyMinimums:
    windows: int = 5
    min_window_s: float = 10.0


@dataclass(frozen=True)
class CompliancePolicy:
    ruleset: str
    checker_date: dt.date | None = None
    handshakes: tuple[str, ...] = ("mlcommons/power",)
    ptd_versions: tuple[str, ...] = ("1.11.1",)
    analyzers: dict[str, int] = field(default_factory=lambda: dict(CURRENT_ANALYZERS))
    phase_tolerance_ms: float = 800.0
    min_duration_s: float = 600.0
    messages_equal_length: bool = True
    sources_per_file_any_of: bool = False
    amps_range_factors: tuple[float, ...] = (1.0, 1.1)
    sampling_interval_ms: int = 1000
    duration_shorter_fraction: float = 0.5
    power_drop_fraction: float = 0.05
    max_gap_s: float = 3.0
    min_sample_fraction: float = 0.95
    max_analyzer_skew_ms: float = 500.0
    scope_note: str = ""
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    training: TrainingMinimums = TrainingMinimums()
    tiny: TinyMinimums = TinyMinimums()

    def verdict(self, name: str) -> Verdict:
        """The verdict this rule set gives to a finding whose severity differs between rule sets."""
        return self.verdicts.get(name, DEFAULT_VERDICTS[name])

    def judged(self, check_id: str, finding: str, message: str) -> Check:
        """`check_id` with this rule set's verdict for `finding` (see `verdict`)."""
        return Check(check_id, self.verdict(finding), message)


DEFAULT_VERDICTS: dict[str, Verdict] = {
    # An uncertainty-above-limit warning of PTD inside the LoadGen testing window.
    "uncertainty_warning_in_testing": Verdict.FAIL,
    # Sources found only in an allow-list entry first seen after this round's checker.
    "sources_later": Verdict.WARN,
    # Sources of a tool other than the MLCommons reference (e.g. joulebench's own director/client).
    "foreign_tool": Verdict.FAIL,
    # An analyzer model or device type outside the allow-list, or a daemon other than SPEC PTDaemon.
    "unlisted_analyzer": Verdict.FAIL,
    # -1/-2 samples inside the testing window (MLPerf drops them from the mean).
    "sentinels_in_window": Verdict.WARN,
    # No `Uncertainty` summary recorded by the director.
    "uncertainty_summary_missing": Verdict.INFO,
    # Testing average power more than `power_drop_fraction` below ranging.
    "power_drop": Verdict.FAIL,
    # Testing shorter than ranging by more than `duration_shorter_fraction`.
    "duration_shorter": Verdict.WARN,
    # A testing window under `min_duration_s`.
    "short_run": Verdict.FAIL,
}


def policy_for(ruleset: Ruleset) -> CompliancePolicy:
    data = ruleset.section("compliance")
    limits = _table(data, "limits")
    verdicts = {name: Verdict.parse(str(text)) for name, text in _table(data, "verdicts").items()}
    unknown = set(verdicts) - set(DEFAULT_VERDICTS)
    if unknown:
        raise ValueError(f"rule set {ruleset.name}: unknown verdict names {sorted(unknown)}")
    training = _table(data, "training")
    tiny = _table(data, "tiny")
    checker_date = data.get("checker_date", ruleset.published)
    defaults = CompliancePolicy(ruleset=ruleset.name)
    return CompliancePolicy(
        ruleset=ruleset.name,
        checker_date=checker_date if isinstance(checker_date, dt.date) else None,
        handshakes=tuple(data.get("handshakes", defaults.handshakes)),
        ptd_versions=tuple(data.get("ptd_versions", defaults.ptd_versions)),
        analyzers={str(k): int(v) for k, v in _table(data, "analyzers").items()} or dict(CURRENT_ANALYZERS),
        phase_tolerance_ms=float(data.get("phase_tolerance_ms", defaults.phase_tolerance_ms)),
        min_duration_s=float(data.get("min_duration_s", defaults.min_duration_s)),
        messages_equal_length=bool(data.get("messages_equal_length", defaults.messages_equal_length)),
        sources_per_file_any_of=bool(data.get("sources_per_file_any_of", False)),
        amps_range_factors=tuple(
            float(f) for f in data.get("amps_range_factors", defaults.amps_range_factors)
        ),
        sampling_interval_ms=int(data.get("sampling_interval_ms", defaults.sampling_interval_ms)),
        duration_shorter_fraction=float(
            limits.get("duration_shorter_fraction", defaults.duration_shorter_fraction)
        ),
        power_drop_fraction=float(limits.get("power_drop_fraction", defaults.power_drop_fraction)),
        max_gap_s=float(limits.get("max_gap_s", defaults.max_gap_s)),
        min_sample_fraction=float(limits.get("min_sample_fraction", defaults.min_sample_fraction)),
        max_analyzer_skew_ms=float(limits.get("max_analyzer_skew_ms", defaults.max_analyzer_skew_ms)),
        scope_note=str(data.get("scope_note", "")),
        verdicts=verdicts,
        training=TrainingMinimums(
            min_node_readings=int(training.get("min_node_readings", 60)),
            min_rate_hz=float(training.get("min_rate_hz", 1.0)),
            rate_verdict=Verdict.parse(str(training.get("rate_verdict", "FAIL"))),
            max_uncovered_s=float(training.get("max_uncovered_s", 5.0)),
            required_runs={str(k): int(v) for k, v in dict(training.get("required_runs", {})).items()},
            backwards_time_verdict=Verdict.parse(str(training.get("backwards_time_verdict", "INFO"))),
            backwards_time_effect=str(
                training.get("backwards_time_effect", TrainingMinimums.backwards_time_effect)
            ),
        ),
        tiny=TinyMinimums(
            windows=int(tiny.get("windows", 5)), min_window_s=float(tiny.get("min_window_s", 10.0))
        ),
    )


def _table(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    return value if isinstance(value, dict) else {}
