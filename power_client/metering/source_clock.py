"""How far a source's clock is from this machine's, for sources that stamp samples themselves (PTD).

A local driver stamps its samples with this machine's clock. A PTD daemon stamps them with its own,
which may be seconds away (another host, no NTP). Each read brackets the newest sample's real time:
it cannot have been taken after the reply arrived, and a daemon that publishes samples as it takes
them took it at most one interval (plus its publishing delay) before the request was sent. So

    shift = daemon clock - local clock  is in  [T - t_reply, T - t_request + interval + delay]

for the newest sample's stamp T. The bounds of every read are intersected; reads at different phases
of the sample grid narrow it down. The estimate is the middle, the standard uncertainty the half
width ÷ √3 (a rectangle). When the bounds cross (a daemon slower to publish than allowed), the hard
bound (sample before reply) stands and the uncertainty is a whole interval.
"""

from __future__ import annotations

import math

_SQRT3 = math.sqrt(3.0)


class SourceClock:
    def __init__(self, interval_ns: int, publish_delay_ns: int | None = None) -> None:
        self.interval_ns = interval_ns
        # Our daemon publishes what its pump fetched (every 50 ms); allow that and one more interval.
        self.publish_delay_ns = interval_ns if publish_delay_ns is None else publish_delay_ns
        self._low: int | None = None
        self._high: int | None = None
        self.reads = 0

    def observe(self, request_ns: int, reply_ns: int, newest_stamp_ns: int) -> None:
        low = newest_stamp_ns - reply_ns
        high = newest_stamp_ns - request_ns + self.interval_ns + self.publish_delay_ns
        self._low = low if self._low is None else max(self._low, low)
        self._high = high if self._high is None else min(self._high, high)
        self.reads += 1

    @property
    def known(self) -> bool:
        return self._low is not None

    @property
    def shift_ns(self) -> int:
        """Source clock minus local clock (0 until a read was observed)."""
        if self._low is None or self._high is None:
            return 0
        if self._low > self._high:
            return self._low
        return (self._low + self._high) // 2

    @property
    def uncertainty_s(self) -> float:
        if self._low is None or self._high is None:
            return math.inf
        if self._low > self._high:
            return self.interval_ns / 1e9
        return (self._high - self._low) / 2 / _SQRT3 / 1e9
