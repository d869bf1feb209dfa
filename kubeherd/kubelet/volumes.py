"""Pod volumes: directories on the node that become CRI mounts.

Design, as upstream's volume manager but without its plugin machinery:

* Every pod owns ``<data>/agent/pods/<uid>/volumes/<plugin>/<name>``; removing a pod removes
  that tree (after unmounting the tmpfs of ``emptyDir.medium: Memory``).
* ``configMap``, ``secret`` and ``downwardAPI`` contents are written by :func:`write_atomic`
  in upstream's ``AtomicWriter`` layout: the files live in a timestamped directory
  ``..<ts>``, the symlink ``..data`` points at it and each visible name is a symlink through
  ``..data``. An update writes a new directory and renames a new ``..data`` link over the old
  one — one ``rename(2)`` — so a reader in the container sees either the old set or the new one.
  The kubelet re-projects them periodically, which is how updates reach running pods.
* ``hostPath`` is mounted as given (``DirectoryOrCreate``/``FileOrCreate`` create it; the other
  types are checked).
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import os
import shutil
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from kubeherd.api.quantity import Quantity

Obj = dict[str, Any]
# (kind, namespace, name) → the object or None when absent
Getter = Callable[[str, str, str], Awaitable[Obj | None]]


class VolumeError(Exception):
    """A volume that cannot be set up yet (a missing configMap, a bad hostPath)."""


def pod_dir(root: Path, uid: str) -> Path:
    return root / uid


def _mode(value: Any, default: int) -> int:
    return int(value) if value is not None else default


def write_atomic(target: Path, files: dict[str, tuple[bytes, int]]) -> bool:
    """Make ``target`` show exactly ``files`` (relative path → (content, mode)).

    Returns whether anything changed. Unchanged content writes nothing, so the periodic
    re-projection costs only reads.
    """
    target.mkdir(parents=True, exist_ok=True)
    data_link = target / "..data"
    current = target / os.readlink(data_link) if data_link.is_symlink() else None
    if current is not None and current.is_dir():
        old: dict[str, tuple[bytes, int]] = {}
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


def _key_files(data: dict[str, bytes], items: list[Obj] | None, default_mode: int) -> dict[str, tuple[bytes, int]]:
    if not items:
        return {key: (value, default_mode) for key, value in data.items()}
    files = {}
    for item in items:
        key = item.get("key", "")
        if key not in data:
            raise VolumeError(f"configuration key {key!r} not found")
        files[item.get("path") or key] = (data[key], _mode(item.get("mode"), default_mode))
    return files


def configmap_files(cm: Obj, source: Obj) -> dict[str, tuple[bytes, int]]:
    data = {k: v.encode() for k, v in (cm.get("data") or {}).items()}
    data.update({k: base64.b64decode(v) for k, v in (cm.get("binaryData") or {}).items()})
    return _key_files(data, source.get("items"), _mode(source.get("defaultMode"), 0o644))


def secret_files(secret: Obj, source: Obj) -> dict[str, tuple[bytes, int]]:
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


def resource_value(pod: Obj, ref: Obj, container_name: str = "") -> str:
    """A ``resourceFieldRef`` (limits.cpu, requests.memory …), divided by its divisor."""
    name = ref.get("containerName") or container_name
    container: Obj = next((c for c in (pod.get("spec") or {}).get("containers") or [] if c.get("name") == name), {})
    kind, _, res = (ref.get("resource") or "").partition(".")
    resources = container.get("resources") or {}
    value = (resources.get(kind) or {}).get(res) or (resources.get("limits") or {}).get(res)
    divisor = Quantity.parse(str(ref.get("divisor") or "1"))
    if value is None:
        return "0"  # upstream falls back to node allocatable; unknown here
    nanos = Quantity.parse(str(value)).nanos
    div = max(1, divisor.nanos)
    return str(-(-nanos // div))


def downward_files(pod: Obj, source: Obj) -> dict[str, tuple[bytes, int]]:
    default = _mode(source.get("defaultMode"), 0o644)
    files = {}
    for item in source.get("items") or []:
        if "fieldRef" in item:
            value = field_value(pod, item["fieldRef"].get("fieldPath", ""))
        else:
            value = resource_value(pod, item.get("resourceFieldRef") or {})
        files[item["path"]] = (value.encode(), _mode(item.get("mode"), default))
    return files


async def project(pod: Obj, volume: Obj, get: Getter) -> dict[str, tuple[bytes, int]] | None:
    """The files of a configMap/secret/downwardAPI volume, None for other kinds."""
    namespace = pod["metadata"]["namespace"]
    if "configMap" in volume:
        source = volume["configMap"]
        cm = await get("configmaps", namespace, source.get("name", ""))
        if cm is None:
            if source.get("optional"):
                return {}
            raise VolumeError(f'configmap "{source.get("name")}" not found')
        return configmap_files(cm, source)
    if "secret" in volume:
        source = volume["secret"]
        secret = await get("secrets", namespace, source.get("secretName", ""))
        if secret is None:
            if source.get("optional"):
                return {}
            raise VolumeError(f'secret "{source.get("secretName")}" not found')
        return secret_files(secret, source)
    if "downwardAPI" in volume:
        return downward_files(pod, volume["downwardAPI"])
    return None


def _is_mounted(path: Path) -> bool:
    text = str(path)
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == text for line in f)


class VolumeManager:
    """Sets up and tears down the volumes of the pods on this node."""

    def __init__(self, root: Path, get: Getter) -> None:
        self.root = root
        self.get = get

    def volume_path(self, uid: str, volume: Obj) -> Path:
        kind = next((k for k in ("emptyDir", "configMap", "secret", "downwardAPI", "hostPath") if k in volume),
                    "other")
        return pod_dir(self.root, uid) / "volumes" / kind / volume["name"]

    async def setup(self, pod: Obj) -> dict[str, Path]:
        """Make every volume of ``pod`` ready; returns name → host path. Idempotent, and
        re-projects configMap/secret/downwardAPI content (the update path)."""
        uid = pod["metadata"]["uid"]
        paths: dict[str, Path] = {}
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            name = volume["name"]
            if "hostPath" in volume:
                paths[name] = self._host_path(volume["hostPath"])
                continue
            path = self.volume_path(uid, volume)
            if "emptyDir" in volume:
                path.mkdir(parents=True, exist_ok=True)
                os.chmod(path, 0o777)
                if (volume["emptyDir"] or {}).get("medium") == "Memory" and not _is_mounted(path):
                    options = "mode=0777"
                    if (volume["emptyDir"] or {}).get("sizeLimit"):
                        options += f",size={Quantity.parse(str(volume['emptyDir']['sizeLimit'])).value()}"
                    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], check=True,
                                   capture_output=True)
                paths[name] = path
                continue
            files = await project(pod, volume, self.get)
            if files is None:
                raise VolumeError(f"volume {name}: this volume type is not supported by kubeherd's kubelet yet")
            write_atomic(path, files)
            paths[name] = path
        return paths

    @staticmethod
    def _host_path(source: Obj) -> Path:
        path = Path(source.get("path", ""))
        kind = source.get("type") or ""
        if kind == "DirectoryOrCreate":
            path.mkdir(parents=True, exist_ok=True)
        elif kind == "FileOrCreate" and not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        elif kind == "Directory" and not path.is_dir():
            raise VolumeError(f"hostPath type check failed: {path} is not a directory")
        elif kind == "File" and not path.is_file():
            raise VolumeError(f"hostPath type check failed: {path} is not a file")
        elif kind == "Socket" and not path.is_socket():
            raise VolumeError(f"hostPath type check failed: {path} is not a socket")
        return path

    def teardown(self, uid: str) -> None:
        """Unmount and delete everything of pod ``uid`` (blocking: call from a thread)."""
        base = pod_dir(self.root, uid)
        if not base.exists():
            return
        prefix = str(base) + "/"
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split()[4] for line in f if line.split()[4].startswith(prefix)]
        for mount in sorted(mounts, reverse=True):
            subprocess.run(["umount", mount], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)

    def known_pods(self) -> list[str]:
        return [p.name for p in self.root.iterdir()] if self.root.exists() else []
