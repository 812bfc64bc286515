"""What a simulated meter simulates: seed, channels, the scripted load, noise, the meter model."""

from __future__ import annotations

from dataclasses import dataclass, field

from analyzers.simulated.ranges import WT310, RangeModel

MAX_CHANNELS = 64


@dataclass(frozen=True)
class ProfileStep:
    """A scripted load step, `after_s` seconds after the measurement starts (see `LoadStep`)."""

    after_s: float
    watts: float
    ramp_s: float = 0.0


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything that decides the samples, besides the clock and the load control.

    Without a load control, every measurement plays `profile` from its start: by default idle at
    `idle_w` for 2 s, then a 1 s ramp to a steady 350 W. `watts_noise` and `volts_noise` are the
    relative standard deviations of the per-sample noise; `missed_fraction` of the samples (chosen
    by hash, so reproducibly) are reported missed. `channel_shares` split the total over the
    channels (default: equal shares).
    """

    seed: int = 0
    channels: int = 1
    idle_w: float = 80.0
    profile: tuple[ProfileStep, ...] = (ProfileStep(after_s=2.0, watts=350.0, ramp_s=1.0),)
    watts_noise: float = 0.01
    nominal_volts: float = 230.0
    volts_noise: float = 0.002
    missed_fraction: float = 0.0
    channel_shares: tuple[float, ...] | None = None
    range_model: RangeModel = field(default=WT310)

    def shares(self) -> tuple[float, ...]:
        weights = self.channel_shares or (1.0,) * self.channels
        total = sum(weights)
        return tuple(w / total for w in weights)

    def problem(self) -> str | None:
        """Why this configuration cannot run, or None."""
        if not 1 <= self.channels <= MAX_CHANNELS:
            return f"channels must be between 1 and {MAX_CHANNELS}, got {self.channels}"
        if self.channel_shares is not None and (
            len(self.channel_shares) != self.channels
            or min(self.channel_shares) < 0
            or sum(self.channel_shares) <= 0
        ):
            return f"channel_shares needs {self.channels} non-negative weights with a positive sum"
        if self.idle_w < 0 or any(step.watts < 0 or step.ramp_s < 0 for step in self.profile):
            return "load levels and ramps must not be negative"
        if not 0.0 <= self.missed_fraction <= 1.0:
            return f"missed_fraction must be between 0 and 1, got {self.missed_fraction}"
        if self.watts_noise < 0 or self.volts_noise < 0 or self.nominal_volts <= 0:
            return "noise must not be negative and the nominal voltage must be positive"
        return None
