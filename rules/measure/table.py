"""The energy table `power-measure` prints and `power-check` prints again for a measure folder."""

from __future__ import annotations

from collections.abc import Sequence

from rules.measure.measurement import Measurement


def format_table(measurements: Sequence[Measurement]) -> list[str]:
    """One line per window and source: energy ± standard uncertainty, mean power, samples, method."""
    header = f"{'window':<20} {'source':<24} {'duration':>10} {'energy':>14} {'± (1σ)':>10} {'power':>11} {'samples':>8}  method"
    lines = [header]
    for measurement in measurements:
        for source in measurement.sources:
            flag = "" if source.final else "  (not final)"
            lines.append(
                f"{measurement.name[:20]:<20} {source.source[:24]:<24} {measurement.duration_s:>9.3f}s "
                f"{source.energy_j:>12.4f} J {source.uncertainty_j:>8.3g} J {source.avg_power_w:>9.3f} W "
                f"{source.samples:>8}  {source.method}{flag}"
            )
            for channel in source.channels:
                lines.append(
                    f"{'':<20} {'  channel ' + str(channel.channel):<24} {'':>10} {channel.energy_j:>12.4f} J "
                    f"{'':>10} {channel.avg_power_w:>9.3f} W {channel.samples:>8}"
                )
    warnings = [f"warning: {m.name}: {w}" for m in measurements for w in m.warnings]
    return lines + warnings
