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
container (``logs --previous`` reads the latter). Termination runs preStop exec hooks, then
``StopContainer`` with the remaining grace period (SIGTERM, SIGKILL after it), stops the
sandbox, and finally deletes the pod object with grace 0 and a uid precondition.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cri import (
    AuthConfig,
    ContainerFilter,
    ContainerState,
    CRIClient,
    CRIError,
    ImageSpec,
    PodSandboxConfig,
    PodSandboxFilter,
    PodSandboxState,
)
from .kuberuntime import (
    CONTAINER_NAME,
    POD_UID,
    container_config,
    environment,
    mounts,
    referenced_objects,
    sandbox_config,
)
from .probes import ProbeManager
from .status import RuntimeView, restart_count, will_restart
from .volumes import VolumeError, VolumeManager

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

    def want_sync_in(self, seconds: float) -> None:
        at = time.monotonic() + max(0.0, seconds)
        if not self.requeue_at or at < self.requeue_at:
            self.requeue_at = at


class PodSyncer:
    def __init__(self, cri: CRIClient, volumes: VolumeManager, probes: ProbeManager, get: Getter,
                 logs_root: Path) -> None:
        self.cri = cri
        self.volumes = volumes
        self.probes = probes
        self.get = get
        self.logs_root = logs_root
        self.records: dict[str, PodRecord] = {}
        self.sandbox_configs: dict[str, PodSandboxConfig] = {}

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
        return view

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
        if not view.sandbox_ready:
            if view.containers and any(i.state == ContainerState.CONTAINER_RUNNING
                                       for instances in view.containers.values() for i in instances):
                await self._kill_containers(view, 0)
            attempt = await self._sandbox_attempt(uid)
            config = sandbox_config(pod, attempt, self.logs_root)
            sandbox_id = await self.cri.run_pod_sandbox(config)
            self.sandbox_configs[uid] = config
            view = await self.runtime_view(uid)
            view.sandbox_id = view.sandbox_id or sandbox_id
        known = self.sandbox_configs.get(uid)
        if known is None:
            status = await self.cri.pod_sandbox_status(view.sandbox_id)
            known = sandbox_config(pod, status.metadata.attempt if status.metadata else 0, self.logs_root)
            self.sandbox_configs[uid] = known
        config = known
        lookups = {ref: await self.get(ref[0], pod["metadata"]["namespace"], ref[1])
                   for ref in referenced_objects(pod)}
        changed = False
        # init containers, one at a time, in order
        for container in spec.get("initContainers") or []:
            latest = view.latest(container["name"])
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
                record.waiting.pop(container["name"], None)
                if self.probes.should_restart(uid, container["name"], latest.id):
                    log.info("container %s of pod %s failed its liveness probe; restarting", container["name"],
                             pod["metadata"]["name"])
                    await self._stop_container(pod, container, latest.id, _grace(pod))
                    changed = True
                    latest = (await self.cri.container_status(latest.id))
                else:
                    self.probes.ensure(pod, container, latest.id, view.pod_ip or node_ip)
                    continue
            if latest is not None and latest.state == ContainerState.CONTAINER_CREATED:
                await self.cri.start_container(latest.id)
                changed = True
                continue
            if latest is not None and not will_restart(pod, latest):
                continue
            changed |= await self._start_if_due(pod, container, "app", view, record, config, volume_paths, lookups)
        await self._collect_garbage(view)
        return await self.runtime_view(uid) if changed else view

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
        image = await self._ensure_image(pod, container, record)
        if image is None:
            return False
        try:
            env = environment(pod, container, lookups)
            mount_list = mounts(pod, container, volume_paths)
        except LookupError as exc:
            record.waiting[name] = ("CreateContainerConfigError", str(exc))
            record.want_sync_in(2)
            return False
        cfg = container_config(pod, container, kind=kind, restart_count=restarts, image_ref=image, env=env,
                               mount_list=mount_list)
        try:
            container_id = await self.cri.create_container(view.sandbox_id, cfg, config)
            await self.cri.start_container(container_id)
        except CRIError as exc:
            record.waiting[name] = ("CreateContainerError" if "create" in exc.method.lower()
                                    else "RunContainerError", exc.details)
            record.want_sync_in(BACKOFF_START)
            return True
        record.waiting.pop(name, None)
        return True

    async def _ensure_image(self, pod: Obj, container: Obj, record: PodRecord) -> str | None:
        image = container.get("image", "")
        tag = image.rsplit("/", 1)[-1]
        default_policy = "Always" if ("@" not in image and (":" not in tag or tag.endswith(":latest"))) \
            else "IfNotPresent"
        policy = container.get("imagePullPolicy") or default_policy
        present = await self.cri.image_status(image)
        if present is not None and policy != "Always":
            return image
        if policy == "Never":
            record.waiting[container["name"]] = ("ErrImageNeverPull",
                                                 f'Container image "{image}" is not present with pull policy of Never')
            return None
        backoff = record.backoff.setdefault("image:" + container["name"], _Backoff())
        now = time.monotonic()
        if now < backoff.until:
            record.waiting[container["name"]] = ("ImagePullBackOff", f'Back-off pulling image "{image}"')
            record.want_sync_in(backoff.until - now)
            return None
        try:
            auth = await self._pull_auth(pod, image)
            await self.cri.pull_image(ImageSpec(image=image), auth=auth, timeout=120)
        except CRIError as exc:
            if present is not None:
                return image  # Always, but the registry is away: upstream fails; we keep running what we have
            backoff.delay = min(backoff.delay * 2, BACKOFF_MAX) if backoff.delay else BACKOFF_START
            backoff.until = now + backoff.delay
            record.waiting[container["name"]] = ("ErrImagePull", exc.details)
            record.want_sync_in(backoff.delay)
            return None
        backoff.delay = 0
        return image

    async def _pull_auth(self, pod: Obj, image: str) -> AuthConfig | None:
        import base64
        import json

        host = image.split("/", 1)[0] if "/" in image and ("." in image.split("/", 1)[0]
                                                         or ":" in image.split("/", 1)[0]) else "docker.io"
        for ref in (pod.get("spec") or {}).get("imagePullSecrets") or []:
            secret = await self.get("secrets", pod["metadata"]["namespace"], ref.get("name", ""))
            raw = ((secret or {}).get("data") or {}).get(".dockerconfigjson")
            if not raw:
                continue
            auths = json.loads(base64.b64decode(raw)).get("auths") or {}
            for server, entry in auths.items():
                if server.removeprefix("https://").removeprefix("http://").split("/")[0] == host:
                    if entry.get("auth"):
                        user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
                    else:
                        user, password = entry.get("username", ""), entry.get("password", "")
                    return AuthConfig(username=user, password=password, server_address=host)
        return None

    async def _collect_garbage(self, view: RuntimeView) -> None:
        """Keep the current and the previous instance of every container."""
        for instances in view.containers.values():
            for old in instances[2:]:
                if old.state == ContainerState.CONTAINER_EXITED:
                    try:
                        await self.cri.remove_container(old.id)
                    except CRIError as exc:
                        log.debug("removing container %s: %s", old.id[:12], exc)

    # ---------------------------------------------------------------- termination
    async def _stop_container(self, pod: Obj, container: Obj | None, container_id: str, grace: int) -> None:
        deadline = time.monotonic() + grace
        hook = ((container or {}).get("lifecycle") or {}).get("preStop") or {}
        if "exec" in hook and grace > 0:
            try:
                await asyncio.wait_for(self.cri.exec_sync(container_id, list(hook["exec"].get("command") or []),
                                                          grace), grace)
            except (CRIError, TimeoutError) as exc:
                log.info("preStop hook of %s: %s", container_id[:12], exc)
        elif "sleep" in hook and grace > 0:
            await asyncio.sleep(min(grace, int(hook["sleep"].get("seconds") or 0)))
        remaining = max(0, int(deadline - time.monotonic() + 0.5)) if grace > 0 else 0
        try:
            await self.cri.stop_container(container_id, remaining)
        except CRIError as exc:
            if not exc.not_found:
                raise

    async def _kill_containers(self, view: RuntimeView, grace: int, pod: Obj | None = None) -> None:
        specs = {c["name"]: c for c in ((pod or {}).get("spec") or {}).get("containers") or []}
        running = [(name, i.id) for name, instances in view.containers.items() for i in instances
                   if i.state in (ContainerState.CONTAINER_RUNNING, ContainerState.CONTAINER_CREATED)]
        await asyncio.gather(*(self._stop_container(pod or {}, specs.get(name), cid, grace) for name, cid in running))

    async def kill_pod(self, pod: Obj | None, uid: str, grace: int, *, remove: bool) -> None:
        """Stop everything of pod ``uid`` (graceful for its containers), then its sandboxes;
        with ``remove`` also remove them and the pod's volumes and logs."""
        self.probes.remove(uid)
        view = await self.runtime_view(uid)
        await self._kill_containers(view, grace, pod)
        for sandbox in await self.cri.list_pod_sandbox(PodSandboxFilter(label_selector={POD_UID: uid})):
            try:
                await self.cri.stop_pod_sandbox(sandbox.id)
                if remove:
                    await self.cri.remove_pod_sandbox(sandbox.id)
            except CRIError as exc:
                if not exc.not_found:
                    raise
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
