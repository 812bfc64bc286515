"""A powercap sysfs tree in a temporary directory: zones with `name`, `energy_uj` and
`max_energy_range_uj`, counters that wrap at the range the way the kernel's do.

Laid out flat like /sys/class/powercap (every zone a top-level entry) or nested like the
underlying device directories. Writes are atomic (rename), as a reader never sees half a number
from the kernel either.
"""

from __future__ import annotations

import os
from pathlib import Path

# A common Intel value: 2^32 counter units of 61.035 µJ.
INTEL_RANGE_UJ = 262_143_328_850


class FakePowercap:
    def __init__(self, root: Path, nested: bool = False) -> None:
        self.root = root
        self.nested = nested
        self.root.mkdir(parents=True, exist_ok=True)
        self.energy_uj: dict[str, int] = {}
        self.range_uj: dict[str, int | None] = {}
        self.paths: dict[str, Path] = {}
        # The control-type directory exists on real machines and has no counter.
        (root / "intel-rapl").mkdir(exist_ok=True)
        (root / "intel-rapl" / "enabled").write_text("1\n")

    def add_zone(
        self, zone_id: str, name: str, energy_uj: int = 0, range_uj: int | None = INTEL_RANGE_UJ
    ) -> Path:
        parent_id = zone_id.rsplit(":", 1)[0]
        if self.nested and parent_id in self.paths:
            path = self.paths[parent_id] / zone_id
        else:
            path = self.root / zone_id
        path.mkdir(parents=True)
        (path / "name").write_text(name + "\n")
        if range_uj is not None:
            (path / "max_energy_range_uj").write_text(f"{range_uj}\n")
        else:
            (path / "max_energy_range_uj").write_text("")  # unreadable as a number
        self.paths[zone_id] = path
        self.range_uj[zone_id] = range_uj
        self.set_energy(zone_id, energy_uj)
        return path

    def set_energy(self, zone_id: str, energy_uj: int) -> None:
        self.energy_uj[zone_id] = energy_uj
        target = self.paths[zone_id] / "energy_uj"
        temporary = target.with_suffix(".tmp")
        temporary.write_text(f"{energy_uj}\n")
        os.replace(temporary, target)

    def add_energy(self, zone_id: str, joules: float) -> None:
        """Consume `joules` in the zone; the counter wraps at its range."""
        value = self.energy_uj[zone_id] + round(joules * 1e6)
        modulus = self.range_uj[zone_id]
        self.set_energy(zone_id, value % modulus if modulus else value)

    def server(self) -> FakePowercap:
        """Two sockets with DRAM, core/uncore sub-zones and a platform (psys) zone."""
        self.add_zone("intel-rapl:0", "package-0", energy_uj=INTEL_RANGE_UJ - 10_000_000)
        self.add_zone("intel-rapl:0:0", "core", energy_uj=1_000)
        self.add_zone("intel-rapl:0:1", "dram", energy_uj=2_000)
        self.add_zone("intel-rapl:1", "package-1", energy_uj=5_000_000)
        self.add_zone("intel-rapl:1:0", "dram", energy_uj=7_000)
        self.add_zone("intel-rapl:2", "psys", energy_uj=9_000)
        return self
