"""Servers, racks and PDUs through Redfish (`--driver redfish --device https://bmc1,...`).

Rooms: `endpoints` (the device list), `credentials` (environment and file), `resources` (which JSON
holds power and how to read it), `service` (one event loop, one httpx client, concurrent requests
with per-request timeouts), `analyzer` (the `Analyzer`).
"""

from analyzers.redfish.analyzer import ENV_VERIFY, RedfishAnalyzer

__all__ = ["ENV_VERIFY", "RedfishAnalyzer"]
