"""Finding a Joulescope through the `joulescope` package, and its failures in one sentence.

The only room that knows the package. The module is injectable, so tests run the driver's real code
against a fake at the package's API boundary (`scan`, the device object it returns); without
injection the installed package is used (`pip install 'joulebench[joulescope]'`).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any

from analyzers.errors import AnalyzerConnectionError, AnalyzerError

INSTALL_HINT = "pip install 'joulebench[joulescope]' (the joulescope package, with its USB driver)"
_MODEL = re.compile(r"(js\d{3})", re.IGNORECASE)


def load_module(device: str, module: Any | None) -> Any:
    """The injected module, or the installed `joulescope`; AnalyzerError when neither exists."""
    if module is not None:
        return module
    try:
        return importlib.import_module("joulescope")
    except ImportError as error:
        raise AnalyzerError(
            device, f"the joulescope package cannot be imported: {error}", INSTALL_HINT
        ) from error


def serial_of(handle: Any) -> str:
    serial = getattr(handle, "device_serial_number", None) or getattr(handle, "serial_number", None)
    return str(serial) if serial else str(handle).rsplit("/", 1)[-1].rstrip(")")


def model_of(handle: Any) -> str:
    """`JS220`, `JS110`: from the device path the package prints (`Device(u/js220/002557)`)."""
    found = _MODEL.search(str(getattr(handle, "device_path", "") or handle))
    return found.group(1).upper() if found else "Joulescope"


def find_device(device: str, module: Any) -> Any:
    """The connected Joulescope whose serial number is `device` (any one when exactly one is there)."""
    try:
        handles = list(module.scan(config="off"))
    except Exception as error:  # the package's USB layer raises whatever its backend raises
        raise AnalyzerConnectionError(
            device or "joulescope",
            f"scanning for Joulescopes failed: {error}",
            "is the USB driver installed?",
        ) from error
    serials = [serial_of(h) for h in handles]
    if device:
        wanted = device.lstrip("0") or "0"
        chosen = [h for h, s in zip(handles, serials, strict=True) if (s.lstrip("0") or "0") == wanted]
    else:
        chosen = handles if len(handles) == 1 else []
    if len(chosen) == 1:
        return chosen[0]
    if not handles:
        raise AnalyzerConnectionError(
            device or "joulescope",
            "no Joulescope is connected",
            "check the USB cable and that no other program holds it",
        )
    listed = ", ".join(serials)
    if device:
        raise AnalyzerConnectionError(
            device, f"no Joulescope with serial number {device} (connected: {listed})"
        )
    raise AnalyzerError(
        "joulescope", f"{len(handles)} Joulescopes are connected ({listed})", "give one: joulescope:SERIAL"
    )


class StreamTap:
    """What the package calls with its stream buffer (its `StreamProcessApi`): hands it over, never
    asks the package to stop (the driver's `stop` does)."""

    def __init__(self, on_start: Callable[[Any], None], on_notify: Callable[[Any], None]) -> None:
        self._on_start, self._on_notify = on_start, on_notify
        self.driver_active = True

    def start(self, stream_buffer: Any) -> None:
        self._on_start(stream_buffer)

    def stream_notify(self, stream_buffer: Any) -> bool:
        self._on_notify(stream_buffer)
        return False

    def stop(self) -> None:
        pass

    def close(self) -> None:
        pass
