"""BMC credentials from the environment or a file, never from the command line.

`JOULEBENCH_REDFISH_USER` / `JOULEBENCH_REDFISH_PASSWORD` apply to every BMC. A credentials file
(`JOULEBENCH_REDFISH_CREDENTIALS` or the `credentials_file` option) is TOML:

    [default]
    user = "monitor"
    password = "..."

    [hosts."10.0.0.12"]          # host or host:port, as in the URL
    user = "admin"
    password = "..."

A host's own entry wins, then the environment, then the file's default.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analyzers.errors import AnalyzerError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ENV_USER = "JOULEBENCH_REDFISH_USER"
ENV_PASSWORD = "JOULEBENCH_REDFISH_PASSWORD"
ENV_FILE = "JOULEBENCH_REDFISH_CREDENTIALS"


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str


class CredentialStore:
    def __init__(self, path: str | Path | None = None) -> None:
        chosen = path if path is not None else os.environ.get(ENV_FILE) or None
        self._file: dict[str, Any] = _load(Path(chosen)) if chosen else {}

    def for_host(self, host: str, url_user: str | None) -> Credentials | None:
        """Credentials for `host` (host or host:port); None means anonymous requests."""
        hosts = self._file.get("hosts", {})
        entry = hosts.get(host) or hosts.get(host.split(":")[0] if host.count(":") == 1 else host)
        if entry is None and (os.environ.get(ENV_USER) or os.environ.get(ENV_PASSWORD)):
            entry = {"user": os.environ.get(ENV_USER, ""), "password": os.environ.get(ENV_PASSWORD, "")}
        entry = entry or self._file.get("default")
        if entry is None:
            return None
        return Credentials(str(url_user or entry.get("user", "")), str(entry.get("password", "")))


def _load(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as error:
        raise AnalyzerError(
            str(path), f"cannot read the credentials file: {error.strerror or error}"
        ) from error
    except tomllib.TOMLDecodeError as error:
        raise AnalyzerError(str(path), f"the credentials file is not valid TOML: {error}") from error
