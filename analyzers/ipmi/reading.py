"""`ipmitool dcmi power reading` output -> a `DcmiReading`.

Instantaneous power reading:                   285 Watts
Minimum during sampling period:                 80 Watts
Maximum during sampling period:                520 Watts
Average power reading over sample period:      270 Watts
IPMI timestamp:                           Thu Jan  1 00:00:00 2024
Sampling period:                          00000001 Seconds.
Power reading state is:                   activated
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LINE = re.compile(r"^\s*(?P<key>[^:]+?)\s*:\s*(?P<value>.*?)\s*$")
_WATTS = re.compile(r"^(\d+)\s+Watts?$", re.IGNORECASE)


@dataclass(frozen=True)
class DcmiReading:
    """Integer watts as the BMC gives them; `active` False when power reading is deactivated."""

    instantaneous_w: int
    minimum_w: int | None
    maximum_w: int | None
    average_w: int | None
    sampling_period_s: int | None
    active: bool


class DcmiParseError(ValueError):
    """The output has no instantaneous power reading."""


def parse_power_reading(output: str) -> DcmiReading:
    fields: dict[str, str] = {}
    for line in output.splitlines():
        match = _LINE.match(line)
        if match:
            fields[match["key"].lower()] = match["value"]

    def watts(key: str) -> int | None:
        found = _WATTS.match(fields.get(key, ""))
        return int(found[1]) if found else None

    instantaneous = watts("instantaneous power reading")
    if instantaneous is None:
        first = output.strip().splitlines()[0] if output.strip() else "nothing"
        raise DcmiParseError(f"no 'Instantaneous power reading' in the output (it said: {first!r})")
    period = re.match(r"^(\d+)", fields.get("sampling period", ""))
    state = fields.get("power reading state is", "activated").lower()
    return DcmiReading(
        instantaneous_w=instantaneous,
        minimum_w=watts("minimum during sampling period"),
        maximum_w=watts("maximum during sampling period"),
        average_w=watts("average power reading over sample period"),
        sampling_period_s=int(period[1]) if period else None,
        active=state.startswith("activ"),
    )
