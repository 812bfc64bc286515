"""Run a PTD-compatible daemon over a driver until SIGTERM/SIGINT: what both CLIs share."""

from __future__ import annotations

import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import FrameType
from typing import TextIO

from analyzers.base import Analyzer
from analyzers.errors import AnalyzerError
from analyzers.formats.sample_layout import data_log_layout
from analyzers.ptd.daemon.handler import PtdCommandHandler
from analyzers.ptd.daemon.logs import ConsoleLog, ConsoleRecord, DataLog, banner
from analyzers.ptd.daemon.requests import DaemonConfig
from analyzers.ptd.daemon.server import DEFAULT_IDLE_TIMEOUT_S, PtdServer
from analyzers.ptd.identity import daemon_version


@dataclass(frozen=True)
class DaemonOptions:
    driver: str
    device: str = ""
    host: str = "127.0.0.1"
    port: int = 8888
    data_log: str | None = None
    first_channel: int = 1
    dc: bool = False
    device_type: int | None = None
    driver_options: Mapping[str, object] = field(default_factory=dict)
    idle_timeout_s: float | None = DEFAULT_IDLE_TIMEOUT_S
    metrics_port: int | None = None  # `--metrics-port`: Prometheus /metrics on host:port


def create_driver(options: DaemonOptions) -> Analyzer:
    """The analyzer for `options.driver` from the driver registry; AnalyzerError when unavailable."""
    from analyzers.registry import create_analyzer

    return create_analyzer(options.driver, device=options.device, **dict(options.driver_options))


class _Terminated(BaseException):
    """SIGTERM arrived: the reference director ends PTDaemon this way after a session.

    A BaseException, like KeyboardInterrupt, so socketserver's per-request `except Exception` does not
    swallow it when the signal lands while a client is connected."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise _Terminated


def run_daemon(options: DaemonOptions, stdout: TextIO | None = None) -> int:
    """Serve until terminated; returns the exit status. Raises AnalyzerError for a driver failure."""
    console = ConsoleLog(stdout or sys.stdout, record=ConsoleRecord())
    analyzer = create_driver(options)
    try:
        identity = analyzer.identify()
        source = f"joulebench driver '{options.driver}'"
        console.raw(banner(daemon_version(), identity.model, source, options.data_log))
        if options.device_type is not None:
            console.log(f"Attempting to connect to measurement device type {options.device_type}...")
        layout = data_log_layout(options.first_channel, analyzer.channel_count)
        try:
            data_log = DataLog(options.data_log, layout=layout)
        except OSError as error:
            raise AnalyzerError(
                str(options.data_log), f"cannot open the data log: {error.strerror or error}"
            ) from error
        session = PtdCommandHandler(
            analyzer, console, data_log, DaemonConfig(first_channel=options.first_channel, dc=options.dc)
        )
        session.announce()
        console.log(f"Establishing the listener on port {options.port}...")
        try:
            server = PtdServer(session, options.host, options.port, options.idle_timeout_s)
        except OSError as error:
            session.close()
            raise AnalyzerError(
                f"{options.host}:{options.port}",
                f"cannot listen: {error.strerror or error}",
                "is the port in use?",
            ) from error
        metrics = None
        if options.metrics_port is not None:
            from analyzers.ptd.daemon.metrics import serve_metrics

            label = f"{options.driver}:{options.device}" if options.device else options.driver
            try:
                metrics = serve_metrics(session, label, options.host, options.metrics_port)
            except AnalyzerError:
                server.close()
                raise
            console.log(f"Serving /metrics on port {metrics.server_port}")
        console.log("Waiting for a connection...")
        console.end_preamble()
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
        try:
            server.start_pump()
            server.serve_forever(poll_interval=0.2)
        except (_Terminated, KeyboardInterrupt):
            console.log("Shutting down")
        finally:
            signal.signal(signal.SIGTERM, previous)
            server.close()
            if metrics is not None:
                metrics.shutdown()
        return 0
    finally:
        analyzer.close()
