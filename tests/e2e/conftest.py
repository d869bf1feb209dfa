"""One real containerd per test session, driven through the CRI client.

The session fixture ``node`` builds the local images (``scripts/build-images``, <1 s), starts
our containerd in a short temporary data dir (unix socket paths must stay under 108 bytes, so
``/tmp/khXXXXXXXX``, not pytest's long tmp paths), imports the images, writes the pod network
config, and at the end removes every sandbox, stops containerd and checks that nothing is left
under the data dir (mounts, network namespaces, shims, IP leases) before deleting it.

The pod network uses its own bridge and a /24 no kubeherd node would pick by default, so a
session never disturbs a kubeherd running on the same machine; the session deletes that
bridge (a kubeherd node keeps its ``kubeherd0``; ``killall`` removes it).

Every test here is marked ``e2e`` (``-m e2e`` selects them, ``-m "not e2e"`` skips them). They
need root and the system packages of ``scripts/install``; without root they are skipped, with
root a missing package is a failure, not a skip.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from kubeherd.cli.killall import killall_sync
from kubeherd.kubelet.cri import (
    ContainerConfig,
    ContainerMetadata,
    CRIClient,
    CRIError,
    ImageSpec,
    LinuxContainerConfig,
    LinuxContainerSecurityContext,
    LinuxPodSandboxConfig,
    LinuxSandboxSecurityContext,
    NamespaceMode,
    NamespaceOption,
    PodSandboxConfig,
    PodSandboxMetadata,
)
from kubeherd.kubelet.images import BUSYBOX_IMAGE, PAUSE_IMAGE, ImportedImage, import_archive
from kubeherd.kubelet.runtime import Containerd, ContainerdLayout, write_cni_config
from tests.integration.conftest import Cluster, start_server, stop_server

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[2]
IMAGES_DIR = REPO / "build" / "images"
TEST_SLOT = int(os.environ.get("KUBEHERD_TEST_SLOT", "0"))  # side-by-side runs get their own subnet
POD_CIDR = f"10.42.{254 - TEST_SLOT}.0/24"
BRIDGE = "khe2e0"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: real containers through containerd (root, system packages)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)
            if os.geteuid() != 0:
                item.add_marker(pytest.mark.skip(reason="e2e tests run containers and need root"))


class BackgroundLoop:
    """An event loop in a thread: grpc.aio channels belong to one loop, and the session's
    client outlives every test, so all CRI calls run here and tests stay plain functions."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="cri-loop", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 120.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@dataclass
class Node:
    """The session's containerd, its CRI client and helpers to build pod configs."""

    layout: ContainerdLayout
    containerd: Containerd
    cri: CRIClient
    loop: BackgroundLoop
    imported: list[ImportedImage]
    pod_cidr: str = POD_CIDR
    _pods: int = field(default=0)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 120.0) -> T:
        return self.loop.run(coro, timeout)

    def sandbox_config(self, name: str = "", **kwargs: Any) -> PodSandboxConfig:
        """A pod-network sandbox config with a unique name and uid, logging under the data dir."""
        self._pods += 1
        name = name or f"pod{self._pods}"
        uid = f"uid-{os.getpid()}-{self._pods}"
        kwargs.setdefault("hostname", name)
        kwargs.setdefault("linux", LinuxPodSandboxConfig(security_context=LinuxSandboxSecurityContext(
            namespace_options=NamespaceOption(pid=NamespaceMode.CONTAINER))))
        return PodSandboxConfig(metadata=PodSandboxMetadata(name=name, uid=uid, namespace="e2e"),
                                log_directory=str(self.layout.pod_logs_dir / f"e2e_{name}_{uid}"),
                                labels={"io.kubernetes.pod.name": name, "kubeherd-e2e": "true"}, **kwargs)

    @staticmethod
    def container_config(name: str, command: list[str], **kwargs: Any) -> ContainerConfig:
        """A busybox container in its own PID namespace (as upstream without shareProcessNamespace)."""
        kwargs.setdefault("linux", LinuxContainerConfig(security_context=LinuxContainerSecurityContext(
            namespace_options=NamespaceOption(pid=NamespaceMode.CONTAINER))))
        return ContainerConfig(metadata=ContainerMetadata(name=name), image=ImageSpec(image=BUSYBOX_IMAGE),
                               command=command, log_path=f"{name}/0.log", **kwargs)


def run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=120)


def mounts_under(path: Path) -> list[str]:
    prefix = str(path) + "/"
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(prefix)]


def processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes naming ``text`` (e.g. our socket: the shims do)."""
    found = []
    with os.scandir("/proc") as it:
        entries = list(it)
    for entry in entries:
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = Path(entry.path, "stat").read_text().rsplit(")", 1)[-1].split()[0]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            found.append(f"{entry.name}: {cmdline.strip()}")
    return found


async def remove_all_sandboxes(cri: CRIClient) -> None:
    for sandbox in await cri.list_pod_sandbox():
        await cri.stop_pod_sandbox(sandbox.id)
        await cri.remove_pod_sandbox(sandbox.id)


def wait_for(predicate: Any, timeout: float = 20.0, interval: float = 0.05, message: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


@pytest.fixture(scope="session")
def built_images() -> dict[str, Path]:
    missing = [tool for tool in ("containerd", "ctr", "runc") if shutil.which(tool) is None
               and not Path("/usr/sbin", tool).exists()]
    assert not missing, f"missing {missing}: run scripts/install as root"
    result = run(str(REPO / "scripts" / "build-images"), check=False)
    assert result.returncode == 0, f"scripts/build-images failed:\n{result.stdout}\n{result.stderr}"
    return {PAUSE_IMAGE: IMAGES_DIR / "pause.tar", BUSYBOX_IMAGE: IMAGES_DIR / "busybox.tar"}


@pytest.fixture(scope="session")
def node(built_images: dict[str, Path]) -> Iterator[Node]:
    data_dir = Path(tempfile.mkdtemp(prefix="kh", dir="/tmp"))
    layout = ContainerdLayout(data_dir)
    containerd = Containerd(layout)
    loop = BackgroundLoop()
    cri = CRIClient(containerd.endpoint)
    try:
        loop.run(containerd.start())
        imported = [image for archive in built_images.values()
                    for image in loop.run(import_archive(containerd.endpoint, archive))]
        write_cni_config(layout, POD_CIDR, bridge=BRIDGE)

        async def network_ready() -> bool:
            cond = (await cri.status()).condition("NetworkReady")
            return cond is not None and cond.status

        wait_for(lambda: loop.run(network_ready()), message="containerd to load the CNI config")
        yield Node(layout, containerd, cri, loop, imported)
    finally:
        try:
            if containerd.running():
                loop.run(remove_all_sandboxes(cri))
            loop.run(cri.close())
            loop.run(containerd.stop())
        finally:
            loop.close()
            leftovers = {
                "mounts": mounts_under(data_dir),
                "processes": processes_mentioning(str(layout.socket)),
                "netns": sorted(p.name for p in layout.netns_dir.glob("*")) if layout.netns_dir.exists() else [],
                "leases": sorted(p.name for p in (layout.cni_ipam_dir / "kubeherd").glob("*")
                                 if p.name[0].isdigit()) if (layout.cni_ipam_dir / "kubeherd").exists() else [],
            }
            # measured above before it, so a leak of the CRI teardown still fails the session
            killall_sync(data_dir)  # removes the leaks and the bridge (kept while another session uses it)
            if not mounts_under(data_dir):
                shutil.rmtree(data_dir, ignore_errors=True)
            assert not any(leftovers.values()), f"left behind under {data_dir}: {leftovers}"


@pytest.fixture
def cleanup(node: Node) -> Iterator[list[str]]:
    """Sandbox ids a test created; stopped and removed after it, whatever happened."""
    ids: list[str] = []
    yield ids
    for sandbox_id in ids:
        try:
            node.run(node.cri.stop_pod_sandbox(sandbox_id))
            node.run(node.cri.remove_pod_sandbox(sandbox_id))
        except CRIError as e:
            if not e.not_found:
                raise


@contextmanager
def agent_cluster(*extra: str) -> Iterator[Cluster]:
    """A `kubeherd server` with its agent (containerd, kubelet) in a short temporary data dir,
    its node Ready; afterwards stopped, `killall`ed (nothing may be left behind) and removed."""
    tmp = Path(tempfile.mkdtemp(prefix="kh", dir="/tmp"))
    cluster = start_server(tmp, list(extra), agent=True)
    try:
        wait_for(lambda: "Ready" in cluster.kubectl("get", "nodes", check=False).stdout, timeout=60,
                 message="the node to be Ready")
        yield cluster
    finally:
        if cluster.process.poll() is None:
            stop_server(cluster)
        _, left = killall_sync(cluster.data_dir)  # pods, containerd, mounts, leases, the bridge if unused
        assert not left, left
        shutil.rmtree(tmp, ignore_errors=True)
