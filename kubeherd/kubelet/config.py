"""The kubelet's settings, and ``--kubelet-arg KEY=VALUE`` parsing (k3s's flag).

Keys are the upstream kubelet flag names without the leading dashes, so a k3s user's
``--kubelet-arg=eviction-hard=memory.available<200Mi`` carries over unchanged. An unknown key
or a malformed value is a :class:`ValueError` naming it: the server refuses to start rather
than run a node with a setting silently ignored.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from kubeherd.api.quantity import parse_quantity

DEFAULT_EVICTION_HARD = {"memory.available": "100Mi", "nodefs.available": "10%",
                         "imagefs.available": "15%", "nodefs.inodesFree": "5%"}


@dataclass
class KubeletConfig:
    port: int = 10250  # the kubelet's HTTPS server; 0 picks a free port (tests run many nodes on one machine)
    address: str = "0.0.0.0"
    pod_manifest_path: str = ""  # static pods; "" means <data-dir>/agent/pod-manifests
    max_pods: int = 110
    eviction_hard: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_EVICTION_HARD))
    eviction_pressure_transition_period: float = 300.0
    container_log_max_size: int = 10 * 1024 * 1024
    container_log_max_files: int = 5


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


def _thresholds(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        signal, sep, value = part.partition("<")
        if not sep or not value:
            raise ValueError(f"invalid eviction threshold {part!r} (want SIGNAL<QUANTITY or SIGNAL<PERCENT%)")
        if signal not in DEFAULT_EVICTION_HARD:
            raise ValueError(f"unknown eviction signal {signal!r}; known: {', '.join(DEFAULT_EVICTION_HARD)}")
        if not value.endswith("%"):
            parse_quantity(value)
        out[signal] = value
    return out


_PARSERS: dict[str, tuple[str, Any]] = {
    "port": ("port", int),
    "address": ("address", str),
    "pod-manifest-path": ("pod_manifest_path", str),
    "max-pods": ("max_pods", int),
    "eviction-hard": ("eviction_hard", _thresholds),
    "eviction-pressure-transition-period": ("eviction_pressure_transition_period", _duration),
    "container-log-max-size": ("container_log_max_size", lambda v: parse_quantity(v).value()),
    "container-log-max-files": ("container_log_max_files", int),
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
    return config
