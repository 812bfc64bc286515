"""`SimulatedAnalyzer`: the embedded default driver, a deterministic meter with exact ground truth.

A `StreamedAnalyzer` that produces on demand (`on_demand`: nothing runs in the background). Each
public call first "advances" the meter to the clock's now: it reads new load-control lines, then
produces every grid sample up to now in one vectorised pass (per block of at most 2**20 samples),
handing it to the base (ready chunks, statistics) and to the ground truth. One lock (the base's)
covers all of it, so concurrent readers each get distinct samples and together get every sample
exactly once; the base keeps the fetch contract and the start/stop state rules.
"""

from __future__ import annotations

import os
from dataclasses import replace
from importlib import metadata
from pathlib import Path

import numpy as np

from analyzers.base import (
    AC_ANALYZER_CAPABILITIES,
    AUTO,
    Identity,
    RangeRequest,
    Ranges,
    RangeSetting,
)
from analyzers.errors import AnalyzerStateError
from analyzers.simulated import noise
from analyzers.simulated.clock import (
    MAX_INTERVAL_NS,
    MIN_INTERVAL_NS,
    Clock,
    SampleGrid,
    WallClock,
    interval_ns_from_seconds,
)
from analyzers.simulated.config import SimulatorConfig
from analyzers.simulated.control import ENV_CONTROL, ControlFile
from analyzers.simulated.electrical import channel_values
from analyzers.simulated.errors import SimulatorSettingError
from analyzers.simulated.load import LoadSchedule, LoadStep
from analyzers.simulated.measured import measure, truth_trace
from analyzers.simulated.ranges import ChannelRanges
from analyzers.simulated.truth import GroundTruth, GroundTruthRecorder
from analyzers.stats import RunningStats
from analyzers.streaming import StreamedAnalyzer
from analyzers.trace import Trace

ENV_TRUTH = "JOULEBENCH_SIM_TRUTH"
"""If set, the ground truth is written there (`.parquet`, else CSV) at every `stop()`."""

_BLOCK_SAMPLES = 1 << 20
_MISSED_STREAM = 3


class SimulatedAnalyzer(StreamedAnalyzer):
    """A simulated WT310-like meter with 1..N channels (the total is the sum of the channels).

    `seed` and `channels` override those fields of `config`. `clock` defaults to the wall clock; pass
    a `VirtualClock` to run in virtual time. `control_path` (default: `$JOULEBENCH_SIM_CONTROL`) is the
    load-control file; `truth_path` (default: `$JOULEBENCH_SIM_TRUTH`) receives the ground truth.
    An empty string for either means none, whatever the environment says.
    """

    name = "simulated"
    on_demand = True

    def __init__(
        self,
        device: str = "",
        *,
        seed: int | None = None,
        channels: int | None = None,
        config: SimulatorConfig | None = None,
        clock: Clock | None = None,
        control_path: str | Path | None = None,
        truth_path: str | Path | None = None,
    ) -> None:
        super().__init__(device or "simulated")
        config = config or SimulatorConfig()
        if seed is not None:
            config = replace(config, seed=seed)
        if channels is not None:
            config = replace(config, channels=channels)
        problem = config.problem()
        if problem:
            raise SimulatorSettingError(self.device, problem)
        self.config = config
        self.clock: Clock = clock or WallClock()
        control = control_path if control_path is not None else os.environ.get(ENV_CONTROL, "")
        self._control = ControlFile(control) if control else None
        truth = truth_path if truth_path is not None else os.environ.get(ENV_TRUTH, "")
        self.truth_path = Path(truth) if truth else None

        self._lock = self._sampling_lock
        self._shares = config.shares()
        self._block_count = config.channels if config.channels > 1 else 0
        self._schedule = LoadSchedule(config.idle_w)
        self._controlled = self._control is not None
        self._ranges = [ChannelRanges.auto_on(config.range_model) for _ in range(config.channels)]
        self._stats = RunningStats(config.range_model.uncertainty_limit)
        self._truth = GroundTruthRecorder(self._block_count, source=f"{self.device} ground truth")
        self._grid: SampleGrid | None = None
        self._stop_ns: int | None = None
        self._next_index = 1
        self._measurement = 0
        self._mark = ""
        self._missed_spans: list[tuple[int, int]] = []

    # -- identity and layout --------------------------------------------------------------------

    def identify(self) -> Identity:
        try:
            firmware = metadata.version("joulebench")
        except metadata.PackageNotFoundError:
            firmware = "unknown"
        return Identity(
            model=f"Simulated{self.config.range_model.model}",
            serial=f"SIM-{self.config.seed}",
            firmware=firmware,
            vendor="joulebench",
            capabilities=AC_ANALYZER_CAPABILITIES,
            min_interval_s=MIN_INTERVAL_NS / 1e9,
        )

    @property
    def channel_count(self) -> int:
        return self.config.channels

    @property
    def grid(self) -> SampleGrid | None:
        """The sample grid of the current or last measurement."""
        return self._grid

    # -- ranges ---------------------------------------------------------------------------------

    @property
    def supports_ranges(self) -> bool:
        return True

    def get_ranges(self, channel: int | None = None) -> Ranges:
        """Channel 1..N, or None: the setting all channels share (unknown fields where they differ)."""
        with self._lock:
            states = self._channel_states(channel)
            volts = _common([RangeSetting(s.volts_range, s.volts_auto) for s in states])
            amps = _common([RangeSetting(s.amps_range, s.amps_auto) for s in states])
            return Ranges(volts=volts, amps=amps)

    def set_volts_range(self, volts: RangeRequest, channel: int | None = None) -> None:
        self._set_range("voltage", volts, channel)

    def set_amps_range(self, amps: RangeRequest, channel: int | None = None) -> None:
        self._set_range("current", amps, channel)

    def _set_range(self, quantity: str, request: RangeRequest, channel: int | None) -> None:
        model = self.config.range_model
        table = model.volts_ranges if quantity == "voltage" else model.amps_ranges
        auto = isinstance(request, str)
        if auto and str(request).lower() != AUTO:
            raise SimulatorSettingError(
                self.device, f"{quantity} range must be a number or 'auto', got {request!r}"
            )
        value = table[-1] if auto else model.pick(table, float(request), quantity, self.device)
        with self._lock:
            states = self._channel_states(channel)
            # Samples up to now were taken with the old range.
            self._advance(self.clock.now_ns())
            for state in states:
                if quantity == "voltage":
                    state.volts_auto = auto
                    state.volts_range = state.volts_range if auto else value
                else:
                    state.amps_auto = auto
                    state.amps_range = state.amps_range if auto else value

    def _channel_states(self, channel: int | None) -> list[ChannelRanges]:
        if channel is None:
            return self._ranges
        if not 1 <= channel <= len(self._ranges):
            raise SimulatorSettingError(
                self.device, f"invalid channel {channel}", f"this meter has channels 1 to {len(self._ranges)}"
            )
        return [self._ranges[channel - 1]]

    # -- measurement ----------------------------------------------------------------------------

    def _prepare(self, interval_s: float, mark: str) -> None:
        interval_ns = interval_ns_from_seconds(interval_s)
        if interval_ns is None:
            raise SimulatorSettingError(
                self.device,
                f"interval must be between {MIN_INTERVAL_NS / 1e9:g} s and {MAX_INTERVAL_NS / 1e9:g} s, "
                f"got {interval_s} s",
            )
        now_ns = self.clock.now_ns()
        self._grid = SampleGrid(start_ns=now_ns, interval_ns=interval_ns)
        self._stop_ns = None
        self._next_index = 1
        self._measurement += 1
        self._mark = mark
        self._missed_spans = []
        if not self._controlled:
            self._schedule.clear_scripted()
            for step in self.config.profile:
                at_ns = now_ns + round(step.after_s * 1e9)
                self._schedule.add(LoadStep(at_ns, step.watts, step.ramp_s), scripted=True)

    def _collect(self) -> None:
        self._advance(self.clock.now_ns())

    def _request_stop(self) -> None:
        with self._lock:
            now_ns = self.clock.now_ns()
            self._advance(now_ns)
            self._stop_ns = now_ns
            if self.truth_path is not None:
                self._truth.snapshot().save(self.truth_path)

    def set_mark(self, mark: str) -> None:
        with self._lock:
            self._advance(self.clock.now_ns())
            self._mark = mark

    def close(self) -> None:
        with self._lock:
            if self.running:
                self.stop()

    # -- simulation controls (in-process; other processes use the control file) -----------------

    def set_load(self, watts: float, ramp_s: float = 0.0, at_ns: int | None = None) -> LoadStep:
        """Drive the load from this process: like one control-file line, at `at_ns` (default now)."""
        if not (np.isfinite(watts) and watts >= 0 and np.isfinite(ramp_s) and ramp_s >= 0):
            raise SimulatorSettingError(self.device, f"load must be >= 0 W with a ramp >= 0 s, got {watts} W")
        with self._lock:
            now_ns = self.clock.now_ns()
            self._advance(now_ns)
            step = LoadStep(now_ns if at_ns is None else at_ns, float(watts), float(ramp_s))
            self._controlled = True
            self._schedule.add(step)
            return step

    def miss_next(self, count: int) -> None:
        """Report the next `count` samples (after now) as missed (`-2`), as a meter hiccup would."""
        with self._lock:
            if not self.running:
                raise AnalyzerStateError(self.device, "no measurement running to miss samples in")
            self._advance(self.clock.now_ns())
            self._missed_spans.append((self._next_index, self._next_index + count))

    def ground_truth(self) -> GroundTruth:
        """The exact true samples of every measurement so far (also the ones not fetched yet)."""
        with self._lock:
            self._advance(self.clock.now_ns())
            return self._truth.snapshot()

    # -- sample production ----------------------------------------------------------------------

    def _advance(self, now_ns: int) -> None:
        if self._control is not None:
            update = self._control.poll()
            for step in update.steps:
                self._schedule.add(step)
            if update.error is not None:
                self._fail(update.error)
        if self._grid is None:
            return
        limit_ns = now_ns if self._stop_ns is None else min(now_ns, self._stop_ns)
        last = self._grid.last_index_at(limit_ns)
        while self._next_index <= last:
            block_last = min(last, self._next_index + _BLOCK_SAMPLES - 1)
            self._produce(self._grid, self._next_index, block_last)
            self._next_index = block_last + 1

    def _produce(self, grid: SampleGrid, first: int, last: int) -> None:
        config = self.config
        index = np.arange(first, last + 1, dtype=np.int64)
        time_ns = grid.start_ns + index * grid.interval_ns
        key = noise.stream_key(config.seed, self._measurement)
        true = channel_values(
            self._schedule.level_at(time_ns),
            index,
            self._shares,
            key,
            config.watts_noise,
            config.nominal_volts,
            config.volts_noise,
        )
        measured = measure(config.range_model, self._ranges, true, self._missed_mask(index, key))
        marks = self._mark or None
        self._emit(
            Trace.from_columns(
                time_ns, **measured.total, marks=marks, channels=measured.blocks, source=self.device
            )
        )
        truth = truth_trace(time_ns, true, self._block_count, marks, f"{self.device} ground truth")
        self._truth.record(truth, grid.interval_ns)

    def _missed_mask(self, index: np.ndarray, key: int) -> np.ndarray:
        missed = np.zeros(len(index), dtype=bool)
        if self.config.missed_fraction:
            missed |= (
                noise.uniform(noise.stream_key(key, 0, _MISSED_STREAM), index) <= self.config.missed_fraction
            )
        for begin, end in self._missed_spans:
            missed |= (index >= begin) & (index < end)
        return missed


def _common(settings: list[RangeSetting]) -> RangeSetting:
    values = {s.value for s in settings}
    autos = {s.auto for s in settings}
    return RangeSetting(
        value=values.pop() if len(values) == 1 else None,
        auto=autos.pop() if len(autos) == 1 else None,
    )
