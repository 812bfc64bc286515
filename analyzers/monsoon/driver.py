"""`MonsoonAnalyzer`: a Monsoon HVPM or LVPM power monitor through Monsoon Solutions' `monsoon` package.

The Monsoon is a power supply that measures what it supplies: connecting sets its main output to
`vout` volts, which must be given (a voltage is never guessed onto a device). A measurement runs
the package's sample engine (`startSampling`, main current and main voltage at 5 kHz) on the
sampling thread, writing its CSV file to a temporary folder; its stop trigger is our stop event,
so `stop` ends the engine's own loop. Each fetch reads the rows the engine has written since the
last (`samples.CsvTail`) and bins them by their time into one sample per `interval_s`
(`samples.TimeBins`): mean watts, volts and amps, the energy into the cumulative `energy_j`.
Sample times are the host's clock when sampling began plus the engine's time column.

Samples the instrument dropped (fewer rows than 5 kHz in an interval; the engine's `dropped`
count) are counted and estimated from the interval's other samples; an interval with fewer than
half its samples is a missed sample (flag -2, no energy). A USB error inside the engine ends the measurement: the samples before are
kept and the next fetch says so. Accuracy: `current_accuracy + voltage_accuracy` per sample, the
defaults (1 % and 0.5 %) placeholders to replace with the datasheet's.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from analyzers.base import CAP_AMPS, CAP_ENERGY, CAP_VOLTS, CAP_WATTS, Identity
from analyzers.errors import AnalyzerConnectionError, AnalyzerError
from analyzers.monsoon import package
from analyzers.monsoon.samples import Bins, CsvTail, TimeBins
from analyzers.streaming import StreamedAnalyzer
from analyzers.trace import SAMPLE_MISSED, Trace

RATE_HZ = 5000.0
DEFAULT_CURRENT_ACCURACY = 0.01
DEFAULT_VOLTAGE_ACCURACY = 0.005
MIN_INTERVAL_S = 0.01
CSV_NAME = "monsoon.csv"


class MonsoonAnalyzer(StreamedAnalyzer):
    name = "monsoon"

    @classmethod
    def from_device(
        cls,
        device: str = "",
        *,
        vout: float | None = None,
        model: str = "hvpm",
        current_accuracy: float = DEFAULT_CURRENT_ACCURACY,
        voltage_accuracy: float = DEFAULT_VOLTAGE_ACCURACY,
        modules: Any | None = None,
    ) -> MonsoonAnalyzer:
        """Connect to the Monsoon with serial number `device` (the first found when empty) and set
        its main output to `vout` volts."""
        where = device or "monsoon"
        if model not in package.MODELS:
            raise AnalyzerError(where, f"model must be hvpm or lvpm, got {model!r}")
        low, high = package.VOUT_LIMITS[model]
        if not isinstance(vout, int | float) or isinstance(vout, bool):
            raise AnalyzerError(
                where,
                "vout is required: the voltage the Monsoon supplies to the device",
                f"e.g. monsoon:{device or 'SERIAL'},vout=3.7 ({package.MODELS[model]}: {low}-{high} V)",
            )
        if not low <= vout <= high:
            raise AnalyzerError(
                where, f"vout {vout:g} V is outside the {package.MODELS[model]}'s {low}-{high} V"
            )
        for key, value in (("current_accuracy", current_accuracy), ("voltage_accuracy", voltage_accuracy)):
            if not (isinstance(value, int | float) and 0 <= value < 1):
                raise AnalyzerError(where, f"{key} is a fraction (0.01 = 1 %), got {value!r}")
        loaded = package.load_modules(where, modules)
        monitor = package.connect(device, loaded, model)
        return cls(
            monitor,
            loaded,
            device=device,
            model=model,
            vout=float(vout),
            accuracy=float(current_accuracy) + float(voltage_accuracy),
        )

    def __init__(
        self, monitor: Any, modules: Any, *, device: str, model: str, vout: float, accuracy: float
    ) -> None:
        super().__init__(device or "monsoon")
        self._monitor = monitor
        self._modules = modules
        self._model = model
        self._accuracy = accuracy
        self._folder = Path(tempfile.mkdtemp(prefix="joulebench-monsoon-"))
        try:
            monitor.setVout(vout)
            self._serial = str(monitor.getSerialNumber())
        except Exception as error:
            self._release_device()
            raise AnalyzerConnectionError(
                self.device, f"the Monsoon refused vout={vout:g} V: {error}"
            ) from error
        self.vout = vout
        self._reset("", 1.0)

    def identify(self) -> Identity:
        return Identity(
            model=package.MODELS[self._model],
            serial=self._serial,
            vendor="Monsoon Solutions",
            capabilities=frozenset({CAP_WATTS, CAP_VOLTS, CAP_AMPS, CAP_ENERGY}),
            min_interval_s=MIN_INTERVAL_S,
        )

    @property
    def channel_count(self) -> int:
        return 1

    # -- measurement ----------------------------------------------------------------------------

    def _reset(self, mark: str, interval_s: float) -> None:
        self._mark = mark
        self._bins = TimeBins(interval_s, RATE_HZ)
        self._tail = CsvTail(self._folder / CSV_NAME)
        self._energy_j = 0.0
        self._start_ns = 0
        self._engine: Any = None

    def _prepare(self, interval_s: float, mark: str) -> None:
        if interval_s < MIN_INTERVAL_S:
            raise AnalyzerError(
                self.device,
                f"the Monsoon cannot report every {interval_s:g} s",
                f"give at least {MIN_INTERVAL_S:g} s (it samples at {RATE_HZ:g} Hz)",
            )
        (self._folder / CSV_NAME).unlink(missing_ok=True)
        self._reset(mark, interval_s)
        engine_module = self._modules.sampleEngine
        channels = engine_module.channels
        try:
            engine = engine_module.SampleEngine(self._monitor)
            engine.ConsoleOutput(False)
            engine.enableChannel(channels.MainCurrent)
            engine.enableChannel(channels.MainVoltage)
            for other in ("USBCurrent", "AuxCurrent", "USBVoltage"):
                engine.disableChannel(getattr(channels, other))
            engine.setTriggerChannel(channels.timeStamp)
            stop = self._stop_event
            # The engine checks its stop trigger after every batch it processes: ours is the stop event.
            engine.setStopTrigger(lambda _value, _level: stop.is_set(), 0)
            engine.enableCSVOutput(str(self._folder / CSV_NAME))
        except Exception as error:
            raise AnalyzerConnectionError(
                self.device, f"the Monsoon's sample engine could not be set up: {error}"
            ) from error
        self._engine = engine

    def _stream(self, stop: threading.Event) -> None:
        engine = self._engine
        self._start_ns = time.time_ns()
        try:
            engine.startSampling(self._modules.sampleEngine.triggers.SAMPLECOUNT_INFINITE, 1)
        except Exception as error:  # pyusb's USBError when unplugged, or the package's own
            raise AnalyzerConnectionError(
                self.device,
                f"the Monsoon stopped sampling: {error}",
                "check the USB cable; the samples before this were kept",
            ) from error
        finally:
            with contextlib.suppress(Exception):
                engine.disableCSVOutput()  # flushes and closes the file

    def set_mark(self, mark: str) -> None:
        with self._sampling_lock:
            self._collect()
            self._mark = mark

    def _stop_timeout_s(self) -> float:
        return 5.0

    def _collect(self) -> None:
        if self._engine is None:
            return
        bins = self._bins.add(self._tail.read())
        if len(bins):
            self._emit(self._trace(bins))

    def _trace(self, bins: Bins) -> Trace:
        cumulative = self._energy_j + np.cumsum(bins.energy_j)
        self._energy_j = float(cumulative[-1])
        present = bins.usable
        return Trace.from_columns(
            time_ns=self._start_ns + np.round(bins.end_s * 1e9).astype(np.int64),
            watts=bins.watts,
            volts=bins.volts,
            amps=bins.current_a,
            uncertainty=np.where(present, self._accuracy, np.nan),
            flags=np.where(present, 0, SAMPLE_MISSED).astype(np.int8),
            marks=self._mark or None,
            energy_j=cumulative,
            source=self.device,
        )

    def _stats_extra(self) -> dict[str, float]:
        extra = {
            "energy_j": self._energy_j,
            "instrument_samples": float(self._bins.samples),
            "missing_samples": float(self._bins.missing),
            "unreadable_rows": float(self._tail.bad_lines),
            "monsoon_reanchored": float(self._bins.reanchored),
        }
        dropped = getattr(self._engine, "dropped", None)
        if isinstance(dropped, int | float):
            extra["dropped_reported"] = float(dropped)
        return extra

    # -- closing --------------------------------------------------------------------------------

    def _release_device(self) -> None:
        with contextlib.suppress(Exception):
            self._monitor.closeDevice()
        shutil.rmtree(self._folder, ignore_errors=True)
