"""`power-analyzer serve --metrics-port`: the daemon's driver as Prometheus text, while a PTD client measures."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from test_ptd_daemon_support import free_port, serving

from analyzers.live_metrics import COUNTER_FAMILIES


def _scrape(port: int) -> dict[str, float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {
        f"{sample.name}{{{','.join(f'{k}={v}' for k, v in sorted(sample.labels.items()))}}}": sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_serve_exposes_the_drivers_samples_and_measuring_state() -> None:
    metrics_port = free_port()
    with serving(["--source", "simulated,channels=2", "--metrics-port", str(metrics_port)]) as served:
        client = served.client
        idle = _scrape(metrics_port)
        assert idle["joulebench_ptd_measuring{analyzer=simulated}"] == 0
        assert client.cmd("Go,100,0,run").startswith("Starting untimed measurement")
        time.sleep(1.0)
        during = _scrape(metrics_port)
        assert client.cmd("Stop") == "Stopping untimed measurement"
        samples = client.request("RL")[1:]
        after = _scrape(metrics_port)
    output = served.output
    assert during["joulebench_ptd_measuring{analyzer=simulated}"] == 1
    assert after["joulebench_ptd_measuring{analyzer=simulated}"] == 0
    # Every sample the daemon fetched is counted (idle sampling included), at least those the client got.
    assert after["joulebench_analyzer_samples_total{analyzer=simulated}"] >= len(samples) >= 8
    assert (
        during["joulebench_analyzer_samples_total{analyzer=simulated}"]
        > idle["joulebench_analyzer_samples_total{analyzer=simulated}"]
    )
    for channel in ("total", "1", "2"):
        assert during[f"joulebench_analyzer_watts{{analyzer=simulated,channel={channel}}}"] > 0
    assert f"Serving /metrics on port {metrics_port}" in output


def test_a_metrics_port_in_use_is_one_sentence() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        busy = taken.getsockname()[1]
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "analyzers.cli",
                "serve",
                "--port",
                str(free_port()),
                "--metrics-port",
                str(busy),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 2
    assert f"127.0.0.1:{busy}: cannot serve /metrics: Address already in use" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_grafana_example_queries_only_families_joulebench_exports() -> None:
    dashboard = json.loads((Path(__file__).parents[1] / "examples" / "grafana-dashboard.json").read_text())
    exported = {"joulebench_analyzer_watts", "joulebench_analyzer_last_reading_timestamp_seconds"}
    exported |= {f"{name}_total" for name, _ in COUNTER_FAMILIES.values()}
    exported |= {
        "joulebench_session_state",
        "joulebench_session_clock_offset_seconds",
        "joulebench_ptd_measuring",
    }
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"joulebench_[a-z_]+", target["expr"])
    }
    assert queried == exported  # a panel for every family, and no panel on a family that does not exist
