"""Pod and container ``securityContext`` → CRI security contexts, runAsNonRoot checks, fsGroup ownership.

Upstream's rules, in one place:

* **Effective context**: the container's ``securityContext`` wins over the pod's for
  runAsUser, runAsGroup, runAsNonRoot, seLinuxOptions and seccompProfile; capabilities,
  privileged, readOnlyRootFilesystem, allowPrivilegeEscalation and procMount exist only on
  the container; supplementalGroups, fsGroup and sysctls only on the pod.
* **User**: with no runAsUser the image's user is passed on (its uid, or its name for the
  runtime to resolve); ``runAsNonRoot`` refuses a container that would run as uid 0 — an image
  without a user counts as root — and one whose image names a non-numeric user, which cannot
  be checked. The refusal is a ``CreateContainerConfigError`` with upstream's message.
* **Groups**: the fsGroup and then the supplementalGroups join every container (and the sandbox).
* **no_new_privs** only when ``allowPrivilegeEscalation: false``; **seccomp** from the container's
  or the pod's profile, Unconfined when neither sets one (upstream's default without
  ``SeccompDefault``), Localhost profiles under the node's seccomp root; the sandbox itself
  always gets RuntimeDefault. A pod with a privileged container gets a privileged sandbox,
  which containerd requires. procMount Default masks upstream's default /proc paths.
* **fsGroup ownership** (:func:`set_volume_ownership`): every file of an emptyDir, configMap,
  secret, downwardAPI or projected volume gets the group, directories get the setgid bit, and
  the group may read (and write, on writable volumes) — upstream's ``SetVolumeOwnership``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from .cri import (
    Capability,
    Image,
    LinuxContainerSecurityContext,
    LinuxSandboxSecurityContext,
    NamespaceOption,
    ProfileType,
    SecurityProfile,
)

Obj = dict[str, Any]

# upstream's defaults for procMount: Default (securitycontext util)
DEFAULT_MASKED_PATHS = ("/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
                        "/sys/devices/virtual/powercap")
DEFAULT_READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
OWNED_VOLUME_KINDS = ("emptyDir", "configMap", "secret", "downwardAPI", "projected")
READONLY_VOLUME_KINDS = ("configMap", "secret", "downwardAPI", "projected")
_POD_FIELDS = ("runAsUser", "runAsGroup", "runAsNonRoot", "seLinuxOptions", "seccompProfile", "appArmorProfile")


class SecurityContextError(Exception):
    """A container that must not be created as specified (``CreateContainerConfigError``)."""


def pod_ref(pod: Obj) -> str:
    """Upstream's ``format.Pod``: ``name_namespace(uid)``."""
    meta = pod["metadata"]
    return f"{meta['name']}_{meta['namespace']}({meta['uid']})"


def effective(pod: Obj, container: Obj) -> Obj:
    """The container's security context with the pod-level fields it does not set filled in."""
    pod_sc = (pod.get("spec") or {}).get("securityContext") or {}
    out = dict(container.get("securityContext") or {})
    for name in _POD_FIELDS:
        if name not in out and name in pod_sc:
            out[name] = pod_sc[name]
    return out


def image_user(image: Image | None) -> tuple[int | None, str]:
    """(uid, username) the image runs as; an image with neither set counts as root, as upstream."""
    if image is not None:
        if image.uid is not None:
            return image.uid, ""
        if image.username:
            return None, image.username
    return 0, ""


def verify_run_as_non_root(pod: Obj, container: Obj, uid: int | None, username: str) -> None:
    sc = effective(pod, container)
    if not sc.get("runAsNonRoot"):
        return
    where = f'(pod: "{pod_ref(pod)}", container: {container["name"]})'
    if sc.get("runAsUser") is not None:
        if int(sc["runAsUser"]) == 0:
            raise SecurityContextError(f"container's runAsUser breaks non-root policy {where}")
        return
    if uid == 0:
        raise SecurityContextError(f"container has runAsNonRoot and image will run as root {where}")
    if uid is None and username:
        raise SecurityContextError(f"container has runAsNonRoot and image has non-numeric user ({username}), "
                                   f"cannot verify user is non-root {where}")


def seccomp_profile(profile: Obj | None, seccomp_root: Path) -> SecurityProfile:
    profile = profile or {}
    kind = profile.get("type") or "Unconfined"
    if kind == "RuntimeDefault":
        return SecurityProfile(profile_type=ProfileType.RuntimeDefault)
    if kind == "Localhost":
        return SecurityProfile(profile_type=ProfileType.Localhost,
                               localhost_ref=str(seccomp_root / str(profile.get("localhostProfile") or "")))
    return SecurityProfile(profile_type=ProfileType.Unconfined)


def supplemental_groups(pod: Obj) -> list[int]:
    pod_sc = (pod.get("spec") or {}).get("securityContext") or {}
    groups = [int(pod_sc["fsGroup"])] if pod_sc.get("fsGroup") is not None else []
    return groups + [int(g) for g in pod_sc.get("supplementalGroups") or []]


def has_privileged_container(pod: Obj) -> bool:
    spec = pod.get("spec") or {}
    return any(((c.get("securityContext") or {}).get("privileged")) for c in
               (spec.get("initContainers") or []) + (spec.get("containers") or []))


def container_security_context(pod: Obj, container: Obj, namespaces: NamespaceOption, image: Image | None,
                               seccomp_root: Path) -> LinuxContainerSecurityContext:
    """The CRI security context of ``container``; raises :class:`SecurityContextError` for runAsNonRoot."""
    sc = effective(pod, container)
    uid, username = image_user(image)
    verify_run_as_non_root(pod, container, uid, username)
    run_as_user = sc.get("runAsUser")
    caps = sc.get("capabilities") or {}
    unmasked = sc.get("procMount") == "Unmasked"
    return LinuxContainerSecurityContext(
        capabilities=Capability(add_capabilities=[str(c) for c in caps.get("add") or []],
                                drop_capabilities=[str(c) for c in caps.get("drop") or []]) if caps else None,
        privileged=bool(sc.get("privileged")),
        namespace_options=namespaces,
        run_as_user=int(run_as_user) if run_as_user is not None else (uid if image is not None else None),
        run_as_username="" if run_as_user is not None else username,
        run_as_group=int(sc["runAsGroup"]) if sc.get("runAsGroup") is not None else None,
        readonly_rootfs=bool(sc.get("readOnlyRootFilesystem")),
        supplemental_groups=supplemental_groups(pod),
        no_new_privs=sc.get("allowPrivilegeEscalation") is False,
        masked_paths=[] if unmasked else list(DEFAULT_MASKED_PATHS),
        readonly_paths=[] if unmasked else list(DEFAULT_READONLY_PATHS),
        seccomp=seccomp_profile(sc.get("seccompProfile"), seccomp_root),
    )


def sandbox_security_context(pod: Obj, namespaces: NamespaceOption) -> LinuxSandboxSecurityContext:
    pod_sc = (pod.get("spec") or {}).get("securityContext") or {}
    return LinuxSandboxSecurityContext(
        namespace_options=namespaces,
        run_as_user=int(pod_sc["runAsUser"]) if pod_sc.get("runAsUser") is not None else None,
        run_as_group=int(pod_sc["runAsGroup"]) if pod_sc.get("runAsGroup") is not None else None,
        supplemental_groups=supplemental_groups(pod),
        privileged=has_privileged_container(pod),
        seccomp=SecurityProfile(profile_type=ProfileType.RuntimeDefault))


def sysctls(pod: Obj) -> dict[str, str]:
    pod_sc = (pod.get("spec") or {}).get("securityContext") or {}
    return {str(s["name"]): str(s.get("value", "")) for s in pod_sc.get("sysctls") or [] if s.get("name")}


# ---------------------------------------------------------------- fsGroup


def _wanted_mode(mode: int, readonly: bool) -> int:
    mask = 0o440 if readonly else 0o660
    if stat.S_ISDIR(mode):
        mask |= stat.S_ISGID | 0o110
    return stat.S_IMODE(mode) | mask


def _own(path: str, gid: int, readonly: bool) -> None:
    st = os.lstat(path)
    if st.st_gid != gid:
        os.lchown(path, -1, gid)
    if stat.S_ISLNK(st.st_mode):
        return
    wanted = _wanted_mode(st.st_mode, readonly)
    if stat.S_IMODE(st.st_mode) != wanted:
        os.chmod(path, wanted)


def set_volume_ownership(root: Path, gid: int, readonly: bool, *, root_only: bool = False) -> None:
    """Give everything under ``root`` to group ``gid`` (blocking: call from a thread).
    ``root_only`` fixes just the top directory (a volume already walked once)."""
    _own(str(root), gid, readonly)
    if root_only:
        return
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            _own(os.path.join(dirpath, name), gid, readonly)


def apply_fs_group(pod: Obj, volume_paths: dict[str, Path], walked: set[str]) -> None:
    """Apply the pod's fsGroup to its volumes (blocking). ``walked`` names the emptyDirs already
    walked: only their top directory is re-checked, as upstream walks a volume once, at setup."""
    gid = ((pod.get("spec") or {}).get("securityContext") or {}).get("fsGroup")
    if gid is None:
        return
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        kind = next((k for k in OWNED_VOLUME_KINDS if k in volume), None)
        path = volume_paths.get(volume["name"])
        if kind is None or path is None or not path.exists():
            continue
        readonly = kind in READONLY_VOLUME_KINDS
        once = kind == "emptyDir"
        set_volume_ownership(path, int(gid), readonly, root_only=once and volume["name"] in walked)
        if once:
            walked.add(volume["name"])
