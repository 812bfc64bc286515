"""Talking to many Redfish services at once: one event loop in a background thread, every request
of a tick in one `asyncio.gather` with its own timeout.

One `httpx.AsyncClient` per service (BMC or PDU), all on that loop and sharing one TLS context:
httpcore's connection pool does work per request that grows with the connections it holds, so a
single client for 200 BMCs spent ~20 ms of CPU per request on a 2-core machine (4 s per 1 Hz tick:
samples missed), against ~1.6 ms with a small pool per service (benchmarks/bench_redfish_scale.py).

A request that times out becomes a missed sample (`-2`) for its channel only; any other failure
(HTTP error, refused connection, bad JSON, no number) an error sample (`-1`). The other channels'
requests are not held up by either.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import sys
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

# httpcore imports `sniffio` inside every lock acquisition, and a module that is not installed is
# searched for again on every import: four path scans per request, most of the driver's CPU at 200
# BMCs. Recording its absence makes each of those imports fail at once, as they would anyway.
if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
    sys.modules["sniffio"] = None  # type: ignore[assignment]

import httpx

from analyzers.errors import AnalyzerConnectionError, AnalyzerError
from analyzers.redfish import resources
from analyzers.redfish.credentials import ENV_FILE, ENV_PASSWORD, ENV_USER, Credentials, CredentialStore
from analyzers.redfish.endpoints import SERVICE_ROOT, Endpoint
from analyzers.trace import SAMPLE_ERROR, SAMPLE_MISSED, SAMPLE_OK

T = TypeVar("T")
_AUTH_HINT = f"set {ENV_USER} and {ENV_PASSWORD}, or a credentials file in {ENV_FILE}"


@dataclass(frozen=True)
class Channel:
    """One power source: `label` names it in messages (URL of its power resource)."""

    label: str
    url: str
    kind: str
    auth: Credentials | None


@dataclass(frozen=True)
class Outcome:
    flag: int
    value: resources.PowerValue | None = None
    problem: str = ""


class _Failure(Exception):
    def __init__(self, flag: int, text: str) -> None:
        super().__init__(text)
        self.flag = flag
        self.text = text


class RedfishService:
    def __init__(self, verify: bool | str = True) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="redfish-loop", daemon=True)
        self._thread.start()
        # One TLS context for every client: building one per BMC costs time and memory.
        self._tls = httpx.create_ssl_context(verify=verify, trust_env=False)
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._closed = False

    def _client(self, url: str) -> httpx.AsyncClient:
        """The client of `url`'s service (created on first use, on the loop thread)."""
        service = url.split("/redfish/", 1)[0]
        client = self._clients.get(service)
        if client is None:
            # No proxy from the environment: BMC networks are management networks, and loopback
            # tests must not leave the host.
            client = httpx.AsyncClient(verify=self._tls, trust_env=False, follow_redirects=True)
            self._clients[service] = client
        return client

    def run(self, coroutine: Coroutine[Any, Any, T], timeout_s: float) -> T:
        """Run `coroutine` on the loop thread and wait for it (from any other thread)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout_s)

    def close(self) -> None:
        if not self._closed and self._loop.is_running():
            self._closed = True
            clients, self._clients = list(self._clients.values()), {}

            async def close_all() -> None:
                await asyncio.gather(*(client.aclose() for client in clients), return_exceptions=True)

            # Closing connections to BMCs that are gone: nothing left to do if that fails.
            with contextlib.suppress(Exception):
                self.run(close_all(), 10.0)
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10.0)
        if not self._loop.is_running():
            self._loop.close()

    # -- requests -------------------------------------------------------------------------------

    async def _get_json(self, url: str, auth: Credentials | None, timeout_s: float) -> dict[str, Any]:
        try:
            response = await asyncio.wait_for(
                self._client(url).get(
                    url, auth=(auth.user, auth.password) if auth else None, timeout=timeout_s
                ),
                timeout_s,
            )
        except (TimeoutError, httpx.TimeoutException):
            raise _Failure(SAMPLE_MISSED, f"no answer within {timeout_s:g} s") from None
        except httpx.HTTPError as error:
            raise _Failure(
                SAMPLE_ERROR, f"request failed: {error.__class__.__name__} {error}".strip()
            ) from None
        if response.status_code in (401, 403):
            raise _Failure(SAMPLE_ERROR, f"HTTP {response.status_code}: credentials refused ({_AUTH_HINT})")
        if response.status_code >= 400:
            raise _Failure(SAMPLE_ERROR, f"HTTP {response.status_code}")
        try:
            document = json.loads(response.content)
        except ValueError:
            raise _Failure(SAMPLE_ERROR, "the answer is not JSON") from None
        if not isinstance(document, dict):
            raise _Failure(SAMPLE_ERROR, "the answer is not a JSON object")
        return document

    # -- discovery ------------------------------------------------------------------------------

    async def _discover(
        self, endpoint: Endpoint, auth: Credentials | None, timeout_s: float
    ) -> list[Channel]:
        base = endpoint.base_url

        def channel(path: str, kind: str) -> Channel:
            return Channel(base + path, base + path, kind, auth)

        if endpoint.resource is not None:
            kind = resources.kind_of(endpoint.resource)
            if kind is not None:  # named directly: no request needed, and a dead one still gets a channel
                return [channel(endpoint.resource, kind)]
            found = resources.power_resource(await self._get_json(base + endpoint.resource, auth, timeout_s))
            if found is None:
                raise _Failure(SAMPLE_ERROR, "this resource links no Power, EnvironmentMetrics or Metrics")
            return [channel(*found)]
        chassis_ids, pdu_ids = await asyncio.gather(
            self._collection(base + SERVICE_ROOT + "/Chassis", auth, timeout_s),
            self._collection(base + SERVICE_ROOT + "/PowerEquipment/RackPDUs", auth, timeout_s),
        )
        documents = await asyncio.gather(
            *(self._get_json(base + p, auth, timeout_s) for p in chassis_ids + pdu_ids)
        )
        powered = {
            path: (found, document)
            for path, document in zip(chassis_ids + pdu_ids, documents, strict=True)
            if (found := resources.power_resource(document)) is not None
        }
        # A chassis inside another powered chassis (a blade in its enclosure) is already in that total.
        chosen = [
            found for path, (found, doc) in powered.items() if resources.contained_by(doc) not in powered
        ]
        if not chosen:
            raise _Failure(SAMPLE_ERROR, "no chassis or PDU here reports power")
        return [channel(*found) for found in chosen]

    async def _collection(self, url: str, auth: Credentials | None, timeout_s: float) -> list[str]:
        try:
            return resources.members(await self._get_json(url, auth, timeout_s))
        except _Failure as failure:
            if url.endswith("/RackPDUs") and failure.text == "HTTP 404":
                return []  # not a PDU: a BMC has no PowerEquipment
            raise

    def discover(self, endpoints: list[Endpoint], store: CredentialStore, timeout_s: float) -> list[Channel]:
        """Every endpoint's channels, found concurrently; the first endpoint that fails is named."""

        async def one(endpoint: Endpoint) -> list[Channel] | AnalyzerError:
            host = endpoint.base_url.split("://", 1)[1]
            try:
                return await self._discover(endpoint, store.for_host(host, endpoint.user), timeout_s)
            except _Failure as failure:
                return AnalyzerConnectionError(
                    endpoint.label,
                    f"cannot list its power sources: {failure.text}",
                    "check the URL and that the BMC answers Redfish, or name its power resource URL directly",
                )

        async def all_of() -> list[list[Channel] | AnalyzerError]:
            return await asyncio.gather(*(one(e) for e in endpoints))

        channels: list[Channel] = []
        for result in self.run(all_of(), timeout_s * 4 + 10):
            if isinstance(result, AnalyzerError):
                raise result
            channels += result
        return channels

    # -- polling --------------------------------------------------------------------------------

    def poll(self, channels: list[Channel], timeout_s: float) -> list[Outcome]:
        async def one(channel: Channel) -> Outcome:
            try:
                document = await self._get_json(channel.url, channel.auth, timeout_s)
            except _Failure as failure:
                return Outcome(failure.flag, problem=failure.text)
            value = resources.read_power(document, channel.kind)
            if value.problem:
                return Outcome(SAMPLE_ERROR, value, value.problem)
            return Outcome(SAMPLE_OK, value)

        async def all_of() -> list[Outcome]:
            return await asyncio.gather(*(one(c) for c in channels))

        return self.run(all_of(), timeout_s + 30)
