"""Running `ipmitool dcmi power reading` for one BMC: local (`/dev/ipmi0`) or over LAN (`-I lanplus`).

The password never goes on the command line (other users can read it there): ipmitool's `-E`
takes it from `IPMI_PASSWORD`, which we set for the child from the environment or a file.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from analyzers.errors import AnalyzerConnectionError, AnalyzerError

ENV_USER = "JOULEBENCH_IPMI_USER"
ENV_PASSWORD_FILE = "JOULEBENCH_IPMI_PASSWORD_FILE"
ENV_PASSWORD = "IPMI_PASSWORD"  # ipmitool's own, read by -E
LOCAL = "local"


@dataclass(frozen=True)
class Bmc:
    host: str  # LOCAL for the machine's own BMC
    port: int | None = None
    user: str | None = None

    @property
    def label(self) -> str:
        return LOCAL if self.host == LOCAL else f"ipmi://{self.host}" + (f":{self.port}" if self.port else "")


class TimedOut(Exception):
    """ipmitool did not finish in time."""


def parse_bmcs(device: str) -> list[Bmc]:
    """`""`/`local` -> the local BMC; otherwise `[user@]host[:port]` entries, comma-separated."""
    bmcs: list[Bmc] = []
    for text in (part.strip() for part in device.split(",")):
        if not text:
            continue
        if text == LOCAL:
            bmcs.append(Bmc(LOCAL))
            continue
        user, _, hostport = text.rpartition("@")
        if ":" in user:
            raise AnalyzerError(
                text.split("@")[-1],
                "a password in --device would show in the process list",
                f"set {ENV_PASSWORD} or {ENV_PASSWORD_FILE} instead",
            )
        host, _, port = hostport.partition(":")
        if not host or (port and not port.isdigit()):
            raise AnalyzerError(text, "not a BMC address", "give local, or [user@]host[:port] per BMC")
        bmcs.append(Bmc(host, int(port) if port else None, user or os.environ.get(ENV_USER) or None))
    return bmcs or [Bmc(LOCAL)]


def child_environment() -> dict[str, str]:
    """The environment for ipmitool: ours, plus IPMI_PASSWORD from the password file if one is named."""
    environment = dict(os.environ)
    password_file = os.environ.get(ENV_PASSWORD_FILE)
    if password_file:
        try:
            environment[ENV_PASSWORD] = Path(password_file).read_text().strip()
        except OSError as error:
            raise AnalyzerError(
                password_file, f"cannot read the IPMI password file: {error.strerror or error}"
            ) from error
    return environment


def argv(ipmitool: str, bmc: Bmc) -> list[str]:
    command = [ipmitool]
    if bmc.host != LOCAL:
        command += ["-I", "lanplus", "-H", bmc.host]
        if bmc.port:
            command += ["-p", str(bmc.port)]
        if bmc.user:
            command += ["-U", bmc.user]
        command.append("-E")
    return [*command, "dcmi", "power", "reading"]


def run(ipmitool: str, bmc: Bmc, environment: dict[str, str], timeout_s: float) -> str:
    """ipmitool's output; `TimedOut`, or `AnalyzerConnectionError` with ipmitool's own complaint."""
    try:
        result = subprocess.run(
            argv(ipmitool, bmc),
            env=environment,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise TimedOut from None
    except OSError as error:
        raise AnalyzerConnectionError(
            bmc.label,
            f"cannot run {ipmitool}: {error.strerror or error}",
            "install ipmitool (apt install ipmitool)",
        ) from error
    if result.returncode != 0:
        complaint = (
            result.stderr.strip() or result.stdout.strip() or f"exit status {result.returncode}"
        ).splitlines()[0]
        raise AnalyzerConnectionError(bmc.label, f"ipmitool failed: {complaint}", _hint(bmc, complaint))
    return result.stdout


def _hint(bmc: Bmc, complaint: str) -> str:
    if bmc.host == LOCAL:
        return "load the ipmi_si and ipmi_devintf modules and run as root, or name the BMC as [user@]host"
    if "session" in complaint.lower() or "password" in complaint.lower() or "auth" in complaint.lower():
        return f"check the user and {ENV_PASSWORD} / {ENV_PASSWORD_FILE}, and that IPMI over LAN is enabled"
    return "check that the BMC is reachable and IPMI over LAN is enabled"
