"""The three real MLPerf Inference power folders reproduce the values MLCommons published."""

from pathlib import Path

import pytest

from rules.inference.kind import InferenceKind, InferenceResult

DATA = Path(__file__).parent / "data" / "inference"


def _check(name: str, ruleset: str | None = None) -> InferenceResult:
    result = InferenceKind().check(DATA / name, ruleset)
    assert isinstance(result, InferenceResult)
    return result


def test_v1_0_singlestream_without_query_count() -> None:
    result = _check("v1.0-krai-rpi4-resnet50-singlestream")
    assert result.ruleset == "mlperf-inference-v1.0"
    assert result.scenario == "SingleStream"
    assert result.unit == "J/query"
    assert f"{result.value:.9f}" == "3.443548122"
    assert result.avg_power_w is not None and f"{result.avg_power_w:.9f}" == "5.834231405"
    assert result.samples == 605
    assert result.window_s == pytest.approx(604.385, abs=1e-9)
    assert result.query_count_method == "qps_with_loadgen_overhead_x_window"
    assert result.valid


def test_v1_0_offline_three_channels() -> None:
    result = _check("v1.0-nvidia-a100x8-resnet50-offline-3ch")
    assert result.scenario == "Offline"
    assert result.unit == "W"
    assert f"{result.value:.6f}" == "2195.056765"
    assert result.samples == 680
    assert result.efficiency is not None and round(result.efficiency, 2) == 97.31
    assert result.efficiency_unit == "samples/J"
    assert result.energy_per_query_j is None


def test_v2_0_singlestream_with_query_count() -> None:
    result = _check("v2.0-nvidia-orin-resnet50-singlestream")
    assert result.ruleset == "mlperf-inference-v2.0"
    assert result.unit == "J/query"
    assert f"{result.value:.11f}" == "0.02545321027"
    assert result.queries == 652998
    assert result.samples == 600
    assert result.avg_power_w is not None and round(result.avg_power_w, 4) == 27.7014
    assert result.window_s == pytest.approx(600.002, abs=1e-9)


def test_forced_later_round_prints_millijoules() -> None:
    result = _check("v2.0-nvidia-orin-resnet50-singlestream", "mlperf-inference-v3.0")
    assert result.unit == "mJ/query"
    assert f"{result.value:.8f}" == "25.45321027"


def test_physical_integral_and_sample_accounting_beside_the_mlperf_mean() -> None:
    result = _check("v1.0-nvidia-a100x8-resnet50-offline-3ch")
    stats = result.stats
    assert stats is not None
    assert stats.nominal_interval_s == pytest.approx(1.0, abs=0.02)
    assert stats.expected_samples == pytest.approx(679.78, rel=0.02)
    assert stats.longest_gap_s is not None and 1.0 <= stats.longest_gap_s < 1.1
    assert stats.integral_difference is not None and abs(stats.integral_difference) < 0.001
    # The ranging run of this folder averaged more than the testing run, within the 5 % the rules allow.
    assert result.ranging_avg_power_w is not None
    assert 1.0 < result.ranging_avg_power_w / stats.avg_power_w < 1.05  # type: ignore[operator]
