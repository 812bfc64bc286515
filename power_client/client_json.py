"""`power/client.json`: every key the MLCommons reference client writes, plus a `joulebench` object.

Keys, in the reference's order: `version`, `timezone`, `modules`, `sources`, `messages`, `uuid`,
`session_name`, `results`, `phases`. Times are epoch seconds (floats) on this client's clock, as in the
reference. `phases` holds the director's own phase stamps (taken when the analyzer answered Go/Stop)
expressed on the client clock through the measured offset, so both files name the same instants, each
on its own side's clock. `joulebench` carries that offset, director − client, for the checker.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analyzers.formats.units import NS_PER_S
from power_client.clock import Clock
from power_client.clock_offset import OffsetEstimate
from power_client.session_client import RecordedMessage
from power_director.api import PhaseStamp

# The summary format's version; the reference writes "1.0" for the same set of keys.
FORMAT_VERSION = "1.0"
_OWN_PACKAGES = ("power_client", "power_director.api")


@dataclass(frozen=True)
class PhaseRecord:
    """A phase's four director stamps and the offset measured around it."""

    stamps: tuple[PhaseStamp, PhaseStamp, PhaseStamp, PhaseStamp]
    offset: OffsetEstimate


def client_phases(record: PhaseRecord, clock: Clock) -> list[list[float]]:
    """The reference's `[[wall, monotonic] x 4]`, both on this client's clocks.

    The monotonic value is the client's monotonic clock at the same instant, derived from one
    (wall, monotonic) pair read now: valid as long as the wall clock was not stepped during the run.
    """
    now_wall_ns, now_mono_ns = clock.wall_ns(), clock.monotonic_ns()
    pairs = []
    for stamp in record.stamps:
        wall_ns = record.offset.to_client_ns(stamp.wall_ns)
        pairs.append([wall_ns / NS_PER_S, (now_mono_ns - (now_wall_ns - wall_ns)) / NS_PER_S])
    return pairs


def sha1_of(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def own_sources(root: Path | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """(`modules`, `sources`): this client's loaded modules and the sha1 of every source file of it."""
    modules: dict[str, str] = {}
    for name, module in sorted(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file and name.startswith(_OWN_PACKAGES):
            modules[name] = _relative(Path(file), root)
    sources: dict[str, str] = {}
    package = Path(__file__).resolve().parent
    files = [*sorted(package.glob("*.py")), package.parent / "power_director" / "api.py"]
    for path in files:
        sources[_relative(path, root)] = sha1_of(path)
    return modules, sources


def build_client_json(
    *,
    messages: Iterable[RecordedMessage],
    client_uuid: str,
    server_uuid: str,
    session_name: str,
    results: Mapping[str, str],
    phases: Mapping[str, list[list[float]]],
    offset: OffsetEstimate,
    offsets: Mapping[str, list[OffsetEstimate]],
) -> dict[str, Any]:
    modules, sources = own_sources()
    return {
        "version": FORMAT_VERSION,
        # Seconds west of UTC without daylight saving, as the reference writes it (time.timezone).
        "timezone": time.timezone,
        "modules": modules,
        "sources": sources,
        "messages": [message.to_json() for message in messages],
        "uuid": {"client": client_uuid, "server": server_uuid},
        "session_name": session_name,
        "results": dict(sorted(results.items())),
        "phases": dict(phases),
        "joulebench": {
            "clock_offset_s": offset.offset_s,
            "clock_offset_uncertainty_s": offset.uncertainty_s,
            "rounds": offset.rounds,
            "measurements": {
                when: [_measurement(one) for one in estimates] for when, estimates in offsets.items()
            },
        },
    }


def write_client_json(path: Path, data: Mapping[str, Any]) -> None:
    # The reference writes json.dump(..., indent=4) with no newline at the end.
    path.write_text(json.dumps(data, indent=4), encoding="utf-8")


def _measurement(estimate: OffsetEstimate) -> dict[str, Any]:
    return {
        "at": estimate.measured_at_ns / NS_PER_S,
        "offset_s": estimate.offset_s,
        "uncertainty_s": estimate.uncertainty_s,
        "min_delay_s": estimate.min_delay_ns / NS_PER_S,
        "rounds": estimate.rounds,
        "rounds_used": estimate.rounds_used,
    }


def _relative(path: Path, root: Path | None) -> str:
    base = root or Path(__file__).resolve().parent.parent
    try:
        return path.resolve().relative_to(base).as_posix()
    except ValueError:
        return path.name
