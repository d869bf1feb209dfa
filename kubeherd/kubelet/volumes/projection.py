"""What configMap, secret, downwardAPI and projected volumes show: files, and how they are written.

Contents are written by :func:`write_atomic` in upstream's ``AtomicWriter`` layout: the files
live in a timestamped directory ``..<ts>``, the symlink ``..data`` points at it and each visible
name is a symlink through ``..data``. An update writes a new directory and renames a new
``..data`` link over the old one — one ``rename(2)`` — so a reader in the container sees either
the old set or the new one. The kubelet re-projects periodically, which is how updates (and
refreshed service-account tokens) reach running pods.

A ``projected`` volume is the union of its sources (secret, configMap, downwardAPI,
serviceAccountToken) in one such directory; each source may name items and modes, with the
volume's ``defaultMode`` (0644) for the rest.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import os
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from kubeherd.api.quantity import Quantity

Obj = dict[str, Any]
Files = dict[str, tuple[bytes, int]]  # relative path → (content, mode)
# (kind, namespace, name) → the object or None when absent
Getter = Callable[[str, str, str], Awaitable[Obj | None]]
# (pod, serviceAccountToken projection) → the token
TokenSource = Callable[[Obj, Obj], Awaitable[str]]
DEFAULTED_LIMITS = ("cpu", "memory", "ephemeral-storage")  # unset limits read as node allocatable


class VolumeError(Exception):
    """A volume that cannot be set up yet (a missing configMap, an unbound claim, a bad hostPath)."""


def _mode(value: Any, default: int) -> int:
    return int(value) if value is not None else default


def write_atomic(target: Path, files: Files) -> bool:
    """Make ``target`` show exactly ``files`` (relative path → (content, mode)).

    Returns whether anything changed. Unchanged content writes nothing, so the periodic
    re-projection costs only reads.
    """
    target.mkdir(parents=True, exist_ok=True)
    data_link = target / "..data"
    current = target / os.readlink(data_link) if data_link.is_symlink() else None
    if current is not None and current.is_dir():
        old: Files = {}
        for path in current.rglob("*"):
            if path.is_file():
                old[str(path.relative_to(current))] = (path.read_bytes(), path.stat().st_mode & 0o777)
        if old == files:
            return False
    stamp = datetime.datetime.now(datetime.UTC).strftime("..%Y_%m_%d_%H_%M_%S.%f")
    new_dir = target / stamp
    new_dir.mkdir()
    for rel, (content, mode) in files.items():
        path = new_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        os.chmod(path, mode)
    os.chmod(new_dir, 0o755)
    tmp_link = target / "..data_tmp"
    with contextlib.suppress(FileNotFoundError):
        tmp_link.unlink()
    tmp_link.symlink_to(stamp)
    os.replace(tmp_link, data_link)
    # the visible names: top-level entries linked through ..data
    tops = {rel.split("/", 1)[0] for rel in files}
    for top in tops:
        link = target / top
        if not link.is_symlink():
            link.symlink_to(f"..data/{top}")
    for entry in target.iterdir():
        name = entry.name
        if name.startswith(".."):
            if name not in ("..data", stamp) and entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            continue
        if name not in tops and entry.is_symlink():
            entry.unlink()
    return True


def _key_files(data: dict[str, bytes], items: list[Obj] | None, default_mode: int) -> Files:
    if not items:
        return {key: (value, default_mode) for key, value in data.items()}
    files = {}
    for item in items:
        key = item.get("key", "")
        if key not in data:
            raise VolumeError(f"configuration key {key!r} not found")
        files[item.get("path") or key] = (data[key], _mode(item.get("mode"), default_mode))
    return files


def configmap_files(cm: Obj, source: Obj) -> Files:
    data = {k: v.encode() for k, v in (cm.get("data") or {}).items()}
    data.update({k: base64.b64decode(v) for k, v in (cm.get("binaryData") or {}).items()})
    return _key_files(data, source.get("items"), _mode(source.get("defaultMode"), 0o644))


def secret_files(secret: Obj, source: Obj) -> Files:
    data = {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
    data.update({k: v.encode() for k, v in (secret.get("stringData") or {}).items()})
    return _key_files(data, source.get("items"), _mode(source.get("defaultMode"), 0o644))


def field_value(pod: Obj, path: str) -> str:
    """A downward-API ``fieldRef.fieldPath`` of ``pod``."""
    meta = pod.get("metadata") or {}
    if path.startswith(("metadata.labels[", "metadata.annotations[")):
        kind, _, rest = path.partition("[")
        key = rest.rstrip("]").strip("'\"")
        return str((meta.get(kind.split(".")[1]) or {}).get(key, ""))
    if path in ("metadata.labels", "metadata.annotations"):
        values = meta.get(path.split(".")[1]) or {}
        return "\n".join(f'{k}="{v}"' for k, v in sorted(values.items()))
    simple = {
        "metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"), "spec.nodeName": (pod.get("spec") or {}).get("nodeName"),
        "spec.serviceAccountName": (pod.get("spec") or {}).get("serviceAccountName"),
        "status.hostIP": (pod.get("status") or {}).get("hostIP"),
        "status.podIP": (pod.get("status") or {}).get("podIP"),
    }
    if path == "status.podIPs":
        return ",".join(ip.get("ip", "") for ip in (pod.get("status") or {}).get("podIPs") or [])
    if path == "status.hostIPs":
        return ",".join(ip.get("ip", "") for ip in (pod.get("status") or {}).get("hostIPs") or [])
    return str(simple.get(path) or "")


def resource_value(pod: Obj, ref: Obj, container_name: str = "", allocatable: dict[str, str] | None = None) -> str:
    """A ``resourceFieldRef`` (limits.cpu, requests.memory …), divided by its divisor and rounded
    up (cpu in millicores, the rest in units). As upstream, an absent (or zero) cpu, memory or
    ephemeral-storage limit is the node's ``allocatable``; requests are not defaulted."""
    name = ref.get("containerName") or container_name
    spec = pod.get("spec") or {}
    container: Obj = next((c for key in ("containers", "initContainers", "ephemeralContainers")
                           for c in spec.get(key) or [] if c.get("name") == name), {})
    kind, _, res = (ref.get("resource") or "").partition(".")
    resources = container.get("resources") or {}
    limits = resources.get("limits") or {}
    if kind == "limits":
        value = limits.get(res)
        if (value is None or Quantity.parse(str(value)).is_zero()) and res in DEFAULTED_LIMITS:
            value = (allocatable or {}).get(res)
    else:
        value = (resources.get("requests") or {}).get(res) or limits.get(res)
    if value is None:
        return "0"
    quantity = Quantity.parse(str(value))
    divisor = Quantity.parse(str(ref.get("divisor") or "1"))
    if res == "cpu":
        return str(-(-quantity.milli_value() // max(1, divisor.milli_value())))
    return str(-(-quantity.value() // max(1, divisor.value())))


def downward_files(pod: Obj, source: Obj, allocatable: dict[str, str] | None = None) -> Files:
    default = _mode(source.get("defaultMode"), 0o644)
    files = {}
    for item in source.get("items") or []:
        if "fieldRef" in item:
            value = field_value(pod, item["fieldRef"].get("fieldPath", ""))
        else:
            value = resource_value(pod, item.get("resourceFieldRef") or {}, allocatable=allocatable)
        files[item["path"]] = (value.encode(), _mode(item.get("mode"), default))
    return files


async def _configmap(pod: Obj, source: Obj, get: Getter, default_mode: int) -> Files:
    cm = await get("configmaps", pod["metadata"]["namespace"], source.get("name", ""))
    if cm is None:
        if source.get("optional"):
            return {}
        raise VolumeError(f'configmap "{source.get("name")}" not found')
    return configmap_files(cm, {**source, "defaultMode": source.get("defaultMode", default_mode)})


async def _secret(pod: Obj, source: Obj, name: str, get: Getter, default_mode: int) -> Files:
    secret = await get("secrets", pod["metadata"]["namespace"], name)
    if secret is None:
        if source.get("optional"):
            return {}
        raise VolumeError(f'secret "{name}" not found')
    return secret_files(secret, {**source, "defaultMode": source.get("defaultMode", default_mode)})


async def projected_files(pod: Obj, projected: Obj, get: Getter, token: TokenSource | None,
                          allocatable: dict[str, str] | None = None) -> Files:
    """The union of a projected volume's sources."""
    default_mode = _mode(projected.get("defaultMode"), 0o644)
    files: Files = {}
    for source in projected.get("sources") or []:
        if "configMap" in source:
            files.update(await _configmap(pod, source["configMap"] or {}, get, default_mode))
        elif "secret" in source:
            secret = source["secret"] or {}
            files.update(await _secret(pod, secret, secret.get("name", ""), get, default_mode))
        elif "downwardAPI" in source:
            files.update(downward_files(pod, {**(source["downwardAPI"] or {}), "defaultMode": default_mode},
                                        allocatable))
        elif "serviceAccountToken" in source:
            projection = source["serviceAccountToken"] or {}
            if token is None:
                raise VolumeError("this kubelet cannot request service-account tokens")
            files[projection.get("path") or "token"] = ((await token(pod, projection)).encode(),
                                                        _mode(projection.get("mode"), default_mode))
        else:
            kinds = ", ".join(sorted(source)) or "none"
            raise VolumeError(f"projected volume source {kinds} is not supported by kubeherd's kubelet yet")
    return files


async def project(pod: Obj, volume: Obj, get: Getter, token: TokenSource | None = None,
                  allocatable: dict[str, str] | None = None) -> Files | None:
    """The files of a configMap/secret/downwardAPI/projected volume, None for other kinds
    (``allocatable``: the node's, what a resourceFieldRef to an unset limit shows)."""
    if "configMap" in volume:
        source = volume["configMap"] or {}
        return await _configmap(pod, source, get, _mode(source.get("defaultMode"), 0o644))
    if "secret" in volume:
        source = volume["secret"] or {}
        return await _secret(pod, source, source.get("secretName", ""), get, _mode(source.get("defaultMode"), 0o644))
    if "downwardAPI" in volume:
        return downward_files(pod, volume["downwardAPI"] or {}, allocatable)
    if "projected" in volume:
        return await projected_files(pod, volume["projected"] or {}, get, token, allocatable)
    return None
