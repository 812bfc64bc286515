"""Rule sets as data: one TOML file per rule set under `rules/rulesets/`, loaded and looked up here."""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


class UnknownRulesetError(ValueError):
    """No rule set of that name; the message lists the known ones."""


@dataclass(frozen=True)
class Ruleset:
    name: str
    kind: str
    round: str
    published: dt.date | None
    data: dict[str, Any]

    def section(self, name: str) -> dict[str, Any]:
        value = self.data.get(name, {})
        return value if isinstance(value, dict) else {}


@cache
def all_rulesets() -> tuple[Ruleset, ...]:
    """Every rule set shipped with joulebench, sorted by kind then publication date.

    A rule set with an empty `kind` (joulebench, joulebench-strict) applies to every kind and is never
    chosen by date: `joulebench` is detected for folders joulebench made, both can be named with
    `--ruleset`.
    """
    found = []
    for entry in resources.files("rules").joinpath("rulesets").iterdir():
        if not entry.name.endswith(".toml"):
            continue
        data = tomllib.loads(entry.read_text(encoding="utf-8"))
        published = data.get("published")
        found.append(
            Ruleset(
                name=str(data["name"]),
                kind=str(data.get("kind", "")),
                round=str(data.get("round", "")),
                published=published if isinstance(published, dt.date) else None,
                data=data,
            )
        )
    return tuple(sorted(found, key=lambda r: (r.kind, r.published or dt.date.max, r.name)))


JOULEBENCH_RULESET = "joulebench"
"""Detected for folders joulebench made: measurement soundness, without submission minimums."""
ALIASES = {"joulebench-demo": JOULEBENCH_RULESET}
"""Earlier names that still select a rule set."""


def get_ruleset(name: str) -> Ruleset:
    name = ALIASES.get(name, name)
    for ruleset in all_rulesets():
        if ruleset.name == name:
            return ruleset
    known = ", ".join(r.name for r in all_rulesets())
    raise UnknownRulesetError(f"unknown rule set {name!r}; known: {known}")


def latest_ruleset(kind: str) -> Ruleset | None:
    """The most recently published rule set of `kind` (what a folder without a run date is judged by)."""
    dated = [r for r in all_rulesets() if r.kind == kind and r.published is not None]
    return dated[-1] if dated else None


def ruleset_for_date(kind: str, run_date: dt.date) -> Ruleset | None:
    """The earliest published round of `kind` whose publication is on or after `run_date`."""
    candidates = [r for r in all_rulesets() if r.kind == kind and r.published is not None]
    for ruleset in candidates:
        assert ruleset.published is not None
        if run_date <= ruleset.published:
            return ruleset
    return candidates[-1] if candidates else None
