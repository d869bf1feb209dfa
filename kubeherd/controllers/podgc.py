"""Pod GC: delete terminated pods over a threshold, pods on nodes that are gone, and terminating
pods that will never finish terminating.

As upstream (`pkg/controller/podgc`), this is a periodic sweep (every 20 s) over the informer
caches, not an event-driven controller: its single work-queue key re-arms itself. Each pass:

- **terminated** (Succeeded/Failed) pods beyond `terminated_pod_gc_threshold` (upstream's
  `--terminated-pod-gc-threshold`, default 12500; 0 disables it), evicted pods first, then oldest;
- **terminating** pods on a NotReady node tainted `node.kubernetes.io/out-of-service`;
- **orphaned** pods bound to a node that does not exist: a node first missing from the cache is
  quarantined (40 s) and then confirmed gone with a GET, so a node the cache has not seen yet is
  not mistaken for a deleted one; such pods get the `DisruptionTarget` condition
  (reason `DeletionByPodGC`);
- **unscheduled terminating** pods (deleted while never bound to a node).

A pod that is not yet terminal is first marked `Failed` through the status subresource, so
whoever counts it (the Job controller) sees a failure, then force-deleted (grace period 0).
The quarantine clock lives in memory: after a restart a missing node waits one more quarantine,
which only delays, never wrongly performs, a deletion.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from kubeherd.client import APIStatusError
from kubeherd.controllers.base import NODES, PODS, Context, Controller
from kubeherd.controllers.podutil import condition, rfc3339

log = logging.getLogger(__name__)

Obj = dict[str, Any]
OUT_OF_SERVICE_TAINT = "node.kubernetes.io/out-of-service"
GC_KEY = "gc"
DEFAULT_THRESHOLD = 12500  # kube-controller-manager --terminated-pod-gc-threshold


def is_terminated(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def is_evicted(pod: Obj) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Failed" and status.get("reason") == "Evicted"


def gc_order(pod: Obj) -> tuple[bool, str, str]:
    """Evicted pods first, then the oldest, by name on a tie."""
    meta = pod["metadata"]
    return not is_evicted(pod), meta.get("creationTimestamp") or "", meta["name"]


def terminated_to_delete(pods: list[Obj], threshold: int) -> list[Obj]:
    if threshold <= 0:
        return []
    terminated = [p for p in pods if is_terminated(p)]
    excess = len(terminated) - threshold
    return sorted(terminated, key=gc_order)[:excess] if excess > 0 else []


def node_ready(node: Obj) -> bool:
    ready = condition(node, "Ready")
    return bool(ready and ready.get("status") == "True")


class PodGCController(Controller):
    name = "podgc"
    workers = 1

    def __init__(self, ctx: Context, *, terminated_pod_gc_threshold: int | None = None,
                 gc_check_period: float = 20.0, quarantine: float = 40.0) -> None:
        super().__init__(ctx)
        if terminated_pod_gc_threshold is None:
            terminated_pod_gc_threshold = int(ctx.options.get("terminated_pod_gc_threshold", DEFAULT_THRESHOLD))
        self.threshold = terminated_pod_gc_threshold
        self.period = gc_check_period
        self.quarantine = quarantine
        self.pods = self.informer(PODS)
        self.nodes = self.informer(NODES)
        self.missing_since: dict[str, float] = {}  # node name → when a pod first pointed at it, missing

    async def run(self) -> None:
        self.queue.add(GC_KEY)
        await super().run()

    async def sync(self, key: str) -> None:
        try:
            await self.gc()
        finally:
            self.queue.add_after(GC_KEY, self.period)

    async def gc(self) -> None:
        pods = self.pods.indexer.objects()
        nodes = {n["metadata"]["name"]: n for n in self.nodes.indexer.objects()}
        doomed: dict[str, tuple[Obj, Obj | None]] = {}
        for pod in terminated_to_delete(pods, self.threshold):
            doomed.setdefault(pod["metadata"]["uid"], (pod, None))
        for pod in pods:
            node = nodes.get((pod.get("spec") or {}).get("nodeName") or "")
            if pod["metadata"].get("deletionTimestamp") and node is not None and not node_ready(node) and \
                    any(t.get("key") == OUT_OF_SERVICE_TAINT for t in (node.get("spec") or {}).get("taints") or []):
                doomed.setdefault(pod["metadata"]["uid"], (pod, None))
        gone = await self._deleted_nodes(pods, nodes)
        for pod in pods:
            if (pod.get("spec") or {}).get("nodeName") in gone:
                doomed.setdefault(pod["metadata"]["uid"], (pod, {
                    "type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC",
                    "message": "PodGC: node no longer exists", "lastTransitionTime": rfc3339()}))
        for pod in pods:
            if pod["metadata"].get("deletionTimestamp") and not (pod.get("spec") or {}).get("nodeName"):
                doomed.setdefault(pod["metadata"]["uid"], (pod, None))
        if doomed:
            log.info("podgc: deleting %d pods", len(doomed))
        results = await asyncio.gather(*(self.mark_failed_and_delete(pod, cond) for pod, cond in doomed.values()),
                                       return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                log.info("podgc: %s", result)

    async def _deleted_nodes(self, pods: list[Obj], nodes: dict[str, Obj]) -> set[str]:
        """Names of nodes pods are bound to that have been missing for a whole quarantine and
        that the API confirms are gone."""
        clock = time.monotonic()
        wanted = {name for p in pods if (name := (p.get("spec") or {}).get("nodeName")) and name not in nodes}
        for name in list(self.missing_since):
            if name not in wanted:
                del self.missing_since[name]
        gone: set[str] = set()
        for name in wanted:
            since = self.missing_since.setdefault(name, clock)
            if clock - since < self.quarantine:
                continue
            try:
                await self.client.get(NODES, name)
            except APIStatusError as exc:
                if exc.code == 404:
                    gone.add(name)
                continue
            del self.missing_since[name]  # it exists after all: the cache was behind
        return gone

    async def mark_failed_and_delete(self, pod: Obj, cond: Obj | None = None) -> None:
        meta = pod["metadata"]
        name, namespace = meta["name"], meta["namespace"]
        try:
            if not is_terminated(pod):
                conditions = [c for c in (pod.get("status") or {}).get("conditions") or []
                              if cond is None or c.get("type") != cond["type"]]
                if cond is not None:
                    conditions.append(cond)
                patch: Obj = {"metadata": {"uid": meta["uid"]}, "status": {"phase": "Failed"}}
                if cond is not None:
                    patch["status"]["conditions"] = conditions
                await self.client.patch(PODS, name, patch, namespace, subresource="status")
            await self.client.delete(PODS, name, namespace, grace_period=0)
        except APIStatusError as exc:
            if exc.code != 404:
                raise
