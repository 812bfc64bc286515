"""`NvmlAnalyzer` (`--driver nvml [--device 0,1,...]`): NVIDIA GPUs as channels, read through NVML."""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from typing import Any

import numpy as np

from analyzers.base import CAP_ENERGY, CAP_WATTS, Identity, MeasurementStats
from analyzers.errors import AnalyzerError
from analyzers.nvml import library
from analyzers.nvml.gpu import Gpu
from analyzers.nvml.window import DEFAULT_COUNTER_UPDATE_S, window_warning
from analyzers.polling import PollClock, PolledAnalyzer, Reading

log = logging.getLogger("joulebench.analyzers.nvml")

MIN_INTERVAL_S = 0.01


class NvmlAnalyzer(PolledAnalyzer):
    """One channel per GPU. `device` lists GPU indices or UUIDs ("0,1"); empty means every GPU.

    `power` picks what a sample's watts are: "energy" (default: the energy-counter delta over the
    time since the previous sample, so summing watts x interval gives the counter's energy),
    "instant" / "average" (NVML's power fields), or "usage" (`nvmlDeviceGetPowerUsage`). Every
    reading also integrates the others; `stats().extra` reports each GPU's energy by each method.
    A counter that goes back (driver reload) flags that sample `-1`. `warnings` collects sentences
    about windows shorter than ~10 counter updates (`counter_update_s` each).
    `nvml_module` replaces the installed `pynvml` (tests).
    """

    name = "nvml"
    has_energy = True

    def __init__(
        self,
        device: str = "",
        *,
        power: str = "energy",
        counter_update_s: float = DEFAULT_COUNTER_UPDATE_S,
        nvml_module: Any = None,
        clock: PollClock | None = None,
    ) -> None:
        super().__init__(device.strip() or "nvml", clock)
        self.counter_update_s: float = counter_update_s
        self.warnings: list[str] = []
        # Library-level trouble concerns no particular GPU: it is NVML's, and says so.
        self._module = library.load_module("NVML", nvml_module)
        library.init("NVML", self._module)
        self._initialised = True
        try:
            self.gpus = self._open_gpus(device.strip(), power)
            self.driver_version = library.text(self._module.nvmlSystemGetDriverVersion())
        except Exception as error:
            self._shutdown()
            if isinstance(error, AnalyzerError):
                raise
            if library.is_nvml_error(self._module, error):
                raise AnalyzerError(self.device, f"NVML failed while listing GPUs: {error}") from error
            raise
        self._start_ns = 0

    def _open_gpus(self, device: str, power: str) -> list[Gpu]:
        if device:
            selectors = [part.strip() for part in device.split(",") if part.strip()]
        else:
            count = int(self._module.nvmlDeviceGetCount())
            if count == 0:
                raise AnalyzerError(self.device, "NVML sees no GPU", "check `nvidia-smi -L`")
            selectors = [str(index) for index in range(count)]
        gpus = [Gpu(self._module, selector, power) for selector in selectors]
        seen = [gpu.uuid for gpu in gpus]
        if len(set(seen)) != len(seen):
            raise AnalyzerError(
                self.device, "the same GPU is listed twice", "each GPU may be one channel only"
            )
        return gpus

    # -- identity -------------------------------------------------------------------------------

    @property
    def device_names(self) -> list[str]:
        """Each channel's GPU model name, in channel order."""
        return [gpu.name for gpu in self.gpus]

    def identify(self) -> Identity:
        names = sorted(set(self.device_names))
        model = names[0] if len(names) == 1 else " + ".join(names)
        if len(self.gpus) > 1:
            model = f"{len(self.gpus)}x {model}"
        return Identity(
            model=f"NVML {model}",
            serial=",".join(gpu.uuid for gpu in self.gpus),
            firmware=f"driver {self.driver_version}",
            vendor="NVIDIA",
            capabilities=frozenset({CAP_WATTS, CAP_ENERGY}),
            min_interval_s=MIN_INTERVAL_S,
        )

    @property
    def channel_count(self) -> int:
        return len(self.gpus)

    # -- measurement ----------------------------------------------------------------------------

    def _warn(self, sentence: str | None) -> None:
        if sentence:
            message = f"{self.device}: {sentence}"
            self.warnings.append(message)
            log.warning(message)

    def _begin(self, interval_s: float) -> None:
        if any(gpu.power == "energy" for gpu in self.gpus):
            self._warn(window_warning(interval_s, self.counter_update_s, "sample interval"))
        self._start_ns = self.clock.now_ns()
        try:
            for gpu in self.gpus:
                gpu.begin(self.clock.now_ns)
        except Exception as error:
            if library.is_nvml_error(self._module, error):
                raise AnalyzerError(
                    self.device, f"NVML failed at the start of a measurement: {error}"
                ) from error
            raise

    def _read(self, timeout_s: float) -> Reading:
        readings = [gpu.read(self.clock.now_ns) for gpu in self.gpus]
        for reading in readings:
            if reading.problem is not None:
                self._report(reading.problem)
        return Reading(
            watts=np.array([r.watts for r in readings]),
            flags=np.array([r.flag for r in readings], dtype=np.int8),
            energy_j=np.array([r.energy_j for r in readings]),
            time_ns=self.clock.now_ns(),
        )

    def _end(self) -> None:
        self._warn(
            window_warning((self.clock.now_ns() - self._start_ns) / 1e9, self.counter_update_s, "measurement")
        )

    def stats(self) -> MeasurementStats:
        base = super().stats()
        extra = dict(base.extra)
        for gpu in self.gpus:
            extra.update({key: value for key, value in gpu.summary().items() if not math.isnan(value)})
        return replace(base, extra=extra)

    def _shutdown(self) -> None:
        if self._initialised:
            self._initialised = False
            try:
                self._module.nvmlShutdown()
            except Exception as error:  # shutting down a library that is going away anyway
                log.debug("nvmlShutdown failed: %s", error)

    def _release(self) -> None:
        self._shutdown()
