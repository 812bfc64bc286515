"""The address of a peer as the director compares it: parsed, an IPv4-mapped IPv6 address as IPv4."""

from __future__ import annotations

import ipaddress

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def peer_address(host: str | None) -> Address | None:
    """`host` as an address (`::ffff:10.0.0.2` as `10.0.0.2`); None when it is not one."""
    if not host:
        return None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
