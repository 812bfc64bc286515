"""`Measurement`: the energy of one named window, per source and channel; and its JSON form.

The JSON is the seam later tools read (`result.json` of `power-measure --output`, `--json`):

    {"name": "step", "begin_ns": ..., "end_ns": ..., "duration_s": 1.5, "final": true,
     "sources": [{"source": "nvml:0", "method": "counter", "energy_j": 301.2, "avg_power_w": 200.8,
                  "samples": 15, "uncertainty_j": 0.4,
                  "uncertainty_parts_j": {"accuracy": null, "sampling": 0.4, "clock": 0.0},
                  "final": true, "warnings": [...],
                  "channels": [{"channel": 1, "energy_j": ..., "avg_power_w": ..., "samples": 15}]}]}
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from analyzers.formats.units import NS_PER_S
from rules.measure.energy import WindowEnergy


@dataclass(frozen=True)
class ChannelEnergy:
    channel: int  # 1-based
    energy_j: float
    avg_power_w: float
    samples: int


@dataclass(frozen=True)
class SourceEnergy:
    source: str
    method: str  # "counter" or "integrated"
    energy_j: float
    avg_power_w: float
    samples: int
    uncertainty_j: float
    accuracy_j: float | None  # None: the source states no accuracy (uncertainty_j covers the rest)
    sampling_j: float
    clock_j: float
    final: bool
    warnings: tuple[str, ...] = ()
    channels: tuple[ChannelEnergy, ...] = ()

    @classmethod
    def of(cls, source: str, total: WindowEnergy, channels: tuple[ChannelEnergy, ...] = ()) -> SourceEnergy:
        return cls(
            source=source,
            method=total.method,
            energy_j=total.energy_j,
            avg_power_w=total.avg_power_w,
            samples=total.samples,
            uncertainty_j=total.uncertainty_j,
            accuracy_j=total.accuracy_j,
            sampling_j=total.sampling_j,
            clock_j=total.clock_j,
            final=total.final,
            warnings=total.warnings,
            channels=channels,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "method": self.method,
            "energy_j": self.energy_j,
            "avg_power_w": self.avg_power_w,
            "samples": self.samples,
            "uncertainty_j": self.uncertainty_j,
            "uncertainty_parts_j": {
                "accuracy": self.accuracy_j,
                "sampling": self.sampling_j,
                "clock": self.clock_j,
            },
            "final": self.final,
            "warnings": list(self.warnings),
            "channels": [
                {
                    "channel": c.channel,
                    "energy_j": c.energy_j,
                    "avg_power_w": c.avg_power_w,
                    "samples": c.samples,
                }
                for c in self.channels
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SourceEnergy:
        parts = data["uncertainty_parts_j"]
        return cls(
            source=str(data["source"]),
            method=str(data["method"]),
            energy_j=_number(data["energy_j"]),
            avg_power_w=_number(data["avg_power_w"]),
            samples=int(data["samples"]),
            uncertainty_j=_number(data["uncertainty_j"]),
            accuracy_j=None if parts["accuracy"] is None else float(parts["accuracy"]),
            sampling_j=_number(parts["sampling"]),
            clock_j=_number(parts["clock"]),
            final=bool(data["final"]),
            warnings=tuple(str(w) for w in data["warnings"]),
            channels=tuple(
                ChannelEnergy(
                    int(c["channel"]), float(c["energy_j"]), float(c["avg_power_w"]), int(c["samples"])
                )
                for c in data["channels"]
            ),
        )


@dataclass(frozen=True)
class Measurement:
    """One window's energy. `final` once every source's sample spanning the window's end has arrived;
    before that the last part of the window is extrapolated (each source's warnings say how much)."""

    name: str
    begin_ns: int
    end_ns: int
    sources: tuple[SourceEnergy, ...]

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.begin_ns) / NS_PER_S

    @property
    def final(self) -> bool:
        return all(source.final for source in self.sources)

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(f"{s.source}: {warning}" for s in self.sources for warning in s.warnings)

    def source(self, label: str) -> SourceEnergy:
        """The energy of the source named `label` (`KeyError` naming the labels there are)."""
        for source in self.sources:
            if source.source == label:
                return source
        raise KeyError(
            f"no source {label!r} in window {self.name!r}; its sources: {[s.source for s in self.sources]}"
        )

    @property
    def energy_j(self) -> float:
        """The first source's energy: the one to quote when a single source was measured."""
        return self.sources[0].energy_j

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "begin_ns": self.begin_ns,
            "end_ns": self.end_ns,
            "duration_s": self.duration_s,
            "final": self.final,
            "sources": [source.to_json() for source in self.sources],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Measurement:
        return cls(
            name=str(data["name"]),
            begin_ns=int(data["begin_ns"]),
            end_ns=int(data["end_ns"]),
            sources=tuple(SourceEnergy.from_json(s) for s in data["sources"]),
        )


def _number(value: Any) -> float:
    """A JSON number; `null` is what a non-finite figure (the power of a zero-length window) is written as."""
    return math.nan if value is None else float(value)
