"""The director's dashboard and /metrics over real HTTP: the page in headless Chromium follows a
session live, /metrics parses as Prometheus text and agrees with the recordings, and a peer that is
not loopback (in a network namespace this test creates, over a veth pair) needs the token.

Figures printed: the page's latency behind a new sample, and the cost of one scrape.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from browser.chromium import chromium
from prometheus_client.parser import text_string_to_metric_families
from test_director_session import run_session
from test_director_support import TOKEN, director_config_many, running_director

from analyzers.live_metrics import render
from power_director.metrics import registry_for
from power_director.storage import RecordingReader

ANALYZERS = [
    {"name": "wall", "driver": "simulated", "options": {"seed": 1}},
    {"name": "rack", "driver": "simulated", "options": {"seed": 2, "channels": 2}},
]


def scrape(url: str, **headers: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    reply = httpx.get(f"{url}/metrics", headers=headers, timeout=10)
    reply.raise_for_status()
    families: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(reply.text):
        for sample in family.samples:
            families.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return families


def test_metrics_are_prometheus_text_that_agrees_with_the_recordings(tmp_path: Path) -> None:
    with running_director(director_config_many(tmp_path / "data", ANALYZERS)) as running:
        session_id = run_session(running, "scraped")["session_id"]
        families = scrape(running.url)  # from loopback: no token
        with httpx.Client(base_url=running.url, timeout=10) as scraper:  # as Prometheus scrapes: kept alive
            began = time.perf_counter()
            for _ in range(200):
                scraper.get("/metrics").raise_for_status()
            per_scrape_ms = (time.perf_counter() - began) / 200 * 1000
        collector = registry_for(running.director)
        began = time.perf_counter()
        for _ in range(1000):
            render(collector)
        render_ms = (time.perf_counter() - began) / 1000 * 1000
    folder = tmp_path / "data" / "sessions" / session_id
    print(f"\n/metrics: {per_scrape_ms:.2f} ms per scrape over kept-alive HTTP, {render_ms:.3f} ms to render")
    for name in ("wall", "rack"):
        recorded = RecordingReader(folder / "recording" / f"{name}.arrows").read()
        assert families["joulebench_analyzer_samples_total"][(("analyzer", name),)] == len(recorded)
        valid = recorded.valid_mask()
        last = recorded.watts[valid][-1]
        assert families["joulebench_analyzer_watts"][
            (("analyzer", name), ("channel", "total"))
        ] == pytest.approx(last)
        assert families["joulebench_analyzer_samples_lost_total"][(("analyzer", name),)] == 0
        assert families["joulebench_analyzer_stalls_total"][(("analyzer", name),)] == 0
    rack = RecordingReader(folder / "recording" / "rack.arrows").read()
    for channel in (1, 2):
        expected = rack.channels[channel - 1].watts[-1]
        got = families["joulebench_analyzer_watts"][(("analyzer", "rack"), ("channel", str(channel)))]
        assert got == pytest.approx(expected)
    assert families["joulebench_session_state"][(("session", session_id), ("state", "done"))] == 1
    assert per_scrape_ms < 20 and render_ms < 5


def test_the_dashboard_follows_a_session_live_in_chromium(tmp_path: Path) -> None:
    with (
        running_director(director_config_many(tmp_path / "data", ANALYZERS[:1])) as running,
        chromium() as browser,
    ):
        page = browser.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(running.url + "/")
        page.wait_for_selector("#link.up", timeout=10_000)
        session_id = running.ok("POST", "/sessions", {"label": "live", "client_uuid": str(uuid.uuid4())})[
            "session_id"
        ]
        running.ok("POST", f"/sessions/{session_id}/ranging/start", {"clock_offset_s": 0.0123})
        live = running.director.instruments[0].live
        latencies = []
        for _ in range(5):  # each time the recorder writes new samples, how long until the page shows them
            before = live.view().samples
            while live.view().samples == before:
                time.sleep(0.005)
            written_at, count = time.monotonic(), live.view().samples
            page.wait_for_function(
                "n => Number(document.querySelector('[data-analyzer=\"wall\"] [data-field=samples]')?.textContent) >= n",
                arg=count,
                timeout=2_000,
            )
            latencies.append(time.monotonic() - written_at)
        state = f'[data-session="{session_id}"] [data-field=state]'
        assert page.inner_text(state) == "ranging"
        row = page.inner_text(f'[data-session="{session_id}"]')
        assert "12.30 ms" in row  # the clock offset the client gave at the phase start
        running.ok("POST", f"/sessions/{session_id}/ranging/stop")
        page.wait_for_function(
            f"() => document.querySelector('{state}')?.textContent === 'ranged'", timeout=2_000
        )
        running.ok("POST", f"/sessions/{session_id}/done")
        page.wait_for_function(
            f"() => document.querySelector('{state}')?.textContent === 'done'", timeout=2_000
        )
        page.close()
    print(
        f"\ndashboard behind a new sample: median {statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
    )
    assert errors == []
    assert max(latencies) < 2.0


@contextmanager
def other_peer() -> Iterator[tuple[str, str]]:
    """A network namespace joined to this one by a veth pair: (our address, the namespace's name)."""
    tag = f"{os.getpid() % 10000}"
    namespace, host_if, peer_if = f"jb-dash-{tag}", f"jbd{tag}a", f"jbd{tag}b"
    octet = 16 + os.getpid() % 200
    ours, theirs = f"10.231.{octet}.1", f"10.231.{octet}.2"

    def ip(*args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True, text=True)

    ip("netns", "add", namespace)
    try:
        ip("link", "add", host_if, "type", "veth", "peer", "name", peer_if)
        ip("link", "set", peer_if, "netns", namespace)
        ip("addr", "add", f"{ours}/30", "dev", host_if)
        ip("link", "set", host_if, "up")
        ip("netns", "exec", namespace, "ip", "addr", "add", f"{theirs}/30", "dev", peer_if)
        ip("netns", "exec", namespace, "ip", "link", "set", peer_if, "up")
        ip("netns", "exec", namespace, "ip", "link", "set", "lo", "up")
        yield ours, namespace
    finally:
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True)


PEER_SCRIPT = r"""
import json, sys, httpx
url, token = sys.argv[1], sys.argv[2]
out = {}
with httpx.Client(base_url=url, timeout=10) as c:
    out["metrics"] = c.get("/metrics").status_code
    out["metrics_token"] = c.get("/metrics", headers={"Authorization": f"Bearer {token}"}).status_code
    out["events"] = c.get("/events").status_code
    page = c.get("/")
    out["page"], out["page_to"] = page.status_code, page.headers.get("location")
    out["login_wrong"] = c.post("/login", data={"token": "not-the-token"}).status_code
    signed = c.post("/login", data={"token": token})
    out["login"], out["cookie"] = signed.status_code, "joulebench_view" in signed.headers.get("set-cookie", "")
    out["page_signed"] = c.get("/").status_code
    with c.stream("GET", "/events") as stream:
        out["events_signed"] = stream.status_code
        out["first_event"] = next(l for l in stream.iter_lines() if l.startswith("data:"))[:40]
    out["sessions_with_cookie"] = c.post("/v1/sessions", json={"label": "x", "client_uuid": "u"}).status_code
print(json.dumps(out))
"""


def test_a_peer_that_is_not_loopback_needs_the_token(tmp_path: Path) -> None:
    with other_peer() as (ours, namespace):
        config = director_config_many(tmp_path / "data", ANALYZERS[:1], server={"host": ours})
        with running_director(config, host=ours) as running:
            assert (
                httpx.get(f"{running.url}/metrics", timeout=10).status_code == 401
            )  # from ours: not loopback
            url = f"http://{ours}:{running.port}"
            done = subprocess.run(
                ["ip", "netns", "exec", namespace, sys.executable, "-c", PEER_SCRIPT, url, TOKEN],
                capture_output=True,
                text=True,
                timeout=60,
            )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["metrics"] == 401 and seen["metrics_token"] == 200 and seen["events"] == 401
    assert (seen["page"], seen["page_to"]) == (303, "/login")
    assert seen["login_wrong"] == 401 and seen["login"] == 303 and seen["cookie"]
    assert seen["page_signed"] == 200 and seen["events_signed"] == 200
    assert seen["first_event"].startswith("data: {")
    assert seen["sessions_with_cookie"] == 401  # the cookie opens the views, never the API
