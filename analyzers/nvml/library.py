"""Loading NVML (the `pynvml` module of nvidia-ml-py) and turning its failures into one sentence.

The only room that knows pynvml's error codes. The module is injectable, so tests run the driver's
real code against a fake; without injection the installed nvidia-ml-py is used.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from analyzers.errors import AnalyzerConnectionError, AnalyzerError

# pynvml's return codes (nvml.h); compared by value so a fake module needs only `.value` on its errors.
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_FUNCTION_NOT_FOUND = 13
NVML_ERROR_GPU_IS_LOST = 15

NVML_FI_DEV_POWER_AVERAGE = 185
NVML_FI_DEV_POWER_INSTANT = 186

_NO_DRIVER_HINT = (
    "is the NVIDIA driver installed (does `nvidia-smi` work)? In a container, run it with the NVIDIA "
    "container toolkit (--gpus all)"
)


def error_code(error: BaseException) -> int | None:
    """pynvml's numeric code of an `NVMLError`, None for anything else."""
    value = getattr(error, "value", None)
    return value if isinstance(value, int) else None


def is_nvml_error(module: Any, error: BaseException) -> bool:
    error_type = getattr(module, "NVMLError", None)
    return isinstance(error_type, type) and isinstance(error, error_type)


def load_module(device: str, module: ModuleType | Any | None) -> Any:
    """The injected module, or the installed `pynvml`; `AnalyzerError` when neither exists."""
    if module is not None:
        return module
    try:
        return importlib.import_module("pynvml")
    except ImportError as error:
        raise AnalyzerError(
            device,
            f"the nvidia-ml-py package (pynvml) cannot be imported: {error}",
            "pip install nvidia-ml-py",
        ) from error


def init(device: str, module: Any) -> None:
    """`nvmlInit()`, with the usual failures said plainly."""
    try:
        module.nvmlInit()
    except Exception as error:
        if not is_nvml_error(module, error):
            raise
        code = error_code(error)
        if code == NVML_ERROR_LIBRARY_NOT_FOUND:
            raise AnalyzerConnectionError(
                device,
                "no NVIDIA driver found: the NVML library (libnvidia-ml.so.1) is not installed",
                _NO_DRIVER_HINT,
            ) from error
        if code == NVML_ERROR_DRIVER_NOT_LOADED:
            raise AnalyzerConnectionError(
                device,
                "the NVIDIA kernel driver is not loaded",
                "check `nvidia-smi` and `lsmod | grep nvidia`; a driver update may need a reboot",
            ) from error
        if code == NVML_ERROR_NO_PERMISSION:
            raise AnalyzerConnectionError(
                device, "no permission to open the NVIDIA driver", "check the permissions of /dev/nvidia*"
            ) from error
        raise AnalyzerConnectionError(
            device, f"NVML failed to initialise: {error}", _NO_DRIVER_HINT
        ) from error


def text(value: object) -> str:
    """pynvml returns str in new releases and bytes in old ones."""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
