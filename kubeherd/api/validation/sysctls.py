"""`spec.securityContext.sysctls` names, as upstream's ``validateSysctls`` checks them.

A name is dot- (or slash-) separated segments of lower-case letters, digits, `-` and `_`, each
starting and ending with a letter or digit, at most 253 characters. A name may appear once.
Sysctls of the network namespace may not be set on a pod with `hostNetwork`, nor those of the
IPC namespace with `hostIPC`: the pod would change them for the whole host.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kubeherd.api.validation._obj import mapping, seq, string
from kubeherd.api.validation.field import Cause, child, duplicate, index, invalid, required

SYSCTL_MAX_LENGTH = 253
_SEGMENT = "[a-z0-9]([-_a-z0-9]*[a-z0-9])?"
SYSCTL_PATTERN = "^(" + _SEGMENT + r"[\./])*" + _SEGMENT + "$"
_SYSCTL = re.compile(SYSCTL_PATTERN)
_NAME_MESSAGE = f"must have at most {SYSCTL_MAX_LENGTH} characters and match regex {SYSCTL_PATTERN}"

# which kernel namespace a sysctl belongs to: exact names, then prefixes
_IPC_NAMES = ("kernel.sem",)
_IPC_PREFIXES = ("kernel.shm", "kernel.msg", "fs.mqueue.")
_NET_PREFIXES = ("net.",)


def is_valid_sysctl_name(name: str) -> bool:
    return len(name) <= SYSCTL_MAX_LENGTH and _SYSCTL.fullmatch(name) is not None


def normalize_sysctl_name(name: str) -> str:
    """`net/ipv4/ip_forward` → `net.ipv4.ip_forward`: slashes are separators when they come first."""
    first = next((c for c in name if c in "./"), "")
    if first != "/":
        return name
    return name.translate(str.maketrans("./", "/."))


def sysctl_namespace(name: str) -> str:
    """"ipc", "net" or "" (not namespaced, or a namespace hostNetwork/hostIPC do not share)."""
    name = normalize_sysctl_name(name).split("*", 1)[0]
    if name in _IPC_NAMES or name.startswith(_IPC_PREFIXES):
        return "ipc"
    return "net" if name.startswith(_NET_PREFIXES) else ""


def validate_sysctls(spec: Mapping[str, Any], path: str) -> list[Cause]:
    """The pod's sysctls (`path` is spec.securityContext.sysctls)."""
    context = mapping(spec.get("securityContext"))
    host = {"net": spec.get("hostNetwork") is True, "ipc": spec.get("hostIPC") is True}
    errs: list[Cause] = []
    seen: set[str] = set()
    for i, raw in enumerate(seq(context.get("sysctls"))):
        name = string(mapping(raw).get("name"))
        name_path = child(index(path, i), "name")
        if not name:
            errs.append(required(name_path))
        elif not is_valid_sysctl_name(name):
            errs.append(invalid(name_path, name, _NAME_MESSAGE))
        elif name in seen:
            errs.append(duplicate(name_path, name))
        namespace = sysctl_namespace(name)
        if namespace and host[namespace]:
            flag = "hostNetwork" if namespace == "net" else "hostIPC"
            errs.append(invalid(name_path, name, f"may not be specified when '{flag}' is true"))
        seen.add(name)
    return errs
