"""`window_energy` on hand-made columns: partial edges, gaps, counters, the uncertainty parts."""

from __future__ import annotations

import numpy as np
import pytest

from rules.measure.energy import SourceColumns, window_energy

S = 1_000_000_000


def columns(
    watts: list[float], flags: list[int] | None = None, energy: list[float] | None = None
) -> SourceColumns:
    n = len(watts)
    return SourceColumns(
        time_ns=np.arange(1, n + 1, dtype=np.int64) * S,  # sample k covers ((k-1) s, k s]
        watts=np.array(watts, dtype=float),
        flags=np.array(flags or [0] * n, dtype=np.int8),
        uncertainty=np.full(n, 0.01),
        energy_j=None if energy is None else np.array(energy, dtype=float),
    )


def test_edge_samples_count_in_part_and_a_steady_load_has_no_discretisation_error() -> None:
    result = window_energy(columns([10.0] * 5), S, S // 2, 3 * S + S // 4)
    assert result.energy_j == pytest.approx(10.0 * 2.75)
    assert result.samples == 4 and result.final and result.method == "integrated"
    assert result.sampling_j == 0.0
    assert result.accuracy_j == pytest.approx(0.01 * 27.5 / np.sqrt(3))


def test_a_step_between_readings_is_a_discretisation_uncertainty() -> None:
    result = window_energy(columns([10.0, 10.0, 30.0, 30.0]), S, 0, 4 * S)
    assert result.energy_j == pytest.approx(80.0)
    assert result.sampling_j == pytest.approx(20.0 / 2 / np.sqrt(3))  # one step of 20 W over 1 s


def test_a_missed_sample_is_filled_at_the_mean_power_and_widens_the_uncertainty() -> None:
    result = window_energy(columns([10.0, 20.0, 0.0, 30.0], flags=[0, 0, -2, 0]), S, 0, 4 * S)
    assert result.energy_j == pytest.approx(60.0 + 20.0)  # 60 J measured over 3 s, 1 s at 20 W
    assert any("1 sample(s) in the window were missed or errors" in w for w in result.warnings)
    assert result.sampling_j > np.std([10.0, 20.0, 30.0], ddof=1) * 0.99


def test_a_counter_gives_the_energy_between_readings_and_falls_back_when_it_goes_back() -> None:
    steady = window_energy(columns([5.0] * 4, energy=[5.0, 10.0, 15.0, 20.0]), S, S + S // 2, 3 * S)
    assert steady.method == "counter" and steady.energy_j == pytest.approx(7.5)
    back = window_energy(columns([5.0] * 4, energy=[5.0, 10.0, 3.0, 8.0]), S, S, 4 * S)
    assert back.method == "integrated" and back.energy_j == pytest.approx(15.0)
    assert any("went backwards" in w for w in back.warnings)


def test_a_window_past_the_last_sample_is_not_final_and_says_how_much_is_extrapolated() -> None:
    result = window_energy(columns([10.0, 10.0]), S, 0, 3 * S)
    assert not result.final and result.energy_j == pytest.approx(30.0)
    assert any("its last 1 s are extrapolated" in w for w in result.warnings)
