"""`power-check` for an MLPerf Training benchmark folder: energy per run and the kJ score."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from analyzers.formats.units import NS_PER_S
from rules.compliance.minimums import (
    BackwardsTime,
    NodeReadings,
    check_backwards_time,
    check_training_readings,
    check_training_runs,
)
from rules.compliance.policy import policy_for
from rules.errors import InputError
from rules.executor import Executor, InProcess
from rules.result import CheckResult
from rules.rulesets import Ruleset, get_ruleset
from rules.training.energy import NodeEnergy, UndefinedEnergyError, node_energy, switch_energy
from rules.training.folder import RunFiles, is_training_folder, scaling_factor, scan
from rules.training.integration import Integration
from rules.training.mllog import MllogEvent, PowerLog, read_power_log, read_result_log
from rules.training.round import TrainingMetric, detect_round
from rules.training.scoring import RunEnergy, olympic_score, per_benchmark
from rules.training.uncertainty import RunUncertainty, run_uncertainty, score_uncertainty

NODES_PER_TASK = 16
"""Node logs read by one worker task: 1,024 nodes make 64 tasks, few enough that dispatch is cheap."""


@dataclass
class TrainingResult(CheckResult):
    """A training benchmark's power score; `value` = `energy_kj` (kJ per run, Olympic mean × scaling)."""

    energy_kj: float | None = None
    runs: list[RunEnergy] = field(default_factory=list)
    nodes: int = 0
    node_readings: list[NodeReadings] = field(default_factory=list)
    backwards: list[BackwardsTime] = field(default_factory=list)
    logs_without_energy: int = 0
    """Node logs the rule set's arithmetic gives no energy for (its division by zero)."""

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

    def __init__(self, meter_accuracy: float | None = None, node_executor: Executor | None = None) -> None:
        self.meter_accuracy = meter_accuracy
        self.node_executor = node_executor or InProcess()

    def using(self, executor: Executor) -> TrainingKind:
        """This kind with each run's node logs read on `executor`'s workers (one large result)."""
        return TrainingKind(self.meter_accuracy, executor)

    def claims(self, directory: Path) -> bool:
        return is_training_folder(directory)

    def check(self, directory: Path, ruleset: str | None) -> TrainingResult:
        result = check_training(
            directory, self.meter_accuracy, get_ruleset(ruleset) if ruleset else None, self.node_executor
        )
        policy = policy_for(get_ruleset(result.compliance_ruleset))
        result.checks = check_training_readings(result.node_readings, policy, result.logs_without_energy)
        result.checks.append(check_training_runs(result.scenario, len(result.runs), policy))
        result.checks.append(check_backwards_time(result.backwards, policy))
        return result


def check_training(
    directory: Path,
    meter_accuracy: float | None = None,
    rules: Ruleset | None = None,
    node_executor: Executor | None = None,
) -> TrainingResult:
    """Energy per run and the score, by the arithmetic of `rules` (by default the round of the runs'
    dates); `compliance_ruleset` of the result names the rule set used. Node logs are read on
    `node_executor` (default: in this process), in order, so the result is the same either way."""
    executor = node_executor or InProcess()
    folder = scan(directory)
    notes = list(folder.notes)
    logs = []
    for files in folder.runs:
        events, result_notes = read_result_log(files.result)
        notes += result_notes
        logs.append(events)
    if rules is None:
        rules, how = detect_round([e for events in logs for e in events if e.key == "run_start"])
        notes.append(how)
    metric = TrainingMetric.of(rules)
    notes.append(f"power readings integrated {metric.integration.described} ({rules.name})")
    runs: list[RunEnergy] = []
    run_uncertainties: dict[str, RunUncertainty] = {}
    tally = _Tally(notes)
    benchmark = ""
    for files, events in zip(folder.runs, logs, strict=True):
        benchmark = benchmark or _benchmark_name(events)
        run, uncertainty = _run_energy(files, events, metric.integration, tally, executor)
        runs.append(run)
        if uncertainty is not None:
            run_uncertainties[run.name] = uncertainty
    benchmark = benchmark or directory.name
    log_count = sum(len(f.nodes) + len(f.switches) for f in folder.runs)
    notes += [f"{note} ({count} of {log_count} power logs)" for note, count in tally.log_notes.items()]
    scaling, scaling_note = scaling_factor(directory)
    notes.append(scaling_note)
    node_counts = sorted({r.nodes for r in runs})
    if len(node_counts) > 1:
        notes.append(f"runs differ in node count: {node_counts}")

    result = TrainingResult(
        path=str(directory),
        kind="training",
        value=None,
        unit="kJ",
        valid=False,
        scenario=benchmark,
        runs=runs,
        nodes=max(node_counts),
        notes=notes,
        node_readings=tally.readings,
        backwards=tally.backwards,
        logs_without_energy=len(tally.undefined),
        compliance_ruleset=rules.name,
    )
    if tally.undefined:
        more = f" ({len(tally.undefined) - 1} more power logs alike)" if len(tally.undefined) > 1 else ""
        result.errors.append(f"{tally.undefined[0]}{more}; under {rules.name}")
        return result
    k = per_benchmark(metric.olympic_drop, benchmark)
    score = olympic_score(runs, benchmark, k)
    if score.mean_energy_j is None:
        result.errors.append(score.error)
        return result
    result.valid = True
    energy_kj = score.mean_energy_j * scaling / 1000
    result.value = result.energy_kj = energy_kj
    notes.append(
        f"Olympic mean of {score.kept} of {len(runs)} runs (dropped {k} at each end): "
        f"{score.mean_energy_j / 1000:.6f} kJ × {scaling:.10g}"
    )
    kept = [run_uncertainties[r.name] for r in runs if not r.dropped]
    stated = [r.stated_meter_j for r in runs if not r.dropped]
    # One set of meters measures every run: the stated bounds are averaged, not shrunk like noise.
    stated_j = math.fsum(s for s in stated if s is not None) / len(stated) if None not in stated else None
    accuracy = "from meter accuracy"
    if meter_accuracy is None and stated_j is not None:
        relative = stated_j / abs(score.mean_energy_j) if score.mean_energy_j else 0.0
        meter_accuracy = relative
        accuracy = "from the accuracy each node log states (calibration certificates; energy-weighted)"
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
            f"uncertainty (standard) {accuracy} ±{meter_accuracy:.3g} (rectangular, same meter "
            f"for every run) and {basis}"
        )
    return result


@dataclass
class _Tally:
    """What the runs of a folder add up as they are read."""

    notes: list[str]
    # Power-log notes repeat on every node of every run; they are reported once with a count.
    log_notes: Counter[str] = field(default_factory=Counter)
    readings: list[NodeReadings] = field(default_factory=list)
    backwards: list[BackwardsTime] = field(default_factory=list)
    undefined: list[str] = field(default_factory=list)
    """One sentence per node log the round's arithmetic gives no energy for."""


def _run_energy(
    files: RunFiles, events: list[MllogEvent], order: Integration, tally: _Tally, executor: Executor
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
        node_logs=tuple(path.name for path in files.nodes),
    )
    if start is None or stop is None:
        missing = "run_start" if start is None else "run_stop"
        tally.notes.append(f"{files.result.name}: no {missing}; counted as not converged")
        return base, None
    ttt_ns = stop.time_ns - start.time_ns
    if ttt_ns <= 0:
        raise InputError(files.result, "run_stop is not after run_start", line=stop.line)
    status = stop.metadata.get("status") if isinstance(stop.metadata, dict) else None
    base.converged = status == "success"
    base.ttt_s = ttt_ns / NS_PER_S
    if not base.converged:
        tally.notes.append(f"{files.result.name}: run_stop status {status!r}; counted as not converged")

    # One file at a time per worker: memory stays that of the largest single log, whatever the
    # node count; only four numbers per node come back.
    node_parts: list[NodeEnergy] = []
    paths = list(files.nodes)
    # A task per NODES_PER_TASK logs: a worker's round trip costs more than reading one small log.
    batches = [
        (tuple(paths[i : i + NODES_PER_TASK]), ttt_ns, order, files.name)
        for i in range(0, len(paths), NODES_PER_TASK)
    ]
    for batch in executor.run(_node_parts, batches, _batch_failed):
        for part in batch:
            if part.failure is not None:
                raise part.failure
            if part.energy is not None:
                node_parts.append(part.energy)
            if part.undefined is not None:
                tally.undefined.append(part.undefined)
            tally.backwards.extend(part.backwards)
    if len(node_parts) < len(files.nodes):
        return base, None
    parts = node_parts + [switch_energy(read_power_log(p), ttt_ns) for p in files.switches]
    tally.log_notes.update(note for part in parts for note in part.notes)
    base.energy_j = sum(p.energy_j for p in parts)
    base.node_energy_j = tuple(p.energy_j for p in node_parts)
    base.samples = sum(p.samples for p in node_parts)
    accuracies = [p.stated_accuracy for p in node_parts]
    if all(a is not None for a in accuracies):
        base.stated_meter_j = sum(p.energy_j * (p.stated_accuracy or 0.0) for p in node_parts)
    tally.readings += [
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


@dataclass(frozen=True)
class _NodePart:
    """What one node log contributes to its run, small enough to come back from a worker."""

    energy: NodeEnergy | None
    undefined: str | None = None
    """The round's arithmetic gives this log no energy (its division by zero): why, in one sentence."""
    backwards: list[BackwardsTime] = field(default_factory=list)
    failure: BaseException | None = None


_Batch = tuple[tuple[Path, ...], int, Integration, str]


def _node_parts(batch: _Batch) -> list[_NodePart]:
    paths, ttt_ns, order, run = batch
    return [_node_part(path, ttt_ns, order, run) for path in paths]


def _node_part(path: Path, ttt_ns: int, order: Integration, run: str) -> _NodePart:
    log = read_power_log(path)
    backwards = _backwards(run, path, log)
    try:
        return _NodePart(node_energy(log, ttt_ns, order), backwards=backwards)
    except UndefinedEnergyError as error:
        return _NodePart(None, str(error), backwards)


def _batch_failed(_batch: _Batch, error: BaseException) -> list[_NodePart]:
    # Raised again in the caller, as it would have been in process: the folder is unusable.
    return [_NodePart(None, failure=error)]


def _backwards(run: str, path: Path, log: PowerLog) -> list[BackwardsTime]:
    """The log's readings whose time is before the one above them in the file, as one record."""
    step = np.diff(log.reading_time_ns)
    back = np.flatnonzero(step < 0)
    if not len(back):
        return []
    first = int(back[0])
    return [
        BackwardsTime(f"{run}/{path.name}", int(log.reading_line[first + 1]), -step[first] / 1e9, len(back))
    ]


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
