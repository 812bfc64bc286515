"""Phase instants: the reference's `[wall_time, monotonic]` pair, taken together, in integer ns."""

from __future__ import annotations

import time

from analyzers.formats.units import NS_PER_S
from power_director.api import PhaseStamp


def stamp_now() -> PhaseStamp:
    return PhaseStamp(wall_ns=time.time_ns(), monotonic_ns=time.monotonic_ns())


def as_reference_pair(stamp: PhaseStamp) -> list[float]:
    """`[wall_s, monotonic_s]` as `server.json` `phases` holds them."""
    return [stamp.wall_ns / NS_PER_S, stamp.monotonic_ns / NS_PER_S]
