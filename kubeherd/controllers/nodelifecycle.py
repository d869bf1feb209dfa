"""Node lifecycle: notice nodes that stop heart-beating, taint nodes by their conditions, and
evict pods from nodes with NoExecute taints they do not tolerate.

A kubelet renews its Lease in `kube-node-lease` every 10 s. When neither the Lease nor the Ready
condition's heartbeat has moved for the grace period, the node's conditions become Unknown
(`NodeStatusUnknown`, "Kubelet stopped posting node status."). Taints follow conditions, as
upstream's taint-nodes-by-condition does: not-ready / unreachable (NoSchedule and NoExecute),
memory/disk/PID pressure, network-unavailable and unschedulable (NoSchedule). The taint eviction
controller then deletes pods that do not tolerate a node's NoExecute taints, at once or after
their `tolerationSeconds`.
"""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

from kubeherd.client import APIStatusError
from kubeherd.controllers.base import LEASES, NODES, PODS, Context, Controller
from kubeherd.controllers.podutil import now, parse_time, rfc3339

Obj = dict[str, Any]
GRACE_PERIOD = 50.0  # kube-controller-manager --node-monitor-grace-period (1.33 default)
MONITOR_PERIOD = 5.0
NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
_CONDITION_TAINTS = {
    ("MemoryPressure", "True"): "node.kubernetes.io/memory-pressure",
    ("DiskPressure", "True"): "node.kubernetes.io/disk-pressure",
    ("PIDPressure", "True"): "node.kubernetes.io/pid-pressure",
    ("NetworkUnavailable", "True"): "node.kubernetes.io/network-unavailable",
}
_MANAGED = {NOT_READY, UNREACHABLE, "node.kubernetes.io/unschedulable", *_CONDITION_TAINTS.values()}


def _condition(node: Obj, kind: str) -> Obj | None:
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return cond
    return None


def desired_taints(node: Obj, existing: list[Obj]) -> list[Obj]:
    """The node's taints with the condition-managed ones recomputed (others kept as they are)."""
    ready = (_condition(node, "Ready") or {}).get("status", "Unknown")
    wanted: list[tuple[str, str]] = []
    if ready == "False":
        wanted += [(NOT_READY, "NoSchedule"), (NOT_READY, "NoExecute")]
    elif ready == "Unknown":
        wanted += [(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")]
    for (kind, status), key in _CONDITION_TAINTS.items():
        if (_condition(node, kind) or {}).get("status") == status:
            wanted.append((key, "NoSchedule"))
    if (node.get("spec") or {}).get("unschedulable"):
        wanted.append(("node.kubernetes.io/unschedulable", "NoSchedule"))
    kept = [t for t in existing if t.get("key") not in _MANAGED]
    by_key = {(t.get("key"), t.get("effect")): t for t in existing}
    for key, effect in wanted:
        taint = by_key.get((key, effect)) or {"key": key, "effect": effect}
        if effect == "NoExecute" and "timeAdded" not in taint:
            taint = {**taint, "timeAdded": rfc3339()}
        kept.append(taint)
    return kept


def tolerates(toleration: Obj, taint: Obj) -> bool:
    if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
        return False
    if toleration.get("operator", "Equal") == "Exists":
        return not toleration.get("key") or toleration["key"] == taint.get("key")
    return toleration.get("key") == taint.get("key") and toleration.get("value", "") == taint.get("value", "")


def eviction_delay(pod: Obj, taints: list[Obj]) -> float | None:
    """Seconds until the pod must go (0: now), or None if it tolerates the NoExecute taints forever."""
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    delay: float | None = None
    for taint in taints:
        if taint.get("effect") != "NoExecute":
            continue
        matching = [t for t in tolerations if tolerates(t, taint)]
        if not matching:
            return 0.0
        bounded = [t["tolerationSeconds"] for t in matching if t.get("tolerationSeconds") is not None]
        if not bounded or len(bounded) < len(matching):
            continue  # tolerated for ever by at least one toleration
        added = parse_time(taint.get("timeAdded")) or now()
        remaining = (added + datetime.timedelta(seconds=max(0, min(bounded))) - now()).total_seconds()
        delay = max(0.0, remaining) if delay is None else min(delay, max(0.0, remaining))
    return delay


class NodeLifecycleController(Controller):
    name = "nodelifecycle"
    workers = 2

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.grace_period = float(ctx.options.get("node_monitor_grace_period", GRACE_PERIOD))
        self.monitor_period = min(MONITOR_PERIOD, self.grace_period / 4)
        self.nodes = self.informer(NODES)
        self.leases = self.informer(LEASES)
        self.watch(self.nodes)
        self.watch(self.leases, lambda lease: [lease["metadata"]["name"]]
                   if lease["metadata"].get("namespace") == "kube-node-lease" else [])

    def _last_heartbeat(self, node: Obj) -> datetime.datetime | None:
        name = node["metadata"]["name"]
        lease = self.leases.indexer.get(f"kube-node-lease/{name}")
        times = [parse_time((lease.get("spec") or {}).get("renewTime")) if lease else None,
                 parse_time((_condition(node, "Ready") or {}).get("lastHeartbeatTime")),
                 parse_time(node["metadata"].get("creationTimestamp"))]
        found = [t for t in times if t is not None]
        return max(found) if found else None

    async def sync(self, key: str) -> None:
        node = self.nodes.indexer.get(key)
        if node is None:
            return
        last = self._last_heartbeat(node)
        age = (now() - last).total_seconds() if last else self.grace_period + 1
        if age > self.grace_period:
            node = await self._mark_unknown(node) or node
        else:
            self.queue.add_after(key, self.grace_period - age + 0.5)
        taints = desired_taints(node, list((node.get("spec") or {}).get("taints") or []))
        if taints != list((node.get("spec") or {}).get("taints") or []):
            try:
                await self.client.patch(NODES, key, {"spec": {"taints": taints or None}})
            except APIStatusError as exc:
                if exc.code != 404:
                    raise

    async def _mark_unknown(self, node: Obj) -> Obj | None:
        conditions = list((node.get("status") or {}).get("conditions") or [])
        if conditions and all(c.get("status") == "Unknown" for c in conditions
                              if c.get("type") in ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")):
            return None
        stamp = rfc3339()
        kinds = {c.get("type") for c in conditions}
        for kind in ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure"):
            if kind not in kinds:
                conditions.append({"type": kind, "lastHeartbeatTime": None})
        changed = []
        for cond in conditions:
            if cond.get("type") in ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure") \
                    and cond.get("status") != "Unknown":
                cond = {**cond, "status": "Unknown", "reason": "NodeStatusUnknown",
                        "message": "Kubelet stopped posting node status.", "lastTransitionTime": stamp}
            changed.append(cond)
        try:
            updated = await self.client.update_status(NODES, {**node, "status": {**(node.get("status") or {}),
                                                                              "conditions": changed}})
        except APIStatusError as exc:
            if exc.code in (404, 409):
                return None
            raise
        self.recorder.record(node, "Normal", "NodeNotReady", f"Node {node['metadata']['name']} status is now: "
                                                            "NodeNotReady")
        return updated

    async def run(self) -> None:
        async def monitor() -> None:
            while True:
                for node in self.nodes.indexer.objects():
                    self.queue.add(node["metadata"]["name"])
                await asyncio.sleep(self.monitor_period)

        task = asyncio.ensure_future(monitor())
        try:
            await super().run()
        finally:
            task.cancel()


class TaintEvictionController(Controller):
    """Deletes pods from nodes whose NoExecute taints they do not tolerate (or no longer do)."""

    name = "taint-eviction"
    workers = 2

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.nodes = self.informer(NODES)
        self.pods = self.informer(PODS)
        self.pods.indexer.add_indexer("node", lambda p: [n] if (n := (p.get("spec") or {}).get("nodeName")) else [])
        self.watch(self.pods, lambda p: [f"{p['metadata']['namespace']}/{p['metadata']['name']}"]
                   if (p.get("spec") or {}).get("nodeName") else [])
        self.watch(self.nodes, lambda n: [f"{p['metadata']['namespace']}/{p['metadata']['name']}"
                                          for p in self.pods.indexer.by_index("node", n["metadata"]["name"])])

    async def sync(self, key: str) -> None:
        pod = self.pods.indexer.get(key)
        if pod is None or pod["metadata"].get("deletionTimestamp"):
            return
        node = self.nodes.indexer.get((pod.get("spec") or {}).get("nodeName") or "")
        if node is None:
            return
        delay = eviction_delay(pod, (node.get("spec") or {}).get("taints") or [])
        if delay is None:
            return
        if delay > 0:
            self.queue.add_after(key, delay)
            return
        namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        self.recorder.record(pod, "Normal", "TaintManagerEviction", f"Marking for deletion Pod {namespace}/{name}")
        try:
            condition = {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
                         "message": "Taint manager: deleting due to NoExecute taint", "lastTransitionTime": rfc3339()}
            conditions = [c for c in (pod.get("status") or {}).get("conditions") or []
                          if c.get("type") != "DisruptionTarget"] + [condition]
            await self.client.patch(PODS, name, {"status": {"conditions": conditions}}, namespace,
                                    subresource="status")
            await self.client.delete(PODS, name, namespace)
        except APIStatusError as exc:
            if exc.code != 404:
                raise
