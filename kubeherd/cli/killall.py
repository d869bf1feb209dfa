"""`kubeherd killall [--data-dir DIR]`: stop every pod, container and the containerd that the
kubeherd of DIR made, and remove what they leave behind — nothing else on the machine.

Stopping the server or agent leaves pods (and our containerd) running by design, as k3s does;
this is the way to really stop a node. Design decisions:

* **Identify by the data dir only.** Our containerd is the process started with
  ``--config <DIR>/containerd/config.toml``; our shims are those started with
  ``-address <DIR>/containerd/containerd.sock``; mounts, network namespaces, runc state and IP
  leases are paths under DIR. A system containerd, another kubeherd's containerd and their
  shims never match, so they are never touched.
* **Tear pods down through CRI** (StopPodSandbox/RemovePodSandbox): only then does containerd run
  CNI DEL, which removes the pod's veth, its per-pod portmap chains (``CNI-DN-*``/``CNI-SN-*``),
  its host-local lease and libcni's cache entry. When our containerd is dead but its shims still
  run pods, a containerd is started on DIR just for the teardown (it reconnects to its shims) and
  stopped again. Only if that fails too are containers killed the hard way (``runc delete
  --force`` on our runc root, then SIGKILL of our shims), and the leftovers below are removed
  by path.
* **Then the sweep, each step idempotent:** mounts under DIR (deepest first; ``MNT_DETACH``
  only as a last resort), netns files, host-local leases under ``<DIR>/agent/cni/networks``,
  libcni cache files (``/var/lib/cni/results/*-<sandbox id>-*``) and shim sockets
  (``/run/containerd/s/sha256(<socket>/<ns>/<id>)``) of our sandboxes, host-port jump rules in
  ``CNI-HOSTPORT-DNAT`` whose comment names one of our sandboxes (left when CNI DEL never ran)
  with the ``CNI-DN-*`` chain they jump to, the pod cgroups (``kubepods/…/pod<uid>``, empty ones
  only) of our pods, and ``/run/containerd/s`` if empty (shims re-create it).
* **The bridge** named in our CNI config (``kubeherd0`` by default) is deleted only when no
  interface is attached to it any more and no other live kubeherd containerd's CNI config names
  it: another node on the same machine (tests, multi-node) may share it, and deleting a bridge
  under running pods would cut them off. The CNI bridge plugin re-creates it on the next pod.
* **Deliberately left:** portmap's global chains ``CNI-HOSTPORT-{DNAT,MASQ,SETMARK}`` and their
  jump rules — they are shared by every portmap user on the host (any CNI runtime), hold no rule of
  ours once CNI DEL ran, and removing them from under another runtime would break its host ports;
  the shared cgroup parents (``kubepods``, ``kubepods/besteffort``…), for the same reason; and the
  data dir itself (images, snapshots, certificates, the database): killall stops a node, it does
  not uninstall it.

Exit status 0 when nothing of ours is left (processes, mounts, netns files); otherwise a
one-line error and 1. Running it again has nothing to do and prints ``nothing to remove``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import ctypes.util
import functools
import hashlib
import ipaddress
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kubeherd.kubelet.cgroups import PodCgroupManager
from kubeherd.kubelet.cri import CRIClient, CRIError
from kubeherd.kubelet.runtime import BRIDGE_NAME, CNI_CONFIG_NAME, Containerd, ContainerdLayout

CNI_CACHE_DIR = Path("/var/lib/cni/results")
SHIM_SOCKET_DIR = Path("/run/containerd/s")
CGROUP_ROOT = Path("/sys/fs/cgroup")
_MNT_DETACH = 2


def _default_data_dir() -> str:
    return "/var/lib/kubeherd" if os.geteuid() == 0 else str(Path.home() / ".kubeherd")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("killall", help="stop every pod, container and the containerd of a kubeherd node, "
                                       "and remove their mounts and network leftovers")
    p.add_argument("--data-dir", "-d", default=_default_data_dir(),
                   help="data dir of the kubeherd to stop (default: /var/lib/kubeherd as root)")
    p.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])


# --- what exists -------------------------------------------------------------------------------

def _processes() -> Iterator[tuple[int, list[bytes]]]:
    """(pid, argv) of every live, non-zombie process but ourselves."""
    with os.scandir("/proc") as it:
        entries = [e.name for e in it if e.name.isdigit()]
    for name in entries:
        pid = int(name)
        if pid == os.getpid():
            continue
        try:
            argv = Path("/proc", name, "cmdline").read_bytes().rstrip(b"\0").split(b"\0")
            state = Path("/proc", name, "stat").read_text().rsplit(")", 1)[-1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z" and argv and argv[0]:
            yield pid, argv


def _flag(argv: list[bytes], *names: bytes) -> bytes | None:
    for i, arg in enumerate(argv[:-1]):
        if arg in names:
            return argv[i + 1]
    return None


def _containerds() -> dict[Path, int]:
    """Every live kubeherd-style containerd: its ``--config`` path → pid."""
    found: dict[Path, int] = {}
    for pid, argv in _processes():
        if os.path.basename(argv[0]) != b"containerd":
            continue
        config = _flag(argv, b"--config", b"-c")
        if config is not None:
            found[Path(os.fsdecode(config))] = pid
    return found


def _our_containerd(layout: ContainerdLayout) -> int | None:
    return _containerds().get(layout.config_file)


def _our_shims(layout: ContainerdLayout) -> dict[int, str]:
    """pid → task id of the shims serving our containerd (their ``-address`` is our socket)."""
    address = os.fsencode(str(layout.socket))
    return {pid: os.fsdecode(_flag(argv, b"-id") or b"") for pid, argv in _processes()
            if os.path.basename(argv[0]).startswith(b"containerd-shim") and _flag(argv, b"-address") == address}


def _mounts_under(path: Path) -> list[str]:
    prefix = str(path).rstrip("/") + "/"
    found = []
    with open("/proc/self/mountinfo", "rb") as f:
        for line in f:
            # mount points are octal-escaped: \040 for a space, \134 for a backslash …
            point = line.split()[4].decode("unicode_escape").encode("latin-1").decode(errors="surrogateescape")
            if point.startswith(prefix):
                found.append(point)
    return found


def _netns_files(layout: ContainerdLayout) -> list[Path]:
    return sorted(layout.netns_dir.iterdir()) if layout.netns_dir.is_dir() else []


def _runc_containers(layout: ContainerdLayout) -> list[tuple[Path, str]]:
    """(runc root, id) of every container in our runc state (one root per containerd namespace)."""
    if not layout.runc_root.is_dir():
        return []
    return [(root, entry.name) for root in sorted(layout.runc_root.iterdir()) if root.is_dir()
            for entry in sorted(root.iterdir()) if (entry / "state.json").exists()]


def _sandbox_dirs(layout: ContainerdLayout) -> set[str]:
    """Ids of the sandboxes (and tasks) containerd keeps state for under the data dir."""
    ids: set[str] = set()
    for d in (layout.root / "io.containerd.grpc.v1.cri" / "sandboxes",
              layout.state / "io.containerd.grpc.v1.cri" / "sandboxes"):
        if d.is_dir():
            ids.update(p.name for p in d.iterdir())
    task_dir = layout.state / "io.containerd.runtime.v2.task"
    if task_dir.is_dir():
        ids.update(p.name for ns in task_dir.iterdir() if ns.is_dir() for p in ns.iterdir())
    return ids


def _bridge_of(data_dir: Path) -> str | None:
    """The bridge named by the CNI config of the kubeherd of ``data_dir``, if it has one."""
    conflist = ContainerdLayout(data_dir).cni_conf_dir / CNI_CONFIG_NAME
    try:
        doc = json.loads(conflist.read_text())
    except (OSError, ValueError):
        return None
    for plugin in doc.get("plugins") or []:
        if plugin.get("type") == "bridge":
            return str(plugin.get("bridge") or "cni0")
    return None


# --- removing ----------------------------------------------------------------------------------

@dataclass
class Report:
    """What was removed (a message per kind, ``{n}`` standing for the count), and what could not be."""

    counts: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def add(self, kind: str, n: int = 1) -> None:
        if n:
            self.counts[kind] = self.counts.get(kind, 0) + n


async def _teardown_via_cri(endpoint: str, report: Report, sandbox_ids: set[str], pod_uids: set[str]) -> None:
    """Stop and remove every sandbox (which kills its containers and runs CNI DEL), then any
    container left without one. Containers get no grace period: this is a hard stop."""
    async with CRIClient(endpoint, timeout=60) as cri:
        sandboxes = await cri.list_pod_sandbox()
        containers = await cri.list_containers()
        sandbox_ids.update(s.id for s in sandboxes)
        pod_uids.update(s.metadata.uid for s in sandboxes if s.metadata and s.metadata.uid)

        async def remove(kind: str, stop: Awaitable[None], rm: Callable[[], Awaitable[None]], oid: str) -> None:
            try:
                await stop
                await rm()
            except CRIError as e:
                if not e.not_found:
                    report.errors.append(f"{kind} {oid[:13]}: {e}")

        await asyncio.gather(*(remove("pod sandbox", cri.stop_pod_sandbox(s.id),
                                      functools.partial(cri.remove_pod_sandbox, s.id), s.id) for s in sandboxes))
        orphans = await cri.list_containers()
        await asyncio.gather(*(remove("container", cri.stop_container(c.id, 0),
                                      functools.partial(cri.remove_container, c.id), c.id) for c in orphans))
        report.add("stopped and removed {n} pod sandboxes", len(sandboxes))
        report.add("stopped and removed {n} containers", len(containers))


async def _answers(endpoint: str) -> bool:
    async with CRIClient(endpoint, timeout=5) as cri:
        try:
            await cri.version()
        except CRIError:
            return False
    return True


def _terminate(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout``; returns when the process is gone (or a zombie)."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not any(p == pid for p, _ in _processes()):
                return
            time.sleep(0.05)


async def _stop_runtime(layout: ContainerdLayout, report: Report, sandbox_ids: set[str], pod_uids: set[str]) -> None:
    """Pods down through CRI (starting a containerd for it if ours is gone but pods run), then
    containerd stopped, then whatever still runs killed by runc and SIGKILL."""
    pid = _our_containerd(layout)
    endpoint = str(layout.socket)
    temporary: Containerd | None = None
    answering = pid is not None and await _answers(endpoint)
    if pid is not None and not answering:
        _terminate(pid)  # hung: it cannot help
        pid = None
    if not answering and (_our_shims(layout) or _runc_containers(layout)) and layout.config_file.exists():
        temporary = Containerd(layout)
        try:
            await temporary.start(timeout=20)
            answering = True
        except (RuntimeError, OSError, CRIError) as e:
            report.errors.append(f"could not start containerd for the teardown: {str(e).splitlines()[0]}")
            await temporary.stop()
            temporary = None
    if answering:
        try:
            await _teardown_via_cri(endpoint, report, sandbox_ids, pod_uids)
        except CRIError as e:
            report.errors.append(f"CRI teardown: {e}")
    if temporary is not None:
        await temporary.stop()
        report.add("started and stopped containerd for the teardown (ours was gone)")
    elif pid is not None:
        await asyncio.to_thread(_terminate, pid)
        report.add(f"stopped containerd (pid {pid})")

    # the hard way, for anything CRI did not (or could not) stop
    for root, cid in _runc_containers(layout):
        result = subprocess.run(["runc", "--root", str(root), "delete", "--force", cid], capture_output=True,
                                text=True, check=False, timeout=30)
        if result.returncode == 0:
            report.add("killed {n} containers with runc")
        sandbox_ids.add(cid)
    deadline = time.monotonic() + 3  # shims exit by themselves once their tasks are deleted
    while (shims := _our_shims(layout)) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    for shim_pid, task_id in shims.items():
        sandbox_ids.add(task_id)
        with contextlib.suppress(ProcessLookupError):
            os.kill(shim_pid, signal.SIGKILL)
        report.add("killed {n} shims")


def _unmount_all(data_dir: Path, report: Report) -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    for _ in range(5):  # stacked mounts come back one layer at a time
        mounts = _mounts_under(data_dir)
        if not mounts:
            return
        for point in sorted(set(mounts), key=lambda p: (p.count("/"), p), reverse=True):
            target = os.fsencode(point)
            if libc.umount2(target, 0) == 0 or libc.umount2(target, _MNT_DETACH) == 0:
                report.add("unmounted {n} mounts")


def _remove_files(layout: ContainerdLayout, report: Report, sandbox_ids: set[str]) -> None:
    for ns_file in _netns_files(layout):
        with contextlib.suppress(OSError):  # EBUSY while still mounted: reported as left over
            ns_file.unlink()
            report.add("removed {n} netns files")
    if layout.cni_ipam_dir.is_dir():
        for network in layout.cni_ipam_dir.iterdir():
            for lease in network.iterdir() if network.is_dir() else []:
                try:
                    ipaddress.ip_address(lease.name)
                except ValueError:
                    continue  # last_reserved_ip.0, lock
                with contextlib.suppress(FileNotFoundError):
                    lease.unlink()
                    report.add("released {n} host-local IP leases")
    ids = {i for i in sandbox_ids if len(i) == 64}
    if ids and CNI_CACHE_DIR.is_dir():
        for entry in CNI_CACHE_DIR.iterdir():
            parts = entry.name.split("-")
            if any(p in ids for p in parts):
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
                    report.add("removed {n} libcni cache files")
    # containerd 1.6: shim socket = /run/containerd/s/<sha256("<grpc address>/<namespace>/<id>")>
    task_dir = layout.state / "io.containerd.runtime.v2.task"
    namespaces = {p.name for p in task_dir.iterdir()} if task_dir.is_dir() else set()
    for ns in namespaces | {"k8s.io", "default"}:
        for cid in sandbox_ids:
            sock = SHIM_SOCKET_DIR / hashlib.sha256(f"{layout.socket}/{ns}/{cid}".encode()).hexdigest()
            with contextlib.suppress(FileNotFoundError):
                sock.unlink()
                report.add("removed {n} shim sockets")
    with contextlib.suppress(OSError):
        SHIM_SOCKET_DIR.rmdir()  # only when empty: other containerds' shims live here too
        report.add(f"removed empty {SHIM_SOCKET_DIR}")


def _remove_portmap_rules(sandbox_ids: set[str], report: Report) -> None:
    """The host-port rules of our pods when CNI DEL never ran for them: the jump rules in portmap's
    shared ``CNI-HOSTPORT-DNAT`` chain whose comment names one of our sandboxes
    (``dnat name: "kubeherd" id: "<sandbox id>"``) and the per-pod ``CNI-DN-*`` chains they jump to."""
    ids = {i for i in sandbox_ids if len(i) == 64}
    if not ids:
        return
    for tool in ("iptables", "ip6tables"):
        try:
            listing = subprocess.run([tool, "-w", "-t", "nat", "-S", "CNI-HOSTPORT-DNAT"], capture_output=True,
                                     text=True, check=False, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        for line in listing.stdout.splitlines():
            rule = shlex.split(line)
            if rule[:1] != ["-A"] or not any(f'id: "{i}"' in arg for arg in rule for i in ids):
                continue
            if subprocess.run([tool, "-w", "-t", "nat", "-D", *rule[1:]], capture_output=True,
                              check=False, timeout=30).returncode != 0:
                continue
            report.add("removed {n} host-port rules of our pods")
            target = rule[rule.index("-j") + 1] if "-j" in rule[:-1] else ""
            if target.startswith("CNI-DN-"):
                for op in ("-F", "-X"):
                    subprocess.run([tool, "-w", "-t", "nat", op, target], capture_output=True, check=False,
                                   timeout=30)


def _remove_pod_cgroups(pod_uids: set[str], report: Report) -> None:
    """The pod cgroups of our pods (cgroupfs: ``kubepods[/<qos>]/pod<uid>``), in every hierarchy."""
    if not pod_uids or not CGROUP_ROOT.is_dir():
        return
    hierarchies = [CGROUP_ROOT] + [p for p in CGROUP_ROOT.iterdir() if p.is_dir() and not p.is_symlink()]
    removed: set[str] = set()
    for uid in pod_uids:
        for hierarchy in hierarchies:
            for parent in ("kubepods", "kubepods/burstable", "kubepods/besteffort"):
                pod_dir = hierarchy / parent / f"pod{uid}"
                if not pod_dir.is_dir():
                    continue
                for dirpath, _, _ in sorted(os.walk(pod_dir), key=lambda w: w[0].count("/"), reverse=True):
                    with contextlib.suppress(OSError):
                        os.rmdir(dirpath)
                if not pod_dir.exists():
                    removed.add(uid)
    report.add("removed the cgroups of {n} pods", len(removed))


def _remove_bridge(data_dir: Path, report: Report) -> None:
    bridge = _bridge_of(data_dir) or BRIDGE_NAME
    sysfs = Path("/sys/class/net", bridge)
    if not (sysfs / "bridge").is_dir():
        return
    if (sysfs / "brif").is_dir() and any((sysfs / "brif").iterdir()):
        return  # interfaces of pods (ours would be gone by now) are still attached
    for config in _containerds():
        other = config.parent.parent
        if other != data_dir and _bridge_of(other) == bridge:
            return  # another live kubeherd node uses it
    result = subprocess.run(["ip", "link", "delete", bridge, "type", "bridge"], capture_output=True, text=True,
                            check=False, timeout=30)
    if result.returncode == 0:
        report.add(f"deleted bridge {bridge}")
    else:
        report.errors.append(f"ip link delete {bridge}: {result.stderr.strip()}")


def _leftovers(layout: ContainerdLayout) -> list[str]:
    left = []
    if (pid := _our_containerd(layout)) is not None:
        left.append(f"containerd pid {pid}")
    if shims := _our_shims(layout):
        left.append(f"shims {sorted(shims)}")
    if mounts := _mounts_under(layout.data_dir):
        left.append(f"{len(mounts)} mounts (first {mounts[0]})")
    if netns := _netns_files(layout):
        left.append(f"{len(netns)} netns files")
    return left


async def killall(data_dir: Path) -> tuple[Report, list[str]]:
    """Stop and remove everything the kubeherd of ``data_dir`` runs (see the module docstring).

    Returns what was removed and what is still there (empty when all is gone). Usable in process,
    e.g. by test fixtures; idempotent.
    """
    layout = ContainerdLayout(Path(data_dir).resolve())
    report = Report()
    sandbox_ids = _sandbox_dirs(layout)
    pod_uids: set[str] = set()
    recorded = PodCgroupManager(layout.data_dir / "agent" / "pod-cgroups")  # pod cgroups the kubelet made
    await _stop_runtime(layout, report, sandbox_ids, pod_uids)
    await asyncio.to_thread(_unmount_all, layout.data_dir, report)
    _remove_files(layout, report, sandbox_ids)
    _remove_portmap_rules(sandbox_ids, report)
    _remove_pod_cgroups(pod_uids | recorded.recorded(), report)
    for uid in recorded.recorded():
        recorded.remove_pod(uid)  # forgets the uids whose cgroups are gone
    _remove_bridge(layout.data_dir, report)
    return report, _leftovers(layout)


def killall_sync(data_dir: Path) -> tuple[Report, list[str]]:
    """:func:`killall` from synchronous code without a running event loop (test fixtures, benches)."""
    return asyncio.run(killall(data_dir))


def run(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir).resolve()
    if os.geteuid() != 0:
        print("kubeherd killall: must run as root", file=sys.stderr)
        return 1
    try:
        report, left = killall_sync(data_dir)
    except (OSError, RuntimeError, CRIError, subprocess.SubprocessError) as exc:
        print(f"kubeherd killall: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    for kind, n in report.counts.items():
        print(kind.format(n=n))
    if not report.counts and not left:
        print(f"nothing to remove for {data_dir}")
    if left or report.errors:
        problems = left + report.errors
        print(f"kubeherd killall: still left under {data_dir}: {'; '.join(problems)}", file=sys.stderr)
        return 1 if left else 0
    return 0
