"""What the simulated meter reports for a block of true values: its ranges, flags and uncertainty.

Kept apart from the meter's state machine (`meter.py`): this is the measurement model, a pure
function of the true channel values, the range model and each channel's range state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analyzers.simulated.electrical import ChannelValues
from analyzers.simulated.ranges import ChannelRanges, RangeModel
from analyzers.trace import SAMPLE_ERROR, SAMPLE_MISSED, SAMPLE_OK, ChannelBlock, Trace, combine_channel_flags


@dataclass(frozen=True)
class Measured:
    """Measured columns of one block of samples: the total's columns and the per-channel blocks."""

    total: dict[str, np.ndarray]
    blocks: tuple[ChannelBlock, ...]


def measure(
    model: RangeModel, ranges: Sequence[ChannelRanges], true: ChannelValues, missed: np.ndarray
) -> Measured:
    """The meter's view of `true`: over-range samples are errors (-1), `missed` ones missed (-2)."""
    blocks = []
    for channel, state in enumerate(ranges):
        volts_range, amps_range = state.ranges_for(model, true.volts[channel], true.amps[channel])
        over = model.over_range(true.volts[channel], volts_range) | model.over_range(
            true.amps[channel], amps_range
        )
        flags = np.where(missed, SAMPLE_MISSED, np.where(over, SAMPLE_ERROR, SAMPLE_OK)).astype(np.int8)
        bad = flags != SAMPLE_OK
        blocks.append(
            ChannelBlock(
                watts=np.where(bad, np.nan, true.watts[channel]),
                volts=np.where(bad, np.nan, true.volts[channel]),
                amps=np.where(bad, np.nan, true.amps[channel]),
                pf=np.where(bad, np.nan, true.pf[channel]),
                uncertainty=np.where(
                    bad, np.nan, model.uncertainty(true.watts[channel], volts_range, amps_range)
                ),
                flags=flags,
            )
        )
    if len(blocks) == 1:
        only = blocks[0]
        total = {
            "watts": only.watts,
            "volts": only.volts,
            "amps": only.amps,
            "pf": only.pf,
            "uncertainty": only.uncertainty,
            "flags": only.flags,
        }
        return Measured(total, ())
    watts = np.vstack([b.watts for b in blocks])
    total_w = watts.sum(axis=0)
    # Worst case: the channels' absolute uncertainties add up.
    absolute = np.vstack([b.uncertainty * np.abs(b.watts) for b in blocks]).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        uncertainty = np.where(total_w != 0, absolute / np.abs(total_w), np.nan)
    flags = combine_channel_flags([b.flags for b in blocks])
    # Like PTD's sum block: volts, amps and PF are not provided for the total.
    return Measured({"watts": total_w, "uncertainty": uncertainty, "flags": flags}, tuple(blocks))


def truth_trace(
    time_ns: np.ndarray, true: ChannelValues, block_count: int, marks: str | None, source: str
) -> Trace:
    """The exact values as a trace (uncertainty 0), laid out like the measured one."""
    zeros = np.zeros(len(time_ns))
    if block_count == 0:
        return Trace.from_columns(
            time_ns, true.watts[0], true.volts[0], true.amps[0], true.pf[0], zeros, marks=marks, source=source
        )
    blocks = [
        ChannelBlock.from_columns(true.watts[c], true.volts[c], true.amps[c], true.pf[c], zeros)
        for c in range(block_count)
    ]
    return Trace.from_columns(
        time_ns, true.watts.sum(axis=0), uncertainty=zeros, marks=marks, channels=blocks, source=source
    )
