"""`ptd://host:port[?connect_timeout=S&command_timeout=S]`: where a PTD daemon listens, as one string.

The query options exist so `power-analyzer read --driver ptd --device ...` can set the timeouts
without driver options on the command line. A bare `host:port` is accepted too.
"""

from __future__ import annotations

import math
import urllib.parse
from dataclasses import dataclass

from analyzers.errors import AnalyzerError
from analyzers.ptd.wire import DEFAULT_PORT

DEFAULT_HOST = "127.0.0.1"
_OPTIONS = {"connect_timeout": "connect_timeout_s", "command_timeout": "command_timeout_s"}


@dataclass(frozen=True)
class PtdEndpoint:
    host: str
    port: int
    connect_timeout_s: float | None = None
    command_timeout_s: float | None = None

    @property
    def url(self) -> str:
        return f"ptd://{self.host}:{self.port}"


def parse_endpoint(device: str) -> PtdEndpoint:
    """The endpoint named by `device` ("" = ptd://127.0.0.1:8888); AnalyzerError naming it if malformed."""
    text = device.strip() or f"ptd://{DEFAULT_HOST}:{DEFAULT_PORT}"
    if "://" not in text:
        text = "ptd://" + text
    parsed = urllib.parse.urlsplit(text)
    hint = "expected ptd://HOST:PORT, e.g. ptd://127.0.0.1:8888"
    if parsed.scheme != "ptd" or parsed.path not in ("", "/") or parsed.fragment:
        raise AnalyzerError(device, "not a PTD endpoint", hint)
    try:
        port = parsed.port if parsed.port is not None else DEFAULT_PORT
    except ValueError:
        raise AnalyzerError(device, "the port is not a number from 0 to 65535", hint) from None
    if port == 0:
        raise AnalyzerError(device, "port 0 cannot be connected to", hint)
    timeouts: dict[str, float] = {}
    for name, values in urllib.parse.parse_qs(parsed.query, keep_blank_values=True).items():
        if name not in _OPTIONS:
            raise AnalyzerError(device, f"unknown option {name!r}", f"known: {', '.join(sorted(_OPTIONS))}")
        try:
            value = float(values[-1])
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise AnalyzerError(device, f"{name} must be a positive number of seconds, got {values[-1]!r}")
        timeouts[_OPTIONS[name]] = value
    return PtdEndpoint(host=parsed.hostname or DEFAULT_HOST, port=port, **timeouts)
