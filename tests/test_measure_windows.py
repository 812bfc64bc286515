"""The window API on real drivers: the simulated meter against its ground truth, NVML's and RAPL's
counters (reset, wrap) in virtual time, and a PTD daemon whose clock is seconds off."""

from __future__ import annotations

import io
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fakes_system.fake_nvml import FakeGpu, FakeNvml
from fakes_system.fake_powercap import FakePowercap
from fakes_system.manual_clock import ManualPollClock

from analyzers.nvml import NvmlAnalyzer
from analyzers.ptd.daemon.handler import PtdCommandHandler
from analyzers.ptd.daemon.logs import ConsoleLog, DataLog
from analyzers.ptd.daemon.requests import DaemonConfig
from analyzers.ptd.daemon.server import PtdServer
from analyzers.rapl import RaplAnalyzer
from analyzers.simulated import SimulatedAnalyzer
from analyzers.simulated.config import SimulatorConfig
from power_client import Monitor, measure
from power_client.metering import MonitorError

S = 1_000_000_000


def test_nested_and_overlapping_windows_match_the_simulator_truth_within_half_a_percent() -> None:
    meter = SimulatedAnalyzer(seed=7, channels=2)
    with Monitor([meter], interval_ms=10) as monitor:
        meter.set_load(150.0)
        time.sleep(0.1)
        monitor.begin_window("outer")
        time.sleep(0.3)
        monitor.begin_window("inner")
        meter.set_load(400.0, ramp_s=0.1)
        time.sleep(0.4)
        monitor.begin_window("overlapping")
        time.sleep(0.2)
        inner = monitor.end_window("inner", wait=True)
        meter.set_load(90.0)
        time.sleep(0.3)
        overlapping = monitor.end_window("overlapping", wait=True)
        outer = monitor.end_window("outer", wait=True)
        truth = meter.ground_truth()
    for window in (outer, inner, overlapping):
        assert window.final, window.warnings
        total = window.sources[0]
        expected = truth.energy_j(window.begin_ns, window.end_ns)
        assert abs(total.energy_j - expected) / expected < 0.005, (window.name, total.energy_j, expected)
        assert total.method == "integrated" and len(total.channels) == 2
        assert math.isclose(sum(c.energy_j for c in total.channels), total.energy_j, rel_tol=1e-9)
        assert 0 < total.uncertainty_j < 0.01 * total.energy_j and total.accuracy_j is not None
    assert inner.duration_s == pytest.approx(0.6, abs=0.05)
    assert inner.begin_ns < overlapping.begin_ns < inner.end_ns < overlapping.end_ns < outer.end_ns


def test_windows_used_out_of_order_say_so() -> None:
    with Monitor(["simulated"], interval_ms=10, poll_s=0) as monitor:
        monitor.begin_window("a")
        with pytest.raises(MonitorError, match="window 'a' is already open"):
            monitor.begin_window("a")
        with pytest.raises(MonitorError, match=r"window 'b' was not begun \(open windows: \['a'\]\)"):
            monitor.end_window("b")
        with pytest.raises(MonitorError, match="window 'a' is still open"):
            monitor.measurement("a")


def test_end_window_returns_at_once_and_completes_when_the_closing_sample_arrives() -> None:
    meter = SimulatedAnalyzer(seed=3)
    with Monitor([meter], interval_ms=200, poll_s=0) as monitor:
        monitor.begin_window("quick")
        time.sleep(0.05)
        early = monitor.end_window("quick")  # no sample spans its end yet
        assert not early.final
        assert any("not arrived" in warning for warning in early.warnings)
        assert early.sources[0].avg_power_w == 0.0 or math.isfinite(early.sources[0].energy_j)
        time.sleep(0.45)
        monitor.poll()
        done = monitor.measurement("quick")
        assert done.final and done.sources[0].energy_j > 0
        assert any("shorter than one sample interval" in warning for warning in done.warnings)


def test_measure_is_a_one_shot_window_that_waits_for_its_last_sample() -> None:
    with measure("block", sources=["simulated,seed=5"], interval_ms=20) as window:
        time.sleep(0.25)
    result = window.measurement
    assert result.final and result.name == "block" and result.sources[0].source == "simulated"
    assert result.sources[0].avg_power_w == pytest.approx(result.energy_j / result.duration_s)


def nvml_monitor(clock: ManualPollClock) -> tuple[Monitor, FakeNvml]:
    fake = FakeNvml(
        [
            FakeGpu("NVIDIA H100 80GB HBM3", "GPU-aaaa", watts=100.0),
            FakeGpu("NVIDIA A100", "GPU-bbbb", watts=250.0),
        ],
        now_ns=clock.now_ns,
    )
    analyzer = NvmlAnalyzer("", nvml_module=fake, clock=clock)
    return Monitor([analyzer], interval_ms=1000, poll_s=0, clock=clock), fake


def test_nvml_windows_use_the_energy_counter_and_a_reset_falls_back_to_the_power_readings() -> None:
    clock = ManualPollClock()
    monitor, fake = nvml_monitor(clock)
    with monitor:
        start = clock.now_ns()
        monitor.begin_window("steady", at_ns=start + S // 2)
        for _ in range(3):
            clock.advance(1.0)
        monitor.end_window("steady", at_ns=start + 5 * S // 2)
        monitor.poll()
        steady = monitor.measurement("steady")
        assert steady.final and steady.sources[0].method == "counter"
        assert steady.sources[0].energy_j == pytest.approx(350.0 * 2, rel=1e-12)  # exact: linear in each step
        assert [c.energy_j for c in steady.sources[0].channels] == pytest.approx([200.0, 500.0])
        assert not any("energy-counter updates" in w for w in steady.warnings)  # 2 s: twenty updates
        monitor.begin_window("reset", at_ns=clock.now_ns())
        fake.reset_counter(1)
        for _ in range(3):
            clock.advance(1.0)
        monitor.end_window("reset", at_ns=clock.now_ns())
        monitor.poll()
        reset = monitor.measurement("reset")
    total = reset.sources[0]
    # The reset second's counter step lacks GPU 1 only: the counter cannot tell how much is missing,
    # so the window is integrated from the power readings, the lost second filled at the mean power.
    assert total.method == "integrated"
    assert total.energy_j == pytest.approx(350.0 * 3, rel=1e-9)
    assert any("energy-counter reading in the window is missing" in w for w in total.warnings)
    assert any("missed or errors" in w for w in total.warnings)


def test_rapl_windows_across_a_counter_wrap_are_exact(tmp_path: pytest.TempPathFactory) -> None:
    tree = FakePowercap(tmp_path / "powercap").server()  # type: ignore[operator]
    clock = ManualPollClock()
    analyzer = RaplAnalyzer(sysfs_root=tree.root, clock=clock)
    with Monitor([analyzer], interval_ms=1000, poll_s=0, clock=clock) as monitor:
        begin = clock.now_ns()
        monitor.begin_window("wrap", at_ns=begin)
        for _ in range(4):
            tree.add_energy("intel-rapl:0", 45.5)  # wraps in the first second
            tree.add_energy("intel-rapl:0:1", 6.25)
            tree.add_energy("intel-rapl:1", 30.0)
            tree.add_energy("intel-rapl:1:0", 4.0)
            clock.advance(1.0)
        monitor.end_window("wrap", at_ns=begin + 4 * S)
        monitor.poll()
        result = monitor.measurement("wrap").sources[0]
    assert result.method == "counter" and result.final
    assert result.energy_j == pytest.approx(85.75 * 4, rel=1e-12)
    assert any("states no accuracy" in w for w in result.warnings)


class SkewedClock:
    def __init__(self, skew_s: float) -> None:
        self.skew_ns = round(skew_s * S)

    def now_ns(self) -> int:
        return time.time_ns() + self.skew_ns


@contextmanager
def skewed_daemon(skew_s: float) -> Iterator[tuple[PtdServer, SimulatedAnalyzer]]:
    clock = SkewedClock(skew_s)
    meter = SimulatedAnalyzer(config=SimulatorConfig(watts_noise=0.0, volts_noise=0.0), clock=clock)
    session = PtdCommandHandler(
        meter, ConsoleLog(io.StringIO(), clock.now_ns), DataLog(None, clock.now_ns), DaemonConfig()
    )
    session.announce()
    server = PtdServer(session, "127.0.0.1", 0)
    server.serve_in_thread()
    try:
        yield server, meter
    finally:
        server.close()


def test_a_ptd_daemon_seconds_ahead_is_moved_onto_this_machines_clock() -> None:
    with skewed_daemon(7.0) as (server, meter):
        meter.set_load(100.0)
        with Monitor([f"ptd://127.0.0.1:{server.port}"], interval_ms=100) as monitor:
            time.sleep(1.0)  # reads at many phases of the sample grid narrow the shift down
            meter.set_load(500.0)
            stepped_ns = time.time_ns()
            time.sleep(0.4)
            monitor.begin_window("after the step", at_ns=stepped_ns + 100_000_000)
            time.sleep(1.0)
            window = monitor.end_window("after the step", wait=True)
            source = monitor.sources[0]
            assert source.clock is not None
            assert source.clock.shift_ns / S == pytest.approx(7.0, abs=0.25)
    result = window.sources[0]
    assert result.source == f"ptd://127.0.0.1:{server.port}"
    # Unshifted, this window would read the daemon's samples of 7 s earlier: 100 W, not 500 W.
    assert result.avg_power_w == pytest.approx(500.0, rel=0.03)
    assert result.clock_j > 0


def test_a_ptd_daemon_that_dies_is_given_up_once_not_at_every_step() -> None:
    # A daemon that goes away mid-run: the first request after it costs one reconnect policy
    # (connect_timeout); every later step (the closing wait, Stop, the last read, close) must not
    # pay it again. Before, each did: four policies, over 90 s with the default 30 s.
    connect_s = 1.5
    with skewed_daemon(0.0) as (server, meter):
        meter.set_load(200.0)
        device = f"ptd://127.0.0.1:{server.port}?connect_timeout={connect_s}&command_timeout=1"
        monitor = Monitor([device], interval_ms=100)
        monitor.begin_window("run")
        time.sleep(0.6)
        server.close()
        died_ns = time.time_ns()
        time.sleep(0.2)
        started = time.monotonic()
        window = monitor.end_window("run", wait=True)
        monitor.close()
        elapsed = time.monotonic() - started
    source = monitor.sources[0]
    assert elapsed < 2 * connect_s + 1.0, f"{elapsed:.1f} s to give the dead daemon up"
    assert source.analyzer.unreachable is not None and "no PTD daemon answered" in source.analyzer.unreachable
    assert any("no PTD daemon answered" in failure for failure in source.failures)
    [result] = window.sources
    assert not result.final  # its samples end before the window does, and it says why
    assert any("unreachable" in w for w in result.warnings)
    assert result.avg_power_w == pytest.approx(200.0, rel=0.05)
    assert monitor.traces()[device].time_ns[-1] < died_ns + 200_000_000
