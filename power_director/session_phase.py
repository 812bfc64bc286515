"""A session's runs and records: the `messages` entries, one phase's stamps and marks, its summaries.

Phase stamps are the instants the client gets back: 0 when the start request arrived, 1 when the
analyzer acknowledged `Go`, 2 when the stop request arrived, 3 when the analyzer acknowledged `Stop`
and handed over its samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzers.base import MeasurementStats
from analyzers.formats.mlperf_layout import PHASE_DIRS
from analyzers.formats.units import NS_PER_S
from power_director.api import (
    AlignmentSummary,
    AnalyzerSummary,
    CorrectedSummary,
    Exchange,
    MarkEvent,
    Mode,
    PhaseStamp,
    PhaseStart,
)
from power_director.artifacts.traces import write_trace_files
from power_director.calibration import Calibration, corrected_figure
from power_director.errors import BadRequest, Conflict
from power_director.merge import Alignment
from power_director.phase_files import write_phase_spl_file
from power_director.ptd_links import PtdLink
from power_director.recorder import Recorder
from power_director.session_narration import SessionNarration
from power_director.transitions import Action


@dataclass
class Message:
    """One `messages` entry; times are the director's wall clock in seconds, as the reference writes."""

    cmd: str
    cmd_time: float
    reply: str
    reply_time: float

    def as_json(self) -> dict[str, Any]:
        return {
            "cmd": self.cmd,
            "cmd_time": self.cmd_time,
            "reply": self.reply,
            "reply_time": self.reply_time,
        }

    def exchange(self) -> Exchange:
        return Exchange(cmd=self.cmd, reply=self.reply)

    @classmethod
    def of(cls, exchange: Exchange, arrived: PhaseStamp, replied: PhaseStamp) -> Message:
        return cls(exchange.cmd, arrived.wall_ns / NS_PER_S, exchange.reply, replied.wall_ns / NS_PER_S)


@dataclass
class Phase:
    mode: Mode
    mark: str
    stamps: list[PhaseStamp]
    summaries: list[AnalyzerSummary] = field(default_factory=list)
    open_marks: set[str] = field(default_factory=set)
    alignment: list[Alignment] = field(default_factory=list)
    samples_written: bool = False

    def mark_event(self, name: str, event: MarkEvent) -> None:
        """A client mark begins or ends inside this run; Conflict when it is not open/already open."""
        if event == "begin" and name in self.open_marks:
            raise Conflict(f"mark {name!r} has already begun in this {self.mode} run")
        if event == "end" and name not in self.open_marks:
            raise Conflict(f"mark {name!r} has not begun in this {self.mode} run")
        (self.open_marks.add if event == "begin" else self.open_marks.discard)(name)


class StartRequest:
    """A start call: the command it is recorded as, its transition, the known ranges it gives."""

    def __init__(self, session_id: str, mode: Mode, request: PhaseStart) -> None:
        self.mode = mode
        self.request = request
        self.known = request.max_volts is not None or request.max_amps is not None
        self.command = f"session,{session_id},start,{mode}"
        if self.known:
            self.command += f",{request.max_volts},{request.max_amps}"
        self.action = Action.START_RANGING if mode == "ranging" else Action.START_TESTING
        if mode == "testing" and self.known:
            self.action = Action.START_TESTING_KNOWN

    @property
    def known_ranges(self) -> tuple[float, float] | None:
        volts, amps = self.request.max_volts, self.request.max_amps
        return (volts, amps) if volts is not None and amps is not None else None

    def check(self) -> None:
        """BadRequest for ranges that do not fit the call."""
        if self.known and self.known_ranges is None:
            raise BadRequest("give both max_volts and max_amps, or neither")
        if self.known and self.mode == "ranging":
            raise BadRequest("known ranges (max_volts, max_amps) apply to testing, not ranging")


def write_samples(
    folder: Path,
    analyzers: list[str],
    phase: Phase,
    tolerance_ns: int,
    narration: SessionNarration,
) -> None:
    """The phase's `spl.txt` and the Parquet trace(s), from what the recorder stored."""
    lines, alignment = write_phase_spl_file(folder, analyzers, phase.mode, phase.mark, tolerance_ns)
    phase.alignment = alignment or []
    phase.samples_written = True
    narration.wrote_samples(lines, PHASE_DIRS[phase.mode], phase.alignment)
    write_trace_files(folder, analyzers)


def analyzer_summary(
    link: PtdLink,
    phase: Phase,
    recorder: Recorder,
    stats: MeasurementStats,
    calibration: Calibration | None = None,
) -> AnalyzerSummary:
    """What one analyzer measured in `phase`: PTD's `Watts`/`Uncertainty` (`stats`) and the recorder's
    counts; with a calibration, the same figures corrected."""
    tally = recorder.tally(link.name, phase.mark)
    alignment = next((a for a in phase.alignment if a.name == link.name), None)
    corrected = None
    if calibration is not None:
        correction = calibration.correction
        corrected = CorrectedSummary(
            avg_power_w=corrected_figure(_finite(stats.avg_power_w), correction),
            min_power_w=corrected_figure(_finite(stats.min_power_w), correction),
            max_power_w=corrected_figure(_finite(stats.max_power_w), correction),
            relative_bound=correction.relative_bound,
            gain=correction.gain,
            offset_w=correction.offset_w,
            certificate_sha256=calibration.sha256,
        )
    return AnalyzerSummary(
        name=link.name,
        samples=tally.samples,
        errors=tally.error,
        missed=tally.missed,
        avg_power_w=_finite(stats.avg_power_w),
        min_power_w=_finite(stats.min_power_w),
        max_power_w=_finite(stats.max_power_w),
        max_volts=tally.max_volts,
        max_amps=tally.max_amps,
        uncertainty_max=_finite(stats.uncertainty_max),
        uncertainty_invalid=stats.uncertainty_invalid,
        alignment=AlignmentSummary.model_validate(alignment, from_attributes=True)
        if alignment is not None
        else None,
        corrected=corrected,
    )


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
