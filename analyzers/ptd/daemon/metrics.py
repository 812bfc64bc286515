"""`power-analyzer serve --metrics-port N`: the daemon's driver in Prometheus' text format.

Served by `prometheus_client`'s own HTTP server on the daemon's `--host` (127.0.0.1 by default;
like PTD itself it has no authentication, so exposing it is the operator's decision), from a
registry of its own. Families: `analyzers.live_metrics`' for the served driver (labelled with the
source's label), and `joulebench_ptd_measuring` (1 while a client's measurement runs).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from analyzers.errors import AnalyzerError
from analyzers.live_metrics import analyzer_families
from analyzers.ptd.daemon.handler import PtdCommandHandler


class DaemonCollector(Collector):
    def __init__(self, session: PtdCommandHandler, label: str) -> None:
        self.session = session
        self.label = label

    def collect(self) -> Iterator[Metric]:
        yield from analyzer_families([(self.label, self.session.live.view())])
        measuring = GaugeMetricFamily(
            "joulebench_ptd_measuring", "1 while a PTD measurement runs", labels=["analyzer"]
        )
        measuring.add_metric([self.label], 1 if self.session.measuring else 0)
        yield measuring


def serve_metrics(session: PtdCommandHandler, label: str, host: str, port: int) -> Any:
    """Start the metrics endpoint (a daemon thread); AnalyzerError when the port cannot be had."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DaemonCollector(session, label))
    try:
        server, _thread = start_http_server(port, addr=host, registry=registry)
    except OSError as error:
        raise AnalyzerError(
            f"{host}:{port}", f"cannot serve /metrics: {error.strerror or error}", "is the port in use?"
        ) from error
    return server
