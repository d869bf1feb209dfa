"""The pod worker: one level-triggered sync of one pod against the runtime.

Design, after upstream's ``SyncPod``/``computePodActions``: every sync reads the runtime's
truth (sandboxes and containers labelled with the pod's uid) into a :class:`RuntimeView`,
compares it with the spec and does the next steps — create the sandbox, run the next init
container, start or restart app containers — then reports the status. Nothing about a pod
is kept that the runtime cannot tell again except back-off timers and probe results, so a
restarted kubelet adopts running pods as they are (restart counts come from the container
labels) and kills nothing that should run.

Crash-loop back-off is upstream's: 10 s doubling to 5 min per container, forgotten after the
container ran 10 minutes. Container GC keeps the current and the previous instance of each
container (``logs --previous`` reads the latter).

Before the sandbox exists the pod's cgroup does (:mod:`.cgroups`); init containers run one at a
time, except sidecars (``restartPolicy: Always``), which start in their turn, let the next one
start once they are started, and keep running — restarted whenever they exit — until the app
containers of a pod that does not restart them are done, when they are stopped. A container's
postStart hook runs right after ``StartContainer`` and the sync waits for it, so the container
is reported running only after it; a failed hook kills the container (``FailedPostStartHook``).
Termination (:mod:`.termination`) runs preStop hooks and honours the grace period; the pod's
cgroup goes with its sandbox.

Ephemeral containers (``spec.ephemeralContainers``, added through the API's
``pods/ephemeralcontainers``) start once each as soon as the sandbox is there, initialized or
not, and are never restarted; with a ``targetContainerName`` they join that container's PID
namespace. Every container instance gets its own termination-message file
(:mod:`.terminationmessage`), read back once the instance has exited; and the downward API sees
the sandbox's and the node's IPs and the node's allocatable (:class:`~.kuberuntime.RuntimeValues`)
rather than what the pod object may not carry yet.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubeherd.client import EventRecorder

from . import etchosts
from .cgroups import PodCgroupManager, is_sidecar
from .cri import (
    ContainerFilter,
    ContainerState,
    ContainerStatus,
    CRIClient,
    CRIError,
    PodSandboxConfig,
    PodSandboxFilter,
    PodSandboxState,
)
from .envvars import ServiceEnv
from .hooks import run_handler
from .imagepull import ImageManager
from .kuberuntime import (
    CONTAINER_NAME,
    POD_UID,
    ClusterDNS,
    RuntimeValues,
    container_config,
    environment,
    mounts,
    qos_class,
    referenced_objects,
    sandbox_config,
)
from .probes import ProbeManager
from .security import SecurityContextError, apply_fs_group
from .startgate import CONTAINER, SANDBOX, StartGate
from .status import RuntimeView, app_containers_done, restart_count, will_restart
from .termination import ContainerKiller
from .terminationmessage import message_file, message_mount, read_message
from .volumes import VolumeError, VolumeManager, pod_dir

log = logging.getLogger(__name__)
Obj = dict[str, Any]
Getter = Callable[[str, str, str], Awaitable[Obj | None]]

BACKOFF_START = 10.0
BACKOFF_MAX = 300.0
BACKOFF_RESET = 600.0  # a container that ran this long starts its back-off over


@dataclass
class _Backoff:
    delay: float = 0.0  # the next back-off
    current: float = 0.0  # the one running now
    until: float = 0.0
    last_finish: int = 0  # finished_at (ns) of the instance the current back-off is for


@dataclass
class PodRecord:
    """The worker's memory of one pod: what cannot be read back from the runtime."""

    backoff: dict[str, _Backoff] = field(default_factory=dict)
    waiting: dict[str, tuple[str, str]] = field(default_factory=dict)
    requeue_at: float = 0.0
    owned_volumes: set[str] = field(default_factory=set)  # emptyDirs given to the fsGroup once
    messages: dict[str, str] = field(default_factory=dict)  # exited instance id → termination message

    def want_sync_in(self, seconds: float) -> None:
        at = time.monotonic() + max(0.0, seconds)
        if not self.requeue_at or at < self.requeue_at:
            self.requeue_at = at


class PodSyncer:
    def __init__(self, cri: CRIClient, volumes: VolumeManager, probes: ProbeManager, get: Getter,
                 logs_root: Path, *, cgroups: PodCgroupManager | None = None, recorder: EventRecorder | None = None,
                 node_ip: str = "", seccomp_root: Path = Path("/var/lib/kubelet/seccomp"),
                 memory_capacity: int = 0) -> None:
        self.cri = cri
        self.volumes = volumes
        self.probes = probes
        self.get = get
        self.logs_root = logs_root
        self.cgroups = cgroups
        self.recorder = recorder  # may be set after construction
        self.node_ip = node_ip
        self.seccomp_root = seccomp_root
        self.memory_capacity = memory_capacity
        self.killer = ContainerKiller(cri, self.record_event)
        self.images = ImageManager(cri, get, self.record_event)  # the kubelet sets its registries
        self.records: dict[str, PodRecord] = {}
        self.sandbox_configs: dict[str, PodSandboxConfig] = {}
        self.gate = StartGate()  # pod starts a few at a time, the started ones first
        self.cluster_dns = ClusterDNS()  # the kubelet sets it from its config
        self.service_env: ServiceEnv | None = None  # the kubelet sets it (Service variables)
        self.allocatable: Callable[[], dict[str, str]] | None = None  # the kubelet sets it (downward API)

    def record_event(self, pod: Obj, event_type: str, reason: str, message: str) -> None:
        if self.recorder is not None:
            self.recorder.record({"apiVersion": "v1", "kind": "Pod", "metadata": pod["metadata"]}, event_type,
                                 reason, message)

    def runtime_values(self, pod: Obj, view: RuntimeView) -> RuntimeValues:
        """The downward API's IPs and allocatable for a container started now: the sandbox's IPs
        (the node's with hostNetwork), not the pod object's, which may not have them yet."""
        host_network = bool((pod.get("spec") or {}).get("hostNetwork"))
        pod_ips = (self.node_ip,) if host_network else (view.pod_ip, *view.extra_ips)
        return RuntimeValues(pod_ips=tuple(ip for ip in pod_ips if ip), host_ips=(self.node_ip,) if self.node_ip else (),
                             allocatable=self.allocatable() if self.allocatable is not None else {})

    def probe_results(self, pod: Obj, view: RuntimeView) -> tuple[dict[str, bool], dict[str, bool]]:
        """(readiness, startup) results of the current instances of the app containers and sidecars."""
        uid = pod["metadata"]["uid"]
        readiness: dict[str, bool] = {}
        startup: dict[str, bool] = {}
        spec = pod.get("spec") or {}
        for c in (spec.get("containers") or []) + [c for c in spec.get("initContainers") or [] if is_sidecar(c)]:
            latest = view.latest(c["name"])
            if latest is None:
                continue
            if c.get("readinessProbe"):
                readiness[c["name"]] = bool(self.probes.result(uid, c["name"], "readinessProbe", latest.id))
            if c.get("startupProbe"):
                startup[c["name"]] = bool(self.probes.result(uid, c["name"], "startupProbe", latest.id))
        return readiness, startup

    async def _ensure_cgroup(self, pod: Obj) -> None:
        if self.cgroups is None:
            return
        try:
            await asyncio.to_thread(self.cgroups.ensure_pod, pod, qos_class(pod))
        except OSError as exc:
            log.warning("pod cgroup of %s: %s", pod["metadata"]["name"], exc)

    async def remove_cgroup(self, uid: str) -> bool:
        if self.cgroups is None:
            return True
        return await asyncio.to_thread(self.cgroups.remove_pod, uid)

    # ---------------------------------------------------------------- reading the runtime
    async def runtime_view(self, uid: str) -> RuntimeView:
        view = RuntimeView()
        sandboxes = await self.cri.list_pod_sandbox(PodSandboxFilter(label_selector={POD_UID: uid}))
        ready = [s for s in sandboxes if s.state == PodSandboxState.SANDBOX_READY]
        if ready:
            newest = max(ready, key=lambda s: s.created_at)
            view.sandbox_id, view.sandbox_ready = newest.id, True
            status = await self.cri.pod_sandbox_status(newest.id)
            if status.network is not None:
                view.pod_ip = status.network.ip
                view.extra_ips = [ip.ip for ip in status.network.additional_ips]
        containers = await self.cri.list_containers(ContainerFilter(label_selector={POD_UID: uid}))
        statuses = await asyncio.gather(*(self.cri.container_status(c.id) for c in containers),
                                        return_exceptions=True)
        for st in statuses:
            if isinstance(st, BaseException):
                continue
            view.containers.setdefault(st.labels.get(CONTAINER_NAME, ""), []).append(st)
        for instances in view.containers.values():
            instances.sort(key=lambda s: (restart_count(s), s.created_at), reverse=True)
        await self._read_messages(uid, view)
        return view

    async def _read_messages(self, uid: str, view: RuntimeView) -> None:
        """The termination messages of the exited instances (each read once: they cannot change)."""
        record = self.records.get(uid)
        known = record.messages if record is not None else {}
        exited = [i for instances in view.containers.values() for i in instances
                  if i.state == ContainerState.CONTAINER_EXITED]
        for instance in exited:
            if instance.id not in known:
                known[instance.id] = await asyncio.to_thread(read_message, instance)
            view.messages[instance.id] = known[instance.id]
        if record is not None:
            record.messages = {cid: known[cid] for cid in view.messages}

    # ---------------------------------------------------------------- the sync
    async def sync_pod(self, pod: Obj, view: RuntimeView, node_ip: str) -> RuntimeView:
        """Do the next steps for a pod that should run; returns the view after them."""
        uid = pod["metadata"]["uid"]
        record = self.records.setdefault(uid, PodRecord())
        record.requeue_at = 0.0
        spec = pod.get("spec") or {}
        try:
            volume_paths = await self.volumes.setup(pod)
        except (VolumeError, OSError) as exc:
            for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
                record.waiting[c["name"]] = ("ContainerCreating", f"volume setup failed: {exc}")
            record.want_sync_in(2)
            return view
        if (spec.get("securityContext") or {}).get("fsGroup") is not None:
            await asyncio.to_thread(apply_fs_group, pod, volume_paths, record.owned_volumes)
        await self._ensure_cgroup(pod)
        if not view.sandbox_ready:
            if view.containers and any(i.state == ContainerState.CONTAINER_RUNNING
                                       for instances in view.containers.values() for i in instances):
                await self.killer.kill_all(None, view, 0, "")
            attempt = await self._sandbox_attempt(uid)
            config = sandbox_config(pod, attempt, self.logs_root, self.cluster_dns)
            async with self.gate.slot(SANDBOX):
                sandbox_id = await self.cri.run_pod_sandbox(config)
            self.sandbox_configs[uid] = config
            view = await self.runtime_view(uid)
            view.sandbox_id = view.sandbox_id or sandbox_id
        known = self.sandbox_configs.get(uid)
        if known is None:
            status = await self.cri.pod_sandbox_status(view.sandbox_id)
            known = sandbox_config(pod, status.metadata.attempt if status.metadata else 0, self.logs_root,
                                   self.cluster_dns)
            self.sandbox_configs[uid] = known
        config = known
        lookups = {ref: await self.get(ref[0], pod["metadata"]["namespace"], ref[1])
                   for ref in referenced_objects(pod)}
        pod_ip = view.pod_ip or node_ip
        if app_containers_done(pod, view):  # a completed pod: its sidecars stop, nothing restarts
            if await self.killer.stop_sidecars(pod, view, _grace(pod), pod_ip):
                return await self.runtime_view(uid)
            return view
        changed = False
        # ephemeral containers start once, whether or not the pod is initialized, and never again
        for container in spec.get("ephemeralContainers") or []:
            if view.latest(container["name"]) is None:
                changed |= await self._start_if_due(pod, container, "ephemeral", view, record, config, volume_paths,
                                                    lookups)
        # init containers in order: a regular one must complete, a sidecar must be started
        initialized = any(view.latest(c["name"]) is not None for c in spec.get("containers") or [])
        for container in spec.get("initContainers") or []:
            name = container["name"]
            latest = view.latest(name)
            if is_sidecar(container):
                if latest is not None and latest.state == ContainerState.CONTAINER_RUNNING:
                    if await self._keep_running(pod, container, latest, record, pod_ip):
                        return await self.runtime_view(uid)
                    if initialized or self._started(pod, container, latest.id):
                        continue
                    record.want_sync_in(1)
                    return view
                if latest is not None and latest.state == ContainerState.CONTAINER_CREATED:
                    await self.cri.start_container(latest.id)
                    return await self.runtime_view(uid)
                changed |= await self._start_if_due(pod, container, "init", view, record, config, volume_paths,
                                                    lookups)
                if initialized:
                    continue  # a sidecar restarting in an initialized pod holds nothing back
                return await self.runtime_view(uid) if changed else view
            if initialized:
                continue
            if latest is not None and latest.state == ContainerState.CONTAINER_EXITED and latest.exit_code == 0:
                continue
            if latest is not None and latest.state in (ContainerState.CONTAINER_RUNNING,
                                                       ContainerState.CONTAINER_CREATED):
                record.want_sync_in(1)
                return view
            if latest is not None and not will_restart(pod, latest, init=True):
                return view  # failed for good: the pod fails
            changed |= await self._start_if_due(pod, container, "init", view, record, config, volume_paths,
                                                lookups)
            if changed:
                return await self.runtime_view(uid)
            return view
        for container in spec.get("containers") or []:
            latest = view.latest(container["name"])
            if latest is not None and latest.state == ContainerState.CONTAINER_RUNNING:
                if not await self._keep_running(pod, container, latest, record, pod_ip):
                    continue
                changed = True
                latest = await self.cri.container_status(latest.id)
            if latest is not None and latest.state == ContainerState.CONTAINER_CREATED:
                await self.cri.start_container(latest.id)
                changed = True
                continue
            if latest is not None and not will_restart(pod, latest):
                continue
            changed |= await self._start_if_due(pod, container, "app", view, record, config, volume_paths, lookups)
        await self._collect_garbage(view)
        return await self.runtime_view(uid) if changed else view

    async def _keep_running(self, pod: Obj, container: Obj, latest: ContainerStatus, record: PodRecord,
                            pod_ip: str) -> bool:
        """Probe a running container; stop it when its liveness (or startup) probe failed.
        Returns whether it was stopped."""
        uid = pod["metadata"]["uid"]
        record.waiting.pop(container["name"], None)
        if not self.probes.should_restart(uid, container["name"], latest.id):
            self.probes.ensure(pod, container, latest.id, pod_ip)
            return False
        log.info("container %s of pod %s failed its liveness probe; restarting", container["name"],
                 pod["metadata"]["name"])
        await self.killer.stop(pod, container, latest.id, _grace(pod), pod_ip,
                               message=f"Container {container['name']} failed liveness probe, will be restarted")
        return True

    def _started(self, pod: Obj, container: Obj, container_id: str) -> bool:
        """A running container counts as started once its startup probe passed (at once without one)."""
        if not container.get("startupProbe"):
            return True
        return bool(self.probes.result(pod["metadata"]["uid"], container["name"], "startupProbe", container_id))

    async def _sandbox_attempt(self, uid: str) -> int:
        sandboxes = await self.cri.list_pod_sandbox(PodSandboxFilter(label_selector={POD_UID: uid}))
        for sandbox in sandboxes:  # a dead sandbox goes; its containers go with it
            try:
                await self.cri.stop_pod_sandbox(sandbox.id)
                await self.cri.remove_pod_sandbox(sandbox.id)
            except CRIError as exc:
                log.warning("removing dead sandbox %s: %s", sandbox.id[:12], exc)
        return max((s.metadata.attempt + 1 for s in sandboxes if s.metadata is not None), default=0)

    async def _start_if_due(self, pod: Obj, container: Obj, kind: str, view: RuntimeView, record: PodRecord,
                            config: PodSandboxConfig, volume_paths: dict[str, Path],
                            lookups: dict[tuple[str, str], Obj | None]) -> bool:
        name = container["name"]
        latest = view.latest(name)
        restarts = 0
        if latest is not None:
            restarts = restart_count(latest) + 1
            backoff = record.backoff.setdefault(name, _Backoff())
            now = time.monotonic()
            if backoff.last_finish != latest.finished_at:
                ran = (latest.finished_at - latest.started_at) / 1e9 if latest.started_at else 0
                if ran >= BACKOFF_RESET:
                    backoff.delay = 0.0
                if backoff.delay == 0:  # the first restart is immediate, as upstream's
                    backoff.current, backoff.until, backoff.delay = 0.0, now, BACKOFF_START
                else:
                    backoff.current, backoff.until = backoff.delay, now + backoff.delay
                    backoff.delay = min(backoff.delay * 2, BACKOFF_MAX)
                backoff.last_finish = latest.finished_at
            if now < backoff.until:
                meta = pod["metadata"]
                record.waiting[name] = ("CrashLoopBackOff",
                                        f"back-off {int(backoff.current)}s restarting failed container={name} "
                                        f"pod={meta['name']}_{meta['namespace']}({meta['uid']})")
                record.want_sync_in(backoff.until - now)
                return False
        image = await self._ensure_image(pod, container, record, config)
        if image is None:
            return False
        try:
            services = self.service_env.for_pod(pod) if self.service_env is not None else None
            env = environment(pod, container, lookups, services, self.runtime_values(pod, view))
            mount_list = mounts(pod, container, volume_paths, env)
            pod_ips = [view.pod_ip, *view.extra_ips] if view.pod_ip else []
            hosts_dir = pod_dir(self.volumes.root, pod["metadata"]["uid"])
            mount_list += await asyncio.to_thread(etchosts.container_mounts, hosts_dir, pod, container, pod_ips,
                                                  self.cluster_dns.domain)
        except (LookupError, OSError) as exc:
            record.waiting[name] = ("CreateContainerConfigError", str(exc))
            record.want_sync_in(2)
            return False
        target_id = ""
        if kind == "ephemeral" and container.get("targetContainerName"):
            target = view.latest(str(container["targetContainerName"]))
            if target is None or target.state != ContainerState.CONTAINER_RUNNING:
                missing = f"unable to find target container {container['targetContainerName']}"
                record.waiting[name] = ("CreateContainerConfigError", missing)
                self.record_event(pod, "Warning", "Failed", f"Error: {missing}")
                record.want_sync_in(2)
                return False
            target_id = target.id
        try:
            cfg = container_config(pod, container, kind=kind, restart_count=restarts, image_ref=image, env=env,
                                   mount_list=mount_list, image=await self.cri.image_status(image),
                                   seccomp_root=self.seccomp_root, memory_capacity=self.memory_capacity,
                                   target_id=target_id)
        except SecurityContextError as exc:
            record.waiting[name] = ("CreateContainerConfigError", str(exc))
            self.record_event(pod, "Warning", "Failed", f"Error: {exc}")
            record.want_sync_in(BACKOFF_START)
            return False
        try:  # the instance's own termination-message file
            container_dir = pod_dir(self.volumes.root, pod["metadata"]["uid"]) / "containers" / name
            message_file_mount = await asyncio.to_thread(message_mount, container_dir, container)
        except OSError as exc:
            record.waiting[name] = ("CreateContainerConfigError", f"termination message file: {exc}")
            record.want_sync_in(2)
            return False
        if message_file_mount is not None:
            cfg.mounts.append(message_file_mount)
        try:
            async with self.gate.slot(CONTAINER):
                container_id = await self.cri.create_container(view.sandbox_id, cfg, config)
                await self.cri.start_container(container_id)
        except CRIError as exc:
            record.waiting[name] = ("CreateContainerError" if "create" in exc.method.lower()
                                    else "RunContainerError", exc.details)
            record.want_sync_in(BACKOFF_START)
            return True
        record.waiting.pop(name, None)
        hook = (container.get("lifecycle") or {}).get("postStart")
        if hook and kind != "ephemeral":
            pod_ip = view.pod_ip or self.node_ip
            failure = await run_handler(self.cri, pod, container, container_id, hook, pod_ip)
            if failure:
                self.record_event(pod, "Warning", "FailedPostStartHook", failure)
                await self.killer.stop(pod, container, container_id, _grace(pod), pod_ip,
                                       message="FailedPostStartHook")
                record.waiting[name] = ("PostStartHookError", failure)
                record.want_sync_in(1)
        return True

    async def _ensure_image(self, pod: Obj, container: Obj, record: PodRecord,
                            config: PodSandboxConfig | None = None) -> str | None:
        """The image id to create ``container`` from, or None with the waiting reason recorded
        (pull policy, credentials, back-off and events: :mod:`kubeherd.kubelet.imagepull`)."""
        result = await self.images.ensure_image(pod, container, config)
        if result.waiting is not None:
            record.waiting[container["name"]] = result.waiting
            if result.retry_in is not None:
                record.want_sync_in(result.retry_in)
            return None
        return result.image_ref

    async def _collect_garbage(self, view: RuntimeView) -> None:
        """Keep the current and the previous instance of every container."""
        for instances in view.containers.values():
            for old in instances[2:]:
                if old.state == ContainerState.CONTAINER_EXITED:
                    try:
                        await self.cri.remove_container(old.id)
                    except CRIError as exc:
                        log.debug("removing container %s: %s", old.id[:12], exc)
                        continue
                    message = message_file(old)  # its termination-message file goes with it
                    if message is not None and message.parent.parent.name == "containers":
                        await asyncio.to_thread(message.unlink, missing_ok=True)

    # ---------------------------------------------------------------- termination
    async def kill_pod(self, pod: Obj | None, uid: str, grace: int, *, remove: bool) -> None:
        """Stop everything of pod ``uid`` (graceful for its containers: preStop hooks, the grace
        period, sidecars last), then its sandboxes and its cgroup; with ``remove`` also remove
        them and the pod's volumes and logs."""
        self.probes.remove(uid)
        view = await self.runtime_view(uid)
        await self.killer.kill_all(pod, view, grace, view.pod_ip or self.node_ip)
        for sandbox in await self.cri.list_pod_sandbox(PodSandboxFilter(label_selector={POD_UID: uid})):
            try:
                await self.cri.stop_pod_sandbox(sandbox.id)
                if remove:
                    await self.cri.remove_pod_sandbox(sandbox.id)
            except CRIError as exc:
                if not exc.not_found:
                    raise
        await self.remove_cgroup(uid)
        if remove:
            await asyncio.to_thread(self.volumes.teardown, uid)
            self.records.pop(uid, None)
            self.sandbox_configs.pop(uid, None)


def _grace(pod: Obj) -> int:
    meta = pod.get("metadata") or {}
    if meta.get("deletionGracePeriodSeconds") is not None:
        return int(meta["deletionGracePeriodSeconds"])
    return int((pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30))


grace_period = _grace
