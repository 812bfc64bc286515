"""One PTD measurement (`Go` … `Stop`): its settings, its unread samples and its running statistics."""

from __future__ import annotations

import numpy as np

from analyzers.base import MeasurementStats
from analyzers.ptd.wire import max_untimed_samples
from analyzers.stats import RunningStats
from analyzers.trace import ChannelBlock, Trace


def _channel_trace(chunk: Trace, block: ChannelBlock) -> Trace:
    return Trace.from_columns(
        chunk.time_ns,
        block.watts,
        block.volts,
        block.amps,
        block.pf,
        block.uncertainty,
        block.flags,
    )


class Measurement:
    """Samples of one measurement, buffered until a client reads them with `RL`.

    A timed measurement (`count` > 0) holds at most `count` samples; an untimed one at most the
    maximum its `Go` reply announced. `add` returns the part of a chunk past that limit, which
    belongs to no measurement.
    """

    def __init__(self, interval_ms: int, count: int, mark: str, channel_count: int, uncertainty_limit: float):
        self.interval_ms = interval_ms
        self.count = count
        self.mark = mark
        self.limit = count if count > 0 else max_untimed_samples(interval_ms)
        self.recorded = 0
        self.running = True
        self._unread: list[Trace] = []
        self.relayed: dict[str, str] = {}
        """The served source's own `Watts`/`Uncertainty` lines at Stop (`Analyzer.summary_reply`)."""
        self._total = RunningStats(uncertainty_limit)
        self._channels = [RunningStats(uncertainty_limit) for _ in range(channel_count)]

    @property
    def timed(self) -> bool:
        return self.count > 0

    @property
    def full(self) -> bool:
        return self.recorded >= self.limit

    def add(self, chunk: Trace) -> tuple[Trace, Trace]:
        """Record `chunk`; returns (the recorded part, the overflow past the limit)."""
        room = max(0, self.limit - self.recorded)
        if len(chunk) > room:
            index = np.arange(len(chunk))
            accepted, overflow = chunk.take(index < room), chunk.take(index >= room)
        else:
            accepted, overflow = chunk, chunk.take(np.zeros(len(chunk), dtype=bool))
        if len(accepted):
            self.recorded += len(accepted)
            self._unread.append(accepted)
            self._total.add(accepted)
            for stats, block in zip(self._channels, accepted.channels, strict=False):
                stats.add(_channel_trace(accepted, block))
        return accepted, overflow

    @property
    def unread_count(self) -> int:
        return sum(len(part) for part in self._unread)

    def read(self, last: int | None = None) -> Trace:
        """The unread samples (only the newest `last` of them if given); all become read."""
        if not self._unread:
            return Trace.empty()
        samples = Trace.concat(self._unread) if len(self._unread) > 1 else self._unread[0]
        self._unread = []
        if last is not None and last < len(samples):
            samples = samples.take(np.arange(len(samples) - last, len(samples)))
        return samples

    def stats(self) -> list[MeasurementStats]:
        """Total first, then one entry per channel."""
        return [self._total.snapshot(), *(stats.snapshot() for stats in self._channels)]
