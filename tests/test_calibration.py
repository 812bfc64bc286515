"""power-calibrate: software sources with a known flaw, recovered against the simulated reference meter.

Every source runs its real driver on one virtual clock (`ManualPollClock`): the simulated meter is
the reference; an NVML GPU (fake `pynvml`) and a Redfish BMC (fake service on 127.0.0.1) follow the
same load script through a known gain, offset, lag and averaging. Nothing sleeps: an hour-scale
calibration runs in seconds.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pytest
from fakes_system.fake_nvml import FakeGpu, FakeNvml
from fakes_system.manual_clock import ManualPollClock
from fakes_system.redfish_server import FakeBmc, FakeChassis, FakeRedfishServer

from analyzers.base import Analyzer
from analyzers.nvml import NvmlAnalyzer
from analyzers.redfish import RedfishAnalyzer
from analyzers.simulated import SimulatedAnalyzer
from analyzers.trace import Trace
from rules.calibration.certificate import (
    CertificateError,
    assess_candidate,
    certificate_document,
    load_correction,
)
from rules.calibration.conditions import Condition, ConditionTooShort, olympic_score
from rules.calibration.flaws import from_driver_stats, stale_readings

S = 1_000_000_000
LEAD_S, CONDITION_S, TAIL_S = 300, 300, 30
IDLE_W = 100.0


def load_script() -> np.ndarray:
    """True power in each second (k, k+1] of the recording: idle, then two loads that vary."""
    seconds = np.arange(LEAD_S + 3 * CONDITION_S + TAIL_S)
    level = np.full(len(seconds), IDLE_W)
    first = (seconds >= LEAD_S + CONDITION_S) & (seconds < LEAD_S + 2 * CONDITION_S)
    level[first] = np.where(seconds[first] % 40 < 10, 450.0, 350.0)
    second = seconds >= LEAD_S + 2 * CONDITION_S
    level[second] = np.where(seconds[second] % 50 < 25, 700.0, 600.0)
    level[seconds >= LEAD_S + 3 * CONDITION_S] = IDLE_W
    return level


def conditions(start_ns: int) -> list[Condition]:
    edges = [start_ns + (LEAD_S + i * CONDITION_S) * S for i in range(4)]
    names = ["idle", "load 1", "load 2"]
    return [Condition(name, edges[i], edges[i + 1]) for i, name in enumerate(names)]


@dataclass
class Recording:
    reference: Trace
    candidate: Trace
    candidate_stats: dict[str, float]
    conditions: list[Condition]


def record(
    candidate: Analyzer, clock: ManualPollClock, follow: Callable[[int, np.ndarray], None]
) -> Recording:
    """Run the script: the reference meter sees it as it is; `follow(k, level)` sets what the
    candidate's device reports for second k."""
    level = load_script()
    reference = SimulatedAnalyzer(seed=5, clock=clock)
    start_ns = clock.now_ns()
    for k in np.flatnonzero(np.diff(level, prepend=-1.0)):
        # The simulator's sample stamped t carries the level in force at t for its whole interval
        # (t - 1 s, t]: second k's level goes in at k + 1.
        reference.set_load(float(level[k]), at_ns=start_ns + (int(k) + 1) * S)
    reference.start(1.0)
    candidate.start(1.0)
    for k in range(len(level)):
        follow(k, level)
        clock.advance(1.0)
    candidate.stop()
    reference.stop()
    result = Recording(reference.fetch(), candidate.fetch(), candidate.stats().extra, conditions(start_ns))
    candidate.close()
    reference.close()
    return result


def lagged_average(level: np.ndarray, k: int, lag_s: int, averaging_s: int) -> float:
    """The mean true power over [k + 1 - lag - averaging, k + 1 - lag]: what a lagging averager
    reports when read at the end of second k."""
    end = k + 1 - lag_s
    return float(level[max(end - averaging_s, 0) : max(end, 1)].mean())


def record_nvml(gain: float, offset_w: float, average_lag_w: float = 0.0) -> Recording:
    clock = ManualPollClock()
    fake = FakeNvml([FakeGpu(watts=IDLE_W, average_lag_w=average_lag_w)], now_ns=clock.now_ns)
    gpu = NvmlAnalyzer("0", nvml_module=fake, clock=clock)

    def follow(k: int, level: np.ndarray) -> None:
        fake.set_power(0, gain * level[k] + offset_w)  # the counter integrates it over second k

    return record(gpu, clock, follow)


@pytest.fixture
def bmc() -> Iterator[tuple[FakeRedfishServer, FakeBmc]]:
    device = FakeBmc(chassis={"1": FakeChassis(watts=IDLE_W)})
    server = FakeRedfishServer([device]).start()
    yield server, device
    server.close()


def assess(recording: Recording, tolerance: float = 5.0) -> dict:
    return assess_candidate(
        "candidate",
        recording.reference,
        recording.candidate,
        recording.conditions,
        windows=5,
        window_s=60,
        tolerance_percent=tolerance,
        driver_flaws=from_driver_stats(recording.candidate_stats),
    )


def test_nvml_gain_and_offset_are_recovered_and_fail_the_rule() -> None:
    result = assess(record_nvml(gain=0.93, offset_w=12.0))
    response = result["response"]
    assert response["gain"] == pytest.approx(0.93, rel=0.005)
    assert response["offset_w"] == pytest.approx(12.0, abs=0.5)
    assert response["lag_s"] == pytest.approx(0.0, abs=1.0)
    assert response["averaging_s"] == pytest.approx(1.0, abs=1.0)  # the counter's own 1 s interval
    low, high = response["gain_ci"]
    assert low < 0.93 < high and high - low < 0.01
    by_name = {c["name"]: c for c in result["conditions"]}
    # 0.93 x 650 W + 12 W reads 5.2 % low under load 2: outside 5 %; idle reads +5 % (105 W).
    assert by_name["load 2"]["difference_percent"] == pytest.approx(-5.15, abs=0.3)
    assert not by_name["load 2"]["passed"]
    assert result["verdict"] == "fail"
    for condition in result["conditions"]:  # corrected, every condition agrees with the reference
        assert abs(condition["corrected_difference_percent"]) < 0.5
    assert result["correction"]["relative_bound"] < 0.01


@pytest.mark.parametrize(
    ("gain", "verdict"), [(0.96, "pass"), (0.94, "fail"), (1.045, "pass"), (1.055, "fail")]
)
def test_the_verdict_falls_on_either_side_of_five_percent(gain: float, verdict: str) -> None:
    result = assess(record_nvml(gain=gain, offset_w=0.0))
    differences = [c["difference_percent"] for c in result["conditions"]]
    assert all(d == pytest.approx((gain - 1) * 100, abs=0.3) for d in differences)
    assert result["verdict"] == verdict


def test_redfish_lag_and_averaging_are_recovered(bmc: tuple[FakeRedfishServer, FakeBmc]) -> None:
    server, device = bmc
    clock = ManualPollClock()
    analyzer = RedfishAnalyzer(server.url(0), clock=clock, timeout_s=1.0)

    def follow(k: int, level: np.ndarray) -> None:
        # Read at the end of second k: a one-minute average, 30 s late, through a 0.93 / 12 W sensor.
        device.chassis["1"].watts = 0.93 * lagged_average(level, k, lag_s=30, averaging_s=60) + 12.0

    result = assess(record(analyzer, clock, follow))
    response = result["response"]
    assert response["gain"] == pytest.approx(0.93, rel=0.005)
    assert response["offset_w"] == pytest.approx(12.0, abs=0.5)
    assert response["lag_s"] == pytest.approx(30.0, abs=1.0)
    assert response["averaging_s"] == pytest.approx(60.0, abs=1.0)
    assert result["verdict"] == "fail"
    # The lag and the average smear each step over 90 s: the Olympic score absorbs one window per
    # condition, the correction only removes gain and offset, so the residual bound says so.
    assert result["correction"]["relative_bound"] > 0.01


def test_polled_power_that_disagrees_with_the_counter_is_reported() -> None:
    result = assess(record_nvml(gain=1.0, offset_w=0.0, average_lag_w=40.0))
    details = [flaw["detail"] for flaw in result["flaws"] if flaw["kind"] == "partial-time sampling"]
    # The fake's averaged fields (average, usage) read 40 W low; its instant field is right.
    assert sorted(d.split(" power")[0] for d in details) == ["gpu0: polling average", "gpu0: polling usage"]
    assert all("(-1" in d for d in details)  # -10.8 % / -13.3 %: the figures are in the sentence
    assert result["verdict"] == "pass"  # the counter itself is right: the flaw is in the polled field


def test_stale_readings_are_found_only_while_the_reference_moves() -> None:
    t = np.arange(1, 61, dtype=np.int64) * S
    moving = Trace.from_columns(t, 300.0 + 50.0 * np.sin(np.arange(60) / 3))
    steady = Trace.from_columns(t, np.full(60, 300.0))
    held = Trace.from_columns(t, np.repeat(moving.watts[::10], 10))  # refreshed every 10 s
    [flaw] = stale_readings(held, moving)
    assert flaw.kind == "stale readings" and "for 9 s" in flaw.detail
    assert stale_readings(held, steady) == []
    assert stale_readings(moving, moving) == []


def test_a_condition_shorter_than_its_windows_says_so() -> None:
    with pytest.raises(
        ConditionTooShort, match=r"'load 1' lasted 200.0 s, shorter than its 5 windows of 60 s"
    ):
        Condition("load 1", 0, 200 * S).windows(5, 60)
    spans = Condition("idle", 0, 400 * S).windows(5, 60)
    assert spans[0][0] == 50 * S and spans[-1][1] == 350 * S  # centred, back to back
    assert olympic_score(np.array([1.0, 9.0, 2.0, 3.0, 4.0])) == pytest.approx(3.0)


def test_a_certificate_corrects_later_samples(tmp_path) -> None:
    recording = record_nvml(gain=0.93, offset_w=12.0)
    candidate = assess(recording)
    document = certificate_document("simulated", {}, [candidate], recording.conditions, {"windows": 5})
    path = tmp_path / "certificate.json"
    path.write_text(json.dumps(document))
    correction = load_correction(path, "candidate")
    corrected = correction.apply(recording.candidate)
    ref, cand = recording.reference, corrected
    energy = lambda trace: float(np.nansum(trace.watts))  # 1 s samples: J  # noqa: E731
    assert energy(cand) == pytest.approx(energy(ref), rel=0.002)
    assert np.all(cand.uncertainty == pytest.approx(correction.relative_bound))
    assert cand.energy_j is not None
    counter_j = cand.energy_j[-1] - cand.energy_j[0]
    assert counter_j == pytest.approx(energy(ref) - ref.watts[0], rel=0.002)
    with pytest.raises(CertificateError, match="certifies candidate, not source 'nvml:1'"):
        load_correction(path, "nvml:1")
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(CertificateError, match="not a joulebench calibration certificate"):
        load_correction(tmp_path / "bad.json")
    assert math.isfinite(correction.gain)
