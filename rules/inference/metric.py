"""The published MLPerf Inference power metric, round conventions taken from the rule set.

Offline/Server/Interactive: average watts. SingleStream/MultiStream: energy per query, J until v2.1
and mJ from v3.0; queries from `result_query_count`, or (v1.x) `result_qps_with_loadgen_overhead` ×
window. A MultiStream folder holding a SingleStream run is a result inferred from it: × 8 samples.
"""

from __future__ import annotations

from dataclasses import dataclass

from rules.inference.loadgen_log import LoadgenLog
from rules.rulesets import Ruleset

STREAM_SCENARIOS = ("SingleStream", "MultiStream")
SCENARIOS = ("SingleStream", "MultiStream", "Offline", "Server", "Interactive")
_UNIT_SCALE = {"J/query": 1.0, "mJ/query": 1000.0}
# Throughput keys per scenario, in order of preference (token keys for LLM benchmarks).
_THROUGHPUT_KEYS = {
    "Offline": (("result_tokens_per_second", "tokens/J"), ("result_samples_per_second", "samples/J")),
    "Server": (
        ("result_completed_tokens_per_second", "tokens/J"),
        ("result_scheduled_samples_per_sec", "samples/J"),
        ("result_completed_samples_per_sec", "samples/J"),
    ),
    "Interactive": (
        ("result_completed_tokens_per_second", "tokens/J"),
        ("result_scheduled_samples_per_sec", "samples/J"),
        ("result_completed_samples_per_sec", "samples/J"),
    ),
}
QPS_TIMES_WINDOW = "qps_with_loadgen_overhead_x_window"
RESULT_QUERY_COUNT = "result_query_count"


class MetricError(ValueError):
    """The metric cannot be computed; the message says which key or value is missing."""


@dataclass(frozen=True)
class InferenceConventions:
    """A rule set's `[metric]` settings for inference, read and checked once."""

    ruleset: str
    stream_unit: str = "J/query"
    """SingleStream/MultiStream unit: J/query until v2.1, mJ/query from v3.0."""
    query_count: str = RESULT_QUERY_COUNT
    """`result_query_count`, or `qps_with_loadgen_overhead_x_window` (LoadGen v1.x logged no count)."""
    multistream_samples_per_query: int = 8
    drop_non_positive_watts: bool = True

    @classmethod
    def of(cls, ruleset: Ruleset) -> InferenceConventions:
        data = ruleset.section("metric")
        conventions = cls(
            ruleset=ruleset.name,
            stream_unit=str(data.get("stream_unit", cls.stream_unit)),
            query_count=str(data.get("query_count", cls.query_count)),
            multistream_samples_per_query=int(
                data.get("multistream_samples_per_query", cls.multistream_samples_per_query)
            ),
            drop_non_positive_watts=bool(data.get("drop_non_positive_watts", True)),
        )
        problems = []
        if conventions.stream_unit not in _UNIT_SCALE:
            problems.append(f"stream_unit {conventions.stream_unit!r} is none of {', '.join(_UNIT_SCALE)}")
        if conventions.query_count not in (RESULT_QUERY_COUNT, QPS_TIMES_WINDOW):
            problems.append(
                f"query_count {conventions.query_count!r} is neither {RESULT_QUERY_COUNT} nor {QPS_TIMES_WINDOW}"
            )
        if conventions.multistream_samples_per_query < 1:
            problems.append("multistream_samples_per_query is under 1")
        if not conventions.drop_non_positive_watts:
            # Every MLPerf round drops them (the mean counts Watts > 0); keeping them is not built.
            problems.append("drop_non_positive_watts = false is not supported")
        if problems:
            raise ValueError(f"rule set {ruleset.name} [metric]: " + "; ".join(problems))
        return conventions


@dataclass(frozen=True)
class InferenceMetric:
    value: float
    unit: str
    energy_per_query_j: float | None
    queries: float | None
    query_count_method: str | None
    efficiency: float | None
    efficiency_unit: str
    notes: tuple[str, ...] = ()


def canonical_scenario(name: str) -> str | None:
    lowered = name.strip().lower()
    for scenario in SCENARIOS:
        if scenario.lower() == lowered:
            return scenario
    return None


def compute_metric(
    scenario: str, log: LoadgenLog, ruleset: Ruleset, avg_power_w: float, window_s: float
) -> InferenceMetric:
    if scenario not in STREAM_SCENARIOS:
        return _throughput_metric(scenario, log, avg_power_w)
    conventions = InferenceConventions.of(ruleset)
    unit = conventions.stream_unit
    notes: list[str] = []
    queries, method = _query_count(log, conventions.query_count, window_s, notes)
    if queries <= 0:
        raise MetricError(f"{log.path}: the query count is {queries:g}; no energy per query")
    energy_per_query_j = avg_power_w * window_s / queries
    samples_per_query = 1
    effective = canonical_scenario(str(log.get("effective_scenario", scenario)))
    if scenario == "MultiStream" and effective == "SingleStream":
        samples_per_query = conventions.multistream_samples_per_query
        energy_per_query_j *= samples_per_query
        notes.append(f"MultiStream inferred from a SingleStream run: × {samples_per_query} samples per query")
    elif scenario == "MultiStream":
        samples_per_query = int(log.get("effective_samples_per_query", 8) or 8)
    return InferenceMetric(
        value=energy_per_query_j * _UNIT_SCALE[unit],
        unit=unit,
        energy_per_query_j=energy_per_query_j,
        queries=queries,
        query_count_method=method,
        efficiency=samples_per_query / energy_per_query_j,
        efficiency_unit="samples/J",
        notes=tuple(notes),
    )


def _query_count(log: LoadgenLog, method: str, window_s: float, notes: list[str]) -> tuple[float, str]:
    count = log.get(RESULT_QUERY_COUNT)
    qps = log.get("result_qps_with_loadgen_overhead")
    if method == RESULT_QUERY_COUNT and count is None and qps is not None:
        notes.append("no result_query_count in the log (LoadGen before v2.0): queries = qps × window")
        method = QPS_TIMES_WINDOW
    if method == RESULT_QUERY_COUNT:
        if count is None:
            raise MetricError(f"{log.path}: no result_query_count and no result_qps_with_loadgen_overhead")
        return float(int(count)), method
    if qps is None:
        raise MetricError(f"{log.path}: no result_qps_with_loadgen_overhead to count queries with")
    return float(qps) * window_s, method


def _throughput_metric(scenario: str, log: LoadgenLog, avg_power_w: float) -> InferenceMetric:
    efficiency = None
    efficiency_unit = ""
    for key, unit in _THROUGHPUT_KEYS.get(scenario, ()):
        throughput = log.get(key)
        if throughput is not None:
            efficiency = float(throughput) / avg_power_w
            efficiency_unit = unit
            break
    return InferenceMetric(
        value=avg_power_w,
        unit="W",
        energy_per_query_j=None,
        queries=None,
        query_count_method=None,
        efficiency=efficiency,
        efficiency_unit=efficiency_unit,
    )
