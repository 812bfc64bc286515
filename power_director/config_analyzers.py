"""The `[[analyzers]]` tables of the director's configuration: each analyzer and how it is reached.

One of: an in-process `driver` (+ `options`), a running daemon at `ptd = "ptd://host:port"`, or a
`[launch]`ed PTDaemon-compatible executable; optionally a calibration `certificate`. Problems are
`ConfigError`s of one sentence naming the file and the key, as in `power_director.config`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from power_director.config_table import ConfigError, ConfigTable

if TYPE_CHECKING:
    from power_director.calibration import Calibration


@dataclass(frozen=True)
class LaunchConfig:
    """A PTDaemon-compatible executable the director starts per session, as the reference does.

    The command line is PTDaemon's: `<executable> -l <log> -p <network_port> [-b board] [-c channel]
    [-D] [interface_flag] <device_type> <device_port>`."""

    executable: str
    device_type: int
    device_port: str
    interface_flag: str = ""
    network_port: int = 8888
    channel: tuple[int, ...] | None = None
    dc: bool = False
    gpib_board: int | None = None
    startup_timeout_s: float = 30.0


@dataclass(frozen=True)
class AnalyzerConfig:
    """One analyzer: an in-process `driver`, a running PTD daemon at `ptd`, or a `launch`ed one."""

    name: str
    driver: str | None = None
    device: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    ptd: str | None = None
    launch: LaunchConfig | None = None
    device_type: int | None = None
    """PTD device type, for `ptd_config` in `server.json` when the director does not launch PTD itself."""
    channel: tuple[int, ...] | None = None
    """PTD's `-c` of a daemon the director does not launch, for `ptd_config`."""
    calibration: Calibration | None = None
    """A `power-calibrate` certificate's correction for this analyzer (`certificate = "…"`)."""

    @property
    def kind(self) -> Literal["driver", "ptd", "launch"]:
        if self.launch is not None:
            return "launch"
        if self.ptd is not None:
            return "ptd"
        return "driver"

    @property
    def endpoint(self) -> str:
        if self.launch is not None:
            return f"ptd://127.0.0.1:{self.launch.network_port}"
        if self.ptd is not None:
            return self.ptd
        return f"{self.driver}:{self.device}" if self.device else str(self.driver)


def parse_analyzers(raw: Any, where: str, base: Path | None) -> tuple[AnalyzerConfig, ...]:
    if raw is None:
        raise ConfigError(f"{where}: key 'analyzers' is missing; add one [[analyzers]] table.")
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise ConfigError(f"{where}: key 'analyzers' must be an array of tables ([[analyzers]]).")
    if not raw:
        raise ConfigError(f"{where}: key 'analyzers' is empty; add one [[analyzers]] table.")
    result = []
    names: set[str] = set()
    for index, item in enumerate(raw):
        table = ConfigTable(item, where, f"analyzers[{index}].")
        analyzer = _analyzer(table, base)
        if analyzer.name in names:
            raise table.fail("name", f"repeats the name {analyzer.name!r}")
        names.add(analyzer.name)
        result.append(analyzer)
    return tuple(result)


def _analyzer(table: ConfigTable, base: Path | None) -> AnalyzerConfig:
    name = table.string("name")
    if not name:
        raise table.fail("name", "is missing")
    driver = table.string("driver")
    ptd = table.string("ptd")
    launch_table = table.table("launch")
    options_table = table.table("options")
    device = table.string("device", "") or ""
    device_type = table.whole("device_type", None, 0, 100_000)
    channel = table.channels("channel")
    certificate = table.string("certificate")
    certificate_source = table.string("certificate_source")
    table.reject_unknown()
    chosen = [k for k, v in (("driver", driver), ("ptd", ptd), ("launch", launch_table)) if v is not None]
    if len(chosen) != 1:
        raise table.fail("driver", "or 'ptd' or 'launch': give exactly one of them")
    if ptd is not None:
        _check_ptd_url(table, ptd)
    launch = _launch(launch_table) if launch_table is not None else None
    options = dict(options_table.data) if options_table is not None else {}
    if options and driver is None:
        raise table.fail("options", "only applies to an in-process driver")
    if certificate_source is not None and certificate is None:
        raise table.fail("certificate_source", "only applies with 'certificate'")
    calibration = None
    if certificate is not None:
        calibration = _calibration(table, name, certificate, certificate_source, base)
    return AnalyzerConfig(
        name=name,
        driver=driver,
        device=device,
        options=options,
        ptd=ptd,
        launch=launch,
        device_type=device_type,
        channel=channel,
        calibration=calibration,
    )


def _calibration(
    table: ConfigTable, name: str, certificate: str, source: str | None, base: Path | None
) -> Calibration:
    from power_director.calibration import read_calibration
    from rules.calibration.certificate import CertificateError

    path = Path(certificate)
    if base is not None and not path.is_absolute():
        path = base / path
    try:
        return read_calibration(path, name, source)
    except CertificateError as error:
        key = "certificate_source" if source is not None and "certifies" in str(error) else "certificate"
        raise table.fail(key, f"is not usable: {error}") from None


def _check_ptd_url(table: ConfigTable, url: str) -> None:
    # The PTD client's own parser, so the config accepts exactly what the client can connect to.
    from analyzers.errors import AnalyzerError
    from analyzers.ptd.client.endpoint import parse_endpoint

    if not url.startswith("ptd://"):
        raise table.fail("ptd", f"must look like ptd://host:port, got {url!r}")
    try:
        parse_endpoint(url)
    except AnalyzerError as error:
        raise table.fail(
            "ptd", f"is not a PTD endpoint: {error.message}{f' ({error.hint})' if error.hint else ''}"
        ) from None


def _launch(table: ConfigTable) -> LaunchConfig:
    executable = table.string("executable")
    if not executable:
        raise table.fail("executable", "is missing")
    device_type = table.whole("device_type", None, 0, 100_000)
    if device_type is None:
        raise table.fail("device_type", "is missing")
    device_port = table.string("device_port")
    if device_port is None:
        raise table.fail("device_port", "is missing")
    interface_flag = table.string("interface_flag", "") or ""
    if interface_flag not in ("", "-n", "-g", "-y", "-U"):
        raise table.fail("interface_flag", f"must be one of -n, -g, -y, -U or empty, got {interface_flag!r}")
    launch = LaunchConfig(
        executable=executable,
        device_type=device_type,
        device_port=device_port,
        interface_flag=interface_flag,
        network_port=table.whole("network_port", 8888, 1, 65535) or 8888,
        channel=table.channels("channel"),
        dc=table.boolean("dc", False),
        gpib_board=table.whole("gpib_board", None, 0, 1000),
        startup_timeout_s=table.number("startup_timeout_s", 30.0, 0.0, above=True) or 30.0,
    )
    table.reject_unknown()
    return launch
