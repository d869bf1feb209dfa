"""Deployment: roll a pod template out through ReplicaSets, as kube-controller-manager does.

Every sync recomputes the whole picture from the informers: the Deployment's ReplicaSets
(claimed by selector and ownerReferences), which one matches the current template (the new
one, labelled with the template's `pod-template-hash`), and the old ones. Then, by strategy:
- RollingUpdate scales the new set up within `maxSurge` and the old ones down while at least
  `replicas - maxUnavailable` pods stay available;
- Recreate scales every old set to zero, waits for their pods to go, then scales the new one up.
Revisions (`deployment.kubernetes.io/revision`) number the sets so `kubectl rollout history` and
`undo` work; `revisionHistoryLimit` prunes old empty sets; a paused Deployment only scales.
Status and the Available/Progressing conditions are what `kubectl rollout status` reads.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

import orjson

from kubeherd.api.selectors import label_selector_from_dict
from kubeherd.client import APIStatusError, split_key
from kubeherd.controllers.base import (
    CONTROLLER_INDEX,
    DEPLOYMENTS,
    PODS,
    REPLICASETS,
    Context,
    Controller,
    claim_objects,
    controller_of,
    index_by_controller,
    owner_keys,
    owner_reference,
)
from kubeherd.controllers.podutil import is_active, parse_time, rfc3339

Obj = dict[str, Any]
HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
_SKIP_ANNOTATIONS = {"kubectl.kubernetes.io/last-applied-configuration", REVISION, REVISION_HISTORY, DESIRED,
                     MAX_REPLICAS}
_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def template_hash(template: Obj, collision_count: int = 0) -> str:
    """A short, stable name-safe hash of a pod template (FNV-1a, encoded like upstream's)."""
    h = 0x811C9DC5
    data = orjson.dumps(template, option=orjson.OPT_SORT_KEYS)
    if collision_count:
        data += collision_count.to_bytes(4, "little")
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(_SAFE[ord(c) % len(_SAFE)] for c in str(h))


def _semantic(value: Any) -> Any:
    """Drop nulls and empty maps/lists, which Go's semantic equality does not tell from absent
    (a template read back by kubectl carries `creationTimestamp: null`, for instance)."""
    if isinstance(value, dict):
        out = {k: _semantic(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [_semantic(v) for v in value]
    return value


def without_hash(template: Obj) -> Obj:
    """The template as compared between a Deployment and its ReplicaSets."""
    labels = dict((template.get("metadata") or {}).get("labels") or {})
    labels.pop(HASH_LABEL, None)
    return _semantic({**template, "metadata": {**(template.get("metadata") or {}), "labels": labels}})


def resolve(value: Any, total: int, round_up: bool) -> int:
    """An int-or-percent field of `total` (maxSurge rounds up, maxUnavailable down)."""
    if isinstance(value, str) and value.endswith("%"):
        fraction = int(value[:-1]) * total / 100
        return int(math.ceil(fraction) if round_up else math.floor(fraction))
    return int(value or 0)


def surge_and_unavailable(d: Obj) -> tuple[int, int]:
    spec = d.get("spec") or {}
    replicas = int(spec.get("replicas", 1))
    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0, 0
    rolling = strategy.get("rollingUpdate") or {}
    surge = resolve(rolling.get("maxSurge", "25%"), replicas, True)
    unavailable = resolve(rolling.get("maxUnavailable", "25%"), replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1  # a rollout must be able to make progress
    return surge, unavailable


def revision(rs: Obj) -> int:
    try:
        return int((rs["metadata"].get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def spec_replicas(rs: Obj) -> int:
    return int((rs.get("spec") or {}).get("replicas", 0))


def _status(rs: Obj, field: str) -> int:
    return int((rs.get("status") or {}).get(field, 0))


def _created(rs: Obj) -> tuple[str, str]:
    return rs["metadata"].get("creationTimestamp", ""), rs["metadata"]["name"]


class DeploymentController(Controller):
    name = "deployment"
    workers = 4

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.deployments = self.informer(DEPLOYMENTS)
        self.sets = self.informer(REPLICASETS)
        self.pods = self.informer(PODS)
        self.pods.indexer.add_indexer(CONTROLLER_INDEX, index_by_controller)
        self.watch(self.deployments)
        self.watch(self.sets, owner_keys("Deployment"))
        self.pods.add_handlers(on_delete=self._pod_deleted)

    def _pod_deleted(self, pod: Obj) -> None:
        # Recreate waits for old pods to be gone: a pod's deletion may unblock its deployment
        ref = controller_of(pod)
        if ref and ref.get("kind") == "ReplicaSet":
            rs = self.sets.indexer.get(f"{pod['metadata']['namespace']}/{ref['name']}")
            if rs is not None:
                for key in owner_keys("Deployment")(rs):
                    self.queue.add(key)

    # ------------------------------------------------------------------ sync
    async def sync(self, key: str) -> None:
        d = self.deployments.indexer.get(key)
        if d is None:
            return
        namespace, _ = split_key(key)
        sets = await self._claim(d, self.sets.indexer.objects(namespace))
        if d["metadata"].get("deletionTimestamp"):
            await self._update_status(d, sets, self._find_new(d, sets))
            return
        spec = d.get("spec") or {}
        if spec.get("paused") or self._is_scaling_event(d, sets):
            await self._scale_only(d, sets)
            return
        if (spec.get("strategy") or {}).get("type") == "Recreate":
            await self._rollout_recreate(d, sets)
        else:
            await self._rollout_rolling(d, sets)

    async def _claim(self, d: Obj, candidates: list[Obj]) -> list[Obj]:
        selector = label_selector_from_dict((d.get("spec") or {}).get("selector"))
        return await claim_objects(self.client, REPLICASETS, d, candidates,
                           lambda rs: selector.matches(rs["metadata"].get("labels") or {}))

    def _find_new(self, d: Obj, sets: list[Obj]) -> Obj | None:
        template = without_hash((d.get("spec") or {}).get("template") or {})
        matching = [rs for rs in sets if without_hash((rs.get("spec") or {}).get("template") or {}) == template]
        return min(matching, key=_created) if matching else None

    def _is_scaling_event(self, d: Obj, sets: list[Obj]) -> bool:
        """The desired count changed while nothing else did: scale, don't roll."""
        replicas = str((d.get("spec") or {}).get("replicas", 1))
        active = [rs for rs in sets if spec_replicas(rs) > 0]
        return any((rs["metadata"].get("annotations") or {}).get(DESIRED) not in (None, replicas) for rs in active)

    # ------------------------------------------------------------------ replica sets
    async def _patch_rs(self, rs: Obj, patch: Obj) -> Obj | None:
        try:
            return await self.client.patch(REPLICASETS, rs["metadata"]["name"], patch, rs["metadata"]["namespace"])
        except APIStatusError as exc:
            if exc.code == 404:
                return None
            raise

    def _annotations(self, d: Obj, rev: int, history: list[str] | None = None) -> dict[str, str]:
        surge, _ = surge_and_unavailable(d)
        replicas = int((d.get("spec") or {}).get("replicas", 1))
        out = {k: v for k, v in (d["metadata"].get("annotations") or {}).items() if k not in _SKIP_ANNOTATIONS}
        out.update({REVISION: str(rev), DESIRED: str(replicas), MAX_REPLICAS: str(replicas + surge)})
        if history:
            out[REVISION_HISTORY] = ",".join(history)
        return out

    async def _sync_revision(self, d: Obj, sets: list[Obj], create: bool) -> tuple[Obj | None, list[Obj]]:
        """The new ReplicaSet (created if asked and missing) with its revision annotation, and the old ones."""
        new = self._find_new(d, sets)
        old = [rs for rs in sets if new is None or rs["metadata"]["uid"] != new["metadata"]["uid"]]
        max_old = max((revision(rs) for rs in old), default=0)
        wanted_rev = max_old + 1
        if new is not None:
            current_rev = revision(new)
            rev = current_rev if current_rev > max_old else wanted_rev
            annotations = new["metadata"].get("annotations") or {}
            history = [h for h in (annotations.get(REVISION_HISTORY) or "").split(",") if h]
            if rev != current_rev and current_rev:
                history.append(str(current_rev))
            wanted = self._annotations(d, rev, history)
            if any(annotations.get(k) != v for k, v in wanted.items()):
                new = await self._patch_rs(new, {"metadata": {"annotations": wanted}}) or new
        elif create:
            new = await self._create_new(d, wanted_rev, old)
        if new is not None:
            rev_text = str(revision(new))
            if (d["metadata"].get("annotations") or {}).get(REVISION) != rev_text:
                await self.client.patch(DEPLOYMENTS, d["metadata"]["name"],
                                        {"metadata": {"annotations": {REVISION: rev_text}}}, d["metadata"]["namespace"])
        return new, old

    async def _create_new(self, d: Obj, rev: int, old: list[Obj]) -> Obj | None:
        spec = d.get("spec") or {}
        template = spec.get("template") or {}
        collisions = int((d.get("status") or {}).get("collisionCount") or 0)
        hashed = template_hash(without_hash(template), collisions)
        labels = {**((template.get("metadata") or {}).get("labels") or {}), HASH_LABEL: hashed}
        selector = dict(spec.get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), HASH_LABEL: hashed}
        recreate = (spec.get("strategy") or {}).get("type") == "Recreate"
        replicas = int(spec.get("replicas", 1)) if recreate else self._new_rs_replicas(d, old, None)
        rs = {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"{d['metadata']['name']}-{hashed}", "namespace": d["metadata"]["namespace"],
                         "labels": labels, "annotations": self._annotations(d, rev),
                         "ownerReferences": [owner_reference(d)]},
            "spec": {"replicas": replicas, "minReadySeconds": spec.get("minReadySeconds", 0), "selector": selector,
                     "template": {**template, "metadata": {**(template.get("metadata") or {}), "labels": labels}}},
        }
        try:
            created = await self.client.create(REPLICASETS, rs)
        except APIStatusError as exc:
            if exc.code != 409:
                raise
            # a set of that name exists with another template: change the hash and try again
            status = {**(d.get("status") or {}), "collisionCount": collisions + 1}
            await self.client.update_status(DEPLOYMENTS, {**d, "status": status})
            return None
        self.recorder.record(d, "Normal", "ScalingReplicaSet",
                             f"Scaled up replica set {created['metadata']['name']} from 0 to {replicas}")
        return created

    async def _scale(self, d: Obj, rs: Obj, replicas: int) -> Obj:
        old = spec_replicas(rs)
        annotations = self._annotations(d, revision(rs))
        annotations.pop(REVISION)
        current = rs["metadata"].get("annotations") or {}
        if old == replicas and all(current.get(k) == v for k, v in annotations.items()):
            return rs
        patched = await self._patch_rs(rs, {"spec": {"replicas": replicas}, "metadata": {"annotations": annotations}})
        if old != replicas:
            verb = "up" if replicas > old else "down"
            self.recorder.record(d, "Normal", "ScalingReplicaSet",
                                 f"Scaled {verb} replica set {rs['metadata']['name']} from {old} to {replicas}")
        return patched or rs

    def _new_rs_replicas(self, d: Obj, sets: list[Obj], new: Obj | None) -> int:
        replicas = int((d.get("spec") or {}).get("replicas", 1))
        surge, _ = surge_and_unavailable(d)
        current = sum(spec_replicas(rs) for rs in sets)
        new_now = spec_replicas(new) if new is not None else 0
        room = replicas + surge - current
        if room <= 0:
            return new_now
        return new_now + min(room, replicas - new_now)

    # ------------------------------------------------------------------ strategies
    async def _rollout_rolling(self, d: Obj, sets: list[Obj]) -> None:
        new, old = await self._sync_revision(d, sets, create=True)
        all_sets = old + ([new] if new is not None else [])
        replicas = int((d.get("spec") or {}).get("replicas", 1))
        if new is not None and spec_replicas(new) != replicas:
            target = replicas if spec_replicas(new) > replicas else self._new_rs_replicas(d, all_sets, new)
            if target != spec_replicas(new):
                new = await self._scale(d, new, target)
                await self._update_status(d, old + [new], new)
                return
        if await self._scale_down_old(d, old, new):
            await self._update_status(d, old + ([new] if new else []), new)
            return
        if new is not None and self._complete(d, new, old):
            await self._cleanup(d, old)
        await self._update_status(d, old + ([new] if new else []), new)

    async def _scale_down_old(self, d: Obj, old: list[Obj], new: Obj | None) -> bool:
        old_count = sum(spec_replicas(rs) for rs in old)
        if old_count == 0:
            return False
        replicas = int((d.get("spec") or {}).get("replicas", 1))
        _, max_unavailable = surge_and_unavailable(d)
        all_count = old_count + (spec_replicas(new) if new else 0)
        min_available = replicas - max_unavailable
        new_unavailable = (spec_replicas(new) - _status(new, "availableReplicas")) if new else 0
        budget = all_count - min_available - new_unavailable
        if budget <= 0:
            return False
        scaled = False
        # first the replicas that are not available anyway, oldest sets first
        for rs in sorted(old, key=_created):
            if budget <= 0:
                break
            unhealthy = spec_replicas(rs) - _status(rs, "availableReplicas")
            cut = min(unhealthy, budget)
            if cut > 0:
                await self._scale(d, rs, spec_replicas(rs) - cut)
                rs.setdefault("spec", {})["replicas"] = spec_replicas(rs) - cut
                budget -= cut
                scaled = True
        available = sum(_status(rs, "availableReplicas") for rs in old + ([new] if new else []))
        room = available - min_available
        for rs in sorted(old, key=_created):
            if room <= 0:
                break
            cut = min(spec_replicas(rs), room)
            if cut > 0:
                await self._scale(d, rs, spec_replicas(rs) - cut)
                room -= cut
                scaled = True
        return scaled

    async def _rollout_recreate(self, d: Obj, sets: list[Obj]) -> None:
        new, old = await self._sync_revision(d, sets, create=False)
        active_old = [rs for rs in old if spec_replicas(rs) > 0]
        if active_old:
            for rs in active_old:
                await self._scale(d, rs, 0)
            await self._update_status(d, sets, new)
            return
        old_uids = {rs["metadata"]["uid"] for rs in old}
        old_pods = [p for uid in old_uids for p in self.pods.indexer.by_index(CONTROLLER_INDEX, uid)]
        if any(is_active(p) or p["metadata"].get("deletionTimestamp") for p in old_pods):
            await self._update_status(d, sets, new)  # wait for the old pods to be gone
            return
        if new is None:
            new, old = await self._sync_revision(d, sets, create=True)
        if new is not None:
            replicas = int((d.get("spec") or {}).get("replicas", 1))
            new = await self._scale(d, new, replicas)
            if self._complete(d, new, old):
                await self._cleanup(d, old)
        await self._update_status(d, old + ([new] if new else []), new)

    async def _scale_only(self, d: Obj, sets: list[Obj]) -> None:
        """Paused, or only spec.replicas changed: resize the active sets, proportionally."""
        new, old = await self._sync_revision(d, sets, create=False)
        replicas = int((d.get("spec") or {}).get("replicas", 1))
        all_sets = old + ([new] if new is not None else [])
        active = [rs for rs in all_sets if spec_replicas(rs) > 0]
        if len(active) <= 1:
            target = active[0] if active else new
            if target is not None:
                await self._scale(d, target, replicas)
        else:
            surge, _ = surge_and_unavailable(d)
            allowed = replicas + surge
            total = sum(spec_replicas(rs) for rs in active)
            to_add = allowed - total
            if to_add:
                # newest sets first, as upstream: they absorb the rounding leftovers
                ordered = sorted(active, key=_created, reverse=to_add > 0)
                shares = [spec_replicas(rs) * to_add // total if total else 0 for rs in ordered]
                leftover = to_add - sum(shares)
                shares[0] += leftover
                for rs, share in zip(ordered, shares, strict=True):
                    await self._scale(d, rs, max(0, spec_replicas(rs) + share))
        if (d.get("spec") or {}).get("paused") and new is not None and self._complete(d, new, old):
            await self._cleanup(d, old)
        await self._update_status(d, all_sets, new)

    async def _cleanup(self, d: Obj, old: list[Obj]) -> None:
        limit = (d.get("spec") or {}).get("revisionHistoryLimit", 10)
        if limit is None:
            return
        empty = [rs for rs in old if spec_replicas(rs) == 0 and _status(rs, "replicas") == 0
                 and not rs["metadata"].get("deletionTimestamp")]
        empty.sort(key=revision)
        for rs in empty[:max(0, len(empty) - int(limit))]:
            try:
                await self.client.delete(REPLICASETS, rs["metadata"]["name"], rs["metadata"]["namespace"])
            except APIStatusError as exc:
                if exc.code != 404:
                    raise

    # ------------------------------------------------------------------ status
    def _complete(self, d: Obj, new: Obj, old: list[Obj]) -> bool:
        replicas = int((d.get("spec") or {}).get("replicas", 1))
        return (_status(new, "replicas") == replicas and _status(new, "availableReplicas") == replicas
                and sum(_status(rs, "replicas") for rs in old) == 0)

    async def _update_status(self, d: Obj, sets: list[Obj], new: Obj | None) -> None:
        spec = d.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        _, max_unavailable = surge_and_unavailable(d)
        old_status = d.get("status") or {}
        status: Obj = {"observedGeneration": d["metadata"].get("generation", 1)}
        totals = {f: sum(_status(rs, f) for rs in sets) for f in ("replicas", "readyReplicas", "availableReplicas")}
        status["replicas"] = totals["replicas"]
        status["updatedReplicas"] = _status(new, "replicas") if new is not None else 0
        status["readyReplicas"] = totals["readyReplicas"]
        status["availableReplicas"] = totals["availableReplicas"]
        status["unavailableReplicas"] = max(replicas - totals["availableReplicas"], 0)
        if old_status.get("collisionCount"):
            status["collisionCount"] = old_status["collisionCount"]
        now = rfc3339()
        conditions = {c["type"]: c for c in old_status.get("conditions") or []}
        if totals["availableReplicas"] >= replicas - max_unavailable:
            _set_condition(conditions, "Available", "True", "MinimumReplicasAvailable",
                           "Deployment has minimum availability.", now)
        else:
            _set_condition(conditions, "Available", "False", "MinimumReplicasUnavailable",
                           "Deployment does not have minimum availability.", now)
        requeue = self._progress(d, status, old_status, new, conditions, now)
        status["conditions"] = [conditions[t] for t in ("Available", "Progressing", "ReplicaFailure")
                                if t in conditions]
        for zero in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas"):
            if not status[zero]:
                del status[zero]
        if status != old_status:
            try:
                await self.client.update_status(DEPLOYMENTS, {**d, "status": status})
            except APIStatusError as exc:
                if exc.code not in (404, 409):
                    raise
                if exc.code == 409:
                    self.queue.add_after(f"{d['metadata']['namespace']}/{d['metadata']['name']}", 0.05)
        if requeue is not None:
            self.queue.add_after(f"{d['metadata']['namespace']}/{d['metadata']['name']}", requeue)

    def _progress(self, d: Obj, status: Obj, old_status: Obj, new: Obj | None, conditions: dict[str, Obj],
                  now: str) -> float | None:
        """Set the Progressing condition; returns when to look again for a deadline."""
        spec = d.get("spec") or {}
        deadline = spec.get("progressDeadlineSeconds")
        if spec.get("paused"):
            _set_condition(conditions, "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", now)
            return None
        current = conditions.get("Progressing")
        if current is not None and current.get("reason") == "DeploymentPaused":
            _set_condition(conditions, "Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed", now)
        if new is None or deadline is None:
            return None
        name = new["metadata"]["name"]
        replicas = int(spec.get("replicas", 1))
        complete = (status.get("updatedReplicas", 0) == replicas and status.get("replicas", 0) == replicas
                    and status.get("availableReplicas", 0) == replicas)
        if complete:
            _set_condition(conditions, "Progressing", "True", "NewReplicaSetAvailable",
                           f'ReplicaSet "{name}" has successfully progressed.', now)
            return None
        progressed = (status.get("updatedReplicas", 0) > old_status.get("updatedReplicas", 0)
                      or status.get("readyReplicas", 0) > old_status.get("readyReplicas", 0)
                      or status.get("availableReplicas", 0) > old_status.get("availableReplicas", 0)
                      or status.get("replicas", 0) < old_status.get("replicas", 0)
                      or current is None or current.get("reason") == "DeploymentResumed")
        if progressed:
            if current is None or name not in (current.get("message") or ""):
                reason, message = "NewReplicaSetCreated", f'Created new replica set "{name}"'
            else:
                reason, message = "ReplicaSetUpdated", f'ReplicaSet "{name}" is progressing.'
            _set_condition(conditions, "Progressing", "True", reason, message, now, touch=True)
            return float(deadline)
        current = conditions.get("Progressing")
        if current is not None and current.get("reason") != "ProgressDeadlineExceeded":
            since = parse_time(current.get("lastUpdateTime"))
            if since is not None:
                remaining = since + datetime.timedelta(seconds=deadline) - datetime.datetime.now(datetime.UTC)
                if remaining.total_seconds() <= 0:
                    _set_condition(conditions, "Progressing", "False", "ProgressDeadlineExceeded",
                                   f'ReplicaSet "{name}" has timed out progressing.', now)
                    return None
                return remaining.total_seconds() + 0.5
        return None


def _set_condition(conditions: dict[str, Obj], kind: str, status: str, reason: str, message: str, now: str,
                   touch: bool = False) -> None:
    """Set a condition; lastTransitionTime moves only when the status changes, lastUpdateTime when
    anything does (or when `touch` says progress was made)."""
    current = conditions.get(kind)
    if current is not None and current.get("status") == status and current.get("reason") == reason \
            and current.get("message") == message and not touch:
        return
    transition = now if current is None or current.get("status") != status else current.get("lastTransitionTime", now)
    conditions[kind] = {"type": kind, "status": status, "lastUpdateTime": now, "lastTransitionTime": transition,
                        "reason": reason, "message": message}
