"""The inference kind of `power-check`: a `performance/` folder with `run_1/` (and `ranging/`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzers.formats.mlperf_layout import (
    CLIENT_JSON,
    CLIENT_JSON_NAME,
    DETAIL_LOG,
    RANGING_DIR,
    SAMPLE_LOG,
    SERVER_JSON,
    SERVER_JSON_NAME,
    TESTING_DIR,
)
from analyzers.formats.sample_decode import SplReadResult
from analyzers.formats.sample_layout import SplFormatError
from rules.compliance.policy import CompliancePolicy, policy_for
from rules.compliance.session_files import ClockOffset, SessionFileError, SessionRecord
from rules.errors import InputError
from rules.inference.folder import InferenceFolder
from rules.inference.judge import InferenceEvidence, judge_inference
from rules.inference.loadgen_log import LoadgenLog
from rules.inference.metric import MetricError, canonical_scenario, compute_metric
from rules.inference.uncertainty import analyzer_accuracy, power_uncertainty
from rules.result import CheckResult
from rules.rulesets import JOULEBENCH_RULESET, Ruleset, get_ruleset, ruleset_for_date
from rules.window import MAX_READING_W, WindowStats, counted_watts, whole_samples_due, window_stats


@dataclass
class InferenceResult(CheckResult):
    ruleset: str = ""
    avg_power_w: float | None = None
    energy_per_query_j: float | None = None
    queries: float | None = None
    query_count_method: str | None = None
    efficiency: float | None = None
    efficiency_unit: str = ""
    samples: int = 0
    window_s: float | None = None
    stats: WindowStats | None = None
    ranging_avg_power_w: float | None = None
    loadgen_validity: str | None = None
    loadgen_version: str | None = None
    """`loadgen_version` of the detail log: which LoadGen wrote it (e.g. `6.0.17 @ d6147c7eb7`)."""
    skipped_lines: int = 0
    clock_offset_s: float | None = None  # director − client applied to the LoadGen window (joulebench client)
    alignment_uncertainty_s: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        stats = self.stats
        data.update(
            {
                "ruleset": self.ruleset,
                "avg_power_w": self.avg_power_w,
                "energy_per_query_j": self.energy_per_query_j,
                "queries": self.queries,
                "query_count_method": self.query_count_method,
                "efficiency": self.efficiency,
                "efficiency_unit": self.efficiency_unit,
                "samples": self.samples,
                "window_s": self.window_s,
                "loadgen_validity": self.loadgen_validity,
                "loadgen_version": self.loadgen_version,
                "ranging_avg_power_w": self.ranging_avg_power_w,
                "skipped_lines": self.skipped_lines,
                "clock_offset_s": self.clock_offset_s,
                "alignment_uncertainty_s": self.alignment_uncertainty_s,
                "integrated_energy_j": stats.integrated_energy_j if stats else None,
                "integrated_avg_power_w": stats.integrated_avg_power_w if stats else None,
                "integral_difference": stats.integral_difference if stats else None,
                "nominal_interval_s": stats.nominal_interval_s if stats else None,
                "expected_samples": stats.expected_samples if stats else None,
                "longest_gap_s": stats.longest_gap_s if stats else None,
                "sentinels": {
                    "error": stats.sentinel_errors if stats else 0,
                    "missed": stats.sentinel_missed if stats else 0,
                },
            }
        )
        return data

    def summary_line(self) -> str:
        verdict = "metric VALID" if self.valid else "metric INVALID"
        if self.value is None:
            head = f"{self.path}: {self.scenario or 'inference'} n/a [{verdict}]"
        else:
            head = (
                f"{self.path}: {self.scenario} {self.value:.10g} {self.unit} "
                f"(avg {self.avg_power_w:.6f} W, {self.samples} samples in {self.window_s:.3f} s, "
                f"{self.ruleset}{', LoadGen ' + self.loadgen_version if self.loadgen_version else ''}) [{verdict}]"
            )
        if self.errors:
            head += " — " + "; ".join(self.errors)
        return head


class InferenceKind:
    name = "inference"

    def claims(self, directory: Path) -> bool:
        run = directory / TESTING_DIR
        return (run / DETAIL_LOG).is_file() or (run / SAMPLE_LOG).is_file()

    def check(self, directory: Path, ruleset: str | None) -> CheckResult:
        run = directory / TESTING_DIR
        folder = InferenceFolder(directory)
        _required(folder, f"{TESTING_DIR}/{DETAIL_LOG}")
        log = folder.loadgen_log(TESTING_DIR)
        begin_ns = log.time_ns("power_begin")
        end_ns = log.time_ns("power_end")
        if end_ns <= begin_ns:
            raise InputError(log.path, "power_end is not after power_begin", line=log.line("power_end"))
        _required(folder, f"{TESTING_DIR}/{SAMPLE_LOG}")
        samples = _read_samples(folder)
        scenario = _scenario(directory, log)
        rules = _ruleset(folder, log, ruleset, begin_ns)
        # LoadGen stamps the SUT clock, spl.txt the director's: a recorded offset moves the window across.
        offset, offset_problem = _clock_offset(folder)
        shift_ns = offset.offset_ns if offset else 0
        stats = window_stats(samples.trace, begin_ns + shift_ns, end_ns + shift_ns)
        # Once, for both the result and the compliance check that compares it with testing.
        ranging_notes: list[str] = []
        ranging_avg = _ranging_average(folder, ranging_notes, shift_ns)
        result = InferenceResult(
            path=str(directory),
            kind=self.name,
            value=None,
            unit="",
            valid=False,
            scenario=scenario,
            ruleset=rules.name,
            samples=stats.samples,
            window_s=stats.window_s,
            stats=stats,
            avg_power_w=stats.avg_power_w,
            loadgen_validity=log.get("result_validity"),
            loadgen_version=_text_or_none(log.get("loadgen_version")),
            skipped_lines=len(samples.skipped),
            ranging_avg_power_w=ranging_avg,
        )
        evidence = InferenceEvidence(folder, begin_ns, end_ns, stats, ranging_avg)
        result.notes += log.problems[:3] + samples.skipped_summary(run / SAMPLE_LOG)
        if offset is not None:
            result.clock_offset_s = offset.offset_ns / 1e9
            result.alignment_uncertainty_s = offset.uncertainty_ns / 1e9
            result.notes.append(
                f"LoadGen windows moved {offset.offset_ns / 1e6:+.3f} ms onto the director's clock "
                f"(power/client.json joulebench.clock_offset_s); alignment uncertainty ±{offset.uncertainty_ns / 1e6:.3f} ms"
            )
        if stats.sentinel_errors or stats.sentinel_missed:
            result.notes.append(
                f"{run / SAMPLE_LOG}: {stats.sentinel_errors} error (-1) and "
                f"{stats.sentinel_missed} missed (-2) samples inside the window were not counted"
            )
        if stats.non_positive:
            result.notes.append(
                f"{run / SAMPLE_LOG}: {stats.non_positive} zero, negative, infinite or implausible (over "
                f"{MAX_READING_W:g} W) readings inside the window were not counted"
            )
        if _cut_short(folder.files.last_byte(f"{TESTING_DIR}/{SAMPLE_LOG}")):
            result.notes.append(
                f"{run / SAMPLE_LOG}: the last line has no line end, so the file may be cut short; "
                "that line was read as it stands"
            )
        if offset_problem is not None:
            result.notes.append(f"{offset_problem}; no clock offset was applied to the LoadGen window")
        if stats.avg_power_w is None:
            result.errors.append(
                f"{run / SAMPLE_LOG}: no sample lies inside the power window "
                f"({log.get('power_begin')} .. {log.get('power_end')} from {log.where('power_begin')})"
            )
            return _judged(result, evidence, rules)
        try:
            metric = compute_metric(scenario, log, rules, stats.avg_power_w, stats.window_s)
        except MetricError as error:
            result.errors.append(str(error))
            return _judged(result, evidence, rules)
        result.value = metric.value
        result.unit = metric.unit
        result.energy_per_query_j = metric.energy_per_query_j
        result.queries = metric.queries
        result.query_count_method = metric.query_count_method
        result.efficiency = metric.efficiency
        result.efficiency_unit = metric.efficiency_unit
        result.notes += list(metric.notes)
        _attach_uncertainty(result, samples, stats, folder, offset)
        result.notes += ranging_notes
        result.errors += missing_samples(str(run / SAMPLE_LOG), stats, policy_for(rules))
        validity = result.loadgen_validity
        if validity != "VALID":
            result.errors.append(
                f"{log.where('result_validity')}: LoadGen reported result_validity={validity}"
            )
        result.valid = not result.errors
        return _judged(result, evidence, rules)


def missing_samples(where: str, stats: WindowStats, policy: CompliancePolicy) -> list[str]:
    """A mean over part of the window is not the window's power: fewer samples than the rule set's
    fraction of the nominal count, or a gap above its maximum, invalidates the metric (a sentence each)."""
    problems = []
    due = whole_samples_due(stats.window_s, policy.sampling_interval_ms)
    if due > 0 and stats.samples < policy.min_sample_fraction * due:
        missing = 1 - stats.samples / due
        problems.append(
            f"{where}: {stats.samples} samples in the {stats.window_s:.3f} s window where a meter at "
            f"{policy.sampling_interval_ms} ms gives at least {due}: {missing:.1%} of the trace is "
            f"missing (at most {1 - policy.min_sample_fraction:.0%} may be)"
        )
    if stats.longest_gap_s is not None and stats.longest_gap_s > policy.max_gap_s:
        problems.append(
            f"{where}: {stats.longest_gap_s:.3f} s of the window have no sample (at most "
            f"{policy.max_gap_s:g} s may)"
        )
    return problems


def _attach_uncertainty(
    result: InferenceResult,
    samples: SplReadResult,
    stats: WindowStats,
    folder: InferenceFolder,
    offset: ClockOffset | None,
) -> None:
    trace = samples.trace
    inside = (trace.time_ns > stats.begin_ns) & (trace.time_ns < stats.end_ns) & counted_watts(trace.watts)
    budget = power_uncertainty(
        trace.watts[inside],
        stats.window_s,
        analyzer_accuracy(_server_record(folder)),
        offset.uncertainty_ns / 1e9 if offset else None,
    )
    relative = budget.relative(stats.avg_power_w or 0.0)
    if relative is not None and result.value is not None:
        result.uncertainty = abs(result.value) * relative
    result.notes.append(budget.basis)


def _judged(result: InferenceResult, evidence: InferenceEvidence, rules: Ruleset) -> InferenceResult:
    """Attach the compliance checks of the folder under the same rule set as the metric."""
    result.checks = judge_inference(evidence, rules)
    if result.checks is None:
        result.notes.append("no power/ folder: compliance not judged, only the metric")
    else:
        result.compliance_ruleset = rules.name
    return result


def _text_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def _required(folder: InferenceFolder, relative: str) -> None:
    if not folder.files.is_file(relative):
        raise InputError(
            folder.files.path(relative),
            "missing (a power result needs run_1/mlperf_log_detail.txt and run_1/spl.txt)",
        )


def _read_samples(folder: InferenceFolder) -> SplReadResult:
    path = folder.files.path(f"{TESTING_DIR}/{SAMPLE_LOG}")
    try:
        return folder.samples(TESTING_DIR, detail=False)
    except SplFormatError as error:
        raise InputError(path, str(error)) from None
    except OSError as error:
        raise InputError(path, f"cannot read: {error.strerror}") from None


def _server_record(folder: InferenceFolder) -> SessionRecord | None:
    try:
        return folder.session_record(SERVER_JSON_NAME) if folder.files.is_file(SERVER_JSON) else None
    except SessionFileError:
        return None  # an unreadable record is the compliance checks' to report


def _scenario(directory: Path, log: LoadgenLog) -> str:
    # The folder names the scenario the result is submitted under; LoadGen's effective_scenario may differ
    # (a MultiStream result inferred from a SingleStream run).
    for part in reversed(directory.resolve().parts):
        scenario = canonical_scenario(part)
        if scenario:
            return scenario
    scenario = canonical_scenario(str(log.get("effective_scenario", "")))
    if scenario is None:
        raise InputError(log.path, "no scenario in the folder names and no effective_scenario in the log")
    return scenario


def _ruleset(folder: InferenceFolder, log: LoadgenLog, forced: str | None, begin_ns: int) -> Ruleset:
    """A forced rule set; else `joulebench` for a folder joulebench made; else the round of its date."""
    if forced:
        return get_ruleset(forced)
    if folder.files.is_file(SERVER_JSON) and folder.made_by_joulebench():
        return get_ruleset(JOULEBENCH_RULESET)
    run_date = _run_date(log, begin_ns)
    detected = ruleset_for_date("inference", run_date)
    if detected is None:
        raise InputError(log.path, "no inference rule set is installed")
    return detected


def _run_date(log: LoadgenLog, begin_ns: int) -> dt.date:
    stamp = log.get("test_datetime")
    if isinstance(stamp, str):
        try:
            return dt.date.fromisoformat(stamp[:10])
        except ValueError:
            pass
    return dt.datetime.fromtimestamp(begin_ns / 1e9, tz=dt.timezone.utc).date()


def _cut_short(last_byte: bytes) -> bool:
    """A sample log whose last byte is not a line end (a copy or a write that stopped early)."""
    return bool(last_byte) and last_byte not in (b"\n", b"\r")


def _clock_offset(folder: InferenceFolder) -> tuple[ClockOffset | None, str | None]:
    """joulebench's client records director − client in client.json: the offset, or the sentence saying
    why a client.json that is there cannot give one (compliance judges the file itself)."""
    if not folder.files.is_file(CLIENT_JSON):
        return None, None
    try:
        return folder.session_record(CLIENT_JSON_NAME).clock_offset, None
    except SessionFileError as error:
        return None, str(error)


def _ranging_average(folder: InferenceFolder, notes: list[str], shift_ns: int = 0) -> float | None:
    """The same MLPerf mean over the ranging run, the companion the 5 % power check compares with."""
    if not (
        folder.files.is_file(f"{RANGING_DIR}/{DETAIL_LOG}")
        and folder.files.is_file(f"{RANGING_DIR}/{SAMPLE_LOG}")
    ):
        return None
    try:
        log = folder.loadgen_log(RANGING_DIR)
        stats = window_stats(
            folder.metric_samples(RANGING_DIR).trace,
            log.time_ns("power_begin") + shift_ns,
            log.time_ns("power_end") + shift_ns,
        )
    except (InputError, SplFormatError, OSError) as error:
        notes.append(f"ranging run not usable: {error}")
        return None
    return stats.avg_power_w
