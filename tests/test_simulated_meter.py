"""The simulated meter: determinism, load control, ranges, uncertainty, missed samples, ground truth."""

from __future__ import annotations

import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from analyzers.errors import AnalyzerProtocolError, AnalyzerStateError
from analyzers.simulated import (
    GroundTruth,
    ProfileStep,
    SimulatedAnalyzer,
    SimulatorConfig,
    SimulatorSettingError,
    VirtualClock,
    append_load_step,
)
from analyzers.simulated.electrical import power_factor
from analyzers.trace import NO_MARK, SAMPLE_ERROR, SAMPLE_MISSED, SAMPLE_OK, Trace

SECOND_NS = 1_000_000_000
# No noise and no script: the load is exactly what the test sets, so expected values are exact.
QUIET = SimulatorConfig(idle_w=80.0, profile=(), watts_noise=0.0, volts_noise=0.0)


def quiet_meter(clock: VirtualClock, channels: int | None = None) -> SimulatedAnalyzer:
    return SimulatedAnalyzer(
        "sim-test", config=QUIET, channels=channels, clock=clock, control_path="", truth_path=""
    )


def assert_same_readings(a: Trace, b: Trace) -> None:
    """Every quantity equal bit for bit (NaN where the other has NaN), totals and channels."""
    pairs = [(a, b), *zip(a.channels, b.channels, strict=True)]
    for x, y in pairs:
        for name in ("watts", "volts", "amps", "pf", "uncertainty", "flags"):
            np.testing.assert_array_equal(getattr(x, name), getattr(y, name), err_msg=name)


# -- determinism and the sampling grid ------------------------------------------------------------


def test_same_seed_gives_the_same_samples_whatever_the_start_time_and_the_fetch_chunking() -> None:
    early, late = VirtualClock(1_000 * SECOND_NS), VirtualClock(2_000_000 * SECOND_NS)
    a = SimulatedAnalyzer(seed=7, channels=2, clock=early, control_path="", truth_path="")
    b = SimulatedAnalyzer(seed=7, channels=2, clock=late, control_path="", truth_path="")
    a.start(0.01, "run")
    b.start(0.01, "run")
    early.advance(5.0)
    one_chunk = a.fetch()
    steps_ns = [int(step) for step in np.random.default_rng(3).integers(0, 100_000_000, size=40)]
    chunks = []
    for step_ns in steps_ns:
        late.advance_ns(step_ns)
        chunks.append(b.fetch())
    late.advance_ns(5 * SECOND_NS - sum(steps_ns))
    chunks.append(b.fetch())
    many_chunks = Trace.concat(chunks)
    assert len(one_chunk) == len(many_chunks) == 500
    assert_same_readings(one_chunk, many_chunks)
    assert one_chunk.channel_count == 2
    other_clock = VirtualClock()
    other_seed = SimulatedAnalyzer(seed=8, channels=2, clock=other_clock, control_path="", truth_path="")
    other_seed.start(0.01)
    other_clock.advance(5.0)
    assert not np.array_equal(other_seed.fetch().watts, one_chunk.watts)


def test_samples_sit_on_the_grid_start_plus_k_intervals() -> None:
    clock = VirtualClock(1_700_000_000 * SECOND_NS)
    meter = quiet_meter(clock)
    meter.start(0.25)
    clock.advance(0.2)
    assert len(meter.fetch()) == 0  # the first sample ends the first interval
    clock.advance(0.85)
    trace = meter.fetch()
    start = 1_700_000_000 * SECOND_NS
    assert trace.time_ns.tolist() == [start + k * 250_000_000 for k in (1, 2, 3, 4)]
    assert len(meter.fetch()) == 0  # nothing is returned twice


def test_the_scripted_profile_idles_then_ramps_to_a_steady_load() -> None:
    clock = VirtualClock()
    config = SimulatorConfig(
        idle_w=80.0, profile=(ProfileStep(2.0, 350.0, 1.0),), watts_noise=0, volts_noise=0
    )
    meter = SimulatedAnalyzer(config=config, clock=clock, control_path="", truth_path="")
    meter.start(0.5)
    clock.advance(4.0)
    assert meter.fetch().watts.tolist() == [80.0, 80.0, 80.0, 80.0, 215.0, 350.0, 350.0, 350.0]


def test_power_factor_volts_and_amps_are_consistent() -> None:
    clock = VirtualClock()
    meter = quiet_meter(clock)
    meter.set_load(300.0)
    meter.start(1.0)
    clock.advance(1.0)
    sample = meter.fetch()
    pf = 0.99 - 0.45 * np.exp(-2.0)
    assert sample.pf[0] == pytest.approx(pf, rel=1e-15)
    assert sample.volts[0] == 230.0
    assert sample.amps[0] == pytest.approx(300.0 / (230.0 * pf), rel=1e-15)


# -- the load control -------------------------------------------------------------------------------


def test_a_control_line_from_another_process_changes_the_next_sample(tmp_path: Path) -> None:
    control = tmp_path / "load.ctl"
    clock = VirtualClock(1_700_000_000 * SECOND_NS)
    meter = SimulatedAnalyzer(config=QUIET, clock=clock, control_path=control, truth_path="")
    meter.start(0.1)
    clock.advance(1.0)
    assert set(meter.fetch().watts.tolist()) == {80.0}
    # Between sample 10 (t=1.0 s) and sample 11 (t=1.1 s), written by a separate process.
    at_ns = clock.now_ns() + 50_000_000
    writer = f"open({str(control)!r}, 'a').write('{at_ns} 500.0\\n# comment\\n\\n')"
    subprocess.run([sys.executable, "-c", writer], check=True)
    # Exactly on the timestamp of sample 12: that sample already has the new level.
    append_load_step(control, 250.0, at_ns=clock.now_ns() + 200_000_000)
    clock.advance(0.3)
    assert meter.fetch().watts.tolist() == [500.0, 250.0, 250.0]


def test_a_control_ramp_is_linear_and_a_late_step_interrupts_it(tmp_path: Path) -> None:
    control = tmp_path / "load.ctl"
    clock = VirtualClock()
    meter = SimulatedAnalyzer(config=QUIET, clock=clock, control_path=control, truth_path="")
    meter.start(0.5)
    start = clock.now_ns()
    append_load_step(control, 480.0, at_ns=start, ramp_s=2.0)
    append_load_step(control, 100.0, at_ns=start + 3 * SECOND_NS // 2, ramp_s=1.0)
    clock.advance(3.0)
    assert meter.fetch().watts.tolist() == [180.0, 280.0, 380.0, 240.0, 100.0, 100.0]


def test_a_malformed_control_line_is_reported_once_and_loses_no_sample(tmp_path: Path) -> None:
    control = tmp_path / "load.ctl"
    clock = VirtualClock()
    meter = SimulatedAnalyzer(config=QUIET, clock=clock, control_path=control, truth_path="")
    meter.start(1.0)
    control.write_text(f"{clock.now_ns()} lots\n{clock.now_ns()} 120\n")
    clock.advance(2.0)
    samples = meter.fetch()  # the samples first, the failure with the next call (Analyzer.fetch)
    with pytest.raises(AnalyzerProtocolError, match=r"load\.ctl: line 1 is not"):
        meter.fetch()
    assert samples.watts.tolist() == [120.0, 120.0]


# -- ranges, over-range and uncertainty -----------------------------------------------------------


def test_current_above_140_percent_of_a_fixed_range_is_an_error_sample() -> None:
    clock = VirtualClock()
    meter = quiet_meter(clock)
    meter.set_amps_range(1.0)
    meter.set_load(150.0)  # 0.79 A: inside the 1 A range
    meter.start(1.0)
    clock.advance(3.0)
    meter.set_load(400.0)  # 1.81 A: over 1.4 A
    clock.advance(2.0)
    trace = meter.fetch()
    assert trace.flags.tolist() == [SAMPLE_OK] * 3 + [SAMPLE_ERROR] * 2
    assert trace.watts[:3].tolist() == [150.0] * 3
    assert np.isnan(trace.watts[3:]).all() and np.isnan(trace.amps[3:]).all()
    stats = meter.stats()
    assert (stats.samples, stats.errors, stats.valid, stats.max_power_w) == (5, 2, 3, 150.0)
    assert meter.ground_truth().trace.watts.tolist() == [150.0] * 3 + [400.0] * 2


def test_uncertainty_is_reading_plus_range_percent_and_a_far_too_large_range_exceeds_one_percent() -> None:
    clock = VirtualClock()
    meter = quiet_meter(clock)
    meter.set_load(300.0)  # 1.404 A at 230 V
    meter.start(1.0)
    clock.advance(2.0)
    auto = meter.fetch()
    # Auto picks 300 V and 2 A: (0.1 % × 300 W + 0.1 % × 600 W) / 300 W.
    assert auto.uncertainty.tolist() == pytest.approx([0.003, 0.003], rel=1e-12)
    ranges = meter.get_ranges()
    assert (ranges.volts.value, ranges.volts.auto, ranges.amps.value, ranges.amps.auto) == (
        300.0,
        True,
        2.0,
        True,
    )
    meter.set_amps_range(20.0)
    clock.advance(3.0)
    wide = meter.fetch()
    assert wide.uncertainty.tolist() == pytest.approx([0.021] * 3, rel=1e-12)
    stats = meter.stats()
    assert (stats.uncertainty_valid, stats.uncertainty_invalid) == (2, 3)
    assert stats.uncertainty_max == pytest.approx(0.021, rel=1e-12)


def test_a_range_request_takes_the_smallest_range_that_holds_it() -> None:
    meter = quiet_meter(VirtualClock(), channels=2)
    meter.set_amps_range(1.1 * 1.404)
    meter.set_volts_range(231.0, channel=2)
    assert meter.get_ranges(1).amps.value == 2.0
    assert meter.get_ranges(2).volts.value == 300.0
    # Channels disagree on the voltage setting: the shared view says "unknown".
    assert meter.get_ranges().volts.auto is None
    meter.set_volts_range("auto")
    assert meter.get_ranges().volts.auto is True
    with pytest.raises(SimulatorSettingError, match=r"no current range holds 25 .*up to 20"):
        meter.set_amps_range(25.0)
    with pytest.raises(SimulatorSettingError, match="invalid channel 3"):
        meter.get_ranges(3)


# -- missed samples, marks, multi-channel ----------------------------------------------------------


def test_missed_samples_on_request_are_flagged_minus_two_and_counted() -> None:
    clock = VirtualClock()
    meter = quiet_meter(clock)
    meter.start(0.1)
    clock.advance(0.3)
    meter.miss_next(3)
    clock.advance(0.7)
    trace = meter.fetch()
    assert trace.flags.tolist() == [0, 0, 0, SAMPLE_MISSED, SAMPLE_MISSED, SAMPLE_MISSED, 0, 0, 0, 0]
    assert trace.sentinel_counts() == {"error": 0, "missed": 3}
    assert (meter.stats().errors, meter.stats().valid) == (3, 7)
    assert np.isfinite(meter.ground_truth().trace.watts).all()


def test_a_missed_fraction_is_reproducible() -> None:
    counts = []
    for _ in range(2):
        clock = VirtualClock()
        config = replace(QUIET, missed_fraction=0.1)
        meter = SimulatedAnalyzer(config=config, seed=5, clock=clock, control_path="", truth_path="")
        meter.start(0.001)
        clock.advance(10.0)
        counts.append(np.flatnonzero(meter.fetch().flags == SAMPLE_MISSED).tolist())
    assert counts[0] == counts[1]
    assert 900 < len(counts[0]) < 1100


def test_marks_follow_set_mark_from_the_next_sample_on() -> None:
    clock = VirtualClock()
    meter = quiet_meter(clock)
    meter.start(1.0)
    clock.advance(2.0)
    meter.set_mark("s_testing")
    clock.advance(2.0)
    trace = meter.fetch()
    assert trace.mark_codes[:2].tolist() == [NO_MARK, NO_MARK]
    assert len(trace.with_mark("s_testing")) == 2


def test_the_total_of_a_multi_channel_meter_is_the_sum_of_its_channels() -> None:
    clock = VirtualClock()
    config = SimulatorConfig(
        channels=3, channel_shares=(2.0, 1.0, 1.0), watts_noise=0.0, volts_noise=0.0, profile=()
    )
    meter = SimulatedAnalyzer(config=config, clock=clock, control_path="", truth_path="")
    meter.set_load(400.0)
    meter.start(1.0)
    clock.advance(2.0)
    trace = meter.fetch()
    assert [block.watts.tolist() for block in trace.channels] == [
        [200.0, 200.0],
        [100.0, 100.0],
        [100.0, 100.0],
    ]
    assert trace.watts.tolist() == [400.0, 400.0]
    assert np.isnan(trace.volts).all()  # like PTD's sum block: not provided
    assert trace.channels[1].pf.tolist() == pytest.approx(power_factor(np.array([100.0, 100.0])).tolist())


# -- ground truth ------------------------------------------------------------------------------------


def test_integrating_the_fetched_samples_gives_the_ground_truth_energy(tmp_path: Path) -> None:
    clock = VirtualClock()
    truth_file = tmp_path / "truth.parquet"
    meter = SimulatedAnalyzer(seed=11, channels=2, clock=clock, control_path="", truth_path=truth_file)
    meter.start(0.001, "integrate")
    start = clock.now_ns()
    chunks = []
    for step in np.random.default_rng(1).uniform(0.0, 0.2, size=30):
        clock.advance(float(step))
        chunks.append(meter.fetch())
    meter.stop()
    stop = clock.now_ns()
    chunks.append(meter.fetch())
    fetched = Trace.concat(chunks)
    measured_j = float(fetched.watts.sum()) * 0.001
    truth = GroundTruth.load(truth_file)
    assert len(truth.trace) == len(fetched) == (stop - start) // 1_000_000
    assert truth.trace.time_ns.tolist() == fetched.time_ns.tolist()
    assert measured_j == pytest.approx(truth.energy_j(start, stop), rel=1e-12, abs=0)
    assert measured_j > 80.0 * (stop - start) / SECOND_NS  # the profile ramps above idle
    csv = tmp_path / "truth.csv"
    truth.save(csv)
    assert GroundTruth.load(csv).energy_j(start, stop) == truth.energy_j(start, stop)


def test_the_truth_integrates_any_window_pro_rata() -> None:
    clock = VirtualClock()
    meter = quiet_meter(clock)
    meter.set_load(200.0)
    meter.start(0.01)
    begin = clock.now_ns()
    clock.advance(1.0)
    truth = meter.ground_truth()
    # 123.456789 ms to 876.5 ms: not aligned with the 10 ms grid.
    assert truth.energy_j(begin + 123_456_789, begin + 876_500_000) == pytest.approx(
        200.0 * 0.753043211, rel=1e-12
    )


# -- threads, wall clock, lifecycle ---------------------------------------------------------------


def test_concurrent_readers_together_get_every_sample_exactly_once() -> None:
    clock = VirtualClock()
    meter = SimulatedAnalyzer(seed=2, clock=clock, control_path="", truth_path="")
    meter.start(0.00001)
    done = threading.Event()
    received: list[list[Trace]] = [[] for _ in range(4)]

    def read(slot: int) -> None:
        while not done.is_set():
            received[slot].append(meter.fetch())

    readers = [threading.Thread(target=read, args=(slot,)) for slot in range(4)]
    for reader in readers:
        reader.start()
    for step_ns in np.random.default_rng(4).integers(0, 300_000, size=2_000):
        clock.advance_ns(int(step_ns))
    done.set()
    for reader in readers:
        reader.join()
    meter.stop()
    leftover = meter.fetch()
    times = np.concatenate([chunk.time_ns for chunks in received for chunk in chunks] + [leftover.time_ns])
    for chunks in received:  # each reader sees its own chunks in time order
        mine = np.concatenate([chunk.time_ns for chunk in chunks])
        assert (np.diff(mine) > 0).all()
    expected = meter.ground_truth().trace.time_ns
    grid = meter.grid
    assert grid is not None
    assert len(expected) == (clock.now_ns() - grid.start_ns) // 10_000 > 25_000
    assert np.array_equal(np.sort(times), expected)


def test_the_wall_clock_meter_samples_at_10_microseconds() -> None:
    meter = SimulatedAnalyzer(control_path="", truth_path="")
    meter.start(0.00001)
    threading.Event().wait(0.2)
    meter.stop()
    trace = meter.fetch()
    grid = meter.grid
    assert grid is not None
    assert len(trace) >= 19_000
    assert np.array_equal(trace.time_ns, grid.start_ns + np.arange(1, len(trace) + 1) * 10_000)


def test_the_measurement_lifecycle_is_checked_and_keeps_unread_samples() -> None:
    clock = VirtualClock()
    meter = quiet_meter(clock)
    with pytest.raises(AnalyzerStateError, match="sim-test: no measurement to stop"):
        meter.stop()
    with pytest.raises(SimulatorSettingError, match="interval must be between 1e-05 s and 60 s"):
        meter.start(0.000001)
    meter.start(1.0, "first")
    with pytest.raises(AnalyzerStateError, match="already running"):
        meter.start(1.0)
    clock.advance(2.5)
    meter.stop()
    clock.advance(10.0)  # nothing is sampled after stop
    meter.start(0.5, "second")
    clock.advance(1.0)
    trace = meter.fetch()
    assert [trace.mark_names[c] for c in trace.mark_codes] == ["first", "first", "second", "second"]
    assert meter.stats().samples == 2  # statistics restart with each measurement


def test_identity_and_bad_configuration() -> None:
    identity = quiet_meter(VirtualClock()).identify()
    assert (identity.model, identity.min_interval_s) == ("SimulatedWT310", 1e-05)
    assert "ranges" in identity.capabilities and "uncertainty" in identity.capabilities
    with pytest.raises(SimulatorSettingError, match="channels must be between 1 and 64, got 0"):
        SimulatedAnalyzer(channels=0)
