"""One GPU as a channel: what it can report, and its energy counter across a measurement.

Per reading it takes the energy counter (mJ since the driver loaded), `nvmlDeviceGetPowerUsage`
(mW; a ~1 s trailing average on Ampere and newer, instantaneous before) and, where the driver has
them, the instant and average power fields. The channel's watts come from one of them, chosen by
`power` ("energy": counter delta over the time between reads, the one that integrates exactly).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from analyzers.errors import AnalyzerError
from analyzers.nvml import library
from analyzers.trace import SAMPLE_ERROR, SAMPLE_OK

POWER_SOURCES = ("energy", "instant", "average", "usage")
_FIELD_OF = {"instant": library.NVML_FI_DEV_POWER_INSTANT, "average": library.NVML_FI_DEV_POWER_AVERAGE}


@dataclass(frozen=True)
class GpuReading:
    """One reading of one GPU. Power values in W (NaN when not available); `energy_j` since start."""

    watts: float
    flag: int
    energy_j: float
    problem: AnalyzerError | None = None


@dataclass
class _Counter:
    """The counter state of the current measurement."""

    last_mj: int
    last_ns: int
    energy_j: float = 0.0
    resets: int = 0
    integrals_j: dict[str, float] = field(default_factory=dict)
    last_w: dict[str, float] = field(default_factory=dict)


class Gpu:
    """The GPU `selector` names (an NVML index or a UUID), probed once at construction."""

    def __init__(self, module: Any, selector: str, power: str) -> None:
        self.module = module
        self.label = f"GPU {selector}"
        handle = self._open(selector)
        self.handle = handle
        self.index = int(module.nvmlDeviceGetIndex(handle))
        self.label = f"GPU {self.index}"
        self.name = library.text(module.nvmlDeviceGetName(handle))
        self.uuid = library.text(module.nvmlDeviceGetUUID(handle))
        self.has_counter = self._supported(lambda: module.nvmlDeviceGetTotalEnergyConsumption(handle))
        self.has_usage = self._supported(lambda: module.nvmlDeviceGetPowerUsage(handle))
        self.fields = self._supported_fields()
        self.power = self._choose(power)
        self._counter: _Counter | None = None

    # -- probing --------------------------------------------------------------------------------

    def _open(self, selector: str) -> Any:
        module = self.module
        try:
            if selector.upper().startswith(("GPU-", "MIG-")):
                return module.nvmlDeviceGetHandleByUUID(selector)
            return module.nvmlDeviceGetHandleByIndex(int(selector))
        except ValueError:
            raise AnalyzerError(
                selector,
                "not a GPU index or UUID",
                "give indices like 0,1 or UUIDs as nvidia-smi -L shows them",
            ) from None
        except Exception as error:
            if not library.is_nvml_error(module, error):
                raise
            count = int(module.nvmlDeviceGetCount())
            raise AnalyzerError(
                self.label,
                f"no such GPU ({error})",
                f"this machine has {count} GPU(s), indices 0 to {count - 1}"
                if count
                else "this machine has no GPU",
            ) from error

    def _supported(self, call: Any) -> bool:
        try:
            call()
        except Exception as error:
            if library.is_nvml_error(self.module, error) and library.error_code(error) in (
                library.NVML_ERROR_NOT_SUPPORTED,
                library.NVML_ERROR_FUNCTION_NOT_FOUND,
            ):
                return False
            raise self._failure("probing", error) from error
        return True

    def _supported_fields(self) -> dict[str, int]:
        if not hasattr(self.module, "nvmlDeviceGetFieldValues"):
            return {}
        try:
            values = self.module.nvmlDeviceGetFieldValues(self.handle, list(_FIELD_OF.values()))
        except Exception as error:
            if library.is_nvml_error(self.module, error):
                return {}  # drivers before the power fields existed
            raise
        return {
            name: fid
            for (name, fid), value in zip(_FIELD_OF.items(), values, strict=True)
            if value.nvmlReturn == 0
        }

    def _choose(self, power: str) -> str:
        if power not in POWER_SOURCES:
            raise AnalyzerError(
                self.label, f"unknown power source {power!r}", f"use one of {', '.join(POWER_SOURCES)}"
            )
        available = {
            "energy": self.has_counter,
            "usage": self.has_usage,
            **{k: k in self.fields for k in _FIELD_OF},
        }
        if available[power]:
            return power
        offered = [name for name in POWER_SOURCES if available[name]]
        hint = f"this GPU offers: {', '.join(offered)}" if offered else "this GPU reports no power at all"
        raise AnalyzerError(f"{self.label} ({self.name})", f"has no {power} power reading", hint)

    def _failure(self, doing: str, error: BaseException) -> AnalyzerError:
        if library.error_code(error) == library.NVML_ERROR_GPU_IS_LOST:
            return AnalyzerError(
                self.label, f"fell off the bus while {doing}", "check `nvidia-smi` and dmesg for Xid errors"
            )
        return AnalyzerError(self.label, f"NVML failed while {doing}: {error}")

    # -- a measurement --------------------------------------------------------------------------

    def _counter_now(self, now_ns: Callable[[], int]) -> tuple[int, int]:
        """The counter (mJ) and the time it was read: stamped right after, so each GPU's watts use
        its own interval, not one shared by GPUs read one after another."""
        counter_mj = (
            int(self.module.nvmlDeviceGetTotalEnergyConsumption(self.handle)) if self.has_counter else 0
        )
        return counter_mj, now_ns()

    def begin(self, now_ns: Callable[[], int]) -> None:
        """Take the counter baseline (and power readings, for the integrals) at the start."""
        counter_mj, at_ns = self._counter_now(now_ns)
        self._counter = _Counter(last_mj=counter_mj, last_ns=at_ns)
        self._counter.last_w = self._powers()

    def read(self, now_ns: Callable[[], int]) -> GpuReading:
        """A reading now: the counter delta since the previous read, and the power fields."""
        state = self._counter
        assert state is not None, "begin() first"
        try:
            counter_mj, at_ns = self._counter_now(now_ns)
            powers = self._powers()
        except Exception as error:
            if not library.is_nvml_error(self.module, error):
                raise
            return GpuReading(math.nan, SAMPLE_ERROR, math.nan, self._failure("reading", error))
        dt_s = (at_ns - state.last_ns) / 1e9
        for name, watts in powers.items():
            previous = state.last_w.get(name, math.nan)
            if math.isfinite(previous) and math.isfinite(watts):
                state.integrals_j[name] = state.integrals_j.get(name, 0.0) + 0.5 * (previous + watts) * dt_s
        state.last_w = powers
        delta_mj = counter_mj - state.last_mj
        state.last_mj, state.last_ns = counter_mj, at_ns
        if delta_mj < 0:
            # The counter restarted (driver reload, GPU reset): this interval's energy is unknown.
            state.resets += 1
            problem = AnalyzerError(
                self.label,
                f"energy counter went back by {-delta_mj} mJ (driver reloaded or GPU reset); sample flagged",
            )
            return GpuReading(math.nan, SAMPLE_ERROR, math.nan, problem)
        state.energy_j += delta_mj / 1000
        if self.power == "energy":
            watts = delta_mj / 1000 / dt_s if dt_s > 0 else math.nan
        else:
            watts = powers.get(self.power, math.nan)
        flag = SAMPLE_OK if math.isfinite(watts) else SAMPLE_ERROR
        return GpuReading(
            watts if flag == SAMPLE_OK else math.nan, flag, state.energy_j if self.has_counter else math.nan
        )

    def _powers(self) -> dict[str, float]:
        powers: dict[str, float] = {}
        if self.has_usage:
            powers["usage"] = int(self.module.nvmlDeviceGetPowerUsage(self.handle)) / 1000
        if self.fields:
            values = self.module.nvmlDeviceGetFieldValues(self.handle, list(self.fields.values()))
            for name, value in zip(self.fields, values, strict=True):
                powers[name] = int(value.value.uiVal) / 1000 if value.nvmlReturn == 0 else math.nan
        return powers

    def summary(self) -> dict[str, float]:
        """Energy over the measurement by each method (J), and the resets seen: for `stats().extra`."""
        state = self._counter
        if state is None:
            return {}
        prefix = f"gpu{self.index}_"
        result = {f"{prefix}{name}_j": joules for name, joules in state.integrals_j.items()}
        if self.has_counter:
            result[f"{prefix}counter_j"] = state.energy_j
        result[f"{prefix}resets"] = float(state.resets)
        return result
