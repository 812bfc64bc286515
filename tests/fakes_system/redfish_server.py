"""Fake Redfish services on 127.0.0.1: one asyncio server process or thread, one port per BMC/PDU.

Each `FakeBmc` answers the service paths a power poller walks (`/redfish/v1/Chassis`, chassis,
`Power` or `EnvironmentMetrics`, `PowerEquipment/RackPDUs`, PDU `Metrics`) over HTTP/1.1 with
keep-alive and optional Basic auth. `delay_s` and `status` apply to the power resources only: the
BMC lists its chassis promptly, then is slow or failing when read, as overloaded BMCs are.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FakeChassis:
    watts: float
    style: str = "power"  # "power" (Chassis/Power) or "environment" (EnvironmentMetrics)
    energy_kwh: float | None = None
    contained_by: str | None = None
    extra_controls: list[float] = field(default_factory=list)  # further PowerControl entries (sub-totals)


@dataclass
class FakePdu:
    watts: float
    energy_kwh: float = 0.0


@dataclass
class FakeBmc:
    chassis: dict[str, FakeChassis] = field(default_factory=dict)
    pdus: dict[str, FakePdu] = field(default_factory=dict)
    delay_s: float = 0.0
    status: int = 200
    credentials: tuple[str, str] | None = None
    requests: int = 0
    port: int = 0


def _ref(path: str) -> dict[str, str]:
    return {"@odata.id": path}


def _respond(bmc: FakeBmc, path: str) -> tuple[int, Any, bool]:
    """(status, JSON document, is a power resource) for one GET."""
    root = "/redfish/v1"
    parts = path.rstrip("/").split("/")
    if path == root + "/Chassis":
        return 200, {"Members": [_ref(f"{root}/Chassis/{cid}") for cid in bmc.chassis]}, False
    if path == root + "/PowerEquipment/RackPDUs":
        if not bmc.pdus:
            return 404, {"error": "not a PDU"}, False
        return 200, {"Members": [_ref(f"{root}/PowerEquipment/RackPDUs/{pid}") for pid in bmc.pdus]}, False
    if len(parts) >= 5 and parts[3] == "Chassis" and parts[4] in bmc.chassis:
        cid, chassis = parts[4], bmc.chassis[parts[4]]
        base = f"{root}/Chassis/{cid}"
        if len(parts) == 5:
            link = "EnvironmentMetrics" if chassis.style == "environment" else "Power"
            document: dict[str, Any] = {"Id": cid, link: _ref(f"{base}/{link}")}
            if chassis.contained_by:
                document["Links"] = {"ContainedBy": _ref(f"{root}/Chassis/{chassis.contained_by}")}
            return 200, document, False
        if len(parts) == 6 and parts[5] == "Power" and chassis.style == "power":
            controls = [{"MemberId": "0", "PhysicalContext": "Chassis", "PowerConsumedWatts": chassis.watts}]
            controls += [
                {"MemberId": str(i), "PhysicalContext": "CPUSubsystem", "PowerConsumedWatts": w}
                for i, w in enumerate(chassis.extra_controls, start=1)
            ]
            # Sub-totals first, as some BMCs order them: the reader must pick the chassis entry.
            return 200, {"PowerControl": controls[1:] + controls[:1]}, True
        if len(parts) == 6 and parts[5] == "EnvironmentMetrics" and chassis.style == "environment":
            document = {"PowerWatts": {"Reading": chassis.watts}}
            if chassis.energy_kwh is not None:
                document["EnergykWh"] = {"Reading": chassis.energy_kwh}
            return 200, document, True
    if len(parts) >= 6 and parts[3:5] == ["PowerEquipment", "RackPDUs"] and parts[5] in bmc.pdus:
        pid, pdu = parts[5], bmc.pdus[parts[5]]
        if len(parts) == 6:
            return 200, {"Id": pid, "Metrics": _ref(f"{root}/PowerEquipment/RackPDUs/{pid}/Metrics")}, False
        if len(parts) == 7 and parts[6] == "Metrics":
            return 200, {"PowerWatts": {"Reading": pdu.watts}, "EnergykWh": {"Reading": pdu.energy_kwh}}, True
    return 404, {"error": f"no resource {path}"}, False


class FakeRedfishServer:
    """Serves `bmcs` (one port each) from an event loop in a daemon thread; `start()` fills their ports."""

    def __init__(self, bmcs: list[FakeBmc]) -> None:
        self.bmcs = bmcs
        self._loop = asyncio.new_event_loop()
        self._servers: list[asyncio.Server] = []
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-redfish", daemon=True)

    def start(self) -> FakeRedfishServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(30)
        return self

    def url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.bmcs[index].port}"

    async def _listen(self) -> None:
        for bmc in self.bmcs:
            server = await asyncio.start_server(
                lambda r, w, bmc=bmc: self._serve(bmc, r, w), "127.0.0.1", 0, backlog=1024
            )
            bmc.port = server.sockets[0].getsockname()[1]
            self._servers.append(server)

    async def _serve(self, bmc: FakeBmc, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (line.partition(":") for line in lines[1:] if line)
                }
                bmc.requests += 1
                status, document, is_power = _respond(bmc, path)
                if bmc.credentials is not None:
                    expected = "Basic " + base64.b64encode(":".join(bmc.credentials).encode()).decode()
                    if headers.get("authorization") != expected:
                        status, document = 401, {"error": "unauthorized"}
                if is_power and status == 200:
                    if bmc.delay_s:
                        await asyncio.sleep(bmc.delay_s)
                    if bmc.status != 200:
                        status, document = bmc.status, {"error": "internal"}
                body = json.dumps(document).encode()
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    def close(self) -> None:
        async def shutdown() -> None:
            for server in self._servers:
                server.close()
            # Handlers still sleeping for a slow BMC end here, inside the loop, not at interpreter exit.
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()
