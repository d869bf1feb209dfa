"""The `pods/eviction` subresource: delete a pod only if its PodDisruptionBudget allows it.

This is what `kubectl drain` calls. It follows upstream's eviction REST (k8s.io/kubernetes
`pkg/registry/core/pod/storage/eviction.go`):

- Pods that cannot count toward a budget — Pending, Succeeded, Failed, or already being
  deleted — are deleted without looking at any budget. A pod that is not terminal and not
  being deleted gets a resourceVersion precondition, so it cannot turn ready and slip past.
- Otherwise the namespace's PDBs whose selector matches the pod are found: none → delete;
  more than one → 500 (the eviction API does not support overlapping budgets); exactly one →
  its `status.disruptionsAllowed` is checked and decremented with a compare-and-swap status
  write that also records the pod in `status.disruptedPods`, so the disruption controller
  does not count it as healthy any more; then the pod is deleted. A budget with nothing left
  answers 429 TooManyRequests with a `DisruptionBudget` cause, which clients retry.
- A not-ready pod is deleted without spending the budget when the budget is already met
  (or its `unhealthyPodEvictionPolicy` is `AlwaysAllow`).
- Before deleting, the pod gets the `DisruptionTarget` condition (reason
  `EvictionByEvictionAPI`), as upstream has done since the PodDisruptionConditions feature.

The budget lives in the API like everything else: this module reads and writes it through the
registry (no controller or client code), so the eviction and the controller meet only at the
PDB's status, exactly as in upstream.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
from dataclasses import replace
from typing import Any

import orjson

from kubeherd.api import errors
from kubeherd.api.resources import Resource
from kubeherd.api.selectors import SelectorError, label_selector_from_dict
from kubeherd.apiserver.registry import DeleteOptions, Registry

Obj = dict[str, Any]

# More entries than this in status.disruptedPods means evictions are being approved faster than
# the disruption controller confirms them: refuse until it catches up (upstream's limit).
MAX_DISRUPTED_PODS = 2000
# Conflicts on the pod or the budget are retried this many times, as upstream's EvictionsRetry.
RETRIES = 20
RETRY_DELAY = 0.05
TOO_MANY_REQUESTS_MESSAGE = "Cannot evict pod as it would violate the pod's disruption budget."
MULTIPLE_PDBS_MESSAGE = ("This pod has more than one PodDisruptionBudget, which the eviction subresource does "
                         "not support.")


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _status_body(status: str, code: int, message: str = "") -> bytes:
    body: Obj = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": status}
    if message:
        body["message"] = message
    body["code"] = code
    return orjson.dumps(body)


def too_many_requests(cause: str, retry_after: int = 0) -> errors.APIError:
    details: Obj = {"causes": [{"reason": "DisruptionBudget", "message": cause}]}
    headers: dict[str, str] = {}
    if retry_after:
        details["retryAfterSeconds"] = retry_after
        headers["Retry-After"] = str(retry_after)
    return errors.APIError(429, "TooManyRequests", TOO_MANY_REQUESTS_MESSAGE, details, headers)


def _pdb_forbidden(name: str, why: str) -> errors.APIError:
    return errors.APIError(403, "Forbidden", f'poddisruptionbudget.policy "{name}" is forbidden: {why}',
                           {"name": name, "group": "policy", "kind": "poddisruptionbudget"})


def _is_ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def _phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def can_ignore_pdb(pod: Obj) -> bool:
    """Pods that cannot count toward a budget: not started, finished, or already leaving."""
    return _phase(pod) in ("Succeeded", "Failed", "Pending") or bool(pod["metadata"].get("deletionTimestamp"))


def should_enforce_resource_version(pod: Obj) -> bool:
    """A live pod could turn ready between our read and the delete: pin its resourceVersion."""
    return _phase(pod) not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


def set_condition(conditions: list[Obj], new: Obj) -> list[Obj]:
    """metav1 SetStatusCondition: replace the condition of that type, keeping its transition time
    unless the status changes."""
    out = []
    found = False
    for cond in conditions:
        if cond.get("type") != new["type"]:
            out.append(cond)
            continue
        found = True
        merged = {**cond, **{k: v for k, v in new.items() if k != "lastTransitionTime"}}
        if "observedGeneration" not in new:
            merged.pop("observedGeneration", None)
        if cond.get("status") != new["status"]:
            merged["lastTransitionTime"] = new.get("lastTransitionTime") or _now()
        out.append(merged)
    if not found:
        out.append({**new, "lastTransitionTime": new.get("lastTransitionTime") or _now()})
    return out


def disruption_allowed_condition(status: Obj) -> Obj:
    """The DisruptionAllowed condition that matches `status.disruptionsAllowed`."""
    allowed = int(status.get("disruptionsAllowed") or 0) > 0
    cond: Obj = {"type": "DisruptionAllowed", "status": "True" if allowed else "False"}
    if int(status.get("observedGeneration") or 0):
        cond["observedGeneration"] = int(status["observedGeneration"])
    cond.update(reason="SufficientPods" if allowed else "InsufficientPods", message="")
    return cond


class Eviction:
    """One eviction request, carried out against the registry."""

    def __init__(self, registry: Registry, pods: Resource, namespace: str, name: str, body: Any,
                 dry_run_query: str) -> None:
        self.registry = registry
        self.pods = pods
        self.namespace = namespace
        self.name = name
        pdbs = registry.catalog.lookup("policy", "v1", "poddisruptionbudgets")
        assert pdbs is not None
        self.pdbs = pdbs
        self.options = self._parse(body, dry_run_query)

    def _parse(self, body: Any, dry_run_query: str) -> DeleteOptions:
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be an Eviction object")
        api_version = body.get("apiVersion")
        if api_version and api_version not in ("policy/v1", "policy/v1beta1"):
            raise errors.bad_request(f"the API version in the data ({api_version}) does not match the expected "
                                     f"API version (policy/v1)")
        if body.get("kind") and body["kind"] != "Eviction":
            raise errors.bad_request(f"the kind in the data ({body['kind']}) does not match the expected kind "
                                     f"(Eviction)")
        meta = body.get("metadata") or {}
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        if meta.get("namespace") and meta["namespace"] != self.namespace:
            raise errors.bad_request("the namespace of the provided object does not match the namespace sent on "
                                     "the request")
        if meta.get("name") != self.name:
            raise errors.bad_request("name in URL does not match name in Eviction object")
        raw = body.get("deleteOptions")
        if raw is not None and not isinstance(raw, dict):
            raise errors.bad_request("deleteOptions must be an object")
        options = DeleteOptions.parse(raw, lambda _: "")
        body_dry_run = list((raw or {}).get("dryRun") or [])
        query_dry_run = [dry_run_query] if dry_run_query else []
        if body_dry_run and query_dry_run and body_dry_run != query_dry_run:
            raise errors.internal(f"Non-matching dry-run options in request and content: {query_dry_run} and "
                                  f"{body_dry_run}")
        if dry_run_query == "All":
            options.dry_run = True
        return options

    # ------------------------------------------------------------------ the request
    async def run(self) -> tuple[int, bytes]:
        pod = await self._delete_if_budget_does_not_apply()
        if pod is None:
            return 201, _status_body("Success", 201)
        matching = await self._budgets_for(pod)
        if len(matching) > 1:
            return 500, _status_body("Failure", 500, MULTIPLE_PDBS_MESSAGE)
        pin_version = False
        budget_name = ""
        if matching:
            pdb = matching[0]
            budget_name = pdb["metadata"]["name"]
            if not _is_ready(pod) and self._unhealthy_pod_may_go(pdb):
                pin_version = True  # deleting an unready pod does not disrupt a budget that is met
            else:
                await self._spend_budget(pod, pdb)
        options = self.options
        if pin_version:
            options = replace(options, precondition_rv=pod["metadata"]["resourceVersion"])
        try:
            await self._mark_and_delete(options)
        except errors.APIError as exc:
            if exc.code == 409 and exc.reason == "Conflict" and pin_version and not self.options.precondition_rv:
                raise too_many_requests(f"The disruption budget {budget_name} is still being processed by the "
                                        f"server.", 10) from None
            raise
        return 201, _status_body("Success", 201)

    async def _delete_if_budget_does_not_apply(self) -> Obj | None:
        """Delete a pod that cannot count toward any budget and return None; otherwise return the pod."""
        retry = not self.options.precondition_rv
        for attempt in range(RETRIES):
            cached = await self.registry.get(self.pods, self.namespace, self.name)
            pod = cached.obj
            if not can_ignore_pdb(pod):
                return pod
            options = self.options
            if should_enforce_resource_version(pod) and not options.precondition_rv:
                options = replace(options, precondition_rv=pod["metadata"]["resourceVersion"])
            try:
                await self._mark_and_delete(options)
                return None
            except errors.APIError as exc:
                if not (retry and exc.code == 409 and exc.reason == "Conflict") or attempt == RETRIES - 1:
                    raise
            await asyncio.sleep(RETRY_DELAY)
        raise AssertionError("unreachable")

    async def _budgets_for(self, pod: Obj) -> list[Obj]:
        await self.registry.cache.wait_fresh()
        labels = pod["metadata"].get("labels") or {}
        found = []
        for cached in self.registry.cache.resource(self.pdbs.storage_prefix).select(self.namespace):
            try:
                selector = label_selector_from_dict((cached.obj.get("spec") or {}).get("selector"))
            except SelectorError:
                continue  # an invalid selector matches nothing
            if selector.matches(labels):
                found.append(cached.obj)
        return found

    @staticmethod
    def _unhealthy_pod_may_go(pdb: Obj) -> bool:
        if (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy") == "AlwaysAllow":
            return True
        status = pdb.get("status") or {}
        desired = int(status.get("desiredHealthy") or 0)
        return int(status.get("currentHealthy") or 0) >= desired and desired > 0

    async def _spend_budget(self, pod: Obj, pdb: Obj) -> None:
        """Check the budget allows one more disruption and take it, compare-and-swap."""
        name = pdb["metadata"]["name"]
        for attempt in range(RETRIES):
            if attempt:
                pdb = (await self.registry.get(self.pdbs, self.namespace, name)).obj
            try:
                await self._check_and_decrement(pod["metadata"]["name"], pdb)
                return
            except errors.APIError as exc:
                if exc.code != 409 or exc.reason != "Conflict":
                    raise
            await asyncio.sleep(RETRY_DELAY)
        raise errors.APIError(504, "Timeout", f'couldn\'t update PodDisruptionBudget "{name}" due to conflicts',
                              {"retryAfterSeconds": 10})

    async def _check_and_decrement(self, pod_name: str, pdb: Obj) -> None:
        name = pdb["metadata"]["name"]
        status = copy.deepcopy(pdb.get("status") or {})
        if int(status.get("observedGeneration") or 0) < int(pdb["metadata"].get("generation") or 0):
            raise too_many_requests(f"The disruption budget {name} is still being processed by the server.", 10)
        allowed = int(status.get("disruptionsAllowed") or 0)
        if allowed < 0:
            raise _pdb_forbidden(name, "pdb disruptions allowed is negative")
        if len(status.get("disruptedPods") or {}) > MAX_DISRUPTED_PODS:
            raise _pdb_forbidden(name, "DisruptedPods map too big - too many evictions not confirmed by PDB "
                                       "controller")
        if allowed == 0:
            raise too_many_requests(f"The disruption budget {name} needs {int(status.get('desiredHealthy') or 0)} "
                                    f"healthy pods and has {int(status.get('currentHealthy') or 0)} currently")
        status["disruptionsAllowed"] = allowed - 1
        if allowed - 1 == 0:
            status["conditions"] = set_condition(list(status.get("conditions") or []),
                                                 disruption_allowed_condition(status))
        if self.options.dry_run:
            return
        status["disruptedPods"] = {**(status.get("disruptedPods") or {}), pod_name: _now()}
        updated = {**pdb, "status": status}
        updated["metadata"] = {**pdb["metadata"]}
        await self.registry.update(self.pdbs, self.namespace, name, updated, subresource="status")

    async def _mark_and_delete(self, options: DeleteOptions) -> None:
        """Add the DisruptionTarget condition to the pod (not on dry runs), then delete it."""
        if not options.dry_run:
            cached = await self.registry.get(self.pods, self.namespace, self.name)
            pod = copy.deepcopy(cached.obj)
            meta = pod["metadata"]
            if options.precondition_uid and options.precondition_uid != meta.get("uid"):
                raise errors.conflict("", "Pod", self.name, f"the UID in the precondition ({options.precondition_uid}) "
                                      f"does not match the UID in record ({meta.get('uid')}). The object might "
                                      f"have been deleted and then recreated")
            if options.precondition_rv and options.precondition_rv != meta.get("resourceVersion"):
                raise errors.conflict("", "Pod", self.name, f"the ResourceVersion in the precondition "
                                      f"({options.precondition_rv}) does not match the ResourceVersion in record "
                                      f"({meta.get('resourceVersion')}). The object might have been modified")
            status = pod.setdefault("status", {})
            status["conditions"] = _with_disruption_target(list(status.get("conditions") or []))
            updated, _, _ = await self.registry.update(self.pods, self.namespace, self.name, pod,
                                                       subresource="status")
            if options.precondition_rv:
                # our own write moved the pod on: the precondition now names that version
                options = replace(options, precondition_rv=updated["metadata"]["resourceVersion"])
        await self.registry.delete(self.pods, self.namespace, self.name, options)


def _with_disruption_target(conditions: list[Obj]) -> list[Obj]:
    """Pod condition update as upstream's UpdatePodCondition: a new transition time only when the
    status changes."""
    new = {"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI",
           "message": "Eviction API: evicting"}
    for i, cond in enumerate(conditions):
        if cond.get("type") == "DisruptionTarget":
            merged = {**cond, **new}
            if cond.get("status") != "True":
                merged["lastTransitionTime"] = _now()
            conditions[i] = merged
            return conditions
    return [*conditions, {**new, "lastProbeTime": None, "lastTransitionTime": _now()}]


async def evict(registry: Registry, pods: Resource, namespace: str, name: str, body: Any,
                dry_run_query: str = "") -> tuple[int, bytes]:
    """Serve POST .../pods/{name}/eviction; returns (HTTP status, body) or raises an APIError."""
    return await Eviction(registry, pods, namespace, name, body, dry_run_query).run()
