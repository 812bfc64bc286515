"""`--device` for Redfish: a comma-separated list of BMC or PDU URLs, each parsed into an `Endpoint`.

A bare URL (`https://bmc1`, `http://127.0.0.1:8000/`) means "discover every power source this service
has"; a URL with a resource path (`.../Chassis/1/Power`, `.../Chassis/1/EnvironmentMetrics`,
`.../PowerEquipment/RackPDUs/1/Metrics`, or a chassis or PDU) names one source.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from analyzers.errors import AnalyzerError

SERVICE_ROOT = "/redfish/v1"


@dataclass(frozen=True)
class Endpoint:
    base_url: str  # scheme://host[:port]
    resource: str | None  # a path under the service, None = discover
    user: str | None  # from the URL's user part, if any

    @property
    def label(self) -> str:
        return self.base_url + (self.resource or "")


def parse_endpoints(device: str) -> list[Endpoint]:
    endpoints: list[Endpoint] = []
    for text in (part.strip() for part in device.split(",")):
        if not text:
            continue
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise AnalyzerError(
                text, "not a Redfish URL", "give http(s)://host[:port][/redfish/v1/...] per BMC or PDU"
            )
        if parts.password is not None:
            raise AnalyzerError(
                f"{parts.scheme}://{parts.hostname}",
                "a password in the URL would show in the process list",
                "put it in JOULEBENCH_REDFISH_PASSWORD or a credentials file (JOULEBENCH_REDFISH_CREDENTIALS)",
            )
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        base = f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")
        path = parts.path.rstrip("/")
        resource = None if path in ("", SERVICE_ROOT) else path
        endpoints.append(Endpoint(base, resource, parts.username))
    if not endpoints:
        raise AnalyzerError("redfish", "no BMC or PDU given", "--device https://bmc1,https://bmc2,...")
    labels = [e.label for e in endpoints]
    if len(set(labels)) != len(labels):
        raise AnalyzerError(
            "redfish", "the same endpoint is listed twice", "each source may be one channel only"
        )
    return endpoints
