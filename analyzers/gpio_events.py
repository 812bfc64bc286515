"""`GpioEvent`: an edge on a meter's general-purpose input, the MLPerf Tiny timestamp pin's mark.

The LPM01A reports them as `event` lines between samples; the Joulescope samples its inputs with
the current and voltage. Either way `events()` lists them in order, and `rules.tiny.windows.from_trace`
turns their times into energy windows.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GpioEvent:
    """An input edge: `samples_before` samples of the measurement preceded it; `time_ns` is the
    timestamp of the first sample after it (the first sample of the window it opens)."""

    number: int
    edge: str
    samples_before: int
    time_ns: int
    edge_time_ns: int | None = None
    """When the input changed, where the meter samples its inputs at full rate (a Joulescope)."""


def event_mark(mark: str, number: int | None) -> str:
    """The mark of the samples after event `number`: `<mark>#event<n>` (`event<n>` without a mark)."""
    if number is None:
        return mark
    return f"{mark}#event{number}" if mark else f"event{number}"
