"""One zone's `energy_uj` counter, read wrap-safe across a measurement."""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

from analyzers.errors import AnalyzerConnectionError, AnalyzerError

PERMISSION_HINT = (
    "since Linux 5.10 only root may read RAPL energy: run as root, or allow it with "
    "`chmod o+r /sys/class/powercap/intel-rapl:*/energy_uj` (a udev rule makes that stick)"
)


def read_uj(path: Path, device: str) -> int:
    """A counter file as an integer (µJ); one clear sentence when it cannot be read.

    Read with a bare open/read/close: at 10 Hz over several zones this is the sampling thread's
    whole cost, and `Path.read_text` takes three times as long (its text layer and path handling)."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
        try:
            data = os.read(descriptor, 64)
        finally:
            os.close(descriptor)
        return int(data)
    except PermissionError as error:
        raise AnalyzerConnectionError(device, f"permission denied reading {path}", PERMISSION_HINT) from error
    except OSError as error:
        if error.errno == errno.ENODATA:
            raise AnalyzerConnectionError(
                device, f"{path} has no data", "the firmware does not report this zone"
            ) from error
        raise AnalyzerConnectionError(device, f"cannot read {path}: {error.strerror or error}") from error
    except ValueError as error:
        raise AnalyzerError(device, f"{path} does not hold a whole number") from error


def read_range_uj(path: Path) -> int | None:
    """`max_energy_range_uj`, or None when it cannot be read (then a wrap cannot be undone)."""
    try:
        value = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return value if value > 0 else None


@dataclass
class WrappingCounter:
    """Energy since `begin`, in J, from successive counter values that wrap at `range_uj`."""

    range_uj: int | None
    last_uj: int
    energy_j: float = 0.0

    def advance(self, now_uj: int) -> float | None:
        """The energy since the previous value (J), or None when it went back with no known range."""
        delta = now_uj - self.last_uj
        self.last_uj = now_uj
        if delta < 0:
            if self.range_uj is None:
                return None  # wrapped, but by how much is unknown: do not guess
            # The kernel counts 0..max_energy_range_uj and starts again; one step is (now - last) mod range.
            delta %= self.range_uj
        joules = delta / 1e6
        self.energy_j += joules
        return joules
