"""`power-check` for an MLPerf Tiny energy run (EnergyRunner folder): µJ per inference."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rules.compliance.minimums import check_tiny_windows
from rules.compliance.policy import policy_for
from rules.errors import InputError
from rules.result import CheckResult
from rules.rulesets import get_ruleset, latest_ruleset
from rules.tiny.energy_runner import (
    ENERGY_FILE,
    is_energy_folder,
    published_median_uj,
    read_energy_trace,
    read_run_log,
)
from rules.tiny.windows import MIN_WINDOW_S, TinyWindow, from_energy_samples

METER_ACCURACY: dict[str, tuple[float, str]] = {
    "lpm01a": (0.02, "ST UM2243 Rev 2 §10: dynamic mode 100 nA–50 mA, accuracy in the range of 2 %"),
}
"""Published accuracy (relative bound) of the energy monitors EnergyRunner names in log.txt."""
LPM01A_DYNAMIC_MAX_A = 0.050


@dataclass
class TinyResult(CheckResult):
    """Median energy per inference over the GPIO windows; `value` = `uj_per_inference`."""

    uj_per_inference: float | None = None
    windows: list[TinyWindow] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        data.update(
            kind="tiny",
            uj_per_inference=self.uj_per_inference,
            windows=[w.to_json() for w in self.windows],
        )
        return data


class TinyKind:
    """Claims a folder with `trace1-energy.bin` and `trace1-timestamps.json` (EnergyRunner's `energy/`)."""

    name = "tiny"

    def claims(self, directory: Path) -> bool:
        return is_energy_folder(directory)

    def check(self, directory: Path, ruleset: str | None) -> TinyResult:
        result = check_tiny(directory)
        rules = get_ruleset(ruleset) if ruleset else latest_ruleset("tiny")
        if rules is not None:
            durations = [w.end_s - w.begin_s for w in result.windows]
            result.checks = [check_tiny_windows(durations, policy_for(rules))]
            result.compliance_ruleset = rules.name
        return result


def check_tiny(directory: Path) -> TinyResult:
    trace = read_energy_trace(directory)
    log = read_run_log(directory)
    notes: list[str] = []
    accuracy, source = METER_ACCURACY.get(log.monitor or "", (None, ""))
    if accuracy is None and log.stated_accuracy is not None:
        accuracy, source = log.stated_accuracy, "stated by the exporting driver in log.txt"
    try:
        energy = from_energy_samples(
            trace.energy_uj, trace.rate_hz, trace.timestamps_s, log.inferences_per_window, accuracy
        )
    except ValueError as exc:
        raise InputError(directory / ENERGY_FILE, str(exc)) from exc
    notes += energy.notes
    result = TinyResult(
        path=str(directory),
        kind="tiny",
        value=energy.median_uj,
        unit="uJ/inference",
        valid=True,
        scenario=log.model or "",
        uncertainty=energy.uncertainty_uj,
        uj_per_inference=energy.median_uj,
        windows=energy.windows,
        notes=notes,
    )
    notes.append(
        f"median of {len(energy.windows)} windows at {trace.rate_hz:g} Hz, "
        f"{log.inferences_per_window} inferences each"
    )
    for window in energy.short_windows:
        result.valid = False
        result.errors.append(
            f"window {window.index} lasts {window.end_s - window.begin_s:.3f} s, under the {MIN_WINDOW_S:g} s minimum"
        )
    if accuracy is None:
        monitor = log.monitor or "not named in log.txt"
        notes.append(f"uncertainty unknown: no published accuracy for the energy monitor ({monitor})")
    else:
        notes.append(
            f"uncertainty (standard): {log.monitor} accuracy ±{accuracy * 100:g}% ({source}), rectangular and "
            "correlated over all samples, plus one sample of timing at each window edge"
        )
        if log.monitor == "lpm01a":
            _check_lpm01a_range(energy.windows, log.voltage_v, notes)
    published = published_median_uj(directory)
    if published is not None:
        diff = (energy.median_uj - published) / published
        notes.append(f"results.txt publishes {published:g} uJ/inf.; recomputed differs by {diff:+.4%}")
    return result


def _check_lpm01a_range(windows: list[TinyWindow], voltage_v: float | None, notes: list[str]) -> None:
    # The stated accuracy holds only inside the dynamic range; say so when the mean current leaves it.
    if voltage_v is None or voltage_v <= 0:
        return
    for window in windows:
        seconds = window.end_s - window.begin_s
        current_a = window.energy_uj / 1e6 / seconds / voltage_v if seconds > 0 else 0.0
        if current_a > LPM01A_DYNAMIC_MAX_A:
            notes.append(
                f"window {window.index}: mean current {current_a * 1000:.1f} mA exceeds the 50 mA "
                "dynamic range the accuracy applies to"
            )
