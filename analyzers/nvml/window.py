"""When an NVML energy window is too short to trust.

The energy counter advances in steps, one per driver update (every ~10-100 ms depending on the GPU).
A window spanning few steps has an error of up to one step at each end, so windows shorter than
about ten updates are flagged rather than silently reported.
"""

from __future__ import annotations

MIN_UPDATES_PER_WINDOW = 10
DEFAULT_COUNTER_UPDATE_S = 0.1
"""The slow end of the counter's update period; conservative until a GPU's own period is known."""


def window_warning(
    window_s: float, counter_update_s: float = DEFAULT_COUNTER_UPDATE_S, what: str = "window"
) -> str | None:
    """A sentence saying why a `window_s`-second energy window is too short, or None when it is long enough."""
    shortest_s = MIN_UPDATES_PER_WINDOW * counter_update_s
    if window_s >= shortest_s:
        return None
    updates = window_s / counter_update_s
    return (
        f"a {what} of {window_s:g} s spans only ~{updates:.1f} energy-counter updates "
        f"(one every ~{counter_update_s:g} s); energy over it can be off by a whole update at each end "
        f"(use windows of at least {shortest_s:g} s)"
    )
