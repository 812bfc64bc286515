"""The Joulescope driver through its real code against a fake `joulescope` package streaming in real
time at 1 Msps: interval statistics, accumulators, GPI marks, lost samples, an unplugged device,
MLPerf Tiny next to the LPM01A on one synthetic signal, and `power-analyzer serve` over PTD.

Expected values are recomputed from the fake's signal functions on the sample ids the driver reports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from fakes.lpm01a import FakeLpm01a
from fakes_system.fake_joulescope import DeviceScript, FakeJoulescope
from test_lpm01a import fake_board
from test_ptd_daemon_support import serving

from analyzers.energy_runner_export import write_energy_runner
from analyzers.errors import AnalyzerConnectionError, AnalyzerError
from analyzers.joulescope import JoulescopeAnalyzer
from analyzers.lpm01a import Lpm01aAnalyzer
from analyzers.registry import create_analyzer
from analyzers.trace import SAMPLE_MISSED
from rules.tiny.windows import from_trace

FS = 1_000_000
SITE = Path(__file__).parent / "fakes_system" / "joulescope_site"


def site_env(devices: list[dict[str, object]]) -> dict[str, str]:
    """The environment of a subprocess whose `import joulescope` is the fake, with these devices."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SITE), str(Path(__file__).parent)]),
        "FAKE_JOULESCOPE": json.dumps(devices),
    }


def square_current(t: np.ndarray) -> np.ndarray:
    """20 mA for the first 2 ms of every 10 ms, 1 mA otherwise: a duty-cycled radio."""
    return np.where((t % 0.01) < 0.002, 0.020, 0.001)


@contextmanager
def meter(script: DeviceScript, **options: object) -> Iterator[tuple[JoulescopeAnalyzer, FakeJoulescope]]:
    fake = FakeJoulescope(script)
    analyzer = JoulescopeAnalyzer.from_device("", module=fake, **options)  # type: ignore[arg-type]
    try:
        yield analyzer, fake
    finally:
        analyzer.close()


def measure(analyzer: JoulescopeAnalyzer, interval_s: float, seconds: float, mark: str = "run") -> object:
    analyzer.start(interval_s, mark)
    time.sleep(seconds)
    analyzer.stop()
    return analyzer.fetch()


def test_each_sample_is_the_full_rate_mean_of_its_interval_and_energy_accumulates() -> None:
    script = DeviceScript(current=square_current, voltage=lambda t: 3.3 - 0.1 * t)
    with meter(script, current_offset_a=1e-6) as (analyzer, fake):
        assert analyzer.identify().model == "JS220" and analyzer.identify().serial == "002557"
        assert fake.devices[0].parameters["i_range"] == "auto"  # autoranging, set when connecting
        trace = measure(analyzer, 0.010, 1.2)
        stats = analyzer.stats()
        events = analyzer.events()
    assert not fake.devices[0].is_open  # closed with the analyzer
    n = len(trace)
    assert 100 <= n <= 125 and events == []  # GPI0 stays high: no falling edge
    # Sample k is stream samples [10 000 k, 10 000 (k + 1)): the fake's functions, in float32 as it streams.
    t = np.arange(n * 10_000) / FS
    current = square_current(t).astype(np.float32).astype(np.float64)
    voltage = (3.3 - 0.1 * t).astype(np.float32).astype(np.float64)
    power = (square_current(t) * (3.3 - 0.1 * t)).astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(trace.watts, power.reshape(n, -1).mean(axis=1), rtol=1e-9)
    np.testing.assert_allclose(trace.volts, voltage.reshape(n, -1).mean(axis=1), rtol=1e-9)
    np.testing.assert_allclose(trace.amps, current.reshape(n, -1).mean(axis=1), rtol=1e-9)
    np.testing.assert_allclose(trace.energy_j, np.cumsum(power.reshape(n, -1).sum(axis=1)) / FS, rtol=1e-9)
    # The instrument's crystal spaces the samples: exactly 10 ms apart on the host clock.
    assert set(np.diff(trace.time_ns).tolist()) <= {9_999_999, 10_000_000, 10_000_001}
    assert abs(int(trace.time_ns[-1]) - time.time_ns()) < 2e9
    # Uncertainty: 0.5 % + 0.2 % + 1 µA / |I|, per sample.
    np.testing.assert_allclose(trace.uncertainty, 0.007 + 1e-6 / trace.amps, rtol=1e-12)
    # PTD's min/max from the full-rate samples (1 mA and 20 mA at ~3.3 V), not the 10 ms means.
    assert stats.min_power_w == pytest.approx(0.001 * voltage[: n * 10_000].min(), rel=1e-6)
    assert stats.max_power_w == pytest.approx(0.020 * 3.3, rel=1e-6)
    assert stats.extra["full_rate_samples"] >= n * 10_000 and stats.extra["missing_samples"] == 0
    assert stats.extra["charge_c"] == pytest.approx(current.sum() / FS, rel=1e-9)
    # The instrument's own accumulators (2 Hz statistics) ran alongside: same power over ~1 s.
    assert 0.5 * trace.energy_j[-1] < stats.extra["accumulator_energy_j"] < 1.5 * trace.energy_j[-1]


def test_gpi_edges_are_events_and_marks_as_the_lpm01a_makes_them() -> None:
    falls = (0.2005, 0.5, 0.8)  # device seconds; 0.2005 s falls inside a 1 ms interval

    def gpi0(t: np.ndarray) -> np.ndarray:
        low = np.zeros(len(t), bool)
        for fall in falls:
            low |= (t >= fall) & (t < fall + 0.05)  # a 50 ms low pulse
        return np.where(low, 0, 1)

    with meter(DeviceScript(gpi0=gpi0)) as (analyzer, _):
        trace = measure(analyzer, 0.001, 1.0, mark="tiny")
        events = analyzer.events()
        analyzer.start(0.001, "again")  # a new measurement starts its own events
        time.sleep(0.1)
        analyzer.stop()
        assert analyzer.events() == []
        analyzer.fetch()
    assert [e.number for e in events] == [1, 2, 3] and {e.edge for e in events} == {"falling"}
    assert [e.samples_before for e in events] == [200, 500, 800]
    # The time of the first sample after the edge (the one it falls in), and the edge itself.
    assert [e.time_ns for e in events] == [int(trace.time_ns[k]) for k in (200, 500, 800)]
    assert events[0].edge_time_ns == int(trace.time_ns[199]) + 500_000
    marks = np.asarray(trace.marks.astype(object))
    assert set(marks[:200]) == {"tiny"} and set(marks[200:500]) == {"tiny#event1"}
    assert set(marks[500:800]) == {"tiny#event2"} and set(marks[800:]) == {"tiny#event3"}

    with meter(DeviceScript(gpi0=gpi0), edge="both") as (analyzer, _):
        measure(analyzer, 0.001, 1.0)
        assert [e.edge for e in analyzer.events()] == ["falling", "rising"] * 3
    with meter(DeviceScript(gpi0=gpi0), gpi=-1) as (analyzer, _):
        measure(analyzer, 0.001, 1.0)
        assert analyzer.events() == []


def test_lost_samples_are_counted_estimated_and_an_empty_interval_is_missed() -> None:
    script = DeviceScript(current=lambda t: np.full(len(t), 0.005), lost=((0.30, 0.32), (0.5050, 0.5070)))
    with meter(script) as (analyzer, _):
        trace = measure(analyzer, 0.010, 0.8)
        stats = analyzer.stats()
    flags = trace.flags
    assert (
        flags[30] == SAMPLE_MISSED and flags[31] == SAMPLE_MISSED and (np.delete(flags, [30, 31]) == 0).all()
    )
    assert stats.extra["missing_samples"] == 20_000 + 2_000 and stats.errors == 2
    # Sample 50 lost a fifth of its samples: its mean is the rest's, its energy the whole interval's.
    assert trace.watts[50] == pytest.approx(0.005 * 3.3, rel=1e-6)
    assert trace.energy_j[50] - trace.energy_j[49] == pytest.approx(0.005 * 3.3 * 0.01, rel=1e-6)
    assert trace.energy_j[31] == trace.energy_j[29]  # nothing is invented for a missed interval


def test_an_unplugged_joulescope_keeps_the_samples_then_says_so() -> None:
    with meter(DeviceScript(unplug_after_s=0.5)) as (analyzer, _):
        analyzer.start(0.010, "run")
        time.sleep(1.0)
        trace = analyzer.fetch()
        assert 20 <= len(trace) <= 50  # up to the last block before the unplug (fewer when the host lags)
        with pytest.raises(AnalyzerConnectionError, match="stopped streaming on its own: device removed"):
            analyzer.fetch()
        assert len(analyzer.fetch()) == 0
        analyzer.stop()  # nothing to stop on a removed device: no error


def test_finding_the_instrument_and_settings_it_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    two = FakeJoulescope(DeviceScript(serial="002557"), DeviceScript(serial="004100", model="js110"))
    with pytest.raises(
        AnalyzerError, match=r"2 Joulescopes are connected \(002557, 004100\).*joulescope:SERIAL"
    ):
        JoulescopeAnalyzer.from_device("", module=two)
    with pytest.raises(AnalyzerConnectionError, match="no Joulescope with serial number 9 "):
        JoulescopeAnalyzer.from_device("9", module=two)
    with JoulescopeAnalyzer.from_device("4100", module=two) as js110:
        assert js110.identify().model == "JS110" and js110.identify().serial == "004100"
    with pytest.raises(AnalyzerConnectionError, match="no Joulescope is connected"):
        JoulescopeAnalyzer.from_device("", module=FakeJoulescope())
    with pytest.raises(
        AnalyzerConnectionError, match="could not be opened and configured: invalid value '7 A'"
    ):
        JoulescopeAnalyzer.from_device("", module=FakeJoulescope(DeviceScript()), i_range="7 A")
    with pytest.raises(AnalyzerError, match="edge must be one of rising, falling, both"):
        JoulescopeAnalyzer.from_device("", module=FakeJoulescope(DeviceScript()), edge="up")
    with JoulescopeAnalyzer.from_device(
        "", module=FakeJoulescope(DeviceScript()), sampling_frequency=100_000
    ) as slow:
        with pytest.raises(AnalyzerError, match=r"at 100000 samples/s cannot report every 1.5e-05 s"):
            slow.start(0.000015)
        assert slow.identify().min_interval_s == pytest.approx(1e-4)
    # Without the package: one sentence that says what to install.
    monkeypatch.setitem(sys.modules, "joulescope", None)
    with pytest.raises(
        AnalyzerError, match=r"joulescope package cannot be imported.*joulebench\[joulescope\]"
    ):
        create_analyzer("joulescope", "002557")


def tiny_power_w(i: int) -> float:
    """The synthetic MLPerf Tiny load at 1 ms resolution: inference bursts of 6 ms every 10 ms."""
    return 0.0300 if i % 10 < 6 else 0.0024


def test_tiny_energy_per_inference_on_a_joulescope_matches_the_lpm01a(tmp_path: Path) -> None:
    """One synthetic signal through both meters: EnergyRunner's 1 kHz LPM01A and a 1 Msps Joulescope
    whose GPI0 carries the same timestamp edges; µJ per inference from each, and through power-check."""
    events_at = (100, 200, 400, 500, 800)  # sample indexes at 1 kHz: windows [200, 400) and [500, 800)
    volts = 3.0
    lpm = FakeLpm01a(power_w=tiny_power_w, events_at=events_at)
    with fake_board(lpm) as endpoint, Lpm01aAnalyzer.from_device(endpoint.address, volts=volts) as board:
        board.start(0.001)
        time.sleep(1.0)
        board.stop()
        lpm_trace = board.fetch()
        lpm_events = [e.time_ns for e in board.events()]
    lpm_tiny = from_trace(lpm_trace, lpm_events, inferences_per_window=10)

    def current(t: np.ndarray) -> np.ndarray:
        index = np.floor(t * 1000).astype(np.int64)
        return np.where(index % 10 < 6, 0.0300, 0.0024) / volts

    def gpi0(t: np.ndarray) -> np.ndarray:
        low = np.zeros(len(t), bool)
        for k in events_at:
            low |= (t >= k / 1000) & (t < k / 1000 + 0.00002)  # a 20 µs timestamp pulse
        return np.where(low, 0, 1)

    script = DeviceScript(current=current, voltage=lambda t: np.full(len(t), volts), gpi0=gpi0, noise_a=2e-6)
    with meter(script) as (joulescope, _):
        js_trace = measure(joulescope, 0.001, 1.0)
        js_events = joulescope.events()
    js_tiny = from_trace(js_trace, [e.time_ns for e in js_events], inferences_per_window=10)
    assert [e.samples_before for e in js_events] == list(events_at)
    assert len(js_tiny.windows) == len(lpm_tiny.windows) == 2
    for ours, theirs in zip(js_tiny.windows, lpm_tiny.windows, strict=True):
        assert ours.samples == theirs.samples
        # The LPM01A prints four digits per sample; the Joulescope adds 2 µA rms noise at 1 Msps.
        assert ours.energy_uj == pytest.approx(theirs.energy_uj, rel=5e-4)
    assert js_tiny.median_uj == pytest.approx(lpm_tiny.median_uj, rel=5e-4)
    print(f"\nµJ/inference: Joulescope {js_tiny.median_uj:.6f}, LPM01A {lpm_tiny.median_uj:.6f}")
    assert js_tiny.uncertainty_uj is not None  # from the driver's per-sample accuracy

    # As an EnergyRunner folder power-check reads, stating the Joulescope's accuracy.
    folder = tmp_path / "energy"
    write_energy_runner(
        folder,
        js_trace,
        [e.time_ns for e in js_events],
        1000,
        10,
        volts,
        monitor="joulescope",
        accuracy=0.007,
    )
    output = subprocess.run(
        [sys.executable, "-m", "rules.cli", str(folder), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    [result] = json.loads(output.stdout)
    assert result["uj_per_inference"] == pytest.approx(js_tiny.median_uj, rel=1e-6)
    assert any("joulescope accuracy ±0.7% (stated by the exporting driver" in n for n in result["notes"])
    assert result["uncertainty"] is not None


def test_power_analyzer_serve_answers_ptd_from_a_joulescope() -> None:
    env = {
        **site_env([{"serial": "002557", "current_a": 0.0123, "voltage_v": 3.3}]),
        "TZ": "UTC",
    }
    with serving(["--source", "joulescope:002557,gpi=-1"], env) as served:
        client = served.client
        assert client.cmd("Identify").split(",")[0] == "JS220"
        assert client.cmd("Go,100,0,run").startswith("Starting untimed measurement")
        time.sleep(1.0)
        assert client.cmd("Stop") == "Stopping untimed measurement"
        samples = client.request("RL")[1:]
        watts = client.cmd("Watts")
    assert len(samples) >= 8
    assert {line.split(",", 2)[2].split(",PF")[0] for line in samples} == {
        "Watts,0.040590,Volts,3.300000,Amps,0.012300"
    }
    # Watts,avg,min,max,...: the min and max are the full-rate samples' (constant here).
    assert [float(x) for x in watts.split(",")[1:4]] == pytest.approx([0.0123 * 3.3] * 3, rel=1e-6)


def test_power_measure_tiny_records_an_energy_runner_folder_from_a_joulescope(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SITE), str(Path(__file__).parent)]),
        "FAKE_JOULESCOPE": json.dumps(
            [{"current_a": 0.01, "voltage_v": 3.3, "falls": [0.1, 0.2, 0.4, 0.5, 0.8]}]
        ),
    }
    folder = tmp_path / "energy"
    command = [sys.executable, "-m", "power_client.metering.cli", "tiny", "--source", "joulescope:002557"]
    done = subprocess.run(
        [*command, "--seconds", "1.2", "--inferences", "10", "--output", str(folder)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    # Windows [0.2, 0.4) and [0.5, 0.8) s at 33 mW, 10 inferences each: 660 and 990 µJ, median 825.
    assert done.returncode == 1, done.stderr  # windows under 10 s: the Tiny rules refuse the result
    assert "window 1 lasts 0.200 s, under the 10 s minimum" in done.stderr
    value = float(done.stdout.split()[0])
    assert value == pytest.approx(825.0, rel=0.01)
    checked = subprocess.run(
        [sys.executable, "-m", "rules.cli", str(folder), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    [result] = json.loads(checked.stdout)
    assert result["uj_per_inference"] == pytest.approx(value, rel=1e-3)
    assert any("joulescope accuracy ±0.7%" in note for note in result["notes"])
    without = subprocess.run(
        [
            *command[:-1],
            "simulated",
            "--seconds",
            "0.2",
            "--inferences",
            "1",
            "--output",
            str(tmp_path / "x"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert without.returncode == 2
    assert without.stderr.strip() == (
        "power-measure tiny: simulated has no timestamp input (GPIO events); use lpm01a or joulescope"
    )
