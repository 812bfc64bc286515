"""The simulator's own error: a setting it cannot take."""

from __future__ import annotations

from analyzers.errors import AnalyzerError


class SimulatorSettingError(AnalyzerError):
    """A setting the simulated meter cannot take: channel count, interval, range, channel number.

    A subclass of `AnalyzerError`, so callers that handle any analyzer failure handle this one too.
    """
