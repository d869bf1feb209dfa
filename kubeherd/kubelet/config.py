"""The kubelet's settings, and ``--kubelet-arg KEY=VALUE`` parsing (k3s's flag).

Keys are the upstream kubelet flag names without the leading dashes, so a k3s user's
``--kubelet-arg=eviction-hard=memory.available<200Mi`` carries over unchanged. An unknown key
or a malformed value is a :class:`ValueError` naming it: the server refuses to start rather
than run a node with a setting silently ignored.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass, field
from typing import Any

from kubeherd.api.quantity import parse_quantity

DEFAULT_EVICTION_HARD = {"memory.available": "100Mi", "nodefs.available": "10%",
                         "imagefs.available": "15%", "nodefs.inodesFree": "5%"}
# The eviction signals upstream's kubelet knows on Linux.
EVICTION_SIGNALS = ("memory.available", "nodefs.available", "nodefs.inodesFree", "imagefs.available",
                    "imagefs.inodesFree", "pid.available")


@dataclass
class KubeletConfig:
    port: int = 10250  # the kubelet's HTTPS server; 0 picks a free port (tests run many nodes on one machine)
    address: str = "0.0.0.0"
    pod_manifest_path: str = ""  # static pods; "" means <data-dir>/agent/pod-manifests
    max_pods: int = 110
    cluster_dns: list[str] = field(default_factory=lambda: ["10.43.0.10"])  # [] = ClusterFirst pods use the node's
    cluster_domain: str = "cluster.local"
    eviction_hard: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_EVICTION_HARD))
    eviction_soft: dict[str, str] = field(default_factory=dict)
    eviction_soft_grace_period: dict[str, float] = field(default_factory=dict)  # seconds per signal
    eviction_minimum_reclaim: dict[str, str] = field(default_factory=dict)
    eviction_max_pod_grace_period: int = 0  # for soft evictions; 0 = the pod's own grace period
    eviction_pressure_transition_period: float = 300.0
    # how often the eviction manager observes signals (upstream: a fixed 10 s)
    housekeeping_interval: float = 10.0
    # static pods: a full re-read of pod-manifest-path this often (upstream's 20 s); changes to the
    # directory or its files are noticed within a second in between
    file_check_frequency: float = 20.0
    container_log_max_size: int = 10 * 1024 * 1024
    container_log_max_files: int = 5
    container_log_monitor_interval: float = 10.0


def _duration(text: str) -> float:
    """A Go duration such as ``5m``, ``30s``, ``1h30m`` or ``250ms``, in seconds."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    total, number, i = 0.0, "", 0
    if text.replace(".", "", 1).isdigit():
        return float(text)
    while i < len(text):
        ch = text[i]
        if ch.isdigit() or ch == ".":
            number += ch
            i += 1
            continue
        unit = "ms" if text.startswith("ms", i) else ch
        if unit not in units or not number:
            raise ValueError(f"invalid duration {text!r}")
        total += float(number) * units[unit]
        number = ""
        i += len(unit)
    if number:
        raise ValueError(f"invalid duration {text!r} (missing unit)")
    return total


def _signal(signal: str) -> str:
    if signal not in EVICTION_SIGNALS:
        raise ValueError(f"unknown eviction signal {signal!r}; known: {', '.join(EVICTION_SIGNALS)}")
    return signal


def _amount(part: str, value: str) -> str:
    """A quantity (``100Mi``) or a percentage in (0, 100] (``10%``), checked."""
    if value.endswith("%"):
        try:
            percent = float(value[:-1])
        except ValueError:
            raise ValueError(f"invalid percentage in {part!r}") from None
        if not 0 < percent <= 100:
            raise ValueError(f"eviction percentage {part!r} must be more than 0% and at most 100%")
        return value
    try:
        negative = parse_quantity(value).sign() < 0
    except ValueError as exc:
        raise ValueError(f"{part!r}: {exc}") from None
    if negative:
        raise ValueError(f"eviction threshold {part!r} must be positive")
    return value


def _parts(text: str) -> list[str]:
    return [p for p in (p.strip() for p in text.split(",")) if p]


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"want a whole number, got {text!r}") from None


def _addresses(text: str) -> list[str]:
    """A comma-separated list of IP addresses (``--cluster-dns``)."""
    return [str(ipaddress.ip_address(part.strip())) for part in text.split(",") if part.strip()]


def _thresholds(text: str) -> dict[str, str]:
    """``memory.available<100Mi,nodefs.available<10%`` (upstream allows only ``<``)."""
    out: dict[str, str] = {}
    for part in _parts(text):
        signal, sep, value = part.partition("<")
        if not sep or not value:
            raise ValueError(f"invalid eviction threshold {part!r} (want SIGNAL<QUANTITY or SIGNAL<PERCENT%)")
        out[_signal(signal)] = _amount(part, value)
    return out


def _signal_durations(text: str) -> dict[str, float]:
    """``memory.available=1m30s,nodefs.available=2m``: a grace period per signal."""
    out: dict[str, float] = {}
    for part in _parts(text):
        signal, sep, value = part.partition("=")
        if not sep or not value:
            raise ValueError(f"invalid grace period {part!r} (want SIGNAL=DURATION)")
        seconds = _duration(value)
        if seconds < 0:
            raise ValueError(f"grace period {part!r} must not be negative")
        out[_signal(signal)] = seconds
    return out


def _signal_amounts(text: str) -> dict[str, str]:
    """``memory.available=0Mi,nodefs.available=500Mi``: a minimum reclaim per signal."""
    out: dict[str, str] = {}
    for part in _parts(text):
        signal, sep, value = part.partition("=")
        if not sep or not value:
            raise ValueError(f"invalid minimum reclaim {part!r} (want SIGNAL=QUANTITY or SIGNAL=PERCENT%)")
        out[_signal(signal)] = value if value in ("0", "0%") else _amount(part, value)
    return out


def _seconds(text: str) -> float:
    seconds = _duration(text)
    if seconds <= 0:
        raise ValueError(f"{text!r} must be a positive duration")
    return seconds


_PARSERS: dict[str, tuple[str, Any]] = {
    "port": ("port", _integer),
    "address": ("address", str),
    "pod-manifest-path": ("pod_manifest_path", str),
    "max-pods": ("max_pods", _integer),
    "cluster-dns": ("cluster_dns", _addresses),
    "cluster-domain": ("cluster_domain", str),
    "eviction-hard": ("eviction_hard", _thresholds),
    "eviction-soft": ("eviction_soft", _thresholds),
    "eviction-soft-grace-period": ("eviction_soft_grace_period", _signal_durations),
    "eviction-minimum-reclaim": ("eviction_minimum_reclaim", _signal_amounts),
    "eviction-max-pod-grace-period": ("eviction_max_pod_grace_period", _integer),
    "eviction-pressure-transition-period": ("eviction_pressure_transition_period", _duration),
    "housekeeping-interval": ("housekeeping_interval", _seconds),
    "file-check-frequency": ("file_check_frequency", _seconds),
    "container-log-max-size": ("container_log_max_size", lambda v: parse_quantity(v).value()),
    "container-log-max-files": ("container_log_max_files", _integer),
    "container-log-monitor-interval": ("container_log_monitor_interval", _seconds),
}


def parse_kubelet_args(args: list[str] | None, base: KubeletConfig | None = None) -> KubeletConfig:
    """Apply ``KEY=VALUE`` pairs (a leading ``--`` is allowed) to a copy of ``base``."""
    config = dataclasses.replace(base) if base is not None else KubeletConfig()
    for arg in args or []:
        key, sep, value = arg.removeprefix("--").partition("=")
        if not sep:
            raise ValueError(f"--kubelet-arg {arg!r}: want KEY=VALUE")
        if key not in _PARSERS:
            raise ValueError(f"--kubelet-arg {key!r}: unknown kubelet setting; known: {', '.join(sorted(_PARSERS))}")
        attr, convert = _PARSERS[key]
        try:
            setattr(config, attr, convert(value))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"--kubelet-arg {key}: {exc}") from None
    if config.container_log_max_files < 2:
        raise ValueError("--kubelet-arg container-log-max-files: must be at least 2")
    if config.container_log_max_size <= 0:
        raise ValueError("--kubelet-arg container-log-max-size: must be positive")
    missing = sorted(set(config.eviction_soft) - set(config.eviction_soft_grace_period))
    if missing:
        raise ValueError(f"--kubelet-arg eviction-soft: no grace period for soft eviction threshold {missing[0]} "
                         "(set eviction-soft-grace-period)")
    return config
