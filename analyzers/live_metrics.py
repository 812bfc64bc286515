"""Prometheus families for sources' `LiveCounters` views: one definition for the director and the daemon.

joulebench_analyzer_watts{analyzer, channel}          last valid reading; channel "total" or "1".."n"
joulebench_analyzer_last_reading_timestamp_seconds{analyzer}
joulebench_analyzer_samples_total{analyzer}           samples recorded
joulebench_analyzer_samples_flagged_total{analyzer}   PTD -1 (the meter reported an error)
joulebench_analyzer_samples_lost_total{analyzer}      PTD -2 (the meter missed the sample)
joulebench_analyzer_stalls_total{analyzer}            no sample for the stall limit while measuring
joulebench_analyzer_errors_total{analyzer}            other faults (PTD errors, a daemon that exited, ...)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from analyzers.live_counters import LiveView

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
COUNTER_FAMILIES = {
    "samples": ("joulebench_analyzer_samples", "Samples recorded"),
    "flagged": ("joulebench_analyzer_samples_flagged", "Samples the meter flagged as errors (PTD -1)"),
    "lost": ("joulebench_analyzer_samples_lost", "Samples the meter missed (PTD -2)"),
    "stalls": ("joulebench_analyzer_stalls", "Times the analyzer delivered nothing while measuring"),
    "errors": ("joulebench_analyzer_errors", "Analyzer faults other than stalls (PTD errors, exits)"),
}


def analyzer_families(views: Iterable[tuple[str, LiveView]]) -> Iterator[Metric]:
    watts = GaugeMetricFamily(
        "joulebench_analyzer_watts", "Last valid reading (W)", labels=["analyzer", "channel"]
    )
    last = GaugeMetricFamily(
        "joulebench_analyzer_last_reading_timestamp_seconds",
        "UTC time of the last valid reading",
        labels=["analyzer"],
    )
    counters = {
        key: CounterMetricFamily(name, text, labels=["analyzer"])
        for key, (name, text) in COUNTER_FAMILIES.items()
    }
    for name, view in views:
        if view.watts is not None:
            watts.add_metric([name, "total"], view.watts)
        for index, value in enumerate(view.channel_watts, start=1):
            if value is not None:
                watts.add_metric([name, str(index)], value)
        if view.last_reading_ns is not None:
            last.add_metric([name], view.last_reading_ns / 1e9)
        for key, family in counters.items():
            family.add_metric([name], getattr(view, key))
    yield watts
    yield last
    yield from counters.values()


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
