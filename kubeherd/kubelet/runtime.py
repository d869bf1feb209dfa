"""The node's container runtime: a containerd of our own under the data dir, or one given to us.

Design decisions (facts in NODE-PROTOCOLS.md §1–2):

* **Everything under the data dir.** ``<data>/containerd/`` holds config, root, state, opt,
  the gRPC/ttrpc sockets, the registry host configs (``certs.d``) and containerd's log; the
  pod network's CNI config and host-local leases live under ``<data>/agent/cni/``. So two
  kubeherds on one machine (tests, multi-node in netns) never share a runtime, and
  ``killall`` knows where to look. The config is regenerated on every start from the layout;
  there is nothing to hand-edit.
* **containerd outlives us; pods outlive containerd.** containerd is started in its own session
  and is *not* killed if kubeherd dies: a restarted kubeherd finds it (by its command line,
  which names our config file) and adopts it, so a SIGKILLed server re-adopts running pods.
  ``stop()`` stops containerd only; the shims keep containers running, as k3s does.
* **Readiness = CRI answers** (``Version``), not "the socket exists".
* **``--container-runtime-endpoint``** (k3s's flag): :func:`start_runtime` then only waits for
  that endpoint; nothing is started, configured or stopped, and the CNI config is that
  runtime's business.
* **This machine class lacks CAP_SYS_RESOURCE**, so ``restrict_oom_score_adj = true`` is
  required for any sandbox to start; network namespaces are mounted under our state dir.
* The CNI conflist (bridge ``kubeherd0`` + host-local + portmap; containerd adds loopback
  itself) needs the node's podCIDR, which the kubelet learns from its Node object:
  :func:`write_cni_config` is called then, and containerd (watching the directory) reports
  ``NetworkReady`` from that moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cri import CRIClient, CRIError, VersionInfo
from .images import PAUSE_IMAGE
from .registries import RegistriesConfig, write_hosts_config

log = logging.getLogger(__name__)

CNI_PACKAGE = "containernetworking-plugins"
CNI_BIN_CANDIDATES = ("/usr/lib/cni", "/opt/cni/bin", "/usr/libexec/cni")
CNI_PLUGINS_NEEDED = ("bridge", "host-local", "portmap", "loopback")
BRIDGE_NAME = "kubeherd0"
NETWORK_NAME = "kubeherd"
CNI_CONFIG_NAME = "10-kubeherd.conflist"
_SUN_PATH_MAX = 107  # sizeof(sockaddr_un.sun_path) - 1 on Linux
_SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class ContainerdLayout:
    """Where our containerd and the pod network keep their files, all derived from the data dir."""

    data_dir: Path

    @property
    def base(self) -> Path:
        return self.data_dir / "containerd"

    @property
    def config_file(self) -> Path:
        return self.base / "config.toml"

    @property
    def root(self) -> Path:
        return self.base / "root"

    @property
    def state(self) -> Path:
        return self.base / "state"

    @property
    def opt(self) -> Path:
        return self.base / "opt"

    @property
    def socket(self) -> Path:
        return self.base / "containerd.sock"

    @property
    def ttrpc_socket(self) -> Path:
        return self.base / "containerd.sock.ttrpc"

    @property
    def runc_root(self) -> Path:
        return self.state / "runc"

    @property
    def netns_dir(self) -> Path:
        """Where containerd mounts pod network namespaces (``netns_mounts_under_state_dir``)."""
        return self.state / "io.containerd.grpc.v1.cri" / "netns"

    @property
    def certs_d(self) -> Path:
        """Registry host configs: ``certs.d/<host>/hosts.toml`` (mirrors, insecure registries)."""
        return self.base / "certs.d"

    @property
    def log_file(self) -> Path:
        return self.base / "containerd.log"

    @property
    def cni_conf_dir(self) -> Path:
        return self.data_dir / "agent" / "cni" / "net.d"

    @property
    def cni_ipam_dir(self) -> Path:
        """host-local's lease files (instead of /var/lib/cni/networks)."""
        return self.data_dir / "agent" / "cni" / "networks"

    @property
    def images_dir(self) -> Path:
        """Image archives imported at every start (``<data>/agent/images/*.tar``)."""
        return self.data_dir / "agent" / "images"

    @property
    def pod_logs_dir(self) -> Path:
        """Suggested root of the pods' CRI log directories (upstream: /var/log/pods)."""
        return self.data_dir / "agent" / "pod-logs"

    def check_socket_length(self) -> None:
        longest = str(self.ttrpc_socket)
        if len(longest.encode()) > _SUN_PATH_MAX:
            raise ValueError(f"data dir {self.data_dir} is too long: the containerd socket path {longest} "
                             f"exceeds {_SUN_PATH_MAX} bytes, the limit of a unix socket address")


def cni_bin_dir() -> Path:
    """The directory of the CNI plugin binaries, as Debian's package installed them (/usr/lib/cni)."""
    try:
        listing = subprocess.run(["dpkg-query", "-L", CNI_PACKAGE], capture_output=True, text=True,
                                 check=False, timeout=10).stdout.splitlines()
    except (OSError, subprocess.TimeoutExpired):
        listing = []
    candidates = [str(Path(p).parent) for p in listing if p.endswith("/bridge")] + list(CNI_BIN_CANDIDATES)
    for candidate in candidates:
        d = Path(candidate)
        if all(os.access(d / plugin, os.X_OK) for plugin in CNI_PLUGINS_NEEDED):
            return d
    raise FileNotFoundError(f"no CNI plugins ({', '.join(CNI_PLUGINS_NEEDED)}) found; install the Debian "
                            f"package {CNI_PACKAGE} (scripts/install does)")


def _toml(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def render_config(layout: ContainerdLayout, *, cni_bin: Path, sandbox_image: str = PAUSE_IMAGE) -> str:
    """containerd's config.toml for ``layout`` (NODE-PROTOCOLS.md §2)."""
    cri = '[plugins."io.containerd.grpc.v1.cri"]'
    return "\n".join([
        "# Written by kubeherd at every start; edits are overwritten.",
        "version = 2",
        f"root = {_toml(str(layout.root))}",
        f"state = {_toml(str(layout.state))}",
        # snapshotters that cannot work here only slow the start and fill the log
        'disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",'
        ' "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]',
        "",
        "[grpc]",
        f"  address = {_toml(str(layout.socket))}",
        "[ttrpc]",
        f"  address = {_toml(str(layout.ttrpc_socket))}",
        "",
        '[plugins."io.containerd.internal.v1.opt"]',
        f"  path = {_toml(str(layout.opt))}",
        "",
        cri,
        f"  sandbox_image = {_toml(sandbox_image)}",
        '  stream_server_address = "127.0.0.1"',
        '  stream_server_port = "0"',
        "  restrict_oom_score_adj = true",
        "  netns_mounts_under_state_dir = true",
        "  enable_selinux = false",
        f"  [{cri[1:-1]}.containerd]",
        '    snapshotter = "overlayfs"',
        '    default_runtime_name = "runc"',
        f"    [{cri[1:-1]}.containerd.runtimes.runc]",
        '      runtime_type = "io.containerd.runc.v2"',
        f"      [{cri[1:-1]}.containerd.runtimes.runc.options]",
        "        SystemdCgroup = false",
        f"        Root = {_toml(str(layout.runc_root))}",
        f"  [{cri[1:-1]}.cni]",
        f"    bin_dir = {_toml(str(cni_bin))}",
        f"    conf_dir = {_toml(str(layout.cni_conf_dir))}",
        f"  [{cri[1:-1]}.registry]",
        f"    config_path = {_toml(str(layout.certs_d))}",
        "",
    ])


# --- the pod network ---------------------------------------------------------------------------

def cni_config(pod_cidr: str, *, ipam_dir: Path, bridge: str = BRIDGE_NAME, mtu: int | None = None,
               name: str = NETWORK_NAME) -> dict[str, Any]:
    """The conflist of the node's pod network: every pod on ``bridge`` with an IP from ``pod_cidr``.

    The gateway (first address) is the bridge's own address, so the node reaches pods
    directly. ``ipMasq`` stays off (it would SNAT pod-to-pod traffic between nodes; egress
    masquerade is the network component's job); ``hairpinMode`` lets a pod reach itself
    through a Service.
    """
    network = ipaddress.ip_network(pod_cidr, strict=False)
    gateway = str(next(network.hosts()))
    default_route = "0.0.0.0/0" if network.version == 4 else "::/0"
    bridge_conf: dict[str, Any] = {
        "type": "bridge", "bridge": bridge, "isGateway": True, "ipMasq": False, "hairpinMode": True,
        "forceAddress": True,
        "ipam": {"type": "host-local", "dataDir": str(ipam_dir),
                 "ranges": [[{"subnet": str(network), "gateway": gateway}]],
                 "routes": [{"dst": default_route}]},
    }
    if mtu:
        bridge_conf["mtu"] = mtu
    return {"cniVersion": "1.0.0", "name": name, "plugins": [
        bridge_conf,
        {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True},
    ]}


def write_cni_config(layout: ContainerdLayout, pod_cidr: str, *, mtu: int | None = None,
                     bridge: str = BRIDGE_NAME) -> Path:
    """Write the pod network conflist for ``pod_cidr`` (atomically; containerd picks it up by itself).

    Call it when the node's ``spec.podCIDR`` is known; writing the same CIDR again is a no-op.
    """
    layout.cni_conf_dir.mkdir(parents=True, exist_ok=True)
    layout.cni_ipam_dir.mkdir(parents=True, exist_ok=True)
    path = layout.cni_conf_dir / CNI_CONFIG_NAME
    text = json.dumps(cni_config(pod_cidr, ipam_dir=layout.cni_ipam_dir, bridge=bridge, mtu=mtu), indent=2) + "\n"
    if path.exists() and path.read_text() == text:
        return path
    tmp = layout.cni_conf_dir / f".{CNI_CONFIG_NAME}.tmp"  # no .conf/.conflist/.json suffix: never read
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


# --- registries --------------------------------------------------------------------------------

def write_registries(layout: ContainerdLayout, spec: Mapping[str, Any] | RegistriesConfig) -> list[Path]:
    """Registry mirrors and TLS settings, from a k3s-style ``registries.yaml`` (mapping or parsed),
    written as ``certs.d/<host>/hosts.toml`` for containerd's ``config_path``; see
    :mod:`kubeherd.kubelet.registries`."""
    config = spec if isinstance(spec, RegistriesConfig) else RegistriesConfig.from_mapping(spec)
    return write_hosts_config(layout.certs_d, config)


# --- the containerd process --------------------------------------------------------------------

def _running_containerd(config_file: Path) -> int | None:
    """The pid of a live containerd started with ``--config config_file``, if any."""
    wanted = str(config_file).encode()
    with os.scandir("/proc") as entries:
        for entry in entries:
            if not entry.name.isdigit():
                continue
            try:
                argv = Path(entry.path, "cmdline").read_bytes().split(b"\0")
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            if stat.rsplit(")", 1)[-1].split()[0] == "Z":
                continue
            if argv and os.path.basename(argv[0]) == b"containerd" and wanted in argv:
                idx = argv.index(wanted)
                if idx > 0 and argv[idx - 1] in (b"--config", b"-c"):
                    return int(entry.name)
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


class Containerd:
    """A containerd of our own, configured from a :class:`ContainerdLayout`."""

    def __init__(self, layout: ContainerdLayout, *, binary: str = "containerd", log_level: str = "info",
                 sandbox_image: str = PAUSE_IMAGE) -> None:
        self.layout = layout
        self.binary = binary
        self.log_level = log_level
        self.sandbox_image = sandbox_image
        self.pid: int | None = None
        self.adopted = False
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return str(self.layout.socket)

    def write_config(self) -> Path:
        layout = self.layout
        layout.check_socket_length()
        for d in (layout.base, layout.root, layout.state, layout.opt, layout.certs_d, layout.cni_conf_dir,
                  layout.cni_ipam_dir, layout.images_dir):
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(layout.base, 0o711)
        text = render_config(layout, cni_bin=cni_bin_dir(), sandbox_image=self.sandbox_image)
        tmp = layout.config_file.with_suffix(".toml.tmp")
        tmp.write_text(text)
        os.replace(tmp, layout.config_file)
        return layout.config_file

    async def start(self, timeout: float = 30.0) -> VersionInfo:
        """Start containerd (or adopt the one already running on this data dir) and wait until
        its CRI answers. Returns the runtime's version."""
        # config, /proc scan, dpkg-query and fork+exec: off the event loop
        await asyncio.to_thread(self._spawn_or_adopt)
        deadline = time.monotonic() + timeout
        while not self.layout.socket.exists() and self.running() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)  # connecting before the socket exists costs a reconnect backoff
        async with CRIClient(self.endpoint) as cri:
            while True:
                if not self.running():
                    raise RuntimeError(f"containerd exited during start-up; see {self.layout.log_file}:\n"
                                       + self._log_tail())
                try:
                    return await cri.wait_ready(timeout=min(1.0, max(0.1, deadline - time.monotonic())))
                except CRIError:
                    if time.monotonic() >= deadline:
                        raise RuntimeError(f"containerd did not answer on {self.endpoint} within {timeout:g}s; "
                                           f"see {self.layout.log_file}:\n" + self._log_tail()) from None

    def _spawn_or_adopt(self) -> None:
        config = self.write_config()
        pid = _running_containerd(config)
        if pid is not None:
            log.info("adopting containerd pid %d already running on %s", pid, self.layout.base)
            self.pid, self.adopted = pid, True
            return
        env = {**os.environ, "PATH": os.environ.get("PATH", "") + ":" + _SYSTEM_PATH}
        # under systemd (Type=notify) containerd would otherwise report *our* readiness
        env.pop("NOTIFY_SOCKET", None)
        with open(self.layout.log_file, "ab") as logf:
            self._process = subprocess.Popen(
                [self.binary, "--config", str(config), "--log-level", self.log_level],
                stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, env=env, cwd=str(self.layout.base),
                start_new_session=True)  # our Ctrl-C and our death must not stop it
        self.pid, self.adopted = self._process.pid, False
        log.info("started containerd pid %d (log %s)", self.pid, self.layout.log_file)

    def running(self) -> bool:
        if self._process is not None:
            return self._process.poll() is None
        return self.pid is not None and _alive(self.pid)

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop containerd (SIGTERM, SIGKILL after ``timeout``). Running containers keep running."""
        if self.pid is None:
            return
        pid = self.pid
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.running() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if self.running():
            log.warning("containerd pid %d did not stop in %gs; killing it", pid, timeout)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            while self.running():
                await asyncio.sleep(0.05)
        self.pid = None
        self._process = None

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.layout.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@dataclass
class Runtime:
    """The node's CRI runtime: its endpoint, and our containerd when we manage it."""

    endpoint: str
    version: VersionInfo
    containerd: Containerd | None = None

    @property
    def managed(self) -> bool:
        return self.containerd is not None

    def client(self) -> CRIClient:
        return CRIClient(self.endpoint)

    async def stop(self) -> None:
        """Stop our containerd (pods keep running); an external runtime is left alone."""
        if self.containerd is not None:
            await self.containerd.stop()


async def start_runtime(data_dir: Path, container_runtime_endpoint: str = "", *,
                        timeout: float = 30.0) -> Runtime:
    """The runtime the kubelet of ``data_dir`` uses: the given endpoint (waited for, not
    configured), or our containerd started (or adopted) under ``data_dir``."""
    if container_runtime_endpoint:
        async with CRIClient(container_runtime_endpoint) as cri:
            version = await cri.wait_ready(timeout=timeout)
        return Runtime(container_runtime_endpoint, version)
    containerd = Containerd(ContainerdLayout(Path(data_dir).resolve()))
    version = await containerd.start(timeout=timeout)
    return Runtime(containerd.endpoint, version, containerd)
