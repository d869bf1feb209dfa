"""The volume manager: makes every volume of a pod ready on the node and says where it is.

Design, as upstream's volume manager but without its plugin machinery:

* Every pod owns ``<data>/agent/pods/<uid>/volumes/<plugin>/<name>``; removing a pod removes
  that tree (after unmounting the tmpfs of ``emptyDir.medium: Memory``).
* configMap, secret, downwardAPI and projected volumes are written atomically (see
  :mod:`.projection`) on every sync, which is how updates and refreshed tokens reach pods.
* ``hostPath`` is used as given (``DirectoryOrCreate``/``FileOrCreate`` create it; the other
  types are checked). A ``persistentVolumeClaim`` is looked up with its bound PersistentVolume
  and the PV's ``hostPath`` or ``local`` path is what the containers get (CRI bind-mounts it);
  ``nfs`` and other network sources are not mounted by this kubelet.
* A volume that cannot be set up yet (a missing configMap, an unbound claim) fails the sync:
  the pod stays ContainerCreating, a ``FailedMount`` Warning event says why, and the next sync
  tries again.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from kubeherd.api.quantity import Quantity

from .projection import Getter, VolumeError, project, write_atomic
from .tokens import TokenManager, TokenRequester

Obj = dict[str, Any]
KINDS = ("emptyDir", "configMap", "secret", "downwardAPI", "projected", "hostPath")


class Recorder(Protocol):
    def record(self, obj: Obj, event_type: str, reason: str, message: str) -> None: ...


def pod_dir(root: Path, uid: str) -> Path:
    return root / uid


def _is_mounted(path: Path) -> bool:
    text = str(path)
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == text for line in f)


def host_path(source: Obj) -> Path:
    """A hostPath volume's path, created or checked as its ``type`` says."""
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


def sub_path(volume: Path, path: str, what: str = "SubPath") -> Path:
    """The host path of ``volume`` + a volumeMount's subPath, made if missing (as a directory
    with the volume's permissions); absolute paths, ``..`` and symlinks out of the volume are
    refused as upstream refuses them. Raises LookupError (a container config error)."""
    if os.path.isabs(path):
        raise LookupError(f"error {what} `{path}` must not be an absolute path")
    if ".." in path.split("/"):
        raise LookupError(f"unable to provision {what} `{path}`: must not contain '..'")
    target = volume / path
    if not target.exists() and not target.is_symlink():
        target.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            os.chmod(target, volume.stat().st_mode & 0o7777)
    root = volume.resolve()
    resolved = target.resolve()
    if resolved != root and root not in resolved.parents:
        raise LookupError(f"subpath {str(target)!r} not within volume path {str(volume)!r}")
    return target


class VolumeManager:
    """Sets up and tears down the volumes of the pods on this node."""

    def __init__(self, root: Path, get: Getter, request_token: TokenRequester | None = None,
                 recorder: Recorder | None = None, allocatable: Callable[[], dict[str, str]] | None = None) -> None:
        self.root = root
        self.get = get
        self.tokens = TokenManager(request_token) if request_token is not None else None
        self.recorder = recorder
        self.allocatable = allocatable  # the node's allocatable: unset limits in downward-API files

    def volume_path(self, uid: str, volume: Obj) -> Path:
        kind = next((k for k in KINDS if k in volume), "other")
        return pod_dir(self.root, uid) / "volumes" / kind / volume["name"]

    async def setup(self, pod: Obj) -> dict[str, Path]:
        """Make every volume of ``pod`` ready; returns name → host path. Idempotent, and
        re-projects configMap/secret/downwardAPI/projected content (the update path)."""
        paths: dict[str, Path] = {}
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            try:
                paths[volume["name"]] = await self._setup_one(pod, volume)
            except VolumeError as exc:
                if self.recorder is not None:
                    self.recorder.record({**pod, "kind": "Pod", "apiVersion": "v1"}, "Warning", "FailedMount",
                                         f'MountVolume.SetUp failed for volume "{volume["name"]}" : {exc}')
                raise
        return paths

    async def _setup_one(self, pod: Obj, volume: Obj) -> Path:
        uid = pod["metadata"]["uid"]
        name = volume["name"]
        if "hostPath" in volume:
            return host_path(volume["hostPath"] or {})
        if "persistentVolumeClaim" in volume:
            return await self._claim_path(pod, volume["persistentVolumeClaim"] or {})
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
            return path
        files = await project(pod, volume, self.get, self.tokens.token if self.tokens is not None else None,
                              self.allocatable() if self.allocatable is not None else None)
        if files is None:
            raise VolumeError(f"volume {name}: this volume type is not supported by kubeherd's kubelet yet")
        write_atomic(path, files)
        return path

    async def _claim_path(self, pod: Obj, source: Obj) -> Path:
        """The host path of the PersistentVolume bound to a claim, with upstream's checks."""
        namespace = pod["metadata"]["namespace"]
        claim_name = source.get("claimName", "")
        where = f"error processing PVC {namespace}/{claim_name}"
        claim = await self.get("persistentvolumeclaims", namespace, claim_name)
        if claim is None:
            raise VolumeError(f'{where}: failed to fetch PVC from API server: persistentvolumeclaims "{claim_name}" '
                              "not found")
        if claim["metadata"].get("deletionTimestamp"):
            raise VolumeError(f"{where}: PVC is being deleted")
        volume_name = (claim.get("spec") or {}).get("volumeName") or ""
        if (claim.get("status") or {}).get("phase") != "Bound" or not volume_name:
            raise VolumeError(f"{where}: PVC is not bound")
        pv = await self.get("persistentvolumes", "", volume_name)
        if pv is None:
            raise VolumeError(f'{where}: failed to fetch PV {volume_name} from API server: persistentvolumes '
                              f'"{volume_name}" not found')
        spec = pv.get("spec") or {}
        claim_ref = spec.get("claimRef")
        if not claim_ref:
            raise VolumeError(f'{where}: found PV object "{volume_name}" but it has a nil pv.Spec.ClaimRef indicating '
                              "it is not yet bound to the claim")
        if claim_ref.get("uid") != claim["metadata"].get("uid"):
            raise VolumeError(f'{where}: found PV object "{volume_name}" but its pv.Spec.ClaimRef.UID '
                              f'("{claim_ref.get("uid")}") does not point to claim.UID ("{claim["metadata"].get("uid")}")')
        if "hostPath" in spec:
            return host_path(spec["hostPath"] or {})
        if "local" in spec:
            path = Path((spec["local"] or {}).get("path", ""))
            if not path.exists():
                raise VolumeError(f'local volume "{volume_name}": path "{path}" does not exist')
            return path
        kinds = ", ".join(k for k in spec if k.endswith(("nfs", "iscsi", "csi", "rbd", "cephfs", "fc"))) \
            or "this source"
        raise VolumeError(f'PersistentVolume "{volume_name}": {kinds} volumes are not supported by kubeherd\'s '
                          "kubelet (hostPath and local are)")

    def teardown(self, uid: str) -> None:
        """Unmount and delete everything of pod ``uid`` (blocking: call from a thread)."""
        if self.tokens is not None:
            self.tokens.forget(uid)
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
