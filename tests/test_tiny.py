"""power-check for MLPerf Tiny: the published EnergyRunner fixture, raw V/I traces, damaged folders."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from analyzers.trace import SAMPLE_MISSED, Trace
from rules.errors import InputError
from rules.tiny.kind import TinyKind, check_tiny
from rules.tiny.windows import from_trace

FIXTURE = Path(__file__).parent / "data" / "tiny" / "v1.0-octoml-l4r5zi-cmsis-ad-energy"
EPOCH_NS = 1_700_000_000_000_000_000


def test_fixture_reproduces_the_published_median() -> None:
    result = TinyKind().check(FIXTURE, None)
    assert result.valid
    assert result.unit == "uJ/inference"
    assert result.value == pytest.approx(443.184, rel=2e-4)
    assert len(result.windows) == 5
    assert all(w.samples > 12_900 for w in result.windows)
    # Window 1 (timestamps 1-2) reproduces EnergyRunner's own line: 664776.710 uJ.
    assert result.windows[0].energy_uj == pytest.approx(664776.710, abs=1e-3)
    data = result.to_json()
    assert data["kind"] == "tiny" and data["uj_per_inference"] == data["value"]
    assert len(data["windows"]) == 5
    json.dumps(data)


def test_fixture_uncertainty_comes_from_the_lpm01a_accuracy() -> None:
    result = check_tiny(FIXTURE)
    assert result.uncertainty is not None
    # ±2 % rectangular dominates; one 1 ms sample at each edge adds almost nothing.
    assert result.uncertainty == pytest.approx(443.184 * 0.02 / math.sqrt(3), rel=1e-3)
    assert any("UM2243" in note for note in result.notes)


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "energy"
    shutil.copytree(FIXTURE, folder)
    return folder


def test_unknown_monitor_gives_unknown_uncertainty(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    log = folder / "log.txt"
    log.write_text(log.read_text().replace("-name[lpm01a]", "-name[mystery]"))
    result = check_tiny(folder)
    assert result.uncertainty is None and result.value == pytest.approx(443.184, rel=2e-4)
    assert any("uncertainty unknown" in note and "mystery" in note for note in result.notes)


def test_truncated_energy_file_is_an_input_error(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    energy = folder / "trace1-energy.bin"
    energy.write_bytes(energy.read_bytes()[:-2])
    with pytest.raises(InputError, match=r"trace1-energy\.bin"):
        check_tiny(folder)


def test_window_past_the_trace_end_is_an_input_error(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    energy = folder / "trace1-energy.bin"
    energy.write_bytes(energy.read_bytes()[: 1 + 4 * 100_000])
    with pytest.raises(InputError, match="window 5"):
        check_tiny(folder)


def test_missing_iterinfer_is_an_input_error(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    log = folder / "log.txt"
    log.write_text(log.read_text().replace("iterInfer", "iterWhatever"))
    with pytest.raises(InputError, match="iterInfer"):
        check_tiny(folder)


def test_short_window_makes_the_result_invalid(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    stamps = json.loads((folder / "trace1-timestamps.json").read_text())
    stamps[2] = stamps[1] + 5.0
    (folder / "trace1-timestamps.json").write_text(json.dumps(stamps))
    result = check_tiny(folder)
    assert not result.valid
    assert result.errors == ["window 1 lasts 5.000 s, under the 10 s minimum"]


def test_claims() -> None:
    assert TinyKind().claims(FIXTURE)
    assert not TinyKind().claims(FIXTURE.parent)


def _lpm_trace(current_a: np.ndarray, rate_hz: float = 1000.0, uncertainty: float | None = 0.02) -> Trace:
    n = len(current_a)
    time_ns = EPOCH_NS + (np.arange(n) * (1e9 / rate_hz)).astype(np.int64)
    return Trace.from_columns(
        time_ns,
        watts=np.full(n, np.nan),
        volts=np.full(n, 1.8),
        amps=current_a,
        uncertainty=None if uncertainty is None else np.full(n, uncertainty),
    )


def test_raw_trace_windows_integrate_v_times_i() -> None:
    rate = 1000.0
    current = np.full(60_000, 0.010)  # 10 mA at 1.8 V = 18 mW
    current[20_000:32_000] = 0.020  # window 2 draws twice as much
    trace = _lpm_trace(current, rate)
    # start mark, then windows of 10 s at 1-11 s, 20-30 s, 40-50 s (indices 1000..11000 etc.)
    events = EPOCH_NS + np.array([0, 1, 11, 20, 30, 40, 50]) * 1_000_000_000
    energy = from_trace(trace, events, inferences_per_window=1000)
    per_inference = [w.uj_per_inference for w in energy.windows]
    assert per_inference[0] == pytest.approx(18e-3 * 10 / 1000 * 1e6)  # 180 µJ
    assert per_inference[1] == pytest.approx(per_inference[0] * 2)
    assert energy.median_uj == pytest.approx(180.0)
    assert [w.samples for w in energy.windows] == [10_000] * 3
    assert energy.windows[0].begin_s == 1.0 and energy.windows[0].end_s == 11.0
    assert energy.uncertainty_uj == pytest.approx(180.0 * 0.02 / math.sqrt(3), rel=1e-4)


def test_raw_trace_without_uncertainty_reports_none_and_counts_lost_samples() -> None:
    current = np.full(30_000, 0.010)
    trace = _lpm_trace(current, uncertainty=None)
    flags = trace.flags.copy()
    flags[2_000] = SAMPLE_MISSED
    trace = Trace.from_columns(trace.time_ns, trace.watts, trace.volts, trace.amps, flags=flags)
    events = EPOCH_NS + np.array([0, 1, 11]) * 1_000_000_000
    energy = from_trace(trace, events, inferences_per_window=100)
    assert energy.uncertainty_uj is None
    assert energy.windows[0].energy_uj == pytest.approx(18e-3 * (10 - 0.001) * 1e6)
    assert "1 flagged" in energy.notes[0]
    with_accuracy = from_trace(trace, events, inferences_per_window=100, meter_accuracy=0.02)
    assert with_accuracy.uncertainty_uj is not None
