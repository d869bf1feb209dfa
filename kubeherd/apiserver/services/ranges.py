"""The ranges Services draw from: the service CIDR (cluster IPs) and the NodePort range.

Both are numbered 0..size-1 so one allocator serves both. Each range is split in two bands, as
upstream does since KEP-3070 (cluster IPs) and KEP-3668 (node ports): dynamic allocation picks at
random from the upper band and falls back to the lower one only when the upper band is full, so
the lower band stays free for addresses and ports people choose themselves (the `kubernetes`
Service's first address, the DNS Service's .10). The lower band's size is
min(max(16, size / step), cap): step 16 and cap 256 for addresses, step 32 and cap 128 for ports.

Errors carry upstream's wording; the Service allocation turns them into 422 field errors.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass


class AllocationError(Exception):
    """A requested value cannot be had; the message is upstream's."""


class NotInRange(AllocationError):
    pass


class AlreadyAllocated(AllocationError):
    pass


class RangeFull(AllocationError):
    def __init__(self) -> None:
        super().__init__("range is full")


def static_band(size: int, step: int, cap: int, smallest: int = 16) -> int:
    """How many values at the bottom of a range dynamic allocation leaves for last."""
    if size <= smallest:
        return 0
    return min(max(smallest, size // step), cap)


@dataclass(frozen=True)
class ServiceCIDR:
    """A service CIDR: values are addresses from the network's first host up to the last one
    (for IPv4 the network and broadcast addresses are never handed out)."""

    network: ipaddress.IPv4Network | ipaddress.IPv6Network

    @classmethod
    def parse(cls, text: str) -> ServiceCIDR:
        try:
            network = ipaddress.ip_network(text.strip(), strict=True)
        except ValueError as exc:
            raise ValueError(f"invalid service CIDR {text!r}: {exc}") from None
        if network.version == 6 and network.prefixlen < 64:
            raise ValueError(f"shortest allowed prefix length for service CIDR is 64, got {network.prefixlen}")
        if network.num_addresses < 4 and network.version == 4:
            raise ValueError(f"service CIDR {text!r} is too small")
        return cls(network)

    @property
    def family(self) -> str:
        return "IPv4" if self.network.version == 4 else "IPv6"

    @property
    def size(self) -> int:
        total = self.network.num_addresses - 1  # never the network address
        return total - 1 if self.network.version == 4 else total

    @property
    def band(self) -> int:
        return static_band(self.network.num_addresses, 16, 256)

    def first(self) -> str:
        """The first address: the `kubernetes` Service's."""
        return str(self.network.network_address + 1)

    def value(self, ip: str) -> int:
        """The index of `ip` in the range; NotInRange (upstream's message) when outside."""
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            raise self.not_in_range(ip) from None
        index = int(address) - int(self.network.network_address) - 1
        if address.version != self.network.version or not 0 <= index < self.size:
            raise self.not_in_range(ip)
        return index

    def ip(self, value: int) -> str:
        return str(self.network.network_address + 1 + value)

    def not_in_range(self, ip: str) -> NotInRange:
        return NotInRange(f"the provided IP ({ip}) is not in the valid range. The range of valid IPs is "
                          f"{self.network}")

    def __str__(self) -> str:
        return str(self.network)


@dataclass(frozen=True)
class PortRange:
    """A NodePort range such as 30000-32767 (both ends included)."""

    base: int
    size: int

    @classmethod
    def parse(cls, text: str) -> PortRange:
        """`30000-32767`, or a single port; upstream's `--service-node-port-range` syntax."""
        low, sep, high = text.strip().partition("-")
        try:
            first = int(low)
            last = int(high) if sep else first
        except ValueError:
            raise ValueError(f"invalid port range {text!r}") from None
        if not 0 < first <= last <= 65535:
            raise ValueError(f"invalid port range {text!r}")
        return cls(first, last - first + 1)

    @property
    def band(self) -> int:
        return static_band(self.size, 32, 128)

    def value(self, port: int) -> int:
        if not self.base <= port < self.base + self.size:
            raise NotInRange(f"provided port is not in the valid range. The range of valid ports is {self}")
        return port - self.base

    def port(self, value: int) -> int:
        return self.base + value

    def __str__(self) -> str:
        return f"{self.base}-{self.base + self.size - 1}"
