"""ReplicaSet (and ReplicationController): keep `spec.replicas` active pods matching the selector.

Each sync reads the set and the namespace's pods from the informers, adopts matching orphans and
releases owned pods that no longer match (ownerReferences), then creates or deletes the
difference — creates in slow-start batches (1, 2, 4, …) so a broken template fails fast, deletes
the least valuable pods first. Expectations stop a second round of creates before the informer
has seen the first. Status is written last, through the status subresource.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

from kubeherd.api.selectors import label_selector_from_dict, label_selector_from_set
from kubeherd.client import APIStatusError, Expectations, ResourceRef, split_key
from kubeherd.controllers.base import (
    PODS,
    REPLICASETS,
    REPLICATIONCONTROLLERS,
    Context,
    Controller,
    claim_candidates,
    claim_objects,
    controller_of,
    owner_reference,
)
from kubeherd.controllers.podutil import deletion_rank, is_active, is_available, is_ready, rfc3339

log = logging.getLogger(__name__)

Obj = dict[str, Any]
BURST_REPLICAS = 500


def pod_from_template(owner: Obj, template: Obj, generate_name: str) -> Obj:
    meta = template.get("metadata") or {}
    pod_meta: Obj = {"generateName": generate_name, "namespace": owner["metadata"]["namespace"],
                     "ownerReferences": [owner_reference(owner)]}
    for field in ("labels", "annotations", "finalizers"):
        if meta.get(field):
            pod_meta[field] = dict(meta[field]) if isinstance(meta[field], dict) else list(meta[field])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": template.get("spec") or {}}


class ReplicaSetController(Controller):
    name = "replicaset"
    workers = 4
    ref: ClassVar[ResourceRef] = REPLICASETS

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.expectations = Expectations()
        self.sets = self.informer(self.ref)
        self.pods = self.informer(PODS)
        self.watch(self.sets)
        self.pods.add_handlers(on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted)

    # --- event handlers: only work out which keys to look at
    def selector(self, owner: Obj) -> Any:
        return label_selector_from_dict((owner.get("spec") or {}).get("selector"))

    def _owner_key(self, pod: Obj) -> str | None:
        ref = controller_of(pod)
        if ref is None or ref.get("kind") != self.ref.kind:
            return None
        return f"{pod['metadata']['namespace']}/{ref['name']}"

    def _matching_sets(self, pod: Obj) -> list[str]:
        labels = pod["metadata"].get("labels") or {}
        ns = pod["metadata"]["namespace"]
        return [f"{ns}/{s['metadata']['name']}" for s in self.sets.indexer.objects(ns)
                if self.selector(s).matches(labels)]

    def _pod_added(self, pod: Obj) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.creation_observed(key)
            self.queue.add(key)
        elif not controller_of(pod):
            for key in self._matching_sets(pod):
                self.queue.add(key)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        for pod in (old, new):
            key = self._owner_key(pod)
            if key is not None:
                self.queue.add(key)
            elif not controller_of(pod):
                for key in self._matching_sets(pod):
                    self.queue.add(key)

    def _pod_deleted(self, pod: Obj) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.deletion_observed(key)
            self.queue.add(key)

    # --- reconcile
    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        owner = self.sets.indexer.get(key)
        if owner is None:
            self.expectations.delete(key)
            return
        selector = self.selector(owner)
        # only the set's own pods and the namespace's orphans can be claimed: look at no others
        candidates = claim_candidates(self.pods, owner)
        pods = await claim_objects(self.client, PODS, owner, [p for p in candidates if is_active(p)],
                           lambda pod: selector.matches(pod["metadata"].get("labels") or {}))
        failure: str | None = None
        if self.expectations.satisfied(key) and not owner["metadata"].get("deletionTimestamp"):
            failure = await self._manage(key, owner, pods)
        await self._update_status(owner, pods, failure)

    async def _manage(self, key: str, owner: Obj, pods: list[Obj]) -> str | None:
        wanted = int((owner.get("spec") or {}).get("replicas", 1))
        diff = len(pods) - wanted
        if diff < 0:
            return await self._create(key, owner, min(-diff, BURST_REPLICAS))
        if diff > 0:
            doomed = sorted(pods, key=deletion_rank)[:min(diff, BURST_REPLICAS)]
            self.expectations.expect(key, deletes=len(doomed))
            results = await asyncio.gather(*(self._delete_pod(key, owner, p) for p in doomed),
                                           return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    raise result
        return None

    async def _create(self, key: str, owner: Obj, count: int) -> str | None:
        template = (owner.get("spec") or {}).get("template") or {}
        self.expectations.expect(key, adds=count)
        batch, remaining = 1, count
        while remaining > 0:
            size = min(batch, remaining)
            results = await asyncio.gather(
                *(self.client.create(PODS, pod_from_template(owner, template, f"{owner['metadata']['name']}-"))
                  for _ in range(size)), return_exceptions=True)
            failed = [r for r in results if isinstance(r, BaseException)]
            for result in results:
                if not isinstance(result, BaseException):
                    self.recorder.record(owner, "Normal", "SuccessfulCreate",
                                         f"Created pod: {result['metadata']['name']}")
            remaining -= size
            if failed:
                self.expectations.lower(key, adds=len(failed) + remaining)
                message = str(failed[0])
                self.recorder.record(owner, "Warning", "FailedCreate", f"Error creating: {message}")
                return message
            batch *= 2
        return None

    async def _delete_pod(self, key: str, owner: Obj, pod: Obj) -> None:
        name = pod["metadata"]["name"]
        try:
            await self.client.delete(PODS, name, pod["metadata"]["namespace"])
            self.recorder.record(owner, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")
        except APIStatusError as exc:
            self.expectations.lower(key, deletes=1)
            if exc.code != 404:
                raise

    async def _update_status(self, owner: Obj, pods: list[Obj], failure: str | None) -> None:
        spec = owner.get("spec") or {}
        template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        status = dict(owner.get("status") or {})
        status["replicas"] = len(pods)
        status["fullyLabeledReplicas"] = sum(
            1 for p in pods if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in template_labels.items()))
        status["readyReplicas"] = sum(1 for p in pods if is_ready(p))
        status["availableReplicas"] = sum(1 for p in pods if is_available(p, min_ready))
        status["observedGeneration"] = owner["metadata"].get("generation", 1)
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "ReplicaFailure"]
        if failure:
            conditions.append({"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
                               "message": failure, "lastTransitionTime": rfc3339()})
        status["conditions"] = conditions
        for zero in ("readyReplicas", "availableReplicas", "fullyLabeledReplicas"):
            if not status[zero]:
                del status[zero]
        if not status["conditions"]:
            del status["conditions"]
        if status == (owner.get("status") or {}):
            return
        try:
            await self.client.update_status(self.ref, {**owner, "status": status})
        except APIStatusError as exc:
            if exc.code == 409:
                self.queue.add_after(f"{owner['metadata']['namespace']}/{owner['metadata']['name']}", 0.05)
            elif exc.code != 404:
                raise
        if min_ready and status.get("availableReplicas", 0) < status.get("readyReplicas", 0):
            # pods become available with time alone: look again when the first could be
            self.queue.add_after(f"{owner['metadata']['namespace']}/{owner['metadata']['name']}", min_ready)


class ReplicationControllerController(ReplicaSetController):
    name = "replicationcontroller"
    ref = REPLICATIONCONTROLLERS

    def selector(self, owner: Obj) -> Any:
        selector = (owner.get("spec") or {}).get("selector")
        if not selector:  # defaulted from the template's labels, as upstream does
            selector = ((owner.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels")
        return label_selector_from_set(selector or {})
