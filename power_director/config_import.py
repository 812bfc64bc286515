"""Import the MLCommons reference director's `server.conf` (INI) into our configuration.

Two layouts exist. The current one keeps the PTDaemon executable under `[ptd]` (`ptd`,
`analyzerCount`) and one `[analyzerN]` section per meter (`deviceType`, `interfaceFlag`,
`devicePort`, `networkPort`, `channel`, `gpibBoard`, `dcFlag`). The legacy one (2021–2022) has a
single meter's keys directly under `[ptd]`; it is read the same way, with a warning. `[server]`
gives `listen` (`<ip> <port>`), `outDir` and `rangingMode`; `ntpServer` is not used: the
director never changes clocks, the client measures its offset instead.
"""

from __future__ import annotations

import configparser
import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from power_director.config import DEFAULT_PORT, ConfigError, DirectorConfig, SessionConfig
from power_director.config_analyzers import AnalyzerConfig, LaunchConfig

# The reference's largest current range per device type, used by its rangingMode = MAX.
MAX_AMPS_RANGE_BY_DEVICE_TYPE = {
    8: 20.0,
    49: 20.0,
    52: 20.0,
    77: 20.0,
    35: 40.0,
    48: 40.0,
    47: 50.0,
    66: 30.0,
}
_LEGACY_KEYS = ("devicetype", "deviceport", "interfaceflag")


@dataclass
class ImportResult:
    config: DirectorConfig
    warnings: list[str] = field(default_factory=list)


class _Section:
    def __init__(self, parser: configparser.ConfigParser, name: str, where: str) -> None:
        self.name = name
        self.where = where
        self.values = dict(parser[name]) if parser.has_section(name) else {}
        self.used: set[str] = set()

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.where}: [{self.name}] {key} {problem}.")

    def get(self, key: str, required: bool = True) -> str | None:
        self.used.add(key.lower())
        value = self.values.get(key.lower())
        if value is None and required:
            raise self.fail(key, "is missing")
        return value.strip() if value is not None else None

    def integer(self, key: str, required: bool = True) -> int | None:
        text = self.get(key, required)
        if text is None or (text == "" and not required):
            return None
        try:
            return int(text)
        except ValueError:
            raise self.fail(key, f"must be a whole number, got {text!r}") from None

    def channel(self, key: str = "channel") -> tuple[int, ...] | None:
        text = self.get(key, required=False)
        if not text:
            return None
        try:
            values = tuple(int(part) for part in text.split(","))
        except ValueError:
            raise self.fail(key, f"must be one number or two separated by a comma, got {text!r}") from None
        if not 1 <= len(values) <= 2 or min(values) < 1:
            raise self.fail(key, f"must be one number or two separated by a comma, got {text!r}")
        return values

    def unused(self) -> list[str]:
        return sorted(set(self.values) - self.used)


def import_server_conf(path: str | Path) -> ImportResult:
    """Read `server.conf`; raises ConfigError naming the file, section and key of the first problem."""
    where = str(path)
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except FileNotFoundError:
        raise ConfigError(f"{where}: no such file.") from None
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"{where}: not UTF-8 text (byte {error.start}); a server.conf is an INI text file."
        ) from None
    except OSError as error:
        raise ConfigError(f"{where}: cannot read: {error.strerror or error}.") from None
    except configparser.Error as error:
        raise ConfigError(f"{where}: not a valid server.conf: {error.message}.") from None
    if not parser.has_section("ptd"):
        raise ConfigError(f"{where}: section [ptd] is missing.")
    warnings: list[str] = []
    server = _Section(parser, "server", where)
    ptd = _Section(parser, "ptd", where)
    host, port = _listen(server)
    if host not in ("127.0.0.1", "localhost", "::1"):
        warnings.append(
            f"{where}: [server] listen {host} exposes the director beyond this machine "
            "(it still requires the token)."
        )
    out_dir = server.get("outDir", required=False)
    if server.get("ntpServer", required=False):
        warnings.append(
            f"{where}: [server] ntpServer is not used: the director never changes clocks; "
            "the client measures its offset to the director instead."
        )
    ranging_mode = (server.get("rangingMode", required=False) or "AUTO").upper()
    if ranging_mode not in ("AUTO", "MAX"):
        raise server.fail("rangingMode", f"must be AUTO or MAX, got {ranging_mode!r}")

    executable = ptd.get("ptd")
    assert executable is not None
    legacy = any(key in ptd.values for key in _LEGACY_KEYS)
    if legacy:
        warnings.append(
            f"{where}: legacy layout (meter keys under [ptd]); "
            "current server.conf files use [ptd] analyzerCount and [analyzer1..N]."
        )
        launches = [_launch(ptd, executable)]
    else:
        count = ptd.integer("analyzerCount", required=False) or 1
        if count < 1:
            raise ptd.fail("analyzerCount", f"must be at least 1, got {count}")
        sections = [_Section(parser, f"analyzer{i}", where) for i in range(1, count + 1)]
        for section in sections:
            if not parser.has_section(section.name):
                raise ConfigError(f"{where}: section [{section.name}] is missing (analyzerCount = {count}).")
        launches = [_launch(section, executable) for section in sections]
        for section in sections:
            warnings += _unused(section)
    ptd.get("logFile", required=False)  # the director picks the data log's place itself
    warnings += _unused(server) + _unused(ptd)
    known = {"server", "ptd", *(f"analyzer{i}" for i in range(1, len(launches) + 1))}
    extra = sorted(set(parser.sections()) - known)
    if extra:
        warnings.append(f"{where}: ignoring sections {', '.join(f'[{s}]' for s in extra)}.")

    max_amps_range = None
    if ranging_mode == "MAX":
        device_type = launches[0].device_type
        max_amps_range = MAX_AMPS_RANGE_BY_DEVICE_TYPE.get(device_type)
        if max_amps_range is None:
            raise server.fail(
                "rangingMode",
                f"MAX needs the largest current range of device type {device_type}, which is unknown",
            )
    analyzers = tuple(
        AnalyzerConfig(name=f"analyzer{i}", launch=launch) for i, launch in enumerate(launches, start=1)
    )
    config = DirectorConfig(
        host=host,
        port=port,
        data_dir=Path(out_dir) if out_dir else DirectorConfig().data_dir,
        session=replace(
            SessionConfig(),
            ranging_mode="max" if ranging_mode == "MAX" else "auto",
            max_amps_range=max_amps_range,
        ),
        analyzers=analyzers,
        source=where,
    )
    return ImportResult(config, warnings)


def _listen(server: _Section) -> tuple[str, int]:
    text = server.get("listen", required=False)
    if not text:
        # The reference defaults to 0.0.0.0; ours to loopback.
        return "127.0.0.1", DEFAULT_PORT
    parts = text.split()
    if len(parts) != 2 or not parts[1].isdigit() or not 0 <= int(parts[1]) <= 65535:
        raise server.fail("listen", f"must be '<ip address> <port>', got {text!r}")
    return parts[0], int(parts[1])


def _launch(section: _Section, executable: str) -> LaunchConfig:
    device_type = section.integer("deviceType")
    assert device_type is not None
    interface_flag = section.get("interfaceFlag", required=False) or ""
    if interface_flag not in ("", "-n", "-g", "-y", "-U"):
        raise section.fail("interfaceFlag", f"must be one of -n, -g, -y, -U or empty, got {interface_flag!r}")
    device_port = section.get("devicePort")
    assert device_port is not None
    dc_flag = section.get("dcFlag", required=False) or ""
    if dc_flag not in ("", "-D"):
        raise section.fail("dcFlag", f"must be -D or empty, got {dc_flag!r}")
    return LaunchConfig(
        executable=executable,
        device_type=device_type,
        device_port=device_port,
        interface_flag=interface_flag,
        network_port=section.integer("networkPort", required=False) or 8888,
        channel=section.channel(),
        dc=dc_flag == "-D",
        gpib_board=section.integer("gpibBoard", required=False),
    )


def _unused(section: _Section) -> list[str]:
    names = section.unused()
    if not names:
        return []
    return [f"{section.where}: [{section.name}] ignoring unknown keys: {', '.join(names)}."]


# -- TOML output -------------------------------------------------------------------------------


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    # JSON's string escapes (\\, \", \uXXXX) are TOML basic-string escapes too.
    return json.dumps(str(value))


def render_toml(config: DirectorConfig, header: str = "") -> str:
    """The configuration as a TOML document that `load_config` reads back to the same values."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    if lines:
        lines.append("")
    lines += [
        "[server]",
        f"host = {_toml_value(config.host)}",
        f"port = {config.port}",
        f"data_dir = {_toml_value(str(config.data_dir))}",
        "# The bearer token comes from $JOULEBENCH_TOKEN, or from this file:",
        f"# token_file = {_toml_value(str(config.token_file or '/etc/joulebench/director.token'))}",
    ]
    if config.token_file is not None:
        lines[-1] = f"token_file = {_toml_value(str(config.token_file))}"
    session = config.session
    lines += [
        "",
        "[session]",
        f"settle_s = {session.settle_s!r}",
        f"interval_ms = {session.interval_ms}",
        f"amps_range_factor = {session.amps_range_factor!r}",
        f"ranging_mode = {_toml_value(session.ranging_mode)}",
    ]
    if session.max_amps_range is not None:
        lines.append(f"max_amps_range = {session.max_amps_range!r}")
    for analyzer in config.analyzers:
        lines += ["", "[[analyzers]]", f"name = {_toml_value(analyzer.name)}"]
        if analyzer.driver is not None:
            lines.append(f"driver = {_toml_value(analyzer.driver)}")
            if analyzer.device:
                lines.append(f"device = {_toml_value(analyzer.device)}")
        if analyzer.ptd is not None:
            lines.append(f"ptd = {_toml_value(analyzer.ptd)}")
        if analyzer.device_type is not None and analyzer.launch is None:
            lines.append(f"device_type = {analyzer.device_type}")
        if analyzer.channel is not None and analyzer.launch is None:
            lines.append(f"channel = {_toml_value(analyzer.channel)}")
        if analyzer.options:
            lines += ["", "[analyzers.options]"]
            lines += [f"{key} = {_toml_value(value)}" for key, value in analyzer.options.items()]
        launch = analyzer.launch
        if launch is not None:
            lines += [
                "",
                "[analyzers.launch]",
                f"executable = {_toml_value(launch.executable)}",
                f"device_type = {launch.device_type}",
                f"device_port = {_toml_value(launch.device_port)}",
                f"interface_flag = {_toml_value(launch.interface_flag)}",
                f"network_port = {launch.network_port}",
            ]
            if launch.channel is not None:
                lines.append(f"channel = {_toml_value(launch.channel)}")
            if launch.dc:
                lines.append("dc = true")
            if launch.gpib_board is not None:
                lines.append(f"gpib_board = {launch.gpib_board}")
    return "\n".join(lines) + "\n"
