"""StatefulSet: pods with stable names, stable storage and an order, as kube-controller-manager runs them.

Each sync claims the set's pods (selector plus the `<set>-<ordinal>` name), finds or records the
ControllerRevision of the current template (the update revision) next to the one the pods were
last brought to (the current revision), and then does what upstream's `updateStatefulSet` does:
- pods with an ordinal in `[start, start + replicas)` are kept, missing ones are created (their
  PersistentVolumeClaims `<template>-<set>-<ordinal>` first), failed or succeeded ones deleted
  to be recreated; pods above the range are condemned and deleted, highest ordinal first;
- with `podManagementPolicy: OrderedReady` one step happens at a time: no pod is created until
  every lower ordinal is Running and Ready (and available), none deleted while another is
  terminating; `Parallel` creates and deletes all at once;
- RollingUpdate then deletes the highest-ordinal pod not at the update revision (down to
  `partition`) once all pods are healthy, so it comes back at the new revision; OnDelete waits for
  the user to delete pods.
There are no expectations: pod names are deterministic, so a stale cache can only cause an
AlreadyExists or NotFound, which are harmless. The persistentVolumeClaimRetentionPolicy is
carried out, as upstream, with ownerReferences on the claims (on the set for `whenDeleted:
Delete`, on a condemned pod for `whenScaled: Delete`); the garbage collector deletes them.
Status (replicas, ready, available, current and updated replicas, both revisions, collision
count) is what `kubectl rollout status statefulset` reads; the revisions' `data` is the strategic
merge patch `kubectl rollout undo` sends back.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from kubeherd.api.selectors import label_selector_from_dict
from kubeherd.client import APIStatusError, split_key
from kubeherd.controllers import history
from kubeherd.controllers.base import (
    CONTROLLERREVISIONS,
    PODS,
    PVCS,
    STATEFULSETS,
    Context,
    Controller,
    claim_candidates,
    claim_objects,
    controller_of,
    owner_keys,
    owner_reference,
)
from kubeherd.controllers.podutil import is_available, is_ready

log = logging.getLogger(__name__)

Obj = dict[str, Any]
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
REVISION_LABEL = history.POD_REVISION_LABEL
MAX_BATCH = 500
_ORDINAL = re.compile(r"^(.*)-([0-9]+)$")


# --- identity
def parent_and_ordinal(pod: Obj) -> tuple[str, int]:
    match = _ORDINAL.match(pod["metadata"]["name"])
    if match is None:
        return "", -1
    ordinal = int(match.group(2))
    return match.group(1), ordinal if ordinal < 2**31 else -1


def ordinal_of(pod: Obj) -> int:
    return parent_and_ordinal(pod)[1]


def spec_replicas(sset: Obj) -> int:
    return int((sset.get("spec") or {}).get("replicas", 1))


def start_ordinal(sset: Obj) -> int:
    return int(((sset.get("spec") or {}).get("ordinals") or {}).get("start") or 0)


def in_ordinal_range(pod: Obj, sset: Obj) -> bool:
    ordinal, start = ordinal_of(pod), start_ordinal(sset)
    return start <= ordinal < start + spec_replicas(sset)


def claim_name(template_name: str, sset: Obj, ordinal: int) -> str:
    return f"{template_name}-{sset['metadata']['name']}-{ordinal}"


def is_member(sset: Obj, pod: Obj) -> bool:
    return parent_and_ordinal(pod)[0] == sset["metadata"]["name"]


def identity_matches(sset: Obj, pod: Obj) -> bool:
    parent, ordinal = parent_and_ordinal(pod)
    name = sset["metadata"]["name"]
    return (ordinal >= 0 and parent == name and pod["metadata"]["name"] == f"{name}-{ordinal}"
            and pod["metadata"].get("namespace") == sset["metadata"]["namespace"]
            and (pod["metadata"].get("labels") or {}).get(POD_NAME_LABEL) == pod["metadata"]["name"])


def claims_for(sset: Obj, ordinal: int) -> dict[str, Obj]:
    """The PersistentVolumeClaims a pod of this ordinal uses, by template name."""
    match_labels = ((sset["spec"].get("selector") or {}).get("matchLabels")) or {}
    claims: dict[str, Obj] = {}
    for template in sset["spec"].get("volumeClaimTemplates") or []:
        meta = template.get("metadata") or {}
        claim_meta: Obj = {"name": claim_name(meta["name"], sset, ordinal), "namespace": sset["metadata"]["namespace"],
                           "labels": {**(meta.get("labels") or {}), **match_labels}}
        if meta.get("annotations"):
            claim_meta["annotations"] = dict(meta["annotations"])
        claims[meta["name"]] = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": claim_meta,
                                "spec": dict(template.get("spec") or {})}
    return claims


def storage_matches(sset: Obj, pod: Obj) -> bool:
    ordinal = ordinal_of(pod)
    if ordinal < 0:
        return False
    volumes = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or []}
    for name, claim in claims_for(sset, ordinal).items():
        source = (volumes.get(name) or {}).get("persistentVolumeClaim") or {}
        if source.get("claimName") != claim["metadata"]["name"]:
            return False
    return True


def new_pod(sset: Obj, template: Obj, ordinal: int, revision: str) -> Obj:
    """A pod of `template` with the identity of `ordinal`, its claims mounted, at `revision`."""
    name = f"{sset['metadata']['name']}-{ordinal}"
    meta = template.get("metadata") or {}
    labels = {**(meta.get("labels") or {}), POD_NAME_LABEL: name, POD_INDEX_LABEL: str(ordinal),
              REVISION_LABEL: revision}
    pod_meta: Obj = {"name": name, "generateName": f"{sset['metadata']['name']}-",
                     "namespace": sset["metadata"]["namespace"], "labels": labels,
                     "ownerReferences": [owner_reference(sset)]}
    for field in ("annotations", "finalizers"):
        if meta.get(field):
            pod_meta[field] = dict(meta[field]) if isinstance(meta[field], dict) else list(meta[field])
    spec = dict(template.get("spec") or {})
    spec["hostname"] = name
    if sset["spec"].get("serviceName"):
        spec["subdomain"] = sset["spec"]["serviceName"]
    claims = claims_for(sset, ordinal)
    volumes = [{"name": tname, "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]}}
               for tname, claim in claims.items()]
    volumes += [v for v in spec.get("volumes") or [] if v.get("name") not in claims]
    if volumes:
        spec["volumes"] = volumes
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": spec}


# --- pod state, as upstream's stateful_set_utils sees it
def phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def is_created(pod: Obj) -> bool:
    return phase(pod) != ""


def is_terminating(pod: Obj) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def running_and_ready(pod: Obj) -> bool:
    return phase(pod) == "Running" and is_ready(pod)


def running_and_available(pod: Obj, min_ready: int) -> bool:
    return running_and_ready(pod) and is_available(pod, min_ready)


def is_unavailable(pod: Obj, min_ready: int) -> bool:
    return not running_and_available(pod, min_ready) or is_terminating(pod)


def pod_revision(pod: Obj) -> str:
    return str((pod["metadata"].get("labels") or {}).get(REVISION_LABEL, ""))


# --- persistentVolumeClaimRetentionPolicy, as ownerReferences on the claims
def retention_policy(sset: Obj) -> tuple[str, str]:
    policy = sset["spec"].get("persistentVolumeClaimRetentionPolicy") or {}
    return policy.get("whenDeleted") or "Retain", policy.get("whenScaled") or "Retain"


def _ref_to(ref: Obj, obj: Obj, api_version: str, kind: str) -> bool:
    return ref.get("apiVersion") == api_version and ref.get("kind") == kind and ref.get("name") == obj["metadata"]["name"]


def _has_stale_ref(claim: Obj, obj: Obj, api_version: str, kind: str) -> bool:
    for ref in claim["metadata"].get("ownerReferences") or []:
        if _ref_to(ref, obj, api_version, kind):
            return ref.get("uid") != obj["metadata"].get("uid")
    return False


def _has_ref(claim: Obj, obj: Obj) -> bool:
    uid = obj["metadata"].get("uid")
    return bool(uid) and any(r.get("uid") == uid for r in claim["metadata"].get("ownerReferences") or [])


def _unexpected_controller(claim: Obj, sset: Obj, pod: Obj) -> bool:
    if retention_policy(sset) == ("Retain", "Retain"):
        return False
    for ref in claim["metadata"].get("ownerReferences") or []:
        if _ref_to(ref, sset, "apps/v1", "StatefulSet"):
            if ref.get("uid") != sset["metadata"]["uid"]:
                return True
        elif _ref_to(ref, pod, "v1", "Pod"):
            if ref.get("uid") != pod["metadata"].get("uid"):
                return True
        elif ref.get("controller"):
            return True
    return False


def claim_owners_up_to_date(claim: Obj, sset: Obj, pod: Obj) -> bool:
    if _has_stale_ref(claim, sset, "apps/v1", "StatefulSet") or _has_stale_ref(claim, pod, "v1", "Pod"):
        return True  # left by an earlier set or pod of the same name: not ours to touch
    if _unexpected_controller(claim, sset, pod):
        return not (_has_ref(claim, sset) or _has_ref(claim, pod))
    uids = {sset["metadata"]["uid"], pod["metadata"].get("uid")}
    if any(r.get("uid") in uids and not r.get("controller") for r in claim["metadata"].get("ownerReferences") or []):
        return False
    when_deleted, when_scaled = retention_policy(sset)
    scaled_down = not in_ordinal_range(pod, sset)
    want_set = when_deleted == "Delete" and not (when_scaled == "Delete" and scaled_down)
    want_pod = when_scaled == "Delete" and scaled_down
    return _has_ref(claim, sset) == want_set and _has_ref(claim, pod) == want_pod


def claim_owner_refs(claim: Obj, sset: Obj, pod: Obj) -> list[Obj]:
    """The claim's ownerReferences as the retention policy wants them."""
    refs = [r for r in claim["metadata"].get("ownerReferences") or []
            if not (_ref_to(r, sset, "apps/v1", "StatefulSet") or _ref_to(r, pod, "v1", "Pod"))]
    if _unexpected_controller(claim, sset, pod):
        return refs
    when_deleted, when_scaled = retention_policy(sset)
    scaled_down = not in_ordinal_range(pod, sset)
    if when_scaled == "Delete" and scaled_down and pod["metadata"].get("uid"):
        refs.append(owner_reference(pod))
    elif when_deleted == "Delete":
        refs.append(owner_reference(sset))
    return refs


class StatefulSetController(Controller):
    name = "statefulset"
    workers = 4

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.sets = self.informer(STATEFULSETS)
        self.pods = self.informer(PODS)
        self.claims = self.informer(PVCS)
        self.revisions = self.informer(CONTROLLERREVISIONS)
        self.watch(self.sets)
        self.watch(self.revisions, owner_keys("StatefulSet"))
        self.watch(self.pods, self._pod_keys)
        self.watch(self.claims, self._claim_keys)

    # --- event handlers: only work out which keys to look at
    def _pod_keys(self, pod: Obj) -> list[str]:
        ref = controller_of(pod)
        ns = pod["metadata"]["namespace"]
        if ref is not None:
            return [f"{ns}/{ref['name']}"] if ref.get("kind") == "StatefulSet" else []
        labels = pod["metadata"].get("labels") or {}
        return [f"{ns}/{s['metadata']['name']}" for s in self.sets.indexer.objects(ns)
                if label_selector_from_dict((s.get("spec") or {}).get("selector")).matches(labels)]

    def _claim_keys(self, claim: Obj) -> list[str]:
        ns, name = claim["metadata"]["namespace"], claim["metadata"]["name"]
        keys = []
        for sset in self.sets.indexer.objects(ns):
            for template in (sset.get("spec") or {}).get("volumeClaimTemplates") or []:
                if name.startswith(f"{(template.get('metadata') or {}).get('name')}-{sset['metadata']['name']}-"):
                    keys.append(f"{ns}/{sset['metadata']['name']}")
                    break
        return keys

    # --- reconcile
    async def sync(self, key: str) -> None:
        namespace, _ = split_key(key)
        sset = self.sets.indexer.get(key)
        if sset is None:
            return
        selector = label_selector_from_dict(sset["spec"].get("selector"))
        revisions = history.owned_or_orphan(self.revisions.indexer.objects(namespace), sset, selector)
        if not sset["metadata"].get("deletionTimestamp"):
            revisions = [r if controller_of(r) is not None else (await history.adopt(self.client, sset, r) or r)
                         for r in revisions]
        pods = await claim_objects(self.client, PODS, sset, claim_candidates(self.pods, sset),
                           lambda pod: selector.matches(pod["metadata"].get("labels") or {}) and is_member(sset, pod))
        revisions = history.sort_revisions(revisions)
        current, update, collisions = await self._revisions(sset, revisions)
        try:
            status = await self._update_set(sset, current, update, collisions, pods)
        finally:
            await self._truncate_history(sset, pods, revisions, current, update)
        await self._write_status(sset, status)
        min_ready = int(sset["spec"].get("minReadySeconds") or 0)
        if min_ready and status.get("availableReplicas", 0) != spec_replicas(sset):
            self.queue.add_after(key, min_ready)

    async def _revisions(self, sset: Obj, revisions: list[Obj]) -> tuple[Obj, Obj, int]:
        """(current revision, update revision, collision count), recording the update revision."""
        collisions = int((sset.get("status") or {}).get("collisionCount") or 0)
        candidate = history.new_revision(sset, history.next_revision(revisions), collisions)
        equal = [r for r in revisions if history.equal_revision(r, candidate)]
        if equal and history.equal_revision(revisions[-1], equal[-1]):
            update = revisions[-1]
        elif equal:  # back to an earlier template: that revision becomes the newest again
            update = await history.set_revision_number(self.client, equal[-1], history.revision_number(candidate))
        else:
            update, collisions = await history.create(self.client, sset, candidate, collisions)
        current_name = (sset.get("status") or {}).get("currentRevision")
        current = next((r for r in revisions if r["metadata"]["name"] == current_name), update)
        return current, update, collisions

    async def _update_set(self, sset: Obj, current: Obj, update: Obj, collisions: int, pods: list[Obj]) -> Obj:
        spec = sset["spec"]
        min_ready = int(spec.get("minReadySeconds") or 0)
        status: Obj = {"observedGeneration": sset["metadata"].get("generation", 1),
                       "currentRevision": current["metadata"]["name"],
                       "updateRevision": update["metadata"]["name"], "collisionCount": collisions}
        count, start = spec_replicas(sset), start_ordinal(sset)
        slots: list[Obj | None] = [None] * count
        condemned: list[Obj] = []
        for pod in pods:
            ordinal = ordinal_of(pod)
            if start <= ordinal < start + count:
                slots[ordinal - start] = pod
            elif ordinal >= 0:
                condemned.append(pod)
        replicas = [pod if pod is not None else self._versioned_pod(sset, current, update, start + i)
                    for i, pod in enumerate(slots)]
        condemned.sort(key=ordinal_of, reverse=True)
        unavailable = [p for p in replicas if is_unavailable(p, min_ready)]
        unavailable += [p for p in reversed(condemned) if is_unavailable(p, min_ready)]
        first_unavailable = unavailable[0] if unavailable else None

        def finish() -> Obj:
            self._count(status, min_ready, current, update, replicas + condemned)
            return status

        if sset["metadata"].get("deletionTimestamp"):
            return finish()
        monotonic = spec.get("podManagementPolicy") != "Parallel"
        try:
            if await self._run_for_all(len(replicas), monotonic, lambda i: self._process_replica(
                    sset, monotonic, replicas, i)):
                return finish()
            if await self._run_for_all(len(condemned), monotonic, lambda i: self._fix_condemned_claims(
                    sset, condemned[i])):
                return finish()
            if await self._run_for_all(len(condemned), monotonic, lambda i: self._process_condemned(
                    sset, first_unavailable, monotonic, condemned, i, min_ready)):
                return finish()
        except Exception:
            await self._write_status(sset, finish())
            raise
        finish()
        strategy = spec.get("updateStrategy") or {}
        if strategy.get("type") == "OnDelete":
            return status
        partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
        for target in range(len(replicas) - 1, partition - 1, -1):
            pod = replicas[target]
            if pod_revision(pod) != update["metadata"]["name"] and not is_terminating(pod):
                log.debug("statefulset %s: deleting %s for update", sset["metadata"]["name"], pod["metadata"]["name"])
                await self._delete_pod(sset, pod)
                status["currentReplicas"] = status.get("currentReplicas", 0) - 1
                return status
            if is_unavailable(pod, min_ready):
                return status
        return status

    def _versioned_pod(self, sset: Obj, current: Obj, update: Obj, ordinal: int) -> Obj:
        """The pod upstream would create for `ordinal`: below the partition at the current revision."""
        strategy = sset["spec"].get("updateStrategy") or {}
        rolling = strategy.get("rollingUpdate")
        start = start_ordinal(sset)
        current_count = int((sset.get("status") or {}).get("currentReplicas") or 0)
        if (strategy.get("type") == "RollingUpdate" and rolling is None and ordinal < start + current_count) or \
                (rolling is not None and ordinal < start + int(rolling.get("partition") or 0)):
            return new_pod(sset, history.revision_template(current), ordinal, current["metadata"]["name"])
        return new_pod(sset, history.revision_template(update), ordinal, update["metadata"]["name"])

    @staticmethod
    def _count(status: Obj, min_ready: int, current: Obj, update: Obj, pods: list[Obj]) -> None:
        created = [p for p in pods if is_created(p)]
        live = [p for p in created if not is_terminating(p)]
        status["replicas"] = len(created)
        status["readyReplicas"] = sum(1 for p in pods if running_and_ready(p))
        status["availableReplicas"] = sum(1 for p in pods if running_and_available(p, min_ready))
        status["currentReplicas"] = sum(1 for p in live if pod_revision(p) == current["metadata"]["name"])
        status["updatedReplicas"] = sum(1 for p in live if pod_revision(p) == update["metadata"]["name"])

    @staticmethod
    async def _run_for_all(count: int, monotonic: bool, fn: Callable[[int], Awaitable[bool]]) -> bool:
        """Monotonic: one at a time, stopping at the first that says stop. Burst: all of them, in
        slow-start batches (1, 2, 4, ...), stopping only on errors. True means: stop here."""
        if monotonic:
            for i in range(count):
                if await fn(i):
                    return True
            return False
        done, batch = 0, 1
        while done < count:
            size = min(batch, count - done)
            results = await asyncio.gather(*(fn(i) for i in range(done, done + size)), return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    raise result
            done += size
            batch = min(batch * 2, MAX_BATCH)
        return False

    async def _process_replica(self, sset: Obj, monotonic: bool, replicas: list[Obj], i: int) -> bool:
        pod = replicas[i]
        if phase(pod) in ("Failed", "Succeeded"):
            if not is_terminating(pod):
                await self._delete_pod(sset, pod)
            return True  # recreated once it is gone
        if not is_created(pod):
            if self._claims_stale(sset, pod):
                return True  # wait for the garbage collector to remove the old pod's claims
            created = await self._create_pod(sset, pod)
            if created is not None:
                replicas[i] = created
            return monotonic or created is None
        if phase(pod) == "Pending":
            await self._create_claims(sset, pod)
        min_ready = int(sset["spec"].get("minReadySeconds") or 0)
        if monotonic and (is_terminating(pod) or not running_and_available(pod, min_ready)):
            return True
        await self._update_pod(sset, pod)
        return False

    async def _process_condemned(self, sset: Obj, first_unavailable: Obj | None, monotonic: bool,
                                 condemned: list[Obj], i: int, min_ready: int) -> bool:
        pod = condemned[i]
        if is_terminating(pod):
            return monotonic  # in order: wait until it is gone
        if monotonic and pod is not first_unavailable and not running_and_available(pod, min_ready):
            return True  # another pod is unhealthy: fix that first
        await self._delete_pod(sset, pod)
        return True

    async def _fix_condemned_claims(self, sset: Obj, pod: Obj) -> bool:
        await self._fix_claims(sset, pod)
        return False

    # --- pods and claims
    async def _create_pod(self, sset: Obj, pod: Obj) -> Obj | None:
        name = pod["metadata"]["name"]
        try:
            await self._create_claims(sset, pod)
        except (APIStatusError, RuntimeError) as exc:
            self._pod_event(sset, "create", name, exc)
            raise
        try:
            created = await self.client.create(PODS, pod)
        except APIStatusError as exc:
            if exc.code == 409 and exc.reason == "AlreadyExists":
                return None  # the cache is behind; its event brings the set back here
            self._pod_event(sset, "create", name, exc)
            raise
        await self._fix_claims(sset, created)
        self._pod_event(sset, "create", name)
        return created

    async def _delete_pod(self, sset: Obj, pod: Obj) -> None:
        name = pod["metadata"]["name"]
        try:
            await self.client.delete(PODS, name, pod["metadata"]["namespace"])
        except APIStatusError as exc:
            if exc.code == 404:
                return
            self._pod_event(sset, "delete", name, exc)
            raise
        self._pod_event(sset, "delete", name)

    async def _update_pod(self, sset: Obj, pod: Obj) -> None:
        """Bring an existing pod's identity labels, claims and claim owners in line with the set."""
        if not storage_matches(sset, pod):
            await self._create_claims(sset, pod)  # a pod's volumes cannot change; its claims can exist
        changed_claims = await self._fix_claims(sset, pod)
        if identity_matches(sset, pod):
            if changed_claims:
                self._pod_event(sset, "update", pod["metadata"]["name"])
            return
        ordinal = ordinal_of(pod)
        labels = {POD_NAME_LABEL: pod["metadata"]["name"], POD_INDEX_LABEL: str(ordinal)}
        try:
            await self.client.patch(PODS, pod["metadata"]["name"], {"metadata": {"labels": labels}},
                                    pod["metadata"]["namespace"])
        except APIStatusError as exc:
            if exc.code == 404:
                return
            self._pod_event(sset, "update", pod["metadata"]["name"], exc)
            raise
        self._pod_event(sset, "update", pod["metadata"]["name"])

    def _pod_event(self, sset: Obj, verb: str, pod_name: str, error: Exception | None = None) -> None:
        set_name = sset["metadata"]["name"]
        if error is None:
            self.recorder.record(sset, "Normal", f"Successful{verb.title()}",
                                 f"{verb} Pod {pod_name} in StatefulSet {set_name} successful")
        else:
            self.recorder.record(sset, "Warning", f"Failed{verb.title()}",
                                 f"{verb} Pod {pod_name} in StatefulSet {set_name} failed error: {error}")

    def _claim(self, namespace: str, name: str) -> Obj | None:
        return self.claims.indexer.get_by_name(namespace, name)

    async def _create_claims(self, sset: Obj, pod: Obj) -> None:
        """Create the pod's missing claims (before the pod, so it never starts without them)."""
        errors = []
        set_name, pod_name = sset["metadata"]["name"], pod["metadata"]["name"]
        for claim in claims_for(sset, ordinal_of(pod)).values():
            name = claim["metadata"]["name"]
            existing = self._claim(claim["metadata"]["namespace"], name)
            if existing is not None:
                if existing["metadata"].get("deletionTimestamp"):
                    errors.append(f"pvc {name} is being deleted")
                continue
            try:
                await self.client.create(PVCS, claim)
            except APIStatusError as exc:
                if exc.code == 409 and exc.reason == "AlreadyExists":
                    continue
                errors.append(f"failed to create PVC {name}: {exc}")
                self.recorder.record(sset, "Warning", "FailedCreate",
                                     f"create Claim {name} for Pod {pod_name} in StatefulSet {set_name} "
                                     f"failed error: {exc}")
                continue
            self.recorder.record(sset, "Normal", "SuccessfulCreate",
                                 f"create Claim {name} Pod {pod_name} in StatefulSet {set_name} success")
        if errors:
            raise RuntimeError("; ".join(errors))

    def _claims_stale(self, sset: Obj, pod: Obj) -> bool:
        """A claim still owned by an earlier pod of this name (whenScaled: Delete) must go first."""
        if retention_policy(sset)[1] == "Retain":
            return False
        for claim in claims_for(sset, ordinal_of(pod)).values():
            existing = self._claim(claim["metadata"]["namespace"], claim["metadata"]["name"])
            if existing is not None and _has_stale_ref(existing, pod, "v1", "Pod"):
                return True
        return False

    async def _fix_claims(self, sset: Obj, pod: Obj) -> bool:
        """Set the ownerReferences the retention policy asks for on the pod's claims."""
        changed = False
        for claim in claims_for(sset, ordinal_of(pod)).values():
            existing = self._claim(claim["metadata"]["namespace"], claim["metadata"]["name"])
            if existing is None or claim_owners_up_to_date(existing, sset, pod):
                continue
            if _unexpected_controller(existing, sset, pod):
                self.recorder.record(sset, "Warning", "ConflictingController",
                                     f"PersistentVolumeClaim {existing['metadata']['name']} has a conflicting "
                                     "OwnerReference that acts as a manging controller, the retention policy is "
                                     "ignored for this claim")
            refs = claim_owner_refs(existing, sset, pod)
            patch = {"metadata": {"ownerReferences": refs or None,
                                  "resourceVersion": existing["metadata"]["resourceVersion"]}}
            await self.client.patch(PVCS, existing["metadata"]["name"], patch, existing["metadata"]["namespace"])
            changed = True
        return changed

    # --- history and status
    async def _truncate_history(self, sset: Obj, pods: list[Obj], revisions: list[Obj], current: Obj,
                                update: Obj) -> None:
        """Delete the oldest revisions no pod, nor the status, uses beyond revisionHistoryLimit."""
        live = {current["metadata"]["name"], update["metadata"]["name"], *(pod_revision(p) for p in pods)}
        old = [r for r in revisions if r["metadata"]["name"] not in live]
        limit = int(sset["spec"].get("revisionHistoryLimit", 10))
        if limit < 0 or len(old) <= limit:
            return
        for rev in old[:len(old) - limit]:
            await history.delete(self.client, rev)

    async def _write_status(self, sset: Obj, status: Obj) -> None:
        replicas = spec_replicas(sset)
        strategy = (sset["spec"].get("updateStrategy") or {}).get("type")
        if strategy == "RollingUpdate" and status.get("updatedReplicas") == replicas \
                and status.get("readyReplicas") == replicas and status.get("replicas") == replicas:
            status["currentReplicas"] = status["updatedReplicas"]
            status["currentRevision"] = status["updateRevision"]
        old = sset.get("status") or {}
        new = {k: v for k, v in status.items()
               if v or k in ("replicas", "availableReplicas", "collisionCount")}
        if old.get("conditions"):
            new["conditions"] = old["conditions"]
        if new == old:
            return
        try:
            await self.client.update_status(STATEFULSETS, {**sset, "status": new})
        except APIStatusError as exc:
            if exc.code == 409:
                self.queue.add_after(f"{sset['metadata']['namespace']}/{sset['metadata']['name']}", 0.05)
            elif exc.code != 404:
                raise
