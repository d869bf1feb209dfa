"""VolumeBinding: a pod's PersistentVolumeClaims must be bound, or bindable on the chosen node.

- A claim that does not exist, or is being deleted, makes the pod unschedulable until it changes.
- A bound claim is fine; its volume's node affinity (if any) restricts the nodes
  (`node(s) had volume node affinity conflict`).
- An unbound claim of a class with `volumeBindingMode: Immediate` (or no class) waits for the
  persistent-volume controller to bind it: the pod is unschedulable with upstream's reason
  `pod has unbound immediate PersistentVolumeClaims`.
- An unbound claim of a `WaitForFirstConsumer` class is bound for the node the pod goes to: the
  node fits if an available PersistentVolume matches the claim there (class, size, access modes,
  node affinity), or if the class has a provisioner that can create one (and its
  allowedTopologies admit the node). At PreBind the scheduler records the choice in the API as
  upstream does — the matched volume's `spec.claimRef`, or the claim's
  `volume.kubernetes.io/selected-node` annotation for the provisioner — and waits (up to 10
  minutes) for the claims to become Bound before binding the pod.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from kubeherd.scheduler.events import ActionType, ClusterEvent, EventRegistration, EventResource
from kubeherd.scheduler.framework import (
    CycleState,
    FilterPlugin,
    PreBindPlugin,
    PreFilterPlugin,
    ReservePlugin,
)
from kubeherd.scheduler.nodeinfo import NodeInfo
from kubeherd.scheduler.podinfo import NodeSelector, NodeSelectorTerm, PodInfo
from kubeherd.scheduler.types import Code, Obj, Status, amount

NAME = "VolumeBinding"
ERR_REASON_UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"
ERR_REASON_NODE_CONFLICT = "node(s) had volume node affinity conflict"
ERR_REASON_BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind"
ANN_SELECTED_NODE = "volume.kubernetes.io/selected-node"
ANN_STORAGE_CLASS = "volume.beta.kubernetes.io/storage-class"
NO_PROVISIONER = "kubernetes.io/no-provisioner"
WAIT_FOR_FIRST_CONSUMER = "WaitForFirstConsumer"
BIND_TIMEOUT = 600.0
_STATE_KEY = "PreFilter" + NAME
_SKIP = Status(Code.SKIP)


def claim_class(pvc: Obj) -> str:
    ann = ((pvc.get("metadata") or {}).get("annotations") or {}).get(ANN_STORAGE_CLASS)
    return str(ann if ann is not None else (pvc.get("spec") or {}).get("storageClassName") or "")


def pv_node_affinity_matches(pv: Obj, node: NodeInfo) -> bool:
    required = (((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required"))
    if not required:
        return True
    return NodeSelector.parse(required).matches(node.labels, node.name)


def class_admits_node(sc: Obj, node: NodeInfo) -> bool:
    topologies = sc.get("allowedTopologies") or []
    if not topologies:
        return True
    for term in topologies:
        exprs = [{"key": e.get("key"), "operator": "In", "values": e.get("values") or []}
                 for e in term.get("matchLabelExpressions") or []]
        if NodeSelectorTerm.parse({"matchExpressions": exprs}).matches(node.labels, node.name):
            return True
    return False


def pv_matches_claim(pv: Obj, pvc: Obj, node: NodeInfo) -> bool:
    spec, pvc_spec = pv.get("spec") or {}, pvc.get("spec") or {}
    ref = spec.get("claimRef")
    meta = pvc.get("metadata") or {}
    if ref and (ref.get("namespace") != meta.get("namespace") or ref.get("name") != meta.get("name")):
        return False
    if (pv.get("status") or {}).get("phase") not in (None, "Available") and not ref:
        return False
    if (pv.get("metadata") or {}).get("deletionTimestamp"):
        return False
    if str(spec.get("storageClassName") or "") != claim_class(pvc):
        return False
    if (spec.get("volumeMode") or "Filesystem") != (pvc_spec.get("volumeMode") or "Filesystem"):
        return False
    want = amount("storage", ((pvc_spec.get("resources") or {}).get("requests") or {}).get("storage") or "0")
    have = amount("storage", (spec.get("capacity") or {}).get("storage") or "0")
    if have < want:
        return False
    if not set(pvc_spec.get("accessModes") or []) <= set(spec.get("accessModes") or []):
        return False
    return pv_node_affinity_matches(pv, node)


@dataclass
class VolumeState:
    bound_pvs: list[Obj] = field(default_factory=list)
    delayed: list[Obj] = field(default_factory=list)  # unbound WaitForFirstConsumer claims
    # decided at Reserve for the chosen node
    static: list[tuple[Obj, Obj]] = field(default_factory=list)  # (claim, volume)
    provision: list[Obj] = field(default_factory=list)

    def clone(self) -> VolumeState:
        return self


class VolumeBinding(PreFilterPlugin, FilterPlugin, ReservePlugin, PreBindPlugin):
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        if not pod.pvc_names:
            return _SKIP
        listers = self.handle.listers
        s = VolumeState()
        unbound_immediate = False
        for name in pod.pvc_names:
            pvc = listers.pvc(pod.namespace, name)
            if pvc is None:
                return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, f'persistentvolumeclaim "{name}" not found')
            if (pvc.get("metadata") or {}).get("deletionTimestamp"):
                return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, f'persistentvolumeclaim "{name}" is being deleted')
            volume_name = (pvc.get("spec") or {}).get("volumeName")
            if volume_name:
                pv = listers.pv(str(volume_name))
                if pv is None:
                    return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
                                  f'persistentvolume "{volume_name}" not found')
                s.bound_pvs.append(pv)
                continue
            class_name = claim_class(pvc)
            sc = listers.storage_class(class_name) if class_name else None
            if class_name and sc is None:
                return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
                              f'storageclass.storage.k8s.io "{class_name}" not found')
            if sc is not None and sc.get("volumeBindingMode") == WAIT_FOR_FIRST_CONSUMER:
                s.delayed.append(pvc)
            else:
                unbound_immediate = True
        if unbound_immediate:
            return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_UNBOUND_IMMEDIATE)
        state.write(_STATE_KEY, s)
        return None

    def _find(self, s: VolumeState, node: NodeInfo) -> tuple[list[tuple[Obj, Obj]], list[Obj]] | None:
        """Volumes for the delayed claims on `node`: (static matches, claims to provision), or None."""
        listers = self.handle.listers
        taken: set[str] = set()
        static: list[tuple[Obj, Obj]] = []
        provision: list[Obj] = []
        volumes = listers.pvs() if s.delayed else []
        for pvc in s.delayed:
            candidates = [pv for pv in volumes if pv["metadata"]["name"] not in taken and pv_matches_claim(pv, pvc, node)]
            if candidates:
                pv = min(candidates, key=lambda v: amount("storage", (v.get("spec") or {}).get("capacity", {})
                                                           .get("storage") or "0"))
                taken.add(pv["metadata"]["name"])
                static.append((pvc, pv))
                continue
            sc = listers.storage_class(claim_class(pvc)) or {}
            if sc.get("provisioner") and sc.get("provisioner") != NO_PROVISIONER and class_admits_node(sc, node):
                provision.append(pvc)
                continue
            return None
        return static, provision

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        s: VolumeState | None = state.read(_STATE_KEY)
        if s is None:
            return None
        for pv in s.bound_pvs:
            if not pv_node_affinity_matches(pv, node):
                return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_NODE_CONFLICT, plugin=NAME)
        if s.delayed and self._find(s, node) is None:
            return Status(Code.UNSCHEDULABLE, ERR_REASON_BIND_CONFLICT, plugin=NAME)
        return None

    def reserve(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        s: VolumeState | None = state.read(_STATE_KEY)
        if s is None or not s.delayed:
            return None
        node = self.handle.snapshot.get(node_name)
        found = self._find(s, node) if node is not None else None
        if found is None:
            return Status(Code.UNSCHEDULABLE, ERR_REASON_BIND_CONFLICT)
        s.static, s.provision = found
        return None

    async def pre_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        s: VolumeState | None = state.read(_STATE_KEY)
        if s is None or not s.delayed:
            return None
        api = self.handle.api
        if api is None:
            return None
        try:
            for pvc, pv in s.static:
                meta = pvc["metadata"]
                await api.patch_object("persistentvolumes", "", pv["metadata"]["name"], {"spec": {"claimRef": {
                    "kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": meta.get("namespace"),
                    "name": meta.get("name"), "uid": meta.get("uid"),
                    "resourceVersion": meta.get("resourceVersion")}}})
            for pvc in s.provision:
                meta = pvc["metadata"]
                await api.patch_object("persistentvolumeclaims", meta.get("namespace", ""), meta["name"],
                                       {"metadata": {"annotations": {ANN_SELECTED_NODE: node_name}}})
        except Exception as exc:
            return Status(Code.ERROR, f"binding volumes: {exc}")
        return await self._wait_bound(pod, [p for p, _ in s.static] + s.provision)

    async def _wait_bound(self, pod: PodInfo, claims: list[Obj]) -> Status | None:
        timeout = float(self.args.get("bind_timeout", BIND_TIMEOUT))
        deadline = time.monotonic() + timeout
        listers = self.handle.listers
        while True:
            pending = []
            for pvc in claims:
                current = listers.pvc(pod.namespace, pvc["metadata"]["name"])
                if current is None:
                    return Status(Code.ERROR, f'binding volumes: persistentvolumeclaim "{pvc["metadata"]["name"]}" '
                                              "not found")
                if not (current.get("spec") or {}).get("volumeName") or \
                        (current.get("status") or {}).get("phase") != "Bound":
                    pending.append(pvc)
            if not pending:
                return None
            if time.monotonic() > deadline:
                return Status(Code.ERROR, "binding volumes: timed out waiting for the condition")
            await asyncio.sleep(min(0.5, timeout / 10))

    def events_to_register(self) -> list[EventRegistration]:
        changed = ActionType.ADD | ActionType.update()
        return [
            EventRegistration(ClusterEvent(EventResource.PVC, changed)),
            EventRegistration(ClusterEvent(EventResource.PV, changed)),
            EventRegistration(ClusterEvent(EventResource.STORAGE_CLASS, changed)),
            EventRegistration(ClusterEvent(EventResource.NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL)),
        ]
