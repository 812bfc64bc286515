"""Who our daemon says it is: the `Identify` reply and the version banner, never SPEC's identity.

The version field keeps PTD's shape `<X.Y.Z>-<crc8hex>-<YYYYMMDD>` so clients that parse it work,
filled with joulebench's version, the CRC-32 of this package's sources (PTD reports the CRC of its
own binary) and the UTC date of the newest of those sources.
"""

from __future__ import annotations

import datetime as dt
import platform
import zlib
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from analyzers.base import CAP_AMPS, CAP_ENERGY, CAP_PF, CAP_UNCERTAINTY, CAP_VOLTS, CAP_WATTS, Analyzer

DEFAULT_INTERVAL_MS = 1000


def joulebench_version() -> str:
    try:
        return metadata.version("joulebench")
    except metadata.PackageNotFoundError:
        return "0.0.0"


@lru_cache(maxsize=1)
def daemon_version() -> str:
    """`<version>-<crc32 of analyzers/ptd/*.py>-<YYYYMMDD>`."""
    sources = sorted(Path(__file__).parent.glob("*.py"))
    crc = 0
    newest = 0.0
    for source in sources:
        crc = zlib.crc32(source.read_bytes(), crc)
        newest = max(newest, source.stat().st_mtime)
    date = dt.datetime.fromtimestamp(newest, tz=dt.timezone.utc).strftime("%Y%m%d")
    return f"{joulebench_version()}-{crc:08x}-{date}"


def os_description() -> str:
    return f"{platform.system()} {platform.release()}".strip()


def identify_reply(analyzer: Analyzer) -> str:
    """PTD's `Identify` line for `analyzer` (field meanings in PTD_AND_MLPERF_POWER.md §1)."""
    identity = analyzer.identify()
    caps = identity.capabilities

    def flag(capability: str) -> str:
        return "1" if capability in caps else "0"

    # PTD reports its default interval here (1000 for a WT310), which is also what `Go,0,0` uses.
    interval_ms = max(DEFAULT_INTERVAL_MS, round(identity.min_interval_s * 1000))
    device_id = ";".join(
        part.replace(",", " ")
        for part in (identity.vendor, identity.model, identity.serial, identity.firmware)
    )
    fields = [
        identity.model.replace(",", " "),
        str(interval_ms),
        flag(CAP_WATTS),
        flag(CAP_VOLTS),
        flag(CAP_AMPS),
        flag(CAP_PF),
        flag(CAP_ENERGY),
        "0",  # frequency
        "0",  # is_accepted: SPEC's acceptance list covers real meters behind SPEC PTDaemon, not us
        f"version={daemon_version()}",
        f"OS={os_description()}".replace(",", " "),
        "mode=power",
        flag(CAP_UNCERTAINTY),
        "1" if analyzer.supports_ranges else "0",
        str(analyzer.channel_count),
        "0",
        "0",
        "no_cal_date",
        device_id,
    ]
    return ",".join(fields)
