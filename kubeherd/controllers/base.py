"""What every controller shares: informers feeding a work queue of keys, and workers that sync.

A controller declares the informers it reads, maps each informer event to the keys it must
reconcile (`enqueue`), and implements `sync(key)`, which reads everything from the informers'
caches, computes the whole desired state, and writes only the difference. Nothing acts on the
content of one event, so a controller restarted at any moment converges to the same result.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from kubeherd.client import (
    APIClient,
    APIStatusError,
    EventRecorder,
    InformerFactory,
    ResourceRef,
    WorkQueue,
    object_key,
    run_workers,
)
from kubeherd.client.informer import Informer

log = logging.getLogger(__name__)

Obj = dict[str, Any]


# The resources controllers read and write, named once.
PODS = ResourceRef("v1", "pods", True, "Pod")
NODES = ResourceRef("v1", "nodes", False, "Node")
NAMESPACES = ResourceRef("v1", "namespaces", False, "Namespace")
SERVICES = ResourceRef("v1", "services", True, "Service")
ENDPOINTS = ResourceRef("v1", "endpoints", True, "Endpoints")
CONFIGMAPS = ResourceRef("v1", "configmaps", True, "ConfigMap")
SECRETS = ResourceRef("v1", "secrets", True, "Secret")
SERVICEACCOUNTS = ResourceRef("v1", "serviceaccounts", True, "ServiceAccount")
PVCS = ResourceRef("v1", "persistentvolumeclaims", True, "PersistentVolumeClaim")
REPLICATIONCONTROLLERS = ResourceRef("v1", "replicationcontrollers", True, "ReplicationController")
REPLICASETS = ResourceRef("apps/v1", "replicasets", True, "ReplicaSet")
DEPLOYMENTS = ResourceRef("apps/v1", "deployments", True, "Deployment")
STATEFULSETS = ResourceRef("apps/v1", "statefulsets", True, "StatefulSet")
DAEMONSETS = ResourceRef("apps/v1", "daemonsets", True, "DaemonSet")
CONTROLLERREVISIONS = ResourceRef("apps/v1", "controllerrevisions", True, "ControllerRevision")
JOBS = ResourceRef("batch/v1", "jobs", True, "Job")
CRONJOBS = ResourceRef("batch/v1", "cronjobs", True, "CronJob")
PDBS = ResourceRef("policy/v1", "poddisruptionbudgets", True, "PodDisruptionBudget")
ENDPOINTSLICES = ResourceRef("discovery.k8s.io/v1", "endpointslices", True, "EndpointSlice")
LEASES = ResourceRef("coordination.k8s.io/v1", "leases", True, "Lease")


@dataclass
class Context:
    """What the controller manager hands every controller."""

    client: APIClient
    informers: InformerFactory
    recorder: EventRecorder
    # Settings from the server's flags, by name (e.g. "node_monitor_grace_period").
    options: dict[str, Any] = field(default_factory=dict)
    # The cluster CA certificate (PEM), published into every namespace as kube-root-ca.crt.
    ca_pem: bytes = b""


class Controller:
    name: ClassVar[str] = "controller"
    workers: ClassVar[int] = 2

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.client = ctx.client
        self.recorder = ctx.recorder
        self.queue = WorkQueue(self.name)

    def informer(self, ref: ResourceRef) -> Informer:
        return self.ctx.informers.informer(ref)

    def watch(self, informer: Informer, keys: Callable[[Obj], list[str]] | None = None) -> None:
        """Enqueue, for every change an informer sees, the keys `keys(obj)` names (default: its own)."""
        to_keys = keys or (lambda obj: [object_key(obj)])

        def enqueue(obj: Obj) -> None:
            for key in to_keys(obj):
                self.queue.add(key)

        def enqueue_both(old: Obj, new: Obj) -> None:
            enqueue(old)
            enqueue(new)

        informer.add_handlers(on_add=enqueue, on_update=enqueue_both, on_delete=enqueue)

    async def sync(self, key: str) -> None:
        raise NotImplementedError

    async def run(self) -> None:
        await run_workers(self.queue, self.sync, self.workers, self._failed)

    def _failed(self, key: str, exc: BaseException) -> None:
        log.info("%s: sync %s failed (retry %d): %s", self.name, key, self.queue.retries(key), exc)


def owner_reference(owner: Obj, controller: bool = True, block: bool = True) -> Obj:
    meta = owner["metadata"]
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": meta["name"], "uid": meta["uid"],
            "controller": controller, "blockOwnerDeletion": block}


def controller_of(obj: Obj) -> Obj | None:
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def owner_keys(kind: str) -> Callable[[Obj], list[str]]:
    """Map an owned object to the key of its controlling owner of `kind` (if any)."""

    def keys(obj: Obj) -> list[str]:
        ref = controller_of(obj)
        if ref is None or ref.get("kind") != kind:
            return []
        ns = obj.get("metadata", {}).get("namespace", "")
        return [f"{ns}/{ref['name']}" if ns else ref["name"]]

    return keys


CONTROLLER_INDEX = "controller-uid"
ORPHAN = "orphan:"


def index_by_controller(obj: Obj) -> list[str]:
    """An object's controller's uid, or `orphan:<namespace>` for objects nobody controls."""
    ref = controller_of(obj)
    if ref is not None and ref.get("uid"):
        return [str(ref["uid"])]
    return [ORPHAN + obj.get("metadata", {}).get("namespace", "")]


def claim_candidates(informer: Informer, owner: Obj) -> list[Obj]:
    """The objects an owner could claim: its own and its namespace's orphans — never a scan of the
    whole namespace, which would make every sync cost as much as the namespace is big."""
    informer.indexer.add_indexer(CONTROLLER_INDEX, index_by_controller)
    meta = owner["metadata"]
    return (informer.indexer.by_index(CONTROLLER_INDEX, meta["uid"])
            + informer.indexer.by_index(CONTROLLER_INDEX, ORPHAN + meta.get("namespace", "")))



async def claim_objects(client: APIClient, resource: ResourceRef, owner: Obj, candidates: Iterable[Obj],
                matches: Callable[[Obj], bool], *, finalizer: str = "") -> list[Obj]:
    """The objects ``owner`` controls after this pass, as upstream's controller-ref manager decides.

    An owned object that still matches is kept; one that no longer matches is released (its
    owner reference removed) unless the owner is being deleted; a matching orphan that is not
    being deleted is adopted (owner reference added) unless the owner is being deleted.
    ``finalizer`` is added on adoption and removed on release (the Job controller's tracking
    finalizer). Each write carries the object's uid as a precondition; an object gone or
    changed meanwhile (404/409/422) is skipped, and the next sync sees it again.
    """
    meta = owner["metadata"]
    uid = meta["uid"]
    deleting = bool(meta.get("deletionTimestamp"))
    claimed: list[Obj] = []
    for obj in candidates:
        ometa = obj["metadata"]
        ref = controller_of(obj)
        refs = list(ometa.get("ownerReferences") or [])
        finalizers = list(ometa.get("finalizers") or [])
        if ref is not None and ref.get("uid") == uid:
            if matches(obj):
                claimed.append(obj)
            elif not deleting:
                change: Obj = {"ownerReferences": [r for r in refs if r.get("uid") != uid] or None}
                if finalizer in finalizers:
                    change["finalizers"] = [f for f in finalizers if f != finalizer] or None
                await _patch_metadata(client, resource, obj, change)
        elif ref is None and not deleting and not ometa.get("deletionTimestamp") and matches(obj):
            change = {"ownerReferences": [*refs, owner_reference(owner)]}
            if finalizer and finalizer not in finalizers:
                change["finalizers"] = [*finalizers, finalizer]
            adopted = await _patch_metadata(client, resource, obj, change)
            if adopted is not None:
                claimed.append(adopted)
    return claimed


async def _patch_metadata(client: APIClient, resource: ResourceRef, obj: Obj, change: Obj) -> Obj | None:
    meta = obj["metadata"]
    try:
        return await client.patch(resource, meta["name"], {"metadata": {**change, "uid": meta["uid"]}},
                                  meta.get("namespace", ""))
    except APIStatusError as exc:
        if exc.code in (404, 409, 422):
            return None
        raise
