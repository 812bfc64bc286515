"""The Monsoon driver through its real code against a fake `monsoon` package sampling in real time at
5 kHz: interval means from the engine's CSV rows (NumPy 2's `np.float64(…)` text), dropped stretches,
an unplugged monitor, the settings it refuses, and `power-analyzer serve` over PTD.

Expected values are recomputed from the fake's current function at each sample index.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from fakes_system.fake_monsoon import RATE_HZ, MonitorScript, make_package
from test_ptd_daemon_support import serving

from analyzers.errors import AnalyzerConnectionError, AnalyzerError
from analyzers.monsoon import MonsoonAnalyzer
from analyzers.registry import create_analyzer
from analyzers.trace import SAMPLE_MISSED

SITE = Path(__file__).parent / "fakes_system" / "monsoon_site"


def square_ma(t: np.ndarray) -> np.ndarray:
    """500 mA for 100 ms, 100 mA for 100 ms, by sample index (no float edge at the boundaries)."""
    index = np.rint(t * RATE_HZ).astype(np.int64)
    return np.where((index // 500) % 2 == 0, 500.0, 100.0)


def run(analyzer: MonsoonAnalyzer, interval_s: float, seconds: float) -> object:
    analyzer.start(interval_s, "run")
    time.sleep(seconds)
    analyzer.stop()
    return analyzer.fetch()


def test_intervals_are_the_means_of_the_5khz_samples_and_energy_accumulates() -> None:
    package = make_package(MonitorScript(current_ma=square_ma, voltage_droop_ohm=0.2))
    with MonsoonAnalyzer.from_device("20125", vout=3.7, modules=package) as monsoon:
        identity = monsoon.identify()
        trace = run(monsoon, 0.1, 1.3)
        stats = monsoon.stats()
    assert (identity.model, identity.serial) == ("HVPM", "20125")
    n = len(trace)
    assert 12 <= n <= 15
    amps = np.where(np.arange(n) % 2 == 0, 0.5, 0.1)
    volts = 3.7 - amps * 0.2
    np.testing.assert_allclose(trace.amps, amps, rtol=1e-12)
    np.testing.assert_allclose(trace.volts, volts, rtol=1e-12)
    np.testing.assert_allclose(trace.watts, amps * volts, rtol=1e-12)
    np.testing.assert_allclose(trace.energy_j, np.cumsum(amps * volts * 0.1), rtol=1e-12)
    assert set(np.diff(trace.time_ns).tolist()) <= {99_999_999, 100_000_000, 100_000_001}
    assert abs(int(trace.time_ns[-1]) - time.time_ns()) < 2e9
    np.testing.assert_allclose(trace.uncertainty, 0.015)
    assert stats.extra["missing_samples"] == 0 and stats.extra["unreadable_rows"] == 0
    assert stats.extra["instrument_samples"] >= n * 500


def test_a_short_drop_is_counted_a_long_one_leaves_missed_intervals_and_time_stays_true() -> None:
    script = MonitorScript(current_ma=square_ma, dropped_spans=((0.30, 0.32), (0.60, 1.10)))
    with MonsoonAnalyzer.from_device("", vout=4.0, modules=make_package(script)) as monsoon:
        trace = run(monsoon, 0.1, 1.8)
        stats = monsoon.stats()
    assert stats.extra["dropped_reported"] == 100 + 2500
    # The 0.5 s gap is longer than the engine's batching: the count moves to the rows' time, so
    # the intervals inside it are missed and those after it hold their own samples again.
    # Before it the 20 ms drop (within the batching: counted, not placed) moved the count 20 ms early,
    # so interval 10 [1.0, 1.1) gets the sample or two the re-anchoring puts there: missed too.
    flags = trace.flags
    assert list(np.flatnonzero(flags == SAMPLE_MISSED)) == [6, 7, 8, 9, 10]
    assert np.isnan(trace.watts[6:10]).all() and (np.diff(trace.energy_j[5:11]) == 0).all()
    # After the gap the intervals are back on the instrument's time, to a packet (3 samples of 500).
    after = np.arange(11, len(trace))
    assert len(after) >= 4 and stats.extra["monsoon_reanchored"] == 1
    np.testing.assert_allclose(trace.amps[after], np.where(after % 2 == 0, 0.5, 0.1), rtol=0.02)
    assert stats.extra["missing_samples"] >= 5 * 500


def test_an_unplugged_monsoon_keeps_the_samples_then_says_so() -> None:
    package = make_package(MonitorScript(unplug_after_s=0.6))
    with MonsoonAnalyzer.from_device("", vout=3.7, modules=package) as monsoon:
        monsoon.start(0.1, "run")
        time.sleep(1.2)
        trace = monsoon.fetch()
        assert 4 <= len(trace) <= 6
        with pytest.raises(AnalyzerConnectionError, match=r"stopped sampling: \[Errno 19\] No such device"):
            monsoon.fetch()
        monsoon.stop()


def test_settings_it_refuses_are_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    package = make_package(MonitorScript(serial=20125))
    with pytest.raises(
        AnalyzerError, match=r"vout is required.*monsoon:SERIAL,vout=3.7 \(HVPM: 0.8-13.5 V\)"
    ):
        MonsoonAnalyzer.from_device("", modules=package)
    with pytest.raises(AnalyzerError, match=r"vout 5 V is outside the LVPM's 2.01-4.55 V"):
        MonsoonAnalyzer.from_device("", vout=5, model="lvpm", modules=package)
    with pytest.raises(AnalyzerError, match="model must be hvpm or lvpm"):
        MonsoonAnalyzer.from_device("", vout=3, model="hv", modules=package)
    with pytest.raises(AnalyzerError, match="serial number, a whole number"):
        MonsoonAnalyzer.from_device("/dev/ttyACM0", vout=3, modules=package)
    with pytest.raises(
        AnalyzerConnectionError, match="no Monsoon HVPM with serial number 7: Device with serial"
    ):
        MonsoonAnalyzer.from_device("7", vout=3, modules=package)
    with pytest.raises(AnalyzerConnectionError, match="no Monsoon HVPM on USB: Could not find any Monsoon"):
        MonsoonAnalyzer.from_device("", vout=3, modules=make_package())
    with MonsoonAnalyzer.from_device("", vout=3.7, model="lvpm", modules=package) as lvpm:
        assert lvpm.identify().model == "LVPM"
        with pytest.raises(AnalyzerError, match=r"cannot report every 0\.001 s"):
            lvpm.start(0.001)
    monkeypatch.setitem(sys.modules, "Monsoon", None)
    with pytest.raises(AnalyzerError, match=r"monsoon package cannot be imported.*joulebench\[monsoon\]"):
        create_analyzer("monsoon", "20125", vout=3.7)


def test_power_analyzer_serve_answers_ptd_from_a_monsoon() -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SITE), str(Path(__file__).parent)]),
        "FAKE_MONSOON": json.dumps({"serial": 20125, "current_ma": 250.0}),
        "TZ": "UTC",
    }
    with serving(["--source", "monsoon:20125,vout=3.7"], env) as served:
        client = served.client
        assert client.cmd("Identify").split(",")[0] == "HVPM"
        assert client.cmd("Go,100,0,run").startswith("Starting untimed measurement")
        time.sleep(1.0)
        assert client.cmd("Stop") == "Stopping untimed measurement"
        samples = client.request("RL")[1:]
    assert len(samples) >= 8
    assert {line.split(",", 2)[2].split(",PF")[0] for line in samples} == {
        "Watts,0.925000,Volts,3.700000,Amps,0.250000"
    }
