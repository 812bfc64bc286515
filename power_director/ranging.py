"""Testing ranges from a ranging run: the rule the reference director applies, as a pure function.

Volts range = the largest voltage seen; current range = the largest current × the rule's factor
(1.1 since 2023; 2021–22 directors used 1.0). Maxima are taken over the analyzer's channels (those
PTD's `-c` selects; a multi-channel meter's sum block has no volts or amps), over readings only:
sentinel samples (-1 error, -2 missed) and values the meter did not provide are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analyzers.trace import SAMPLE_OK, Trace


class RangingError(ValueError):
    """The ranging samples cannot give ranges; the message says why."""


@dataclass(frozen=True)
class RangeChoice:
    """Maxima seen while ranging and the fixed ranges to test with (V, A)."""

    max_volts: float
    max_amps: float
    volts_range: float
    amps_range: float
    samples: int


def reading_maxima(trace: Trace) -> tuple[float | None, float | None]:
    """The largest volts and amps among the readings of `trace` (None where it has none): over its
    channels when it has them, as the rule says; the recorder keeps these while the samples stream."""
    blocks = trace.channels or (trace,)
    maxima: list[float | None] = []
    for quantity in ("volts", "amps"):
        values = np.concatenate([getattr(block, quantity)[block.flags == SAMPLE_OK] for block in blocks])
        values = values[np.isfinite(values) & (values > 0)]
        maxima.append(float(values.max()) if len(values) else None)
    return maxima[0], maxima[1]


def ranges_from_maxima(
    max_volts: float | None, max_amps: float | None, samples: int, amps_factor: float
) -> RangeChoice:
    """The testing ranges from maxima kept while the ranging samples streamed to storage."""
    if samples == 0:
        raise RangingError("the ranging run produced no samples")
    if max_volts is None or max_amps is None:
        raise RangingError(f"none of the {samples} ranging samples has a valid voltage and current reading")
    # PTD ranges travel with six decimals; rounding here keeps the record equal to what was sent.
    return RangeChoice(
        max_volts=max_volts,
        max_amps=max_amps,
        volts_range=round(max_volts, 6),
        amps_range=round(max_amps * amps_factor, 6),
        samples=samples,
    )
