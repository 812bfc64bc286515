"""The PTD range protocol of one session, as the reference director runs it.

    before the first run   `RR`: the meter's ranges as found (restored at the end)
    ranging                `SR,V,Auto`, then the era's `SR,A` (`Auto`, or the largest current range with
                           `ranging_mode = "max"`; twice in the current era, see `ptd_sequence`)
    after ranging          testing ranges: the ranging maxima, current × `amps_range_factor`
    testing                `SR,V,<volts>`, `SR,A,<amps>` (or the known ranges the client gave)
    the end                the ranges `RR` found (auto where they were auto or unknown)

A meter without settable ranges (NVML, RAPL, …) is left as it is, and the log says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from analyzers.base import AUTO, RangeRequest, Ranges
from analyzers.errors import AnalyzerError, RangesNotApplicable
from power_director.config import SessionConfig
from power_director.ptd_links import PtdLink
from power_director.ptd_sequence import ReferenceSequence
from power_director.ranging import RangeChoice
from power_director.recorder import Tally
from power_director.session_narration import SessionNarration


def restorable(ranges: Ranges) -> tuple[RangeRequest, RangeRequest]:
    """The `SR` values that put a meter back where `RR` found it (auto when auto or unknown)."""
    volts = ranges.volts.value if ranges.volts.auto is False and ranges.volts.value else AUTO
    amps = ranges.amps.value if ranges.amps.auto is False and ranges.amps.value else AUTO
    return volts, amps


class SessionRanges:
    """Each analyzer's initial and testing ranges; every `SR`/`RR` goes through here."""

    def __init__(
        self, config: SessionConfig, narration: SessionNarration, log_ptd: Callable[[], None]
    ) -> None:
        self._config = config
        self._narration = narration
        self._log_ptd = log_ptd
        self.initial: dict[str, Ranges] = {}
        self.testing: dict[str, tuple[float, float]] = {}
        self.choices: dict[str, RangeChoice] = {}

    def read_initial(self, links: Sequence[PtdLink]) -> None:
        """`RR` on each analyzer not read yet (the first run of the session)."""
        for link in links:
            if link.name in self.initial or not link.analyzer.supports_ranges:
                continue
            with link.lock:
                ranges = link.analyzer.get_ranges()
            self.initial[link.name] = ranges
            self._log_ptd()
            self._narration.initial_ranges(*restorable(ranges))

    def set_for_ranging(self, links: Sequence[PtdLink], sequence: ReferenceSequence) -> None:
        amps = "Auto"
        if self._config.ranging_mode == "max" and self._config.max_amps_range is not None:
            amps = repr(self._config.max_amps_range)
        requests: list[RangeRequest] = [
            AUTO if value == "Auto" else float(value) for value in sequence.ranging_amps(amps)
        ]
        for link in links:
            self._set(link, AUTO, *requests)

    def set_for_testing(self, links: Sequence[PtdLink], known: tuple[float, float] | None) -> None:
        """The derived ranges, or `known` (max volts, max amps) for testing without ranging."""
        for link in links:
            if known is not None:
                self.testing[link.name] = known
            volts, amps = self.testing[link.name]
            self._narration.testing_ranges(link.name, volts, amps)
            self._set(link, volts, amps)

    def derive(self, links: Sequence[PtdLink], tally: Callable[[str], Tally]) -> None:
        """Testing ranges from what each analyzer saw while ranging; RangingError when unusable."""
        factor = self._config.amps_range_factor
        for link in links:
            choice = tally(link.name).ranges(factor)
            self.choices[link.name] = choice
            self.testing[link.name] = (choice.volts_range, choice.amps_range)
            self._narration.ranging_result(link.name, choice, factor)

    def restore(self, links: Sequence[PtdLink]) -> None:
        for link in links:
            ranges = self.initial.get(link.name)
            if ranges is None:
                continue
            volts, amps = restorable(ranges)
            self._narration.restoring(link.name)
            self._set(link, volts, amps)
            self._narration.restored(volts, amps)

    def restore_quietly(self, links: Sequence[PtdLink]) -> None:
        """As `restore`, for a failing session: a meter that does not answer is noted, not raised."""
        try:
            self.restore(links)
        except AnalyzerError as error:
            self._narration.problem(f"Could not restore the initial ranges: {error}")
        self._log_ptd()

    def _set(self, link: PtdLink, volts: RangeRequest, *amps: RangeRequest) -> None:
        """`SR,V`, then each `SR,A` in turn (the last one stands)."""
        if not link.analyzer.supports_ranges:
            self._narration.no_settable_ranges(link.name)
            return
        try:
            with link.lock:
                link.analyzer.set_volts_range(volts)
                for value in amps:
                    link.analyzer.set_amps_range(value)
        except RangesNotApplicable as error:
            self._narration.ranges_not_applicable(error)
        finally:
            self._log_ptd()
