"""Server power through IPMI DCMI (`--driver ipmi`), by running `ipmitool dcmi power reading`.

Rooms: `reading` (parsing ipmitool's output), `command` (the BMC list, ipmitool's argv and
environment, running it), `analyzer` (the `Analyzer`).
"""

from analyzers.ipmi.analyzer import IpmiAnalyzer
from analyzers.ipmi.reading import DcmiReading, parse_power_reading

__all__ = ["DcmiReading", "IpmiAnalyzer", "parse_power_reading"]
