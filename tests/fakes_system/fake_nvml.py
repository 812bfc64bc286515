"""A fake `pynvml`: GPUs whose energy counter advances in update steps, can reset, and can get lost.

It has the shape of nvidia-ml-py where the driver touches it (functions, `NVMLError` with `.value`,
field values with `nvmlReturn` and `value.uiVal`), so the driver's real code runs against it.
Energy follows a power level per GPU that the test sets; the counter only moves at multiples of
`update_ns`, as the real one does. Time is integer ns from `now_ns`, so energies are exact.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

NVML_SUCCESS = 0
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_FOUND = 6
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_GPU_IS_LOST = 15
NVML_FI_DEV_POWER_AVERAGE = 185
NVML_FI_DEV_POWER_INSTANT = 186


class NVMLError(Exception):
    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return {
            NVML_ERROR_NOT_SUPPORTED: "Not Supported",
            NVML_ERROR_INVALID_ARGUMENT: "Invalid Argument",
            NVML_ERROR_NOT_FOUND: "Not Found",
            NVML_ERROR_LIBRARY_NOT_FOUND: "NVML Shared Library Not Found",
            NVML_ERROR_GPU_IS_LOST: "GPU is lost",
        }.get(self.value, f"NVML Error with code {self.value}")


@dataclass
class FakeGpu:
    name: str = "NVIDIA H100 80GB HBM3"
    uuid: str = "GPU-00000000-0000-0000-0000-000000000000"
    watts: float = 100.0
    counter_mj: float = 5_000_000.0  # energy since "driver load"
    has_counter: bool = True
    has_fields: bool = True
    lost: bool = False
    average_lag_w: float = 0.0  # what the 1 s average trails the instant value by
    last_update_ns: int | None = None


@dataclass
class _Value:
    uiVal: int


@dataclass
class _FieldValue:
    fieldId: int
    nvmlReturn: int
    value: _Value


class FakeNvml:
    """The module object: `FakeNvml(gpus, now_s=...)` then pass it as `nvml_module`."""

    NVMLError = NVMLError

    def __init__(
        self,
        gpus: list[FakeGpu],
        now_ns: Callable[[], int] = time.time_ns,
        update_ns: int = 20_000_000,
        init_error: int | None = None,
        driver_version: str = "550.54.15",
    ) -> None:
        self.gpus = gpus
        self.now_ns = now_ns
        self.update_ns = update_ns
        self.init_error = init_error
        self.driver_version = driver_version
        self.initialised = 0
        self.shutdowns = 0
        self._lock = threading.Lock()

    # -- what the test drives -------------------------------------------------------------------

    def _advance(self, gpu: FakeGpu) -> None:
        """Bring the counter to the last update step at or before now."""
        step_ns = self.now_ns() // self.update_ns * self.update_ns
        if gpu.last_update_ns is None:
            gpu.last_update_ns = step_ns
        if step_ns > gpu.last_update_ns:
            gpu.counter_mj += gpu.watts * (step_ns - gpu.last_update_ns) / 1e6  # W x ns = 1e-6 mJ
            gpu.last_update_ns = step_ns

    def set_power(self, index: int, watts: float) -> None:
        with self._lock:
            self._advance(self.gpus[index])
            self.gpus[index].watts = watts

    def reset_counter(self, index: int) -> None:
        """What a driver reload does: the counter starts again near zero."""
        with self._lock:
            self._advance(self.gpus[index])
            self.gpus[index].counter_mj = 0.0

    # -- the pynvml surface ---------------------------------------------------------------------

    def nvmlInit(self) -> None:
        if self.init_error is not None:
            raise NVMLError(self.init_error)
        self.initialised += 1

    def nvmlShutdown(self) -> None:
        self.shutdowns += 1

    def nvmlSystemGetDriverVersion(self) -> str:
        return self.driver_version

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        if not 0 <= index < len(self.gpus):
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        return index

    def nvmlDeviceGetHandleByUUID(self, uuid: str) -> int:
        for index, gpu in enumerate(self.gpus):
            if gpu.uuid == uuid:
                return index
        raise NVMLError(NVML_ERROR_NOT_FOUND)

    def nvmlDeviceGetIndex(self, handle: int) -> int:
        return handle

    def nvmlDeviceGetName(self, handle: int) -> bytes:
        return self.gpus[handle].name.encode()  # old nvidia-ml-py releases return bytes

    def nvmlDeviceGetUUID(self, handle: int) -> str:
        return self.gpus[handle].uuid

    def _live(self, handle: int) -> FakeGpu:
        gpu = self.gpus[handle]
        if gpu.lost:
            raise NVMLError(NVML_ERROR_GPU_IS_LOST)
        return gpu

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: int) -> int:
        with self._lock:
            gpu = self._live(handle)
            if not gpu.has_counter:
                raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
            self._advance(gpu)
            return int(gpu.counter_mj)

    def nvmlDeviceGetPowerUsage(self, handle: int) -> int:
        gpu = self._live(handle)
        return round((gpu.watts - gpu.average_lag_w) * 1000)

    def nvmlDeviceGetFieldValues(self, handle: int, field_ids: list[int]) -> list[_FieldValue]:
        gpu = self._live(handle)
        values = []
        for field_id in field_ids:
            if not gpu.has_fields or field_id not in (NVML_FI_DEV_POWER_INSTANT, NVML_FI_DEV_POWER_AVERAGE):
                values.append(_FieldValue(field_id, NVML_ERROR_NOT_SUPPORTED, _Value(0)))
                continue
            watts = gpu.watts if field_id == NVML_FI_DEV_POWER_INSTANT else gpu.watts - gpu.average_lag_w
            values.append(_FieldValue(field_id, NVML_SUCCESS, _Value(round(watts * 1000))))
        return values
