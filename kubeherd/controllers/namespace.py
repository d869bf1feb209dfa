"""Namespace lifecycle: a namespace being deleted is emptied, then released by its `kubernetes` finalizer.

A deleted namespace stays in storage (phase Terminating) while `spec.finalizers` holds
`kubernetes`. Each sync reads the namespace fresh from the API, deletes every namespaced object
of every resource discovery lists (one deletecollection per resource, or list and delete where a
resource has no deletecollection verb, always with background propagation so the garbage
collector never adds an `orphan` finalizer), then lists again to see what is left. Until nothing
is, the namespace's conditions say why — as upstream words them, since `kubectl describe
namespace` shows them — and the key is looked at again after half the estimated wait plus a second
(as upstream): the estimate is the longest grace period of the namespace's running pods, or 15 s
when what remains waits on finalizers.
Once empty, the `kubernetes` finalizer is removed through the `finalize` subresource and the API
server removes the namespace. Nothing is remembered between syncs.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from dataclasses import dataclass, field
from typing import Any

from kubeherd.client import APIStatusError, split_key
from kubeherd.client.discovery import APIResource, Discovery, discover
from kubeherd.controllers.base import NAMESPACES, PODS, Context, Controller
from kubeherd.controllers.podutil import now, parse_time, rfc3339

log = logging.getLogger(__name__)

Obj = dict[str, Any]

FINALIZER = "kubernetes"
# How long to assume objects held by finalizers take to go (upstream's figure).
FINALIZER_ESTIMATE_SECONDS = 15
CONFLICT_RETRIES = 5

DISCOVERY_FAILURE = "NamespaceDeletionDiscoveryFailure"
GV_PARSING_FAILURE = "NamespaceDeletionGroupVersionParsingFailure"
CONTENT_FAILURE = "NamespaceDeletionContentFailure"
CONTENT_REMAINING = "NamespaceContentRemaining"
FINALIZERS_REMAINING = "NamespaceFinalizersRemaining"
# Every condition the controller maintains, in upstream's order, with its reason and message while all is well.
CONDITIONS_OK: dict[str, tuple[str, str]] = {
    DISCOVERY_FAILURE: ("ResourcesDiscovered", "All resources successfully discovered"),
    GV_PARSING_FAILURE: ("ParsedGroupVersions", "All legacy kube types successfully parsed"),
    CONTENT_FAILURE: ("ContentDeleted", "All content successfully deleted, may be waiting on finalization"),
    CONTENT_REMAINING: ("ContentRemoved", "All content successfully removed"),
    FINALIZERS_REMAINING: ("ContentRemoved", "All content successfully removed"),
}


class ContentRemaining(Exception):
    """Some content could not be deleted this pass; the namespace is retried with back-off."""


@dataclass
class ResourceOutcome:
    """What deleting one resource's objects left behind."""

    estimate: int = 0
    remaining: int = 0
    finalizers: dict[str, int] = field(default_factory=dict)
    error: str = ""


def gvr_string(res: APIResource) -> str:
    """A group-version-resource as upstream formats one in messages (`apps/v1, Resource=replicasets`)."""
    ref = res.ref
    version = ref.api_version.rpartition("/")[2]
    return f"{ref.group}/{version}, Resource={ref.plural}"


def conditions_for(discovery: Discovery | None, discovery_error: str, errors: list[str],
                   remaining: dict[str, int], finalizers: dict[str, int]) -> dict[str, Obj]:
    """The failing conditions of one deletion pass, by type (types absent from the result are fine)."""
    failing: dict[str, Obj] = {}

    def fail(kind: str, reason: str, message: str) -> None:
        failing[kind] = {"type": kind, "status": "True", "reason": reason, "message": message}

    if discovery_error:
        fail(DISCOVERY_FAILURE, "DiscoveryFailed", discovery_error)
    elif discovery is not None and discovery.failed:
        fail(DISCOVERY_FAILURE, "DiscoveryFailed", f"Discovery failed for some groups, {len(discovery.failed)} "
             f"failing: {discovery.failure_message()}")
    if discovery is not None and discovery.unparsable:
        fail(GV_PARSING_FAILURE, "GroupVersionParsingFailed",
             "; ".join(f"unexpected GroupVersion string: {gv}" for gv in discovery.unparsable))
    if errors:
        fail(CONTENT_FAILURE, "ContentDeletionFailed",
             f"Failed to delete all resource types, {len(errors)} remaining: {', '.join(sorted(errors))}")
    if remaining:
        fail(CONTENT_REMAINING, "SomeResourcesRemain", "Some resources are remaining: " + ", ".join(
            sorted(f"{resource} has {n} resource instances" for resource, n in remaining.items() if n)))
    if finalizers:
        fail(FINALIZERS_REMAINING, "SomeFinalizerRemain", "Some finalizers are remaining: " + ", ".join(
            sorted(f"{name} in {n} resource instances" for name, n in finalizers.items() if n)))
    return failing


def merge_conditions(current: list[Obj], failing: dict[str, Obj]) -> list[Obj]:
    """The namespace's conditions after a pass; lastTransitionTime moves only when a status changes."""
    out = [dict(c) for c in current if c.get("type") not in CONDITIONS_OK]
    by_type = {c.get("type"): c for c in current}
    stamp = rfc3339()
    for kind, (reason, message) in CONDITIONS_OK.items():
        wanted = failing.get(kind) or {"type": kind, "status": "False", "reason": reason, "message": message}
        old = by_type.get(kind)
        if old is not None and old.get("status") == wanted["status"]:
            wanted = {**wanted, "lastTransitionTime": old.get("lastTransitionTime", stamp)}
        else:
            wanted = {**wanted, "lastTransitionTime": stamp}
        out.append(wanted)
    return out


class NamespaceController(Controller):
    name = "namespace"
    workers = 5

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.namespaces = self.informer(NAMESPACES)
        self.watch(self.namespaces, lambda ns: [ns["metadata"]["name"]] if ns["metadata"].get("deletionTimestamp")
                   else [])

    async def sync(self, key: str) -> None:
        _, name = split_key(key)
        cached = self.namespaces.indexer.get(name)
        if cached is None or not cached["metadata"].get("deletionTimestamp"):
            return
        try:  # several writers touch a terminating namespace: work from its latest state
            namespace = await self.client.get(NAMESPACES, name)
        except APIStatusError as exc:
            if exc.code == 404:
                return
            raise
        if not namespace["metadata"].get("deletionTimestamp"):
            return
        namespace = await self._mark_terminating(namespace)
        estimate = await self._delete_all_content(namespace)
        if estimate > 0:
            self.queue.add_after(name, estimate // 2 + 1)  # upstream's heuristic: most finish early
            return
        await self._finalize(namespace)

    async def _mark_terminating(self, namespace: Obj) -> Obj:
        if (namespace.get("status") or {}).get("phase") == "Terminating":
            return namespace
        updated = {**namespace, "status": {**(namespace.get("status") or {}), "phase": "Terminating"}}
        return await self.client.update_status(NAMESPACES, updated)

    # --- content
    async def _delete_all_content(self, namespace: Obj) -> int:
        """Delete everything in the namespace; the seconds still to wait (0: empty). Raises if some failed."""
        name = namespace["metadata"]["name"]
        deleted_at = parse_time(namespace["metadata"]["deletionTimestamp"]) or now()
        discovery: Discovery | None = None
        discovery_error = ""
        try:
            discovery = await discover(self.client)
        except (APIStatusError, OSError) as exc:
            discovery_error = str(exc)
        resources = [r for r in (discovery.resources if discovery else [])
                     if r.ref.namespaced and "delete" in r.verbs]
        outcomes = await asyncio.gather(*(self._delete_resource(r, name, deleted_at) for r in resources))
        errors = [o.error for o in outcomes if o.error]
        remaining: dict[str, int] = {}
        finalizers: dict[str, int] = {}
        for res, outcome in zip(resources, outcomes, strict=True):
            if outcome.remaining:
                remaining[f"{res.ref.plural}.{res.ref.group}"] = outcome.remaining
                for finalizer, count in outcome.finalizers.items():
                    finalizers[finalizer] = finalizers.get(finalizer, 0) + count
        failing = conditions_for(discovery, discovery_error, errors, remaining, finalizers)
        await self._update_conditions(namespace, failing)
        problems = ([discovery_error] if discovery_error else []) + (
            [discovery.failure_message()] if discovery and discovery.failed else []) + errors
        if problems:
            raise ContentRemaining(f"namespace {name}: {'; '.join(problems)}")
        return max((o.estimate for o in outcomes), default=0)

    async def _delete_resource(self, res: APIResource, namespace: str, deleted_at: datetime.datetime
                               ) -> ResourceOutcome:
        ref = res.ref
        try:
            estimate = await self._estimate(res, namespace, deleted_at)
        except APIStatusError as exc:
            return ResourceOutcome(error=str(exc))
        options = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        try:
            collection_deleted = False
            if "deletecollection" in res.verbs:
                try:
                    await self.client.request("DELETE", ref.path(namespace), options)
                    collection_deleted = True
                except APIStatusError as exc:
                    if exc.code not in (404, 405):
                        raise
            if not collection_deleted and "list" in res.verbs:
                listed = await self.client.list(ref, namespace)
                for item in listed.get("items") or []:
                    try:
                        await self.client.delete(ref, item["metadata"]["name"], namespace, propagation="Background")
                    except APIStatusError as exc:
                        if exc.code not in (404, 405):
                            raise
            if "list" not in res.verbs:
                return ResourceOutcome(estimate=estimate)
            items = (await self.client.list(ref, namespace)).get("items") or []
        except APIStatusError as exc:
            return ResourceOutcome(estimate=estimate, error=str(exc))
        if not items:
            return ResourceOutcome()
        finalizers: dict[str, int] = {}
        for item in items:
            for finalizer in item.get("metadata", {}).get("finalizers") or []:
                finalizers[finalizer] = finalizers.get(finalizer, 0) + 1
        if estimate:
            return ResourceOutcome(estimate, len(items), finalizers)
        if finalizers:
            return ResourceOutcome(FINALIZER_ESTIMATE_SECONDS, len(items), finalizers)
        return ResourceOutcome(0, len(items), {}, f"unexpected items still remain in namespace: {namespace} "
                               f"for gvr: {gvr_string(res)}")

    async def _estimate(self, res: APIResource, namespace: str, deleted_at: datetime.datetime) -> int:
        """Seconds the resource's objects may still need after the namespace's deletion (pods' grace)."""
        if res.ref.group != "" or res.ref.plural != PODS.plural:
            return 0
        estimate = 0
        for pod in (await self.client.list(PODS, namespace)).get("items") or []:
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                continue
            grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
            if isinstance(grace, int) and grace > estimate:
                estimate = grace
        if now() - deleted_at >= datetime.timedelta(seconds=estimate):
            return 0
        return estimate

    # --- the namespace object
    async def _update_conditions(self, namespace: Obj, failing: dict[str, Obj]) -> None:
        status = namespace.get("status") or {}
        current = status.get("conditions") or []
        conditions = merge_conditions(current, failing)
        if conditions == current:
            return
        try:
            await self.client.update_status(NAMESPACES, {**namespace, "status": {**status, "conditions": conditions}})
        except APIStatusError as exc:  # the next pass writes them again
            log.info("namespace %s: conditions not updated: %s", namespace["metadata"]["name"], exc)

    async def _finalize(self, namespace: Obj) -> None:
        """Drop the `kubernetes` finalizer through the finalize subresource (the API server then removes it)."""
        name, uid = namespace["metadata"]["name"], namespace["metadata"]["uid"]
        for _ in range(CONFLICT_RETRIES):
            spec = namespace.get("spec") or {}
            finalizers = spec.get("finalizers") or []
            if FINALIZER not in finalizers:
                return
            body = {**namespace, "spec": {**spec, "finalizers": sorted({f for f in finalizers if f != FINALIZER})}}
            try:
                await self.client.update(NAMESPACES, body, "finalize")
                return
            except APIStatusError as exc:
                if exc.code == 404:
                    return
                if exc.code != 409:
                    raise
            try:
                namespace = await self.client.get(NAMESPACES, name)
            except APIStatusError as exc:
                if exc.code == 404:
                    return
                raise
            if namespace["metadata"]["uid"] != uid:
                return
        raise ContentRemaining(f"namespace {name}: finalize kept conflicting")
