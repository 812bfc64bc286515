"""Which MLPerf Training round judges a folder, and that round's `[metric]` settings as one typed object.

Training logs carry no rule-set key, so the round is the one whose results were published next after
the run: the earliest training rule set published on or after the first `run_start` (UTC), as inference
dates its LoadGen logs. `--ruleset` overrides it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from rules.rulesets import Ruleset, latest_ruleset, ruleset_for_date
from rules.training.integration import Integration
from rules.training.mllog import MllogEvent


@dataclass(frozen=True)
class TrainingMetric:
    """How a rule set turns power logs into the published kJ."""

    ruleset: str
    olympic_drop: Mapping[str, int]
    """Runs dropped at each end, by benchmark name with `default`."""
    integration: Integration

    @classmethod
    def of(cls, rules: Ruleset) -> TrainingMetric:
        """A rule set for every kind (joulebench, joulebench-strict) takes what it leaves out from the
        latest training round."""
        own = rules.section("metric")
        fallback = latest_ruleset("training")
        inherited = fallback.section("metric") if fallback else {}
        drops = own.get("olympic_drop", inherited.get("olympic_drop"))
        integration = own.get("power_integration", inherited.get("power_integration"))
        if not isinstance(drops, dict) or "default" not in drops or not isinstance(integration, str):
            raise ValueError(
                f"rule set {rules.name} defines no training [metric] olympic_drop and power_integration"
            )
        return cls(
            ruleset=rules.name,
            olympic_drop={str(name): int(count) for name, count in drops.items()},
            integration=Integration.parse(integration),
        )


def detect_round(run_starts: list[MllogEvent]) -> tuple[Ruleset, str]:
    """The round of the earliest `run_start`, with a note saying how it was chosen."""
    if not run_starts:
        latest = latest_ruleset("training")
        if latest is None:
            raise ValueError("no training rule set is installed")
        return latest, f"no run_start to date the runs: judged by {latest.name}, the latest round"
    earliest = min(event.time_ns for event in run_starts)
    run_date = dt.datetime.fromtimestamp(earliest / 1e9, tz=dt.timezone.utc).date()
    rules = ruleset_for_date("training", run_date)
    if rules is None:
        raise ValueError("no training rule set is installed")
    if rules.published is not None and run_date > rules.published:
        return rules, f"runs dated {run_date}, after every known round: judged by {rules.name}, the latest"
    return rules, f"runs dated {run_date}: round {rules.round} ({rules.name}, published {rules.published})"
