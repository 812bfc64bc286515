"""A phone for the fake `adb` (tests/fakes_system/bin/adb): a sysfs-shaped power-supply tree whose
values a test changes while a measurement runs, a logcat file, and an `offline` switch."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

FAKE_BIN = Path(__file__).resolve().parent / "bin"


class FakePhone:
    """`current_ua` is what the gauge reports in its own unit and sign (set `unit_per_ua`, `sign`)."""

    def __init__(
        self,
        root: Path,
        serial: str = "R5CT1234ABC",
        *,
        unit_per_ua: float = 1.0,
        discharge_sign: int = -1,
        chargers: tuple[tuple[str, str], ...] = (("usb", "USB"), ("ac", "Mains"), ("wireless", "Wireless")),
    ) -> None:
        self.root = root
        self.serial = serial
        self.device = root / serial
        self.supplies = self.device / "sys" / "class" / "power_supply"
        self.unit_per_ua = unit_per_ua
        self.discharge_sign = discharge_sign
        battery = self.supplies / "battery"
        battery.mkdir(parents=True)
        self._write(battery / "type", "Battery")
        (self.supplies / "bms").mkdir()
        self._write(self.supplies / "bms" / "type", "BMS")
        for name, kind in chargers:
            (self.supplies / name).mkdir()
            self._write(self.supplies / name / "type", kind)
            self._write(self.supplies / name / "online", "0")
        self.set(load_ua=500_000, volts=3.85)
        self._driver: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "FAKE_ADB_ROOT": str(self.root),
            "PATH": f"{FAKE_BIN}{os.pathsep}{os.environ['PATH']}",
        }

    def set(
        self, load_ua: float, volts: float = 3.85, status: str = "Discharging", charge_uah: int = 3_000_000
    ) -> None:
        """The battery delivers `load_ua` µA at `volts` (negative `load_ua`: it is being charged)."""
        battery = self.supplies / "battery"
        self._write(battery / "current_now", f"{round(load_ua * self.unit_per_ua) * self.discharge_sign}")
        self._write(battery / "voltage_now", f"{round(volts * 1e6)}")
        self._write(battery / "status", status)
        self._write(battery / "charge_counter", f"{charge_uah}")

    def plug(self, charger: str = "usb", online: bool = True) -> None:
        self._write(self.supplies / charger / "online", "1" if online else "0")

    def disconnect(self) -> None:
        self._write(self.device / "offline", "")

    def logcat(self, line: str) -> None:
        with (self.device / "logcat").open("a") as stream:
            stream.write(line + "\n")

    def drive(self, load_ua: Callable[[float], float], every_s: float = 0.02) -> None:
        """Update the gauge every `every_s` with `load_ua(seconds since drive began)` until `halt`."""
        import time

        start = time.monotonic()

        def run() -> None:
            while not self._stop.wait(every_s):
                self.set(load_ua(time.monotonic() - start))

        self._driver = threading.Thread(target=run, daemon=True)
        self._driver.start()

    def halt(self) -> None:
        self._stop.set()
        if self._driver is not None:
            self._driver.join()

    def calls(self) -> list[str]:
        path = self.root / "calls"
        return path.read_text().splitlines() if path.exists() else []

    @staticmethod
    def _write(path: Path, text: str) -> None:
        # Whole values only: a reader's `cat` never sees half a number.
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(text + "\n")
        os.replace(temporary, path)
