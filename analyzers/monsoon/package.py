"""Finding a Monsoon power monitor through Monsoon Solutions' `monsoon` package (PyMonsoon).

The only room that knows the package: `Monsoon.HVPM` / `Monsoon.LVPM` (the instrument: `setup_usb`,
`setVout`, `getSerialNumber`, `closeDevice`) and `Monsoon.sampleEngine` (`SampleEngine`, `channels`,
`triggers`). The modules are injectable as one namespace with those three attributes, so tests run
the driver's real code against a fake; without injection the installed package is used
(`pip install 'joulebench[monsoon]'`).
"""

from __future__ import annotations

import importlib
from types import SimpleNamespace
from typing import Any

from analyzers.errors import AnalyzerConnectionError, AnalyzerError

INSTALL_HINT = "pip install 'joulebench[monsoon]' (Monsoon Solutions' package; it needs libusb)"
MODELS = {"hvpm": "HVPM", "lvpm": "LVPM"}
VOUT_LIMITS = {"hvpm": (0.8, 13.5), "lvpm": (2.01, 4.55)}
"""The main output's range (V), as Monsoon's manuals give it."""


def load_modules(device: str, modules: Any | None) -> Any:
    """The injected namespace, or the installed package's three modules; AnalyzerError without it."""
    if modules is not None:
        return modules
    try:
        return SimpleNamespace(
            HVPM=importlib.import_module("Monsoon.HVPM"),
            LVPM=importlib.import_module("Monsoon.LVPM"),
            sampleEngine=importlib.import_module("Monsoon.sampleEngine"),
        )
    except ImportError as error:
        raise AnalyzerError(
            device, f"the monsoon package cannot be imported: {error}", INSTALL_HINT
        ) from error


def connect(device: str, modules: Any, model: str) -> Any:
    """The instrument with serial number `device` (the first one found when empty), connected."""
    if device and not device.isdigit():
        raise AnalyzerError(device, "a Monsoon's device is its serial number, a whole number")
    monitor = getattr(modules, MODELS[model]).Monsoon()
    try:
        if device:
            monitor.setup_usb(int(device))
        else:
            monitor.setup_usb()
    except Exception as error:  # pyusb raises USBError, the package its own; both mean "not there"
        where = f"with serial number {device}" if device else "on USB"
        raise AnalyzerConnectionError(
            device or "monsoon",
            f"no Monsoon {MODELS[model]} {where}: {error}",
            "check the USB cable, the udev rule for its vendor id, and model=hvpm|lvpm",
        ) from error
    return monitor
