"""The PTD commands a session sends each analyzer, per era of the MLCommons reference director, as data.

The director runs its sessions from these tables (which `SR,A` commands precede ranging, what it asks
while a run is still on, what follows each `Stop`, whether a second `Stop` closes the session), and
`tests/test_ptd_sequence.py` compares a recorded session's `ptd_messages` with their rendering.

- `current` (default): the reference director since it reads samples over the wire (2024 on).
- `2021`: the directors of the 2021-22 rounds, as the published folders show them (fixtures'
  `server.json` `ptd_messages`): they read samples from PTD's data log, not with `RL`, asked for no
  `Watts`/`Uncertainty`, set the current range to exactly the ranging maximum and closed with a second
  `Stop` (answered `Error: no measurement to stop`).

`{RL}` is one sample read: `RL,*,*`, then `RL` on `Invalid number of parameters` (one channel), then
`DC-RL` on `Unknown command` (a DC meter), as the reference tries them after every `Stop`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from power_director.api import Mode

Era = Literal["current", "2021"]
ERAS: tuple[Era, ...] = ("current", "2021")
SAMPLE_READ = "{RL}"
WATTS = "Watts"
UNCERTAINTY = "Uncertainty"
STOP = "Stop"


@dataclass(frozen=True)
class ReferenceSequence:
    era: Era
    opening: tuple[str, ...]
    """Connecting: the greeting, the identity, the ranges found (restored at the end)."""
    ranging_ranges: tuple[str, ...]
    """Before the ranging `Go`."""
    testing_ranges: tuple[str, ...]
    """Before the testing `Go`."""
    go: str
    before_stop: Mapping[Mode, tuple[str, ...]]
    """Asked while the run is still on, after the settling wait."""
    after_stop: tuple[str, ...]
    """After each `Stop`: the samples not read yet and the run's statistics, or nothing on record."""
    closing: tuple[str, ...]
    """When the session ends: the ranges `RR` found."""
    amps_range_factor: float
    """Testing current range = factor × the ranging maximum (the default; `[session]` may set it)."""

    @property
    def reads_on_record(self) -> bool:
        """False: samples and statistics are read all the same (joulebench needs them), but left out
        of `ptd_messages`, as this era's director took them from PTD's data log."""
        return SAMPLE_READ in self.after_stop

    @property
    def statistics_order(self) -> tuple[str, ...]:
        """The order in which `Watts` and `Uncertainty` follow a `Stop` (both, on record or not)."""
        asked = tuple(command for command in self.after_stop if command in (WATTS, UNCERTAINTY))
        return asked or (WATTS, UNCERTAINTY)

    @property
    def second_stop(self) -> bool:
        return STOP in self.closing

    def ranging_amps(self, amps: str) -> list[str]:
        """The `SR,A` values before ranging: `amps` is `Auto` or the fixed range of `ranging_mode = "max"`."""
        return [
            c.split(",", 2)[2].format(ranging_amps=amps) for c in self.ranging_ranges if c.startswith("SR,A,")
        ]

    def render(self, values: Mapping[str, str], sample_read: tuple[str, ...]) -> list[str]:
        """The commands of a whole session, `{…}` filled from `values`; `sample_read`: the `RL` forms
        one read takes on this daemon (e.g. `("RL,*,*", "RL")` for one channel)."""
        commands: list[str] = [*self.opening]
        for mode, ranges in (("ranging", self.ranging_ranges), ("testing", self.testing_ranges)):
            mode_values = {**values, "mark": f"{values['session']}_{mode}"}
            commands += [c.format(**mode_values) for c in ranges]
            commands.append(self.go.format(**mode_values))
            commands += self.before_stop.get(mode, ())  # type: ignore[call-overload]
            commands.append(STOP)
            for command in self.after_stop:
                commands += list(sample_read) if command == SAMPLE_READ else [command]
        commands += [c.format(**values) for c in self.closing]
        return commands


_OPENING = ("Hello", "Identify", "RR")
_TESTING_RANGES = ("SR,V,{volts}", "SR,A,{amps}")
_GO = "Go,{interval_ms},0,{mark}"
_RESTORE = ("SR,V,{initial_volts}", "SR,A,{initial_amps}")

SEQUENCES: dict[Era, ReferenceSequence] = {
    "current": ReferenceSequence(
        era="current",
        opening=_OPENING,
        # The reference sends `SR,A,Auto` twice: once in its AUTO branch and once more after its
        # if/elif on the ranging mode (the second line is indented outside it). Its checker counts on
        # that: it takes the fourth `SR,A` of a session for the restore. We send `Auto` first and the
        # ranging current second, so `ranging_mode = "max"` still ranges at the fixed current, which
        # the reference's second `SR,A,Auto` silently undoes.
        ranging_ranges=("SR,V,Auto", "SR,A,Auto", "SR,A,{ranging_amps}"),
        testing_ranges=_TESTING_RANGES,
        go=_GO,
        # It asks for the testing run's figures before `Stop` (for its `ptd_out.txt`), then again after.
        before_stop={"testing": (WATTS, UNCERTAINTY)},
        after_stop=(SAMPLE_READ, UNCERTAINTY, WATTS),
        closing=_RESTORE,
        amps_range_factor=1.1,
    ),
    "2021": ReferenceSequence(
        era="2021",
        opening=_OPENING,
        ranging_ranges=("SR,V,Auto", "SR,A,{ranging_amps}"),
        testing_ranges=_TESTING_RANGES,
        go=_GO,
        before_stop={},
        after_stop=(),
        closing=(STOP, *_RESTORE),
        amps_range_factor=1.0,
    ),
}


def sequence_for(era: Era) -> ReferenceSequence:
    return SEQUENCES[era]
