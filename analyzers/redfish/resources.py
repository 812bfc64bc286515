"""Redfish JSON -> power readings: which resources hold power, and what one reading is.

Pure functions over parsed JSON; no I/O. Kinds of power resource:
- `power`: `Chassis/{id}/Power` (deprecated but everywhere): `PowerControl[].PowerConsumedWatts`.
- `metrics`: `Chassis/{id}/EnvironmentMetrics` and `PowerEquipment/RackPDUs/{id}/Metrics`:
  `PowerWatts.Reading` and, where present, the cumulative `EnergykWh.Reading`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

POWER = "power"
METRICS = "metrics"


@dataclass(frozen=True)
class PowerValue:
    watts: float  # NaN when the resource gave no number
    energy_kwh: float | None
    problem: str = ""


def kind_of(path: str) -> str | None:
    """The kind a resource path names directly, or None when it must be fetched to know."""
    if path.endswith("/Power"):
        return POWER
    if path.endswith(("/EnvironmentMetrics", "/Metrics")):
        return METRICS
    return None


def _link(document: dict[str, Any], name: str) -> str | None:
    value = document.get(name)
    if isinstance(value, dict) and isinstance(value.get("@odata.id"), str):
        return str(value["@odata.id"])
    return None


def members(collection: dict[str, Any]) -> list[str]:
    return [
        str(m["@odata.id"]) for m in collection.get("Members", []) if isinstance(m, dict) and "@odata.id" in m
    ]


def power_resource(document: dict[str, Any]) -> tuple[str, str] | None:
    """(path, kind) of a chassis's or PDU's power resource; EnvironmentMetrics (which has energy)
    over the older Power resource, never both: they measure the same thing."""
    for name, kind in (("EnvironmentMetrics", METRICS), ("Metrics", METRICS), ("Power", POWER)):
        link = _link(document, name)
        if link:
            return link, kind
    return None


def contained_by(document: dict[str, Any]) -> str | None:
    links = document.get("Links")
    return _link(links, "ContainedBy") if isinstance(links, dict) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def read_power(document: dict[str, Any], kind: str) -> PowerValue:
    if kind == POWER:
        controls = [c for c in document.get("PowerControl", []) if isinstance(c, dict)]
        if not controls:
            return PowerValue(math.nan, None, "no PowerControl entry")
        # Several entries can overlap (chassis total and a CPU sub-total): take the chassis one,
        # else the first, and never add them up.
        chosen = next((c for c in controls if c.get("PhysicalContext") == "Chassis"), controls[0])
        watts = _number(chosen.get("PowerConsumedWatts"))
        return (
            PowerValue(math.nan, None, "PowerConsumedWatts is null")
            if watts is None
            else PowerValue(watts, None)
        )
    power = document.get("PowerWatts")
    watts = _number(power.get("Reading")) if isinstance(power, dict) else None
    energy = document.get("EnergykWh")
    energy_kwh = _number(energy.get("Reading")) if isinstance(energy, dict) else None
    if watts is None:
        return PowerValue(math.nan, energy_kwh, "PowerWatts.Reading is missing or null")
    return PowerValue(watts, energy_kwh)
