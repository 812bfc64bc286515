"""`JoulescopeAnalyzer`: a Joulescope JS220/JS110 DC energy analyzer through the `joulescope` package.

Connecting finds the instrument by serial number (`joulescope:SERIAL`, or the only one connected),
opens it, sets autoranging current (`i_range`), optionally `v_range` and `sampling_frequency`, and
registers a statistics callback for the instrument's own charge and energy accumulators. A
measurement at `interval_s` streams the full-rate samples (1 or 2 Msps): the package's thread hands
each new block of the stream buffer to `stream_notify`, which only copies it; every fetch reduces
what arrived (`reduce.IntervalReducer`) to one sample per interval: mean watts, volts and amps,
the interval's energy into the cumulative `energy_j`, and the statistics' min/max from the full-rate
samples, not from the interval means. Interval ends are placed on the host clock from the first
block (its arrival time less its duration), then by sample count: the instrument's crystal, not
the host's scheduling, spaces the samples.

A general-purpose input (`gpi=0`, the MLPerf Tiny timestamp pin; `gpi=1`; `gpi=-1` none) is
sampled with the current: each `edge` (falling by default) is a `GpioEvent`, and the samples whose
interval starts after event n carry `<mark>#event<n>`, as the LPM01A's do.

Accuracy: each sample's uncertainty is current_accuracy + voltage_accuracy + current_offset_a/|I|
(relative bounds added, as for a product). The defaults (0.5 % and 0.2 %, no offset) are
deliberately wider than the vendor's headline figures; give your unit's datasheet values.

Lost samples (NaN in the stream, or sample ids skipped) are counted; their energy is estimated from
the rest of their interval; an interval with fewer than half its samples is a missed sample
(flag -2, no energy). When the
package reports that the device stopped on its own (unplugged), the samples before are kept and
the next fetch says so.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import threading
import time
from typing import Any

import numpy as np

from analyzers.base import CAP_AMPS, CAP_ENERGY, CAP_VOLTS, CAP_WATTS, Identity, MeasurementStats
from analyzers.errors import AnalyzerConnectionError, AnalyzerError
from analyzers.gpio_events import GpioEvent, event_mark
from analyzers.joulescope import package
from analyzers.joulescope.reduce import EDGES, IntervalReducer, IntervalRows
from analyzers.streaming import StreamedAnalyzer
from analyzers.trace import SAMPLE_MISSED, Trace

DEFAULT_CURRENT_ACCURACY = 0.005
DEFAULT_VOLTAGE_ACCURACY = 0.002
GPI_FIELDS = {0: "current_lsb", 1: "voltage_lsb"}
SIGNAL_FIELDS = ["current", "voltage", "power"]
MIN_SAMPLES_PER_INTERVAL = 10


class JoulescopeAnalyzer(StreamedAnalyzer):
    name = "joulescope"
    on_demand = True  # the package's own thread delivers; fetch reduces what it delivered

    @classmethod
    def from_device(
        cls,
        device: str = "",
        *,
        sampling_frequency: int | None = None,
        i_range: str = "auto",
        v_range: str | None = None,
        gpi: int = 0,
        edge: str = "falling",
        current_accuracy: float = DEFAULT_CURRENT_ACCURACY,
        voltage_accuracy: float = DEFAULT_VOLTAGE_ACCURACY,
        current_offset_a: float = 0.0,
        module: Any | None = None,
    ) -> JoulescopeAnalyzer:
        """Find and open the Joulescope with serial number `device` (the only one when empty)."""
        if gpi not in (-1, *GPI_FIELDS):
            raise AnalyzerError(device or "joulescope", f"gpi must be 0, 1 or -1 (none), got {gpi!r}")
        if edge not in EDGES:
            raise AnalyzerError(
                device or "joulescope", f"edge must be one of {', '.join(EDGES)}, got {edge!r}"
            )
        for key, value in (("current_accuracy", current_accuracy), ("voltage_accuracy", voltage_accuracy)):
            if not (isinstance(value, int | float) and 0 <= value < 1):
                raise AnalyzerError(
                    device or "joulescope", f"{key} is a fraction (0.005 = 0.5 %), got {value!r}"
                )
        loaded = package.load_module(device or "joulescope", module)
        handle = package.find_device(device, loaded)
        return cls(
            handle,
            device=device or package.serial_of(handle),
            sampling_frequency=sampling_frequency,
            i_range=i_range,
            v_range=v_range,
            gpi=gpi,
            edge=edge,
            accuracy=(float(current_accuracy), float(voltage_accuracy), float(current_offset_a)),
        )

    def __init__(
        self,
        handle: Any,
        *,
        device: str,
        sampling_frequency: int | None = None,
        i_range: str = "auto",
        v_range: str | None = None,
        gpi: int = 0,
        edge: str = "falling",
        accuracy: tuple[float, float, float] = (DEFAULT_CURRENT_ACCURACY, DEFAULT_VOLTAGE_ACCURACY, 0.0),
    ) -> None:
        super().__init__(device)
        self._handle = handle
        self._gpi_field = GPI_FIELDS.get(gpi)
        self._edge = edge
        self._accuracy = accuracy
        self._lock = threading.Lock()  # what the package's thread hands over
        self._blocks: list[tuple[int, dict[str, np.ndarray], np.ndarray | None, int]] = []
        self._stopped_by_device: str | None = None
        self._tap = package.StreamTap(self._tap_started, self._tap_notified)
        self._next_sample_id: int | None = None
        self._accumulators: dict[str, float] = {}
        self._reset_measurement("")
        try:
            handle.open()
            handle.parameter_set("i_range", i_range)
            if v_range is not None:
                handle.parameter_set("v_range", v_range)
            if sampling_frequency is not None:
                handle.parameter_set("sampling_frequency", int(sampling_frequency))
            handle.statistics_callback_register(self._on_statistics, "sensor")
        except AnalyzerError:
            self._release_device()
            raise
        except Exception as error:  # the package raises KeyError/ValueError/RuntimeError/OSError
            self._release_device()
            raise AnalyzerConnectionError(
                self.device,
                f"the Joulescope could not be opened and configured: {error}",
                package.INSTALL_HINT,
            ) from error
        self._model = package.model_of(handle)

    # -- identity -------------------------------------------------------------------------------

    @property
    def frequency_hz(self) -> float:
        frequency = getattr(self._handle, "sampling_frequency", None) or getattr(
            self._handle, "output_sampling_frequency", None
        )
        return float(frequency or 1_000_000)

    def identify(self) -> Identity:
        return Identity(
            model=self._model,
            serial=package.serial_of(self._handle),
            vendor="Jetperch",
            capabilities=frozenset({CAP_WATTS, CAP_VOLTS, CAP_AMPS, CAP_ENERGY}),
            min_interval_s=MIN_SAMPLES_PER_INTERVAL / self.frequency_hz,
        )

    @property
    def channel_count(self) -> int:
        return 1

    def events(self) -> list[GpioEvent]:
        """Input edges of the current (or last) measurement, in order."""
        with self._sampling_lock:
            self._collect()
            return list(self._events)

    # -- the package's thread -------------------------------------------------------------------

    def _tap_started(self, stream_buffer: Any) -> None:
        with self._lock:
            self._next_sample_id = None

    def _tap_notified(self, stream_buffer: Any) -> None:
        start, end = stream_buffer.sample_id_range
        with self._lock:
            first = self._next_sample_id if self._next_sample_id is not None else start
            first = max(first, start)  # older samples left the package's ring buffer: counted as lost
            if end <= first:
                return
            fields = SIGNAL_FIELDS + ([self._gpi_field] if self._gpi_field else [])
            got = stream_buffer.samples_get(first, end, fields=fields)
            signals = {
                name: np.array(got["signals"][name]["value"], dtype=np.float32) for name in SIGNAL_FIELDS
            }
            bits = np.array(got["signals"][self._gpi_field]["value"], np.uint8) if self._gpi_field else None
            self._blocks.append((first, signals, bits, time.time_ns()))
            self._next_sample_id = end

    def _on_device_stop(self, event: int, message: str) -> None:
        if event:  # 0: stopped because we asked
            with self._lock:
                self._stopped_by_device = message or f"event {event}"

    def _on_statistics(self, data: dict[str, Any]) -> None:
        with contextlib.suppress(KeyError, TypeError):
            accumulators = data["accumulators"]
            with self._lock:
                self._accumulators = {
                    "accumulator_charge_c": float(accumulators["charge"]["value"]),
                    "accumulator_energy_j": float(accumulators["energy"]["value"]),
                }

    # -- measurement ----------------------------------------------------------------------------

    def _reset_measurement(self, mark: str) -> None:
        self._mark = mark
        self._events: list[GpioEvent] = []
        self._event_sample_ids: list[int] = []
        self._count = 0
        self._energy_j = 0.0
        self._charge_c = 0.0
        self._t0_ns: int | None = None
        self._s0: int | None = None
        self._min = {name: math.inf for name in SIGNAL_FIELDS}
        self._max = {name: -math.inf for name in SIGNAL_FIELDS}
        self._reducer: IntervalReducer | None = None

    def _prepare(self, interval_s: float, mark: str) -> None:
        frequency = self.frequency_hz
        per_interval = round(interval_s * frequency)
        if per_interval < MIN_SAMPLES_PER_INTERVAL or abs(per_interval / frequency - interval_s) > 1e-9:
            raise AnalyzerError(
                self.device,
                f"the Joulescope at {frequency:g} samples/s cannot report every {interval_s:g} s",
                f"give a whole multiple of {1 / frequency:g} s, at least {MIN_SAMPLES_PER_INTERVAL / frequency:g} s",
            )
        with self._lock:
            self._blocks = []
            self._stopped_by_device = None
            self._next_sample_id = None
        self._reset_measurement(mark)
        self._reducer = IntervalReducer(per_interval, frequency, self._edge)
        with contextlib.suppress(Exception):
            self._handle.statistics_accumulators_clear()
        try:
            self._handle.stream_process_register(self._tap)
            self._handle.start(stop_fn=self._on_device_stop)
        except Exception as error:
            raise AnalyzerConnectionError(
                self.device, f"the Joulescope did not start streaming: {error}"
            ) from error

    def set_mark(self, mark: str) -> None:
        with self._sampling_lock:
            self._collect()  # samples so far keep the mark they were taken under
            self._mark = mark

    def _request_stop(self) -> None:
        with contextlib.suppress(Exception):  # a device that went away has nothing to stop
            self._handle.stop()
        with contextlib.suppress(Exception):
            self._handle.stream_process_unregister(self._tap)

    def _collect(self) -> None:
        with self._lock:
            blocks, self._blocks = self._blocks, []
            stopped = self._stopped_by_device
            self._stopped_by_device = None
        for start, signals, bits, arrived_ns in blocks:
            self._reduce(start, signals, bits, arrived_ns)
        if stopped is not None:
            self._fail(
                AnalyzerConnectionError(
                    self.device,
                    f"the Joulescope stopped streaming on its own: {stopped}",
                    "check the USB cable; the samples before this were kept",
                )
            )

    def _reduce(
        self, start: int, signals: dict[str, np.ndarray], bits: np.ndarray | None, arrived_ns: int
    ) -> None:
        reducer = self._reducer
        if reducer is None:
            return
        if self._t0_ns is None:  # the first block ended as it arrived
            self._s0 = start
            self._t0_ns = arrived_ns - round(len(signals["current"]) * 1e9 / reducer.frequency_hz)
        rows = reducer.add(start, signals, bits)
        self._note_events(rows)
        if len(rows):
            self._emit(self._trace(rows))

    def _time_ns(self, sample_ids: np.ndarray) -> np.ndarray:
        assert self._t0_ns is not None and self._s0 is not None and self._reducer is not None
        offsets = (sample_ids - self._s0).astype(np.float64) * (1e9 / self._reducer.frequency_hz)
        return self._t0_ns + np.round(offsets).astype(np.int64)

    def _note_events(self, rows: IntervalRows) -> None:
        assert self._s0 is not None and self._reducer is not None
        per = self._reducer.samples_per_interval
        for sample_id, kind in zip(rows.edge_sample_ids.tolist(), rows.edge_kinds, strict=True):
            before = (sample_id - self._s0) // per
            # As the LPM01A's: the time of the first sample after the edge, the one it falls in.
            first_after_end = self._s0 + (before + 1) * per
            times = self._time_ns(np.array([first_after_end, sample_id], dtype=np.int64))
            number = len(self._events) + 1
            self._events.append(GpioEvent(number, kind, int(before), int(times[0]), int(times[1])))
            self._event_sample_ids.append(sample_id)

    def _trace(self, rows: IntervalRows) -> Trace:
        assert self._reducer is not None
        count = len(rows)
        # A sample belongs to the last event before its interval's end: the sample an edge falls in
        # opens the window, as `rules.tiny.windows.from_trace` counts it (begin <= sample time).
        event_ids = np.asarray(self._event_sample_ids, dtype=np.int64)
        numbers = np.searchsorted(event_ids, rows.end_sample_id, side="left")
        marks = [event_mark(self._mark, int(n) if n else None) for n in numbers.tolist()]
        if len(set(marks)) == 1:
            marks_arg: list[str | None] | str | None = marks[0] or None
        else:
            marks_arg = [m or None for m in marks]
        watts = rows.mean["power"]
        amps = rows.mean["current"]
        current_rel, voltage_rel, offset_a = self._accuracy
        with np.errstate(divide="ignore", invalid="ignore"):
            uncertainty = (
                current_rel
                + voltage_rel
                + np.where(np.abs(amps) > 0, offset_a / np.abs(amps), np.inf if offset_a else 0.0)
            )
        flags = np.where(rows.usable, 0, SAMPLE_MISSED).astype(np.int8)
        cumulative = self._energy_j + np.cumsum(rows.energy_j)
        self._energy_j = float(cumulative[-1])
        self._charge_c += float(rows.charge_c.sum())
        for name in SIGNAL_FIELDS:
            if np.isfinite(rows.minimum[name]).any():
                self._min[name] = min(self._min[name], float(np.nanmin(rows.minimum[name])))
                self._max[name] = max(self._max[name], float(np.nanmax(rows.maximum[name])))
        self._count += count
        return Trace.from_columns(
            time_ns=self._time_ns(rows.end_sample_id),
            watts=watts,
            volts=rows.mean["voltage"],
            amps=amps,
            uncertainty=np.where(rows.usable, uncertainty, np.nan),
            flags=flags,
            marks=marks_arg,
            energy_j=cumulative,
            source=self.device,
        )

    def _stats_extra(self) -> dict[str, float]:
        reducer = self._reducer
        extra = {
            "energy_j": self._energy_j,
            "charge_c": self._charge_c,
            "full_rate_samples": float(reducer.full_rate_samples if reducer else 0),
            "missing_samples": float(reducer.missing_samples if reducer else 0),
        }
        for name, unit in (("current", "a"), ("voltage", "v"), ("power", "w")):
            if math.isfinite(self._min[name]):
                extra[f"full_rate_min_{unit}"] = self._min[name]
                extra[f"full_rate_max_{unit}"] = self._max[name]
        return extra

    def stats(self) -> MeasurementStats:
        snapshot = super().stats()
        with self._lock:
            accumulators = dict(self._accumulators)
        snapshot = dataclasses.replace(snapshot, extra={**snapshot.extra, **accumulators})
        if math.isfinite(self._min["power"]):
            # PTD's min/max are of the readings; at full rate they are the instrument's own extremes.
            snapshot = dataclasses.replace(
                snapshot, min_power_w=self._min["power"], max_power_w=self._max["power"]
            )
        return snapshot

    # -- closing --------------------------------------------------------------------------------

    def _release_device(self) -> None:
        with contextlib.suppress(Exception):
            self._handle.statistics_callback_unregister(self._on_statistics)
        with contextlib.suppress(Exception):
            self._handle.close()
