"""A rule set's inference `[metric]` settings as one typed object, checked when it is read."""

from __future__ import annotations

import dataclasses

import pytest

from rules.inference.metric import QPS_TIMES_WINDOW, RESULT_QUERY_COUNT, InferenceConventions
from rules.rulesets import all_rulesets, get_ruleset


@pytest.mark.parametrize(
    "ruleset", [r for r in all_rulesets() if r.kind in ("", "inference")], ids=lambda r: r.name
)
def test_every_installed_rule_set_reads(ruleset: object) -> None:
    conventions = InferenceConventions.of(ruleset)  # type: ignore[arg-type]
    assert conventions.stream_unit in ("J/query", "mJ/query")
    assert conventions.query_count in (RESULT_QUERY_COUNT, QPS_TIMES_WINDOW)


def test_the_rounds_differ_where_they_published_differently() -> None:
    v10 = InferenceConventions.of(get_ruleset("mlperf-inference-v1.0"))
    v30 = InferenceConventions.of(get_ruleset("mlperf-inference-v3.0"))
    assert (v10.stream_unit, v10.query_count) == ("J/query", QPS_TIMES_WINDOW)
    assert (v30.stream_unit, v30.query_count) == ("mJ/query", RESULT_QUERY_COUNT)


def test_a_setting_no_round_had_is_refused_naming_the_rule_set() -> None:
    rules = get_ruleset("mlperf-inference-v3.0")
    bent = dataclasses.replace(
        rules, data={**rules.data, "metric": {"stream_unit": "kJ/query", "drop_non_positive_watts": False}}
    )
    with pytest.raises(
        ValueError, match=r"mlperf-inference-v3.0 \[metric\]: stream_unit 'kJ/query'.*not supported"
    ):
        InferenceConventions.of(bent)
