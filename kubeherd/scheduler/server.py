"""kube-scheduler as a component: leader election, informers, and the scheduling loop.

Only the holder of the `kube-scheduler` Lease (in kube-system) schedules, so several servers
sharing one datastore never bind the same pod twice. Each term of leadership starts from scratch
— fresh informers, an empty cache and queue — and schedules only once every informer has synced,
so the cache is complete before the first decision (and a restarted scheduler converges on what
the API says, not on what it remembered).

The scheduler is a client of the API like any other: pods are watched without the terminal ones
(`status.phase!=Succeeded,status.phase!=Failed`, as upstream), so a pod that finishes leaves the
cache and frees its node's room.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
from collections.abc import Mapping
from typing import Any

from kubeherd.client import APIClient, EventRecorder, InformerFactory, LeaderElector, ResourceRef
from kubeherd.client.informer import Informer
from kubeherd.scheduler.api import ClientAPI
from kubeherd.scheduler.events import EventResource
from kubeherd.scheduler.framework import Profile
from kubeherd.scheduler.podinfo import PodInfo
from kubeherd.scheduler.scheduler import Scheduler
from kubeherd.scheduler.types import Obj

log = logging.getLogger(__name__)

PODS = ResourceRef("v1", "pods", True, "Pod")
NODES = ResourceRef("v1", "nodes", False, "Node")
NAMESPACES = ResourceRef("v1", "namespaces", False, "Namespace")
SERVICES = ResourceRef("v1", "services", True, "Service")
PVCS = ResourceRef("v1", "persistentvolumeclaims", True, "PersistentVolumeClaim")
PVS = ResourceRef("v1", "persistentvolumes", False, "PersistentVolume")
REPLICATIONCONTROLLERS = ResourceRef("v1", "replicationcontrollers", True, "ReplicationController")
REPLICASETS = ResourceRef("apps/v1", "replicasets", True, "ReplicaSet")
STATEFULSETS = ResourceRef("apps/v1", "statefulsets", True, "StatefulSet")
STORAGECLASSES = ResourceRef("storage.k8s.io/v1", "storageclasses", False, "StorageClass")
PRIORITYCLASSES = ResourceRef("scheduling.k8s.io/v1", "priorityclasses", False, "PriorityClass")
PDBS = ResourceRef("policy/v1", "poddisruptionbudgets", True, "PodDisruptionBudget")
NON_TERMINAL_PODS = "status.phase!=Succeeded,status.phase!=Failed"
LEASE_NAME = "kube-scheduler"
COMPONENT = "default-scheduler"


class InformerListers:
    """Listers over the scheduler's informer caches."""

    def __init__(self, informers: InformerFactory) -> None:
        self.svc = informers.informer(SERVICES)
        self.rcs = informers.informer(REPLICATIONCONTROLLERS)
        self.rss = informers.informer(REPLICASETS)
        self.stss = informers.informer(STATEFULSETS)
        self.nss = informers.informer(NAMESPACES)
        self.pvcs = informers.informer(PVCS)
        self.pvs_informer = informers.informer(PVS)
        self.scs = informers.informer(STORAGECLASSES)
        self.pcs = informers.informer(PRIORITYCLASSES)
        self.pdb_informer = informers.informer(PDBS)

    def services(self, namespace: str) -> list[Obj]:
        return self.svc.indexer.objects(namespace)

    def replication_controller(self, namespace: str, name: str) -> Obj | None:
        return self.rcs.indexer.get_by_name(namespace, name)

    def replica_set(self, namespace: str, name: str) -> Obj | None:
        return self.rss.indexer.get_by_name(namespace, name)

    def stateful_set(self, namespace: str, name: str) -> Obj | None:
        return self.stss.indexer.get_by_name(namespace, name)

    def namespace_labels(self, namespace: str) -> Mapping[str, str] | None:
        ns = self.nss.indexer.get(namespace)
        return None if ns is None else (ns.get("metadata") or {}).get("labels") or {}

    def pvc(self, namespace: str, name: str) -> Obj | None:
        return self.pvcs.indexer.get_by_name(namespace, name)

    def pv(self, name: str) -> Obj | None:
        return self.pvs_informer.indexer.get(name)

    def pvs(self) -> list[Obj]:
        return self.pvs_informer.indexer.objects()

    def storage_class(self, name: str) -> Obj | None:
        return self.scs.indexer.get(name)

    def priority_class(self, name: str) -> Obj | None:
        return self.pcs.indexer.get(name)

    def priority_classes(self) -> list[Obj]:
        return self.pcs.indexer.objects()

    def pdbs(self) -> list[Obj]:
        return self.pdb_informer.indexer.objects()


def wire(scheduler: Scheduler, pods: Informer, nodes: Informer, listers: InformerListers) -> None:
    """Feed informer events to the scheduler (nodes first, so pods find their nodes)."""
    nodes.add_handlers(scheduler.on_node_add, scheduler.on_node_update, scheduler.on_node_delete)
    pods.add_handlers(scheduler.on_pod_add, scheduler.on_pod_update, scheduler.on_pod_delete)
    for informer, resource in ((listers.pvcs, EventResource.PVC), (listers.pvs_informer, EventResource.PV),
                               (listers.scs, EventResource.STORAGE_CLASS)):
        def added(obj: Obj, r: EventResource = resource) -> None:
            scheduler.on_storage_event(r, None, obj)

        def updated(old: Obj, new: Obj, r: EventResource = resource) -> None:
            scheduler.on_storage_event(r, old, new)

        informer.add_handlers(added, updated, None)


class KubeScheduler:
    """The scheduler inside `kubeherd server` (or any process with an API client)."""

    def __init__(self, client: APIClient, profiles: list[Profile] | None = None, identity: str = "",
                 **options: Any) -> None:
        self.client = client
        self.profiles = profiles
        self.options = options
        self.identity = identity or f"{socket.gethostname()}_{uuid.uuid4()}"
        self.elector = LeaderElector(client, LEASE_NAME, self.identity)
        self.scheduler: Scheduler | None = None
        self._task: asyncio.Task[None] | None = None

    async def _lead(self) -> None:
        informers = InformerFactory(self.client)
        recorder = EventRecorder(self.client, COMPONENT, socket.gethostname())
        pods = informers.informer(PODS, field_selector=NON_TERMINAL_PODS)
        nodes = informers.informer(NODES)
        listers = InformerListers(informers)
        scheduler: Scheduler | None = None

        def current(pod: PodInfo) -> Obj | None:
            latest = scheduler.pods.get(pod.uid) if scheduler is not None else None
            return latest.pod if latest is not None else None

        scheduler = Scheduler(self.profiles, api=ClientAPI(self.client, recorder, current), listers=listers,
                              **self.options)
        self.scheduler = scheduler
        wire(scheduler, pods, nodes, listers)
        recorder.start()
        informers.start()
        try:
            await informers.wait_for_sync(60)
            log.info("%s: scheduling", self.identity)
            await scheduler.run()
        finally:
            await scheduler.stop()
            await informers.stop()
            await recorder.stop()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.elector.run(self._lead))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        await self.elector.release()
