"""`power-check` for an MLPerf Training benchmark folder: energy per run and the kJ score."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rules.compliance.minimums import NodeReadings, check_training_readings, check_training_runs
from rules.compliance.policy import policy_for
from rules.errors import InputError
from rules.result import CheckResult
from rules.rulesets import Ruleset, get_ruleset, latest_ruleset
from rules.training.energy import NS_PER_S, NodeEnergy, node_energy, switch_energy
from rules.training.folder import RunFiles, is_training_folder, scaling_factor, scan
from rules.training.mllog import MllogEvent, read_power_log, read_result_log
from rules.training.scoring import RunEnergy, olympic_score, per_benchmark
from rules.training.uncertainty import RunUncertainty, run_uncertainty, score_uncertainty


@dataclass
class TrainingResult(CheckResult):
    """A training benchmark's power score; `value` = `energy_kj` (kJ per run, Olympic mean × scaling)."""

    energy_kj: float | None = None
    runs: list[RunEnergy] = field(default_factory=list)
    nodes: int = 0
    node_readings: list[NodeReadings] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        data.update(
            kind="training",
            energy_kj=self.energy_kj,
            runs=[run.to_json() for run in self.runs],
            nodes=self.nodes,
        )
        return data


class TrainingKind:
    """Claims a folder holding `result_*.txt` files and a `power/` folder.

    `meter_accuracy` is the relative accuracy (0.01 = ±1 %) of the node meters when the lab knows it;
    MLLOG power logs do not carry it, so without it the uncertainty is reported as unknown.
    """

    name = "training"

    def __init__(self, meter_accuracy: float | None = None) -> None:
        self.meter_accuracy = meter_accuracy

    def claims(self, directory: Path) -> bool:
        return is_training_folder(directory)

    def check(self, directory: Path, ruleset: str | None) -> TrainingResult:
        rules = get_ruleset(ruleset) if ruleset else latest_ruleset("training")
        result = check_training(directory, self.meter_accuracy, _olympic_drop(rules))
        if rules is not None:
            policy = policy_for(rules)
            result.checks = check_training_readings(result.node_readings, policy)
            result.checks.append(check_training_runs(result.scenario, len(result.runs), policy))
            result.compliance_ruleset = rules.name
        return result


def _olympic_drop(rules: Ruleset | None) -> Mapping[str, int]:
    """The rule set's drop table; a rule set for every kind (joulebench-strict) uses the latest training one."""
    for candidate in (rules, latest_ruleset("training")):
        table = candidate.section("metric").get("olympic_drop") if candidate else None
        if isinstance(table, dict) and "default" in table:
            return {str(name): int(count) for name, count in table.items()}
    raise ValueError("no training rule set defines [metric] olympic_drop")


def check_training(
    directory: Path, meter_accuracy: float | None = None, olympic_drop: Mapping[str, int] | None = None
) -> TrainingResult:
    """`olympic_drop`: runs dropped at each end per benchmark; by default the latest training rule set's."""
    drops = olympic_drop if olympic_drop is not None else _olympic_drop(None)
    folder = scan(directory)
    notes = list(folder.notes)
    runs: list[RunEnergy] = []
    readings: list[NodeReadings] = []
    run_uncertainties: dict[str, RunUncertainty] = {}
    # Power-log notes repeat on every node of every run; they are reported once with a count.
    log_notes: Counter[str] = Counter()
    benchmark = ""
    for files in folder.runs:
        events, result_notes = read_result_log(files.result)
        notes += result_notes
        benchmark = benchmark or _benchmark_name(events)
        run, uncertainty = _run_energy(files, events, notes, log_notes, readings)
        runs.append(run)
        if uncertainty is not None:
            run_uncertainties[run.name] = uncertainty
    benchmark = benchmark or directory.name
    log_count = sum(len(f.nodes) + len(f.switches) for f in folder.runs)
    notes += [f"{note} ({count} of {log_count} power logs)" for note, count in log_notes.items()]
    scaling, scaling_note = scaling_factor(directory)
    notes.append(scaling_note)
    node_counts = sorted({r.nodes for r in runs})
    if len(node_counts) > 1:
        notes.append(f"runs differ in node count: {node_counts}")

    k = per_benchmark(drops, benchmark)
    score = olympic_score(runs, benchmark, k)
    result = TrainingResult(
        path=str(directory),
        kind="training",
        value=None,
        unit="kJ",
        valid=score.mean_energy_j is not None,
        scenario=benchmark,
        runs=runs,
        nodes=max(node_counts),
        notes=notes,
        node_readings=readings,
    )
    if score.mean_energy_j is None:
        result.errors.append(score.error)
        return result
    energy_kj = score.mean_energy_j * scaling / 1000
    result.value = result.energy_kj = energy_kj
    notes.append(
        f"Olympic mean of {score.kept} of {len(runs)} runs (dropped {k} at each end): "
        f"{score.mean_energy_j / 1000:.6f} kJ × {scaling:.10g}"
    )
    kept = [run_uncertainties[r.name] for r in runs if not r.dropped]
    total_j, known_j = score_uncertainty(score.mean_energy_j, kept, scaling, meter_accuracy)
    samples = sum(r.samples for r in runs if not r.dropped)
    basis = (
        f"timing (1 ms timestamps on run_start/run_stop and the power window) and sampling "
        f"(|rectangles − trapezoid| over {samples} readings of the kept runs): ±{known_j / 1000:.3g} kJ"
    )
    if total_j is None:
        notes.append(
            "uncertainty unknown: power_reading lines carry no per-sample uncertainty and no meter "
            f"accuracy was given; known part only: {basis}"
        )
    else:
        result.uncertainty = total_j / 1000
        notes.append(
            f"uncertainty (standard) from meter accuracy ±{meter_accuracy:.3g} (rectangular, same meter "
            f"for every run) and {basis}"
        )
    return result


def _run_energy(
    files: RunFiles,
    events: list[MllogEvent],
    notes: list[str],
    log_notes: Counter[str],
    readings: list[NodeReadings],
) -> tuple[RunEnergy, RunUncertainty | None]:
    start = _first(events, "run_start")
    stop = _first(events, "run_stop")
    base = RunEnergy(
        name=files.name,
        ttt_s=None,
        energy_j=None,
        converged=False,
        nodes=len(files.nodes),
        switches=len(files.switches),
    )
    if start is None or stop is None:
        missing = "run_start" if start is None else "run_stop"
        notes.append(f"{files.result.name}: no {missing}; counted as not converged")
        return base, None
    ttt_ns = stop.time_ns - start.time_ns
    if ttt_ns <= 0:
        raise InputError(files.result, "run_stop is not after run_start", line=stop.line)
    status = stop.metadata.get("status") if isinstance(stop.metadata, dict) else None
    base.converged = status == "success"
    base.ttt_s = ttt_ns / NS_PER_S
    if not base.converged:
        notes.append(f"{files.result.name}: run_stop status {status!r}; counted as not converged")

    # One file at a time: memory stays that of the largest single log, whatever the node count.
    parts: list[NodeEnergy] = [node_energy(read_power_log(p), ttt_ns) for p in files.nodes]
    parts += [switch_energy(read_power_log(p), ttt_ns) for p in files.switches]
    log_notes.update(note for part in parts for note in part.notes)
    base.energy_j = sum(p.energy_j for p in parts)
    base.samples = sum(p.samples for p in parts[: len(files.nodes)])
    node_parts = parts[: len(files.nodes)]
    readings += [
        NodeReadings(
            f"{files.name}/{path.name}", part.samples, part.window_s, _uncovered_s(part, start, stop)
        )
        for path, part in zip(files.nodes, node_parts, strict=True)
    ]
    uncertainty = run_uncertainty(
        energy_j=base.energy_j,
        ttt_s=base.ttt_s,
        window_s=min(p.window_s for p in node_parts),
        integration_diff_j=sum(p.integration_diff_j for p in node_parts),
    )
    base.uncertainty_j = uncertainty.total_j
    return base, uncertainty


def _first(events: list[MllogEvent], key: str) -> MllogEvent | None:
    return next((e for e in events if e.key == key), None)


def _benchmark_name(events: list[MllogEvent]) -> str:
    event = _first(events, "submission_benchmark")
    return event.value if event is not None and isinstance(event.value, str) else ""


def _uncovered_s(part: NodeEnergy, start: MllogEvent, stop: MllogEvent) -> float:
    """Seconds of the run (run_start to run_stop) before the node's first reading or after its last."""
    if part.first_reading_ns is None or part.last_reading_ns is None:
        return 0.0
    early = max(0, part.first_reading_ns - start.time_ns)
    late = max(0, stop.time_ns - part.last_reading_ns)
    return (early + late) / NS_PER_S
