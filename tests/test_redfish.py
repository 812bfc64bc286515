"""Redfish driver against fake BMCs and PDUs on 127.0.0.1: discovery, concurrency, failures, credentials, PTD."""

from __future__ import annotations

import math
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes_system.manual_clock import ManualPollClock
from fakes_system.ptd_exchange import served, watts_of
from fakes_system.redfish_server import FakeBmc, FakeChassis, FakePdu, FakeRedfishServer

from analyzers.errors import AnalyzerConnectionError, AnalyzerError
from analyzers.redfish import RedfishAnalyzer
from analyzers.trace import SAMPLE_ERROR, SAMPLE_MISSED, SAMPLE_OK


@pytest.fixture
def fakes() -> Iterator[FakeRedfishServer]:
    bmcs = [
        # A blade enclosure: its blades are inside the enclosure's total.
        FakeBmc(
            chassis={
                "Enclosure": FakeChassis(watts=1500.0, extra_controls=[600.0]),
                "Blade1": FakeChassis(watts=700.0, contained_by="Enclosure"),
            }
        ),
        FakeBmc(chassis={"1": FakeChassis(watts=420.5, style="environment", energy_kwh=12.0)}),
        FakeBmc(
            pdus={"A": FakePdu(watts=3000.0, energy_kwh=100.0), "B": FakePdu(watts=2500.0, energy_kwh=50.0)}
        ),
        FakeBmc(chassis={"1": FakeChassis(watts=300.0)}, delay_s=3.0),  # slow when read
        FakeBmc(chassis={"1": FakeChassis(watts=300.0)}, status=500),  # failing when read
    ]
    server = FakeRedfishServer(bmcs).start()
    yield server
    server.close()


def test_discovery_finds_each_power_source_once(fakes: FakeRedfishServer) -> None:
    device = ",".join(fakes.url(i) for i in range(3))
    with RedfishAnalyzer(device) as analyzer:
        assert analyzer.channel_labels == [
            f"{fakes.url(0)}/redfish/v1/Chassis/Enclosure/Power",
            f"{fakes.url(1)}/redfish/v1/Chassis/1/EnvironmentMetrics",
            f"{fakes.url(2)}/redfish/v1/PowerEquipment/RackPDUs/A/Metrics",
            f"{fakes.url(2)}/redfish/v1/PowerEquipment/RackPDUs/B/Metrics",
        ]
        assert analyzer.identify().model == "Redfish 4 source(s) at 3 service(s)"
        assert not analyzer.has_energy  # the enclosure's Power resource has no energy counter


def test_readings_are_exact_and_a_slow_or_failing_bmc_flags_only_its_channel(
    fakes: FakeRedfishServer,
) -> None:
    device = ",".join([fakes.url(3), fakes.url(0), fakes.url(4), fakes.url(1) + "/redfish/v1/Chassis/1"])
    clock = ManualPollClock()
    analyzer = RedfishAnalyzer(device, clock=clock, timeout_s=1.0)
    fakes.bmcs[3].delay_s = 3.0
    analyzer.start(0.5, "testing")  # each request gets min(1 s, 80 % of 0.5 s) = 0.4 s
    began = time.monotonic()
    clock.advance(0.5)
    fakes.bmcs[1].chassis["1"].watts = 430.0
    clock.advance(0.5)
    elapsed = time.monotonic() - began
    analyzer.stop()
    # Two ticks in well under the slow BMC's 3 s: nobody waited for it.
    assert elapsed < 2.0
    trace = analyzer.fetch()  # the samples first, the failure with the next call (Analyzer.fetch's contract)
    with pytest.raises(AnalyzerError) as raised:
        analyzer.fetch()
    assert str(raised.value) == f"{fakes.url(3)}/redfish/v1/Chassis/1/Power: no answer within 0.4 s"
    slow, enclosure, failing, environment = trace.channels
    assert list(slow.flags) == [SAMPLE_MISSED] * 2 and all(math.isnan(w) for w in slow.watts)
    assert list(failing.flags) == [SAMPLE_ERROR] * 2
    assert list(enclosure.watts) == [1500.0, 1500.0]  # the chassis entry, not the 600 W sub-total
    assert list(environment.watts) == [420.5, 430.0] and list(environment.flags) == [SAMPLE_OK] * 2
    assert list(trace.flags) == [SAMPLE_MISSED] * 2  # the total is incomplete, and says so
    assert list(trace.time_ns - trace.time_ns[0]) == [0, 500_000_000]
    stats = analyzer.stats()
    assert (stats.samples, stats.errors) == (2, 2)
    analyzer.close()


def test_many_endpoints_are_polled_concurrently() -> None:
    server = FakeRedfishServer(
        [FakeBmc(chassis={"1": FakeChassis(watts=100.0 + i)}, delay_s=0.3) for i in range(20)]
    )
    server.start()
    try:
        clock = ManualPollClock()
        analyzer = RedfishAnalyzer(",".join(server.url(i) for i in range(20)), clock=clock)
        analyzer.start(1.0)
        began = time.monotonic()
        clock.advance(1.0)
        elapsed = time.monotonic() - began
        analyzer.close()
        trace = analyzer.fetch()
    finally:
        server.close()
    assert elapsed < 1.5  # 20 requests of 0.3 s each, at once rather than 6 s one after another
    assert [block.watts[0] for block in trace.channels] == [100.0 + i for i in range(20)]
    assert trace.watts[0] == sum(100.0 + i for i in range(20))


def test_energy_from_energy_kwh_when_every_source_has_it(fakes: FakeRedfishServer) -> None:
    clock = ManualPollClock()
    analyzer = RedfishAnalyzer(f"{fakes.url(1)},{fakes.url(2)}", clock=clock)
    assert analyzer.has_energy and analyzer.channel_count == 3
    analyzer.start(1.0)
    clock.advance(1.0)
    fakes.bmcs[1].chassis["1"].energy_kwh = 12.5
    fakes.bmcs[2].pdus["A"].energy_kwh = 101.0
    clock.advance(1.0)
    analyzer.close()
    trace = analyzer.fetch()
    assert trace.energy_j is not None and list(trace.energy_j) == [0.0, 0.5 * 3.6e6 + 1.0 * 3.6e6]
    assert list(trace.watts) == [420.5 + 3000.0 + 2500.0] * 2


def test_credentials_from_environment_or_file_never_the_url(
    fakes: FakeRedfishServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fakes.bmcs[1].credentials = ("monitor", "s3cret")
    monkeypatch.delenv("JOULEBENCH_REDFISH_USER", raising=False)
    monkeypatch.delenv("JOULEBENCH_REDFISH_PASSWORD", raising=False)
    monkeypatch.delenv("JOULEBENCH_REDFISH_CREDENTIALS", raising=False)
    with pytest.raises(AnalyzerConnectionError) as raised:
        RedfishAnalyzer(fakes.url(1))
    assert str(raised.value) == (
        f"{fakes.url(1)}: cannot list its power sources: HTTP 401: credentials refused (set JOULEBENCH_REDFISH_USER "
        "and JOULEBENCH_REDFISH_PASSWORD, or a credentials file in JOULEBENCH_REDFISH_CREDENTIALS) (check the URL "
        "and that the BMC answers Redfish, or name its power resource URL directly)"
    )
    monkeypatch.setenv("JOULEBENCH_REDFISH_USER", "monitor")
    monkeypatch.setenv("JOULEBENCH_REDFISH_PASSWORD", "s3cret")
    with RedfishAnalyzer(fakes.url(1)) as analyzer:
        assert analyzer.channel_count == 1
    monkeypatch.delenv("JOULEBENCH_REDFISH_PASSWORD")
    secrets = tmp_path / "bmc.toml"
    secrets.write_text(
        f'[default]\nuser = "nobody"\npassword = "wrong"\n\n[hosts."127.0.0.1:{fakes.bmcs[1].port}"]\n'
        'user = "monitor"\npassword = "s3cret"\n'
    )
    with RedfishAnalyzer(fakes.url(1), credentials_file=secrets) as analyzer:
        assert analyzer.channel_count == 1
    with pytest.raises(AnalyzerError) as raised:
        RedfishAnalyzer(f"http://monitor:s3cret@127.0.0.1:{fakes.bmcs[1].port}")
    assert "a password in the URL would show in the process list" in str(raised.value)
    assert "s3cret" not in str(raised.value)


def test_unreachable_services_and_bad_urls_are_one_sentence(fakes: FakeRedfishServer) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"  # bound, never listening: refused
        with pytest.raises(AnalyzerConnectionError) as raised:
            RedfishAnalyzer(f"{fakes.url(1)},{dead}", timeout_s=1.0)
        assert str(raised.value).startswith(
            f"{dead}: cannot list its power sources: request failed: ConnectError"
        )
        # Named directly, a dead source still gets its channel and error samples, so the rest run.
        clock = ManualPollClock()
        analyzer = RedfishAnalyzer(
            f"{fakes.url(1)},{dead}/redfish/v1/Chassis/1/Power", clock=clock, timeout_s=1.0
        )
        analyzer.start(1.0)
        clock.advance(1.0)
        analyzer.close()
    trace = analyzer.fetch()  # the samples first, the failure with the next call (Analyzer.fetch's contract)
    with pytest.raises(
        AnalyzerError, match=re.escape(f"{dead}/redfish/v1/Chassis/1/Power: request failed: ConnectError")
    ):
        analyzer.fetch()
    assert list(trace.channels[0].watts) == [420.5] and list(trace.channels[1].flags) == [SAMPLE_ERROR]
    with pytest.raises(AnalyzerError, match=r"^bmc1: not a Redfish URL \(give http"):
        RedfishAnalyzer("bmc1")


def test_served_over_ptd(fakes: FakeRedfishServer) -> None:
    with served("redfish", f"{fakes.url(0)},{fakes.url(2)}") as ptd:
        assert ptd.ask("Identify").startswith("Redfish 3 source(s) at 2 service(s),")
        assert ptd.ask("Go,200,0,testing").startswith("Starting untimed measurement")
        lines: list[str] = []
        while len(lines) < 2:
            lines += ptd.samples("RL,*,*")
        assert ptd.ask("Stop") == "Stopping untimed measurement"
    assert {tuple(watts_of(line)) for line in lines} == {(7000.0, 1500.0, 3000.0, 2500.0)}
