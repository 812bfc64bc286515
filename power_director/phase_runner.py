"""How one run is carried out on the meters: ranges, settle, `Go`; settle, `Stop`, samples, summaries.

`Session` decides whether a run may start or stop (`transitions`) and records the exchange; this
does the work in between, in the order of the session's era of the reference director
(`ptd_sequence`). Errors propagate (AnalyzerError, StorageError, RangingError): the session turns
them into its failure.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from analyzers.base import MeasurementStats
from power_director.api import Mode, PhaseStamp
from power_director.calibration import calibrations_of
from power_director.config import SessionConfig
from power_director.ptd_links import PtdLink
from power_director.ptd_sequence import sequence_for
from power_director.session_analyzers import SessionAnalyzers
from power_director.session_narration import SessionNarration
from power_director.session_phase import Phase, analyzer_summary, write_samples
from power_director.session_ranges import SessionRanges


class PhaseRunner:
    def __init__(
        self,
        folder: Path,
        config: SessionConfig,
        analyzers: SessionAnalyzers,
        ranges: SessionRanges,
        narration: SessionNarration,
        sleep: Callable[[float], None],
    ) -> None:
        self._folder = folder
        self._config = config
        self._analyzers = analyzers
        self._ranges = ranges
        self._narration = narration
        self._sleep = sleep
        self.sequence = sequence_for(config.era)

    def begin(
        self, mode: Mode, mark: str, known_ranges: tuple[float, float] | None, arrived: PhaseStamp
    ) -> Phase:
        """Ranges for `mode`, settle, `Go` with `mark`; the phase carries stamps 0 and 1."""
        links = self._analyzers.links
        self._ranges.read_initial(links)
        if mode == "ranging":
            self._ranges.set_for_ranging(links, self.sequence)
        else:
            self._ranges.set_for_testing(links, known_ranges)
        self._settle("before Go")
        self._narration.starting(mode)
        started = self._analyzers.start(mark)
        return Phase(mode=mode, mark=mark, stamps=[arrived, started])

    def end(self, phase: Phase, arrived: PhaseStamp) -> PhaseStamp:
        """Settle, `Stop`, the phase's files and summaries (after ranging: the testing ranges)."""
        phase.stamps.append(arrived)
        self._settle("before Stop")
        if self.sequence.before_stop.get(phase.mode):
            for link in self._analyzers.links:
                self._statistics(link, self.sequence.before_stop[phase.mode])  # the era asks; we keep ours
        try:
            stopped = self.stop(phase, on_record=self.sequence.reads_on_record)
        finally:
            self.write_samples(phase)  # whatever arrived, also when the analyzer failed
            self._analyzers.log_ptd()
        recorder = self._analyzers.the_recorder()
        calibrations = calibrations_of(self._analyzers.instruments)
        phase.summaries = [
            analyzer_summary(
                link,
                phase,
                recorder,
                self._statistics(link, self.sequence.statistics_order),
                calibrations.get(link.name),
            )
            for link in self._analyzers.links
        ]
        self._analyzers.log_ptd()
        if phase.mode == "ranging":
            self._ranges.derive(self._analyzers.links, lambda name: recorder.tally(name, phase.mark))
        return stopped

    def cut_short(self, phase: Phase, arrived: PhaseStamp) -> None:
        """`done` while the run is on: stop it now (no settling) and keep its samples."""
        self._narration.done_during_run(phase.mode)
        phase.stamps.append(arrived)
        try:
            self.stop(phase)
        finally:
            self.write_samples(phase)

    def stop(self, phase: Phase, on_record: bool = True) -> PhaseStamp:
        """`Stop` on every analyzer; the instant is the phase's stamp 3. `on_record`: the last
        samples are read as the era's director does (`RL,*,*` first), else apart from the record."""
        stopped = self._analyzers.stop(on_record)
        if len(phase.stamps) == 3:
            phase.stamps.append(stopped)
        return stopped

    def close(self) -> None:
        """The session's last commands: the era's closing `Stop`, then the ranges `RR` found."""
        if self.sequence.second_stop:
            for link in self._analyzers.links:
                if link.ptd is not None:
                    with link.lock:
                        link.ptd.confirm_stopped()
            self._analyzers.log_ptd()
        self._ranges.restore(self._analyzers.links)

    def _statistics(self, link: PtdLink, order: tuple[str, ...]) -> MeasurementStats:
        """The daemon's `Watts`/`Uncertainty`, in `order`; off the record where the era asked none."""
        unlisted = link.unlisted() if not self.sequence.reads_on_record else contextlib.nullcontext()
        with link.lock, unlisted:
            if link.ptd is not None:
                return link.ptd.stats(order)
            return link.analyzer.stats()

    def write_samples(self, phase: Phase) -> None:
        tolerance_ns = self._config.merge_tolerance_ns
        write_samples(self._folder, self._analyzers.names, phase, tolerance_ns, self._narration)

    def _settle(self, why: str) -> None:
        if self._config.settle_s > 0:
            self._narration.settling(self._config.settle_s, why)
            self._sleep(self._config.settle_s)
