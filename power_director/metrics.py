"""`/metrics`: the director's live figures in Prometheus' text format (`prometheus_client`).

A collector reads the analyzers' `LiveCounters` and the sessions at scrape time, into a registry of
the app's own (no process-global state: two directors in one process, as the tests run them, do not
mix). The analyzer families are `analyzers.live_metrics`' (the daemon's too); the director adds:

    joulebench_session_state{session, state}          1 for the session's state (recent sessions)
    joulebench_session_clock_offset_seconds{session}  director − client clock, as the client last measured
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from analyzers.live_metrics import analyzer_families
from power_director.dashboard_state import RECENT_SESSIONS

if TYPE_CHECKING:
    from power_director.director import Director


class DirectorCollector(Collector):
    def __init__(self, director: Director) -> None:
        self.director = director

    def collect(self) -> Iterator[Metric]:
        yield from analyzer_families((i.name, i.live.view()) for i in self.director.instruments)
        state = GaugeMetricFamily(
            "joulebench_session_state", "1 for each session's state", labels=["session", "state"]
        )
        offset = GaugeMetricFamily(
            "joulebench_session_clock_offset_seconds",
            "Director clock minus client clock, as the client measured it",
            labels=["session"],
        )
        for info in self.director.session_infos()[-RECENT_SESSIONS:]:
            state.add_metric([info.session_id, info.state], 1)
            session = self.director.sessions.get(info.session_id)
            if session is not None and session.clock_offset_s is not None:
                offset.add_metric([info.session_id], session.clock_offset_s)
        yield state
        yield offset


def registry_for(director: Director) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DirectorCollector(director))
    return registry
