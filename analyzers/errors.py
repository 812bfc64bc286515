"""Typed analyzer errors: each names the device and says what to check."""

from __future__ import annotations


class AnalyzerError(Exception):
    """Something went wrong talking to a power source.

    `device` names it (port, URL, GPU index); `hint` is what the user should check. The message a
    user sees is one sentence: `<device>: <what happened> (<hint>)`.
    """

    def __init__(self, device: str, message: str, hint: str = "") -> None:
        self.device = device
        self.message = message
        self.hint = hint
        text = f"{device}: {message}"
        if hint:
            text += f" ({hint})"
        super().__init__(text)


class AnalyzerConnectionError(AnalyzerError):
    """The device cannot be reached, or the connection dropped."""


class AnalyzerProtocolError(AnalyzerError):
    """The device answered something we cannot parse or did not expect."""


class AnalyzerStateError(AnalyzerError):
    """The request does not fit the measurement state (e.g. stop with nothing running)."""


class RangesNotApplicable(AnalyzerError):
    """The source has no settable ranges (NVML, RAPL, Redfish); callers skip range logic."""


class UnknownDriverError(AnalyzerError):
    """No driver of that name is registered under the `joulebench.analyzers` entry points."""
