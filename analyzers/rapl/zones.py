"""Powercap RAPL zones: finding them under a sysfs root, naming them, choosing ones that do not overlap.

`/sys/class/powercap` lists every zone flat (`intel-rapl:0`, `intel-rapl:0:0`, `intel-rapl:1`); a
copied or hand-made tree may nest sub-zones inside their parent instead. Both are read. What
contains what: `psys` (the platform) contains everything else; a `package-N` contains its `core`
and `uncore` sub-zones but not its `dram` one (DRAM is a separate RAPL domain). The MMIO interface
(`intel-rapl-mmio:*`) repeats the package through another path and is skipped where the MSR one exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from analyzers.errors import AnalyzerError

_ZONE_DIR = re.compile(r"^(intel-rapl(?:-mmio)?):(\d+(?::\d+)*)$")
_INSIDE_PACKAGE = ("core", "uncore")


@dataclass(frozen=True)
class Zone:
    """One powercap zone. `channel` is its unique name: `package-0`, `psys`, `package-0:dram`."""

    zone_id: str  # e.g. intel-rapl:0:1
    name: str  # the zone's `name` file: package-0, core, uncore, dram, psys
    path: Path
    parent_name: str | None  # the parent zone's name for a sub-zone

    @property
    def channel(self) -> str:
        return f"{self.parent_name}:{self.name}" if self.parent_name else self.name

    @property
    def is_package(self) -> bool:
        return self.parent_name is None and self.name.startswith("package")

    def contains(self, other: Zone) -> bool:
        """True when `other`'s energy is part of this zone's."""
        if self == other:
            return False
        if self.name == "psys" and self.parent_name is None:
            return True
        return self.is_package and other.parent_name == self.name and other.name in _INSIDE_PACKAGE


def _read_name(path: Path) -> str:
    return (path / "name").read_text().strip()


def discover(root: Path) -> list[Zone]:
    """Every zone under `root` with an energy counter, in zone-id order."""
    found: dict[str, Path] = {}
    pending = [root]
    while pending:
        directory = pending.pop()
        try:
            entries = list(directory.iterdir())
        except OSError:
            continue
        for entry in entries:
            if _ZONE_DIR.match(entry.name) and entry.name not in found and entry.is_dir():
                found[entry.name] = entry
                pending.append(entry)  # nested sub-zones
    zones: list[Zone] = []
    names: dict[str, str] = {}
    for zone_id in sorted(found, key=_sort_key):
        if not (found[zone_id] / "energy_uj").exists():
            continue
        try:
            names[zone_id] = _read_name(found[zone_id])
        except OSError:
            continue
    for zone_id in sorted(names, key=_sort_key):
        parent_id = zone_id.rsplit(":", 1)[0]
        parent = names.get(parent_id) if parent_id.count(":") >= 1 else None
        zones.append(Zone(zone_id, names[zone_id], found[zone_id], parent))
    msr_names = {z.channel for z in zones if not z.zone_id.startswith("intel-rapl-mmio")}
    return [z for z in zones if not (z.zone_id.startswith("intel-rapl-mmio") and z.channel in msr_names)]


def _sort_key(zone_id: str) -> tuple[str, list[int]]:
    kind, numbers = zone_id.split(":", 1)
    return kind, [int(n) for n in numbers.split(":")]


def default_selection(zones: list[Zone]) -> list[Zone]:
    """Packages and their DRAM: what CPU energy usually means. Only psys when nothing else exists."""
    chosen = [z for z in zones if z.is_package or (z.name == "dram")]
    return chosen or [z for z in zones if z.name == "psys"] or zones


def select(zones: list[Zone], wanted: list[str], device: str) -> list[Zone]:
    """The zones `wanted` names (channel names, or a bare name like `dram` for all of them).

    Raises `AnalyzerError` for an unknown name or a choice that would count energy twice."""
    chosen: list[Zone] = []
    for name in wanted:
        matches = [z for z in zones if name in (z.channel, z.name, z.zone_id)]
        if not matches:
            known = ", ".join(z.channel for z in zones)
            raise AnalyzerError(device, f"no RAPL zone named {name!r}", f"this machine has: {known}")
        chosen += [z for z in matches if z not in chosen]
    for outer in chosen:
        for inner in chosen:
            if outer.contains(inner):
                raise AnalyzerError(
                    device,
                    f"{outer.channel} already contains {inner.channel}, so both would count its energy twice",
                    "choose one of them",
                )
    return chosen
