"""From the total load to what each channel's wires carry: true watts, volts, amps and power factor.

The total splits over the channels by fixed shares (PSUs of one server share the load). Each
channel gets its own noise on watts and on the mains voltage; the power factor of a switched-mode
supply falls at light load, so it is modelled as `0.99 - 0.45 * exp(-W / 150 W)` (0.72 at 60 W,
0.97 at 500 W), and amps follow as `W / (V * PF)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analyzers.simulated import noise

_WATTS_STREAM = 1
_VOLTS_STREAM = 2


@dataclass(frozen=True, eq=False)
class ChannelValues:
    """True values, arrays shaped (channels, samples)."""

    watts: np.ndarray
    volts: np.ndarray
    amps: np.ndarray
    pf: np.ndarray


def power_factor(watts: np.ndarray) -> np.ndarray:
    return 0.99 - 0.45 * np.exp(-watts / 150.0)


def channel_values(
    total_w: np.ndarray,
    index: np.ndarray,
    shares: tuple[float, ...],
    key: int,
    watts_noise: float,
    nominal_volts: float,
    volts_noise: float,
) -> ChannelValues:
    """The true per-channel values of samples `index` whose noise-free total load is `total_w`."""
    rows = []
    for channel, share in enumerate(shares, start=1):
        w = total_w * share
        if watts_noise:
            w = w * (1.0 + watts_noise * noise.gaussian(noise.stream_key(key, channel, _WATTS_STREAM), index))
        rows.append(np.maximum(w, 0.0))
    watts = np.vstack(rows)
    volts = np.full_like(watts, nominal_volts)
    if volts_noise:
        for row, channel in enumerate(range(1, len(shares) + 1)):
            volts[row] *= 1.0 + volts_noise * noise.gaussian(
                noise.stream_key(key, channel, _VOLTS_STREAM), index
            )
    pf = power_factor(watts)
    return ChannelValues(watts=watts, volts=volts, amps=watts / (volts * pf), pf=pf)
