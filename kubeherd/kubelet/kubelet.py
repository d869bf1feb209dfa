"""The Kubelet: registers its Node, keeps its Lease, and runs the pods bound to it through CRI.

Design:

* **A client of the API only.** Node, Lease and pod status writes go through the API as any
  kubelet's; the pods come from one informer with ``spec.nodeName=<node>``.
* **Level-triggered pod workers.** Informer events, runtime changes and timers only enqueue a
  pod key; a worker (:class:`~kubeherd.kubelet.podworker.PodSyncer`) reads the pod from the
  cache and the runtime's truth from CRI, acts, and reports status. The work queue never
  runs one key on two workers at once, which is upstream's "one worker per pod".
* **PLEG by relisting**, as upstream's generic PLEG: once a second one ``ListContainers``
  call is compared with the last; a pod whose containers changed state is synced. That is
  how an exit becomes a restart and a status update within about a second.
* **Housekeeping** every 2 s: sandboxes of pods the API no longer has are stopped and
  removed (never before the informer has synced, so a restarted kubelet kills nothing it
  should keep), and every pod is re-synced every few seconds, which re-projects
  configMap/secret/downwardAPI volumes into running pods.
* **Node-local duties in their own modules**, each a loop started here: static pods from
  manifest files and their mirror pods (:mod:`~kubeherd.kubelet.staticpods`; the workers read
  pods through its :class:`PodSource`, API pods and static pods merged), node-pressure eviction
  (:mod:`~kubeherd.kubelet.eviction`; it also owns the pressure conditions of the node status)
  and container log rotation (:mod:`~kubeherd.kubelet.logrotate`).
* **activeDeadlineSeconds** as upstream's active-deadline handler: a pod active longer than its
  deadline (counted from ``status.startTime``; a later update may set or shorten it) is stopped
  with its grace period and reported ``Failed``/``DeadlineExceeded``; every sync requeues the pod
  for when its deadline falls due.
* **The kubelet's HTTPS server** (:mod:`kubeherd.kubelet.server`) serves logs, exec, attach,
  port-forward and ``/pods`` to the apiserver; its port is reported in the Node's
  ``status.daemonEndpoints``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import os
import platform
import socket
import time
from pathlib import Path
from typing import Any

from kubeherd.api.quantity import parse_quantity
from kubeherd.client import (
    APIClient,
    APIStatusError,
    EventRecorder,
    InformerFactory,
    ResourceRef,
    WorkQueue,
    run_workers,
)
from kubeherd.client.informer import object_key

from .cgroups import PodCgroupManager, machine_memory
from .config import KubeletConfig
from .cri import ContainerState, CRIError, PodSandboxFilter
from .envvars import ServiceEnv
from .eviction import (
    DEADLINE_EXCEEDED,
    DEADLINE_MESSAGE,
    MEMORY,
    NODEFS,
    EvictionManager,
    deadline_exceeded_status,
    evicted_status,
    quantity_text,
    rejected_status,
)
from .images import BUSYBOX_IMAGE, PAUSE_IMAGE, import_archive, import_image_dir
from .kuberuntime import MANAGED, POD_UID, ClusterDNS, qos_class
from .logrotate import ContainerLogManager
from .nodeimages import list_node_images
from .podworker import PodSyncer, grace_period
from .probes import ProbeManager
from .registries import RegistriesConfig
from .runtime import ContainerdLayout, Runtime, write_cni_config
from .server import KubeletServer, ServingTLS
from .staticpods import PodSource, StaticPodSource
from .status import RuntimeView, StatusManager, active_deadline_left, pod_status
from .volumes import VolumeManager

log = logging.getLogger(__name__)
Obj = dict[str, Any]
NODES = ResourceRef("v1", "nodes", False, "Node")
PODS = ResourceRef("v1", "pods", True, "Pod")
LEASES = ResourceRef("coordination.k8s.io/v1", "leases", True, "Lease")
CONFIGMAPS = ResourceRef("v1", "configmaps", True, "ConfigMap")
SECRETS = ResourceRef("v1", "secrets", True, "Secret")
SERVICEACCOUNTS = ResourceRef("v1", "serviceaccounts", True, "ServiceAccount")
SERVICES = ResourceRef("v1", "services", True, "Service")
LOOKUPS = {"configmaps": CONFIGMAPS, "secrets": SECRETS,
           "persistentvolumeclaims": ResourceRef("v1", "persistentvolumeclaims", True, "PersistentVolumeClaim"),
           "persistentvolumes": ResourceRef("v1", "persistentvolumes", False, "PersistentVolume")}
KUBELET_VERSION = "v1.33.0-kubeherd"
LEASE_DURATION = 40
LEASE_RENEW = 10.0
NODE_STATUS_PERIOD = 60.0
RELIST_PERIOD = 1.0
HOUSEKEEPING_PERIOD = 2.0
RESYNC_PERIOD = 5.0
BUILT_IMAGES = Path(__file__).resolve().parents[2] / "build" / "images"


def node_ip() -> str:
    """The host's primary IPv4: the source address of its default route (no packet is sent)."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("10.255.255.255", 1))
        return str(s.getsockname()[0])
    return "127.0.0.1"


def _micro_now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def needs_sync(old: Obj, new: Obj) -> bool:
    """Whether a pod update is work for the pod worker. As upstream's pod config, a change of
    status alone (most often the kubelet's own write) is not, unless it made the pod finished or
    changed the conditions its readiness gates read; the periodic resync still covers the rest."""
    def semantic(pod: Obj) -> tuple[Any, ...]:
        meta = pod.get("metadata") or {}
        return (pod.get("spec"), meta.get("labels"), meta.get("annotations"), meta.get("deletionTimestamp"),
                meta.get("deletionGracePeriodSeconds"))

    old_status, new_status = old.get("status") or {}, new.get("status") or {}
    return (semantic(old) != semantic(new)
            or (new_status.get("phase") in ("Succeeded", "Failed") and new_status.get("phase") != old_status.get("phase"))
            or (bool((new.get("spec") or {}).get("readinessGates"))
                and new_status.get("conditions") != old_status.get("conditions")))


class Kubelet:
    def __init__(self, client: APIClient, runtime: Runtime, data_dir: Path, node_name: str = "",
                 workers: int = 64, config: KubeletConfig | None = None, serving: ServingTLS | None = None,
                 registries: RegistriesConfig | None = None) -> None:
        self.config = config or KubeletConfig()
        self.client = client
        self.runtime = runtime
        self.data_dir = Path(data_dir)
        self.layout = ContainerdLayout(self.data_dir)
        self.node_name = (node_name or socket.gethostname()).lower()
        self.node_ip = node_ip()
        self.cri = runtime.client()
        self.informers = InformerFactory(client)
        self.pods = self.informers.informer(PODS, field_selector=f"spec.nodeName={self.node_name}")
        self.queue = WorkQueue("kubelet-pods")
        self.workers = workers
        self.status_manager = StatusManager(client)
        self.probes = ProbeManager(self.cri, self._enqueue_uid)
        self.volumes = VolumeManager(self.data_dir / "agent" / "pods", self._get, self._request_token)
        self.logs_root = self.layout.pod_logs_dir
        self.cgroups = PodCgroupManager(self.data_dir / "agent" / "pod-cgroups")
        self.syncer = PodSyncer(self.cri, self.volumes, self.probes, self._get, self.logs_root,
                                cgroups=self.cgroups, node_ip=self.node_ip,
                                seccomp_root=self.data_dir / "agent" / "seccomp", memory_capacity=machine_memory())
        manifests = Path(self.config.pod_manifest_path) if self.config.pod_manifest_path \
            else self.data_dir / "agent" / "pod-manifests"
        self.static_pods = StaticPodSource(manifests, self.node_name, self._pod_event, self.config.file_check_frequency)
        self.source = PodSource(client, self.pods, self.static_pods, self.node_name)  # API + static pods
        self.recorder = EventRecorder(client, "kubelet", self.node_name)
        self.volumes.recorder = self.recorder  # FailedMount events
        self.syncer.recorder = self.recorder  # hook and container events
        self.syncer.cluster_dns = ClusterDNS(tuple(self.config.cluster_dns), self.config.cluster_domain)
        self.syncer.images.registries = registries or RegistriesConfig()  # node pull credentials
        self.syncer.allocatable = self.volumes.allocatable = self.node_allocatable  # downward-API limits
        # Services of all namespaces, for the containers' Service variables; start() waits for its first list
        self.services = self.informers.informer(SERVICES)
        self.syncer.service_env = ServiceEnv(self.services)
        self.eviction = EvictionManager(self.config, self.cri, self.data_dir, self.layout.root, self.logs_root,
                                        self._active_pods, self._evict, self.update_node_status, self.recorder,
                                        self.node_name)
        self.log_rotation = ContainerLogManager(self.cri, self.config.container_log_max_size,
                                                self.config.container_log_max_files,
                                                self.config.container_log_monitor_interval)
        self._images: list[Obj] = []
        self._node_allocatable: dict[str, str] = {}
        self._uid_keys: dict[str, str] = {}
        self._container_states: dict[str, ContainerState] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        self._terminating: set[str] = set()
        self._deadline_passed: set[str] = set()  # uids past their activeDeadlineSeconds (event recorded)
        self._admitted: set[str] = set()  # uids admitted to run here (pods are admitted once, as upstream)
        self.server = KubeletServer(self, serving, self.config.address, self.config.port) if serving else None

    # ------------------------------------------------------------------ lookups
    async def _get(self, kind: str, namespace: str, name: str) -> Obj | None:
        """configmaps, secrets, persistentvolumeclaims or persistentvolumes (namespace ignored)."""
        ref = LOOKUPS[kind]
        try:
            return await self.client.get(ref, name, namespace if ref.namespaced else "")
        except APIStatusError as exc:
            if exc.code == 404:
                return None
            raise

    async def _request_token(self, namespace: str, account: str, request: Obj) -> Obj:
        """A TokenRequest for a service account (projected service-account token volumes)."""
        return await self.client.create(SERVICEACCOUNTS, request, namespace, subresource="token", name=account)

    def _enqueue_uid(self, uid: str) -> None:
        key = self._uid_keys.get(uid)
        if key is not None:
            self.queue.add(key)

    # ------------------------------------------------------------------ node
    def _capacity(self) -> dict[str, str]:
        mem_kib = 0
        with contextlib.suppress(OSError), open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_kib = int(line.split()[1])
        st = os.statvfs(self.data_dir)
        return {"cpu": str(os.cpu_count() or 1), "memory": f"{mem_kib}Ki",
                "ephemeral-storage": f"{st.f_blocks * st.f_frsize // 1024}Ki",
                "pods": str(self.config.max_pods)}

    def _node_status(self) -> Obj:
        now = _now()

        def cond(kind: str, status: str, reason: str, message: str) -> Obj:
            return {"type": kind, "status": status, "lastHeartbeatTime": now, "lastTransitionTime": now,
                    "reason": reason, "message": message}

        capacity = self._capacity()
        self._node_allocatable = self._allocatable(capacity)
        version = self.runtime.version
        os_image = "Linux"
        with contextlib.suppress(OSError):
            for line in Path("/etc/os-release").read_text().splitlines():
                if line.startswith("PRETTY_NAME="):
                    os_image = line.split("=", 1)[1].strip('"')
        machine_id = ""
        with contextlib.suppress(OSError):
            machine_id = Path("/etc/machine-id").read_text().strip()
        boot_id = ""
        with contextlib.suppress(OSError):
            boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
        return {
            "capacity": capacity, "allocatable": self._node_allocatable, "images": self._images,
            "conditions": [
                *self.eviction.conditions(),  # MemoryPressure, DiskPressure, PIDPressure
                cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "addresses": [{"type": "InternalIP", "address": self.node_ip},
                          {"type": "Hostname", "address": self.node_name}],
            "nodeInfo": {"machineID": machine_id, "systemUUID": machine_id, "bootID": boot_id,
                         "kernelVersion": platform.release(), "osImage": os_image,
                         "containerRuntimeVersion": f"containerd://{version.runtime_version}",
                         "kubeletVersion": KUBELET_VERSION, "kubeProxyVersion": KUBELET_VERSION,
                         "operatingSystem": "linux", "architecture": arch},
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.server.port if self.server else 0}},
        }

    async def register(self) -> Obj:
        arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
        node = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": self.node_name, "labels": {
                    "kubernetes.io/hostname": self.node_name, "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": arch, "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": arch,
                    "node-role.kubernetes.io/control-plane": "true"}},
                "spec": {}}
        try:
            created = await self.client.create(NODES, node)
        except APIStatusError as exc:
            if exc.code != 409:
                raise
            created = await self.client.get(NODES, self.node_name)
        await self.update_node_status()
        await self.renew_lease(created)
        return created

    def _allocatable(self, capacity: dict[str, str]) -> dict[str, str]:
        """Capacity less what the hard eviction thresholds keep back (upstream: memory and
        ephemeral-storage; nothing is reserved for system daemons here)."""
        out = dict(capacity)
        for resource, signal in (("memory", MEMORY), ("ephemeral-storage", NODEFS)):
            total = parse_quantity(capacity[resource]).value()
            out[resource] = quantity_text(max(0, total - self.eviction.hard_reservation(signal, total)))
        return out

    def node_allocatable(self) -> dict[str, str]:
        """The allocatable last reported in the Node's status (what the downward API shows for a
        container without limits)."""
        if not self._node_allocatable:
            self._node_allocatable = self._allocatable(self._capacity())
        return self._node_allocatable

    async def update_node_status(self) -> None:
        images = await list_node_images(self.cri)
        if images is not None:
            self._images = images
        await self.client.patch(NODES, self.node_name, {"status": self._node_status()}, subresource="status")

    async def renew_lease(self, node: Obj | None = None) -> None:
        now = _micro_now()
        try:
            await self.client.patch(LEASES, self.node_name, {"spec": {"renewTime": now,
                                                                      "holderIdentity": self.node_name}},
                                    "kube-node-lease")
        except APIStatusError as exc:
            if exc.code != 404:
                raise
            node = node or await self.client.get(NODES, self.node_name)
            lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                     "metadata": {"name": self.node_name, "namespace": "kube-node-lease", "ownerReferences": [{
                         "apiVersion": "v1", "kind": "Node", "name": self.node_name,
                         "uid": node["metadata"]["uid"]}]},
                     "spec": {"holderIdentity": self.node_name, "leaseDurationSeconds": LEASE_DURATION,
                              "renewTime": now}}
            with contextlib.suppress(APIStatusError):
                await self.client.create(LEASES, lease, "kube-node-lease")

    async def _heartbeat(self) -> None:
        last_status = time.monotonic()
        while True:
            await asyncio.sleep(LEASE_RENEW)
            try:
                await self.renew_lease()
                if time.monotonic() - last_status >= NODE_STATUS_PERIOD:
                    await self.update_node_status()
                    last_status = time.monotonic()
            except Exception as exc:
                log.warning("node heartbeat failed: %s", exc)

    async def wait_for_pod_cidr(self, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            node = await self.client.get(NODES, self.node_name)
            cidr = (node.get("spec") or {}).get("podCIDR")
            if cidr:
                return str(cidr)
            if time.monotonic() > deadline:
                raise RuntimeError(f"node {self.node_name} got no spec.podCIDR in {timeout:g}s "
                                   "(is the node IPAM controller running?)")
            await asyncio.sleep(0.2)

    async def import_images(self) -> None:
        endpoint = self.runtime.endpoint
        await import_image_dir(endpoint, self.layout.images_dir)
        for image, archive in ((PAUSE_IMAGE, "pause.tar"), (BUSYBOX_IMAGE, "busybox.tar")):
            path = BUILT_IMAGES / archive
            if path.exists() and await self.cri.image_status(image) is None:
                with contextlib.suppress(Exception):
                    await import_archive(endpoint, path)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        if self.server is not None:
            await self.server.start()  # first: the Node reports its port
        await self.register()
        self._tasks.append(asyncio.ensure_future(self._heartbeat()))
        cidr = await self.wait_for_pod_cidr()
        write_cni_config(self.layout, cidr)
        await self.import_images()
        await self.update_node_status()  # with the images just imported
        try:
            await asyncio.to_thread(self.cgroups.ensure_qos, os.cpu_count() or 1)
        except OSError as exc:
            log.warning("QoS cgroups not set up: %s", exc)
        self.pods.add_handlers(on_add=self._pod_event, on_update=self._pod_updated,
                               on_delete=self._pod_deleted)
        self.informers.start()
        await self.informers.wait_for_sync(60)
        with contextlib.suppress(OSError):
            self.static_pods.directory.mkdir(parents=True, exist_ok=True)
        self.static_pods.apply(await asyncio.to_thread(self.static_pods.read))
        self.recorder.start()
        self._tasks += [asyncio.ensure_future(run_workers(self.queue, self.sync, self.workers,
                                                          on_error=self._sync_failed)),
                        asyncio.ensure_future(self._relist()),
                        asyncio.ensure_future(self._housekeeping()),
                        asyncio.ensure_future(self.static_pods.run()),
                        asyncio.ensure_future(self.eviction.run()),
                        asyncio.ensure_future(self.log_rotation.run())]
        log.info("kubelet %s running (pod CIDR %s, runtime %s)", self.node_name, cidr, self.runtime.endpoint)

    async def stop(self) -> None:
        """Stop the kubelet; pods keep running (the next start adopts them)."""
        self.queue.shutdown()
        self.probes.stop_all()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        if self.server is not None:
            await self.server.stop()
        await self.informers.stop()
        await self.recorder.stop()
        await self.cri.close()

    def _sync_failed(self, key: str, exc: BaseException) -> None:
        log.warning("sync of pod %s failed: %s", key, exc)

    def _pod_event(self, pod: Obj) -> None:
        self._uid_keys[pod["metadata"]["uid"]] = object_key(pod)
        self.queue.add(object_key(pod))

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if needs_sync(old, new):
            self._pod_event(new)

    def _pod_deleted(self, pod: Obj) -> None:
        self._uid_keys.pop(pod["metadata"]["uid"], None)
        self._deadline_passed.discard(pod["metadata"]["uid"])
        self._admitted.discard(pod["metadata"]["uid"])

    # ------------------------------------------------------------------ the pod sync
    async def sync(self, key: str) -> None:
        pod = await self.source.pod_to_sync(key)
        if pod is None:
            return
        meta = pod["metadata"]
        uid = meta["uid"]
        if meta.get("deletionTimestamp"):
            await self._terminate(pod)
            return
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed") or uid in self.eviction.evicted:
            view = await self.syncer.runtime_view(uid)
            if view.sandbox_ready:
                await self.syncer.kill_pod(pod, uid, 0, remove=False)
            return
        left = active_deadline_left(pod)
        if left is not None and left <= 0:
            await self._deadline_exceeded(pod)
            return
        view = await self.syncer.runtime_view(uid)
        if uid not in self._admitted:
            refusal = None if (view.sandbox_id or view.containers) else self.eviction.admit(pod)
            if refusal is not None:  # never started here, and the node is under pressure
                self.syncer.record_event(pod, "Warning", "Evicted", refusal)
                target = self.source.status_target(pod)
                if target is not None:
                    await self.status_manager.set_status(target, rejected_status(pod, "Evicted", refusal))
                return
            self._admitted.add(uid)
        view = await self.syncer.sync_pod(pod, view, self.node_ip)
        for instances in view.containers.values():  # what the worker saw is no news to the relist
            self._container_states.update((c.id, c.state) for c in instances)
        record = self.syncer.records.get(uid)
        readiness, startup = self.syncer.probe_results(pod, view)
        status = pod_status(pod, view, host_ip=self.node_ip, readiness=readiness, startup=startup,
                            waiting=record.waiting if record else {})
        target = self.source.status_target(pod)  # a static pod's status goes to its mirror
        if target is not None:
            await self.status_manager.set_status(target, status)
        left = active_deadline_left(pod, status)
        if left is not None and record is not None:
            record.want_sync_in(left)  # the deadline is checked again when it is due
        if status["phase"] in ("Succeeded", "Failed"):
            await self.syncer.kill_pod(pod, uid, 0, remove=False)
        elif record is not None and record.requeue_at:
            self.queue.add_after(key, max(0.0, record.requeue_at - time.monotonic()))

    async def _deadline_exceeded(self, pod: Obj) -> None:
        """Stop a pod past its ``activeDeadlineSeconds`` and report it Failed/DeadlineExceeded
        (upstream's active-deadline handler: a Normal event, then the pod's grace period)."""
        uid = pod["metadata"]["uid"]
        if uid not in self._deadline_passed:
            self._deadline_passed.add(uid)
            self.syncer.record_event(pod, "Normal", DEADLINE_EXCEEDED, DEADLINE_MESSAGE)
        await self.syncer.kill_pod(pod, uid, grace_period(pod), remove=False)
        view = await self.syncer.runtime_view(uid)
        status = pod_status(pod, view, host_ip=self.node_ip, readiness={}, startup={}, waiting={})
        target = self.source.status_target(pod)
        if target is not None:
            await self.status_manager.set_status(target, deadline_exceeded_status(status))

    async def _terminate(self, pod: Obj) -> None:
        meta = pod["metadata"]
        uid = meta["uid"]
        if uid in self._terminating:
            return
        self._terminating.add(uid)
        try:
            await self.syncer.kill_pod(pod, uid, grace_period(pod), remove=False)
            view = await self.syncer.runtime_view(uid)
            status = pod_status(pod, view, host_ip=self.node_ip, readiness={}, startup={}, waiting={})
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                status["phase"] = pod["status"]["phase"]
            await self.status_manager.set_status(pod, status)
            try:
                await self.client.delete(PODS, meta["name"], meta["namespace"], grace_period=0,
                                         preconditions={"uid": uid})
            except APIStatusError as exc:
                if exc.code not in (404, 409):
                    raise
            await self.syncer.kill_pod(None, uid, 0, remove=True)
            self.status_manager.forget(uid)
        finally:
            self._terminating.discard(uid)

    # ------------------------------------------------------------------ loops
    async def _relist(self) -> None:
        while True:
            await asyncio.sleep(RELIST_PERIOD)
            try:
                containers = await self.cri.list_containers()
            except CRIError as exc:
                log.debug("relist failed: %s", exc)
                continue
            seen: dict[str, ContainerState] = {}
            for c in containers:
                seen[c.id] = c.state
                if self._container_states.get(c.id) != c.state:
                    self._enqueue_uid(c.labels.get(POD_UID, ""))
            for gone in set(self._container_states) - set(seen):
                del self._container_states[gone]
            self._container_states.update(seen)

    async def _housekeeping(self) -> None:
        last_resync = time.monotonic()
        while True:
            await asyncio.sleep(HOUSEKEEPING_PERIOD)
            try:
                await self._remove_orphans()
                if time.monotonic() - last_resync >= RESYNC_PERIOD:
                    last_resync = time.monotonic()
                    for pod in self.source.objects():
                        if (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                            self.queue.add(object_key(pod))
            except Exception as exc:
                log.warning("housekeeping failed: %s", exc)

    async def _remove_orphans(self) -> None:
        known = {p["metadata"]["uid"] for p in self.source.objects()}
        await self.source.delete_orphaned_mirrors()
        sandboxes = await self.cri.list_pod_sandbox(PodSandboxFilter(label_selector={MANAGED: "true"}))
        orphans = {s.labels.get(POD_UID, "") for s in sandboxes} - known - self._terminating
        for uid in orphans:
            log.info("removing the sandboxes of pod %s, which is no longer bound here", uid)
            await self.syncer.kill_pod(None, uid, 0, remove=True)
        for uid in set(self.volumes.known_pods()) - known - {s.labels.get(POD_UID, "") for s in sandboxes}:
            await asyncio.to_thread(self.volumes.teardown, uid)
        # pod cgroups: those of pods that no longer run (a removal that found one busy is retried here)
        active = self._active_pods()
        running = {p["metadata"]["uid"] for p in active} | self._terminating
        for uid in await asyncio.to_thread(self.cgroups.recorded) - running:
            await self.syncer.remove_cgroup(uid)
        await asyncio.to_thread(self.cgroups.update_qos, [(p, qos_class(p)) for p in active])

    # ------------------------------------------------------------------ eviction
    def _active_pods(self) -> list[Obj]:
        return [p for p in self.source.objects() if not p["metadata"].get("deletionTimestamp")
                and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]

    async def _evict(self, pod: Obj, grace: int, message: str) -> None:
        """Kill an evicted pod and report it Failed/Evicted (its workers leave it stopped)."""
        uid = pod["metadata"]["uid"]
        await self.syncer.kill_pod(pod, uid, grace, remove=False)
        view = await self.syncer.runtime_view(uid)
        status = pod_status(pod, view, host_ip=self.node_ip, readiness={}, startup={}, waiting={})
        await self.status_manager.set_status(pod, evicted_status(status, message))

    # ------------------------------------------------------------------ what the kubelet server reads
    def bound_pods(self) -> list[Obj]:
        return self.source.objects()  # static pods as themselves, not their mirrors (as upstream)

    def pod(self, namespace: str, name: str) -> Obj | None:
        return self.source.get(f"{namespace}/{name}")

    async def runtime_view(self, uid: str) -> RuntimeView:
        return await self.syncer.runtime_view(uid)
