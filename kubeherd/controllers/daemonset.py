"""DaemonSet: one pod on every node that should run it, as kube-controller-manager keeps them.

Each sync starts from the nodes and the set's pods in the informers and decides per node, as
upstream's `NodeShouldRunDaemonPod` does, from the template with the tolerations upstream adds to
every daemon pod (not-ready and unreachable NoExecute for ever; disk, memory and PID pressure and
unschedulable NoSchedule; network-unavailable for host-network pods):
- the node fits (nodeName, nodeSelector, required node affinity) and no NoSchedule/NoExecute
  taint is untolerated: it should run a pod — one is created if there is none, extras deleted;
- only a NoSchedule taint is in the way: a pod already there may stay, none is created;
- otherwise its pods are deleted. Failed pods are deleted (with a per-node back-off) to be
  replaced; pods made for nodes that no longer exist are deleted.
A pod is tied to its node by required node affinity `matchFields metadata.name In [node]`, exactly
as upstream does, so the scheduler binds it; a pod counts for its target node from then on, even
before it is bound. Expectations stop a second round of creates before the informer has seen the
first. RollingUpdate replaces pods whose `controller-revision-hash` label is not the current
revision's, within maxUnavailable (delete old, let the loop above create new) or maxSurge (create
new beside old, delete old once the new one is available); OnDelete waits for the user.
ControllerRevisions record every template for `kubectl rollout history/undo`; status counts nodes
exactly as `kubectl rollout status daemonset` expects.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import math
import time
from typing import Any

from kubeherd.api.selectors import label_selector_from_dict
from kubeherd.client import APIStatusError, Expectations
from kubeherd.controllers import history
from kubeherd.controllers.base import (
    CONTROLLERREVISIONS,
    DAEMONSETS,
    NODES,
    PODS,
    Context,
    Controller,
    claim_candidates,
    claim_objects,
    controller_of,
    owner_reference,
)
from kubeherd.controllers.podutil import is_available, is_ready

log = logging.getLogger(__name__)

Obj = dict[str, Any]
HASH_LABEL = history.POD_REVISION_LABEL
GENERATION_LABEL = "pod-template-generation"
GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"
BURST_REPLICAS = 250
FAILED_BACKOFF_START = 1.0
FAILED_BACKOFF_MAX = 900.0

_DAEMON_TOLERATIONS = (
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
)
_NETWORK_UNAVAILABLE = ("node.kubernetes.io/network-unavailable", "NoSchedule")


# --- which nodes a daemon pod belongs on (pure functions)
def add_daemon_tolerations(spec: Obj) -> None:
    """Add (or replace same-key/operator/value/effect ones with) the daemon pod tolerations."""
    wanted = [*_DAEMON_TOLERATIONS, *([_NETWORK_UNAVAILABLE] if spec.get("hostNetwork") else [])]
    tolerations = list(spec.get("tolerations") or [])
    for key, effect in wanted:
        toleration = {"key": key, "operator": "Exists", "effect": effect}
        same = [i for i, t in enumerate(tolerations)
                if t.get("key") == key and t.get("operator") == "Exists" and not t.get("value")
                and t.get("effect") == effect]
        if not same:
            tolerations.append(toleration)
        elif tolerations[same[0]] != toleration:
            tolerations[same[0]] = toleration
    spec["tolerations"] = tolerations


def tolerates(toleration: Obj, taint: Obj) -> bool:
    """core/v1 Toleration.ToleratesTaint."""
    if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
        return False
    if toleration.get("key") and toleration["key"] != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    return operator == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")


def untolerated_taint(taints: list[Obj], tolerations: list[Obj], effects: tuple[str, ...]) -> Obj | None:
    for taint in taints:
        if taint.get("effect") in effects and not any(tolerates(t, taint) for t in tolerations):
            return taint
    return None


def _requirement_matches(req: Obj, values: dict[str, str]) -> bool:
    key, operator, wanted = req.get("key", ""), req.get("operator"), req.get("values") or []
    present = key in values
    value = values.get(key, "")
    if operator == "In":
        return present and value in wanted
    if operator == "NotIn":
        return not present or value not in wanted
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt") and present and len(wanted) == 1:
        try:
            have, bound = int(value), int(wanted[0])
        except ValueError:
            return False
        return have > bound if operator == "Gt" else have < bound
    return False


def term_matches(term: Obj, node: Obj) -> bool:
    expressions, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
    if not expressions and not fields:
        return False  # an empty term selects no node
    labels = node["metadata"].get("labels") or {}
    node_fields = {"metadata.name": node["metadata"]["name"]}
    return all(_requirement_matches(r, labels) for r in expressions) and \
        all(_requirement_matches(r, node_fields) for r in fields)


def fits_node_affinity(spec: Obj, node: Obj) -> bool:
    """nodeSelector and requiredDuringSchedulingIgnoredDuringExecution node affinity."""
    labels = node["metadata"].get("labels") or {}
    if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
        return False
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if required is None:
        return True
    return any(term_matches(term, node) for term in required.get("nodeSelectorTerms") or [])


def daemon_pod_spec(ds: Obj) -> Obj:
    spec = copy.deepcopy(((ds.get("spec") or {}).get("template") or {}).get("spec") or {})
    add_daemon_tolerations(spec)
    return spec


def node_should_run(node: Obj, ds: Obj, spec: Obj | None = None) -> tuple[bool, bool]:
    """(should run: create a pod here if none; should continue running: keep one that is here)."""
    spec = spec if spec is not None else daemon_pod_spec(ds)
    if spec.get("nodeName") not in (None, "", node["metadata"]["name"]):
        return False, False
    if not fits_node_affinity(spec, node):
        return False, False
    taints = (node.get("spec") or {}).get("taints") or []
    tolerations = spec.get("tolerations") or []
    if untolerated_taint(taints, tolerations, ("NoSchedule", "NoExecute")) is not None:
        return False, untolerated_taint(taints, tolerations, ("NoExecute",)) is None
    return True, True


def with_node_affinity(spec: Obj, node_name: str) -> Obj:
    """The spec with its required node affinity replaced by `metadata.name In [node]`."""
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}
    affinity = dict(spec.get("affinity") or {})
    node_affinity = dict(affinity.get("nodeAffinity") or {})
    required = dict(node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    required["nodeSelectorTerms"] = [term]
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = required
    affinity["nodeAffinity"] = node_affinity
    return {**spec, "affinity": affinity}


def target_node(pod: Obj) -> str | None:
    """spec.nodeName, or, before the pod is bound, the node its affinity names."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    for term in required.get("nodeSelectorTerms") or []:
        for req in term.get("matchFields") or []:
            if req.get("key") == "metadata.name" and req.get("operator") == "In":
                values = req.get("values") or []
                return str(values[0]) if len(values) == 1 else None
    return None


def scaled(value: Any, total: int) -> int:
    """An int-or-percent of `total`, rounded up (as upstream does for maxSurge and maxUnavailable)."""
    if isinstance(value, str) and value.endswith("%"):
        return int(math.ceil(int(value[:-1]) * total / 100))
    return int(value or 0)


def _age_key(pod: Obj) -> tuple[int, str, str]:
    """Scheduled pods first, then oldest first."""
    return (0 if (pod.get("spec") or {}).get("nodeName") else 1, pod["metadata"].get("creationTimestamp") or "",
            pod["metadata"]["name"])


def _phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


class DaemonSetController(Controller):
    name = "daemonset"
    workers = 2

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.expectations = Expectations()
        self.sets = self.informer(DAEMONSETS)
        self.pods = self.informer(PODS)
        self.nodes = self.informer(NODES)
        self.revisions = self.informer(CONTROLLERREVISIONS)
        self.failed_backoff: dict[str, tuple[float, float]] = {}
        self.watch(self.sets)
        self.watch(self.revisions, self._owner_or_matching)
        self.pods.add_handlers(on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted)
        self.nodes.add_handlers(on_add=self._node_added, on_update=self._node_updated,
                                on_delete=lambda node: self._enqueue_all())

    # --- event handlers: only work out which keys to look at
    def _owner_key(self, obj: Obj) -> str | None:
        ref = controller_of(obj)
        if ref is None or ref.get("kind") != "DaemonSet":
            return None
        return f"{obj['metadata']['namespace']}/{ref['name']}"

    def _owner_or_matching(self, obj: Obj) -> list[str]:
        key = self._owner_key(obj)
        if key is not None:
            return [key]
        if controller_of(obj) is not None:
            return []
        ns, labels = obj["metadata"]["namespace"], obj["metadata"].get("labels") or {}
        return [f"{ns}/{d['metadata']['name']}" for d in self.sets.indexer.objects(ns)
                if label_selector_from_dict((d.get("spec") or {}).get("selector")).matches(labels)]

    def _pod_added(self, pod: Obj) -> None:
        if pod["metadata"].get("deletionTimestamp"):
            self._pod_deleted(pod)
            return
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.creation_observed(key)
        for k in self._owner_or_matching(pod):
            self.queue.add(k)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if new["metadata"].get("deletionTimestamp") and not old["metadata"].get("deletionTimestamp"):
            self._pod_deleted(new)
            return
        for k in {*self._owner_or_matching(old), *self._owner_or_matching(new)}:
            self.queue.add(k)
            ds = self.sets.indexer.get(k)
            min_ready = int(((ds or {}).get("spec") or {}).get("minReadySeconds") or 0)
            if min_ready and not is_ready(old) and is_ready(new):
                self.queue.add_after(k, min_ready + 1)

    def _pod_deleted(self, pod: Obj) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.deletion_observed(key)
            self.queue.add(key)

    def _enqueue_all(self) -> None:
        for ds in self.sets.indexer.objects():
            self.queue.add(f"{ds['metadata']['namespace']}/{ds['metadata']['name']}")

    def _node_added(self, node: Obj) -> None:
        for ds in self.sets.indexer.objects():
            if node_should_run(node, ds)[0]:
                self.queue.add(f"{ds['metadata']['namespace']}/{ds['metadata']['name']}")

    def _node_updated(self, old: Obj, new: Obj) -> None:
        def placement(node: Obj) -> tuple[Any, Any]:
            return node["metadata"].get("labels"), (node.get("spec") or {}).get("taints")

        if placement(old) == placement(new):
            return  # heartbeats and status changes do not move daemon pods
        for ds in self.sets.indexer.objects():
            if node_should_run(old, ds) != node_should_run(new, ds):
                self.queue.add(f"{ds['metadata']['namespace']}/{ds['metadata']['name']}")

    # --- reconcile
    async def sync(self, key: str) -> None:
        ds = self.sets.indexer.get(key)
        if ds is None:
            self.expectations.delete(key)
            return
        selector_spec = ds["spec"].get("selector")
        if selector_spec == {}:
            self.recorder.record(ds, "Warning", "SelectingAll",
                                 "This daemon set is selecting all pods. A non-empty selector is required.")
            return
        if ds["metadata"].get("deletionTimestamp"):
            return  # its revisions may be going too: no status can be trusted now
        nodes = self.nodes.indexer.objects()
        selector = label_selector_from_dict(selector_spec)
        current, old, collisions = await self._construct_history(ds, selector)
        hashed = current["metadata"]["labels"][HASH_LABEL]
        pods = await self._claim_pods(ds, selector)
        if not self.expectations.satisfied(key):
            await self._update_status(ds, nodes, pods, hashed, collisions, observe=False)
            return
        await self._manage(key, ds, nodes, pods, hashed)
        if self.expectations.satisfied(key):
            strategy = ds["spec"].get("updateStrategy") or {}
            if strategy.get("type", "RollingUpdate") == "RollingUpdate":
                await self._rolling_update(key, ds, nodes, self._by_node(pods), hashed)
        await self._cleanup_history(ds, old, pods)
        await self._update_status(ds, nodes, pods, hashed, collisions, observe=True)

    async def _claim_pods(self, ds: Obj, selector: Any) -> list[Obj]:
        return await claim_objects(self.client, PODS, ds, claim_candidates(self.pods, ds),
                           lambda pod: selector.matches(pod["metadata"].get("labels") or {}))

    @staticmethod
    def _by_node(pods: list[Obj], include_deleted_terminal: bool = False) -> dict[str, list[Obj]]:
        by_node: dict[str, list[Obj]] = {}
        for pod in pods:
            if not include_deleted_terminal and _phase(pod) in ("Succeeded", "Failed") \
                    and pod["metadata"].get("deletionTimestamp"):
                continue
            node = target_node(pod)
            if node is not None:
                by_node.setdefault(node, []).append(pod)
        return by_node

    # --- revisions
    async def _construct_history(self, ds: Obj, selector: Any) -> tuple[Obj, list[Obj], int]:
        """(current revision, older revisions, collision count), creating or renumbering the current one."""
        collisions = int((ds.get("status") or {}).get("collisionCount") or 0)
        owned = await history.claim(self.client, ds, selector,
                                    self.revisions.indexer.objects(ds["metadata"]["namespace"]))
        current: list[Obj] = []
        old: list[Obj] = []
        for rev in owned:
            if HASH_LABEL not in (rev["metadata"].get("labels") or {}):
                labels = {**(rev["metadata"].get("labels") or {}), HASH_LABEL: rev["metadata"]["name"]}
                rev = await self.client.patch(CONTROLLERREVISIONS, rev["metadata"]["name"],
                                              {"metadata": {"labels": labels}}, rev["metadata"]["namespace"])
            (current if history.matches_owner(rev, ds) else old).append(rev)
        number = history.next_revision(old)
        if not current:
            candidate = history.new_revision(ds, number, collisions, hash_label=HASH_LABEL)
            cur, collisions = await history.create(self.client, ds, candidate, collisions)
        else:
            cur = await self._dedup(ds, selector, current)
        if history.revision_number(cur) < number:
            cur = await history.set_revision_number(self.client, cur, number)
        return cur, old, collisions

    async def _dedup(self, ds: Obj, selector: Any, current: list[Obj]) -> Obj:
        """Keep the newest of several revisions with the current template; move pods onto it."""
        keep = history.sort_revisions(current)[-1]
        if len(current) == 1:
            return keep
        hashed = keep["metadata"]["labels"][HASH_LABEL]
        for pod in await self._claim_pods(ds, selector):
            if (pod["metadata"].get("labels") or {}).get(HASH_LABEL) != hashed:
                await self.client.patch(PODS, pod["metadata"]["name"], {"metadata": {"labels": {HASH_LABEL: hashed}}},
                                        pod["metadata"]["namespace"])
        for rev in current:
            if rev is not keep:
                await history.delete(self.client, rev)
        return keep

    async def _cleanup_history(self, ds: Obj, old: list[Obj], pods: list[Obj]) -> None:
        limit = int(ds["spec"].get("revisionHistoryLimit", 10))
        excess = len(old) - limit
        if excess <= 0:
            return
        live = {(p["metadata"].get("labels") or {}).get(HASH_LABEL) for p in pods}
        for rev in history.sort_revisions(old):
            if excess <= 0:
                break
            if rev["metadata"]["labels"].get(HASH_LABEL) in live:
                continue
            await history.delete(self.client, rev)
            excess -= 1

    # --- pods on nodes
    async def _manage(self, key: str, ds: Obj, nodes: list[Obj], pods: list[Obj], hashed: str) -> None:
        by_node = self._by_node(pods)
        spec = daemon_pod_spec(ds)
        surge = self._allows_surge(ds)
        create: list[str] = []
        delete: list[Obj] = []
        for node in nodes:
            name = node["metadata"]["name"]
            should_run, should_continue = node_should_run(node, ds, spec)
            here = by_node.get(name)
            if should_run and not here:
                create.append(name)
            elif should_continue and here:
                running = []
                for pod in here:
                    if pod["metadata"].get("deletionTimestamp"):
                        continue
                    if _phase(pod) == "Failed":
                        if self._in_backoff(ds, name):
                            continue
                        self.recorder.record(ds, "Warning", "FailedDaemonPod",
                                             f"Found failed daemon pod {pod['metadata']['namespace']}/"
                                             f"{pod['metadata']['name']} on node {name}, will try to kill it")
                        delete.append(pod)
                    elif _phase(pod) == "Succeeded":
                        self.recorder.record(ds, "Normal", "SucceededDaemonPod",
                                             f"Found succeeded daemon pod {pod['metadata']['namespace']}/"
                                             f"{pod['metadata']['name']} on node {name}, will try to delete it")
                        delete.append(pod)
                    else:
                        running.append(pod)
                delete += self._excess(ds, running, hashed, surge)
                if surge and not running and should_run:
                    create.append(name)
            elif not should_continue and here:
                delete += [p for p in here if not p["metadata"].get("deletionTimestamp")]
        existing = {n["metadata"]["name"] for n in nodes}
        delete += [p for n, ps in by_node.items() if n not in existing for p in ps
                   if not (p.get("spec") or {}).get("nodeName")]
        await self._sync_nodes(key, ds, delete, create, hashed)

    def _excess(self, ds: Obj, running: list[Obj], hashed: str, surge: bool) -> list[Obj]:
        """Pods beyond the one a node may run (two during a surge: the old one until the new is available)."""
        if len(running) <= 1:
            return []
        running = sorted(running, key=_age_key)
        if not surge:
            return running[1:]
        excess: list[Obj] = []
        oldest_new = oldest_old = None
        for pod in running:
            is_new = (pod["metadata"].get("labels") or {}).get(HASH_LABEL) == hashed
            if is_new and oldest_new is None:
                oldest_new = pod
            elif not is_new and oldest_old is None:
                oldest_old = pod
            else:
                excess.append(pod)
        if oldest_new is not None and oldest_old is not None and (
                not is_ready(oldest_old) or is_available(oldest_new, int(ds["spec"].get("minReadySeconds") or 0))):
            excess.append(oldest_old)
        return excess

    def _in_backoff(self, ds: Obj, node: str) -> bool:
        """Deleting a failed pod on a node is rate limited (1 s doubling to 15 min), as upstream."""
        key = f"{ds['metadata']['uid']}/{(ds.get('status') or {}).get('observedGeneration', 0)}/{node}"
        now = time.monotonic()
        delay, since = self.failed_backoff.get(key, (0.0, 0.0))
        if delay and now - since < delay:
            self.queue.add_after(f"{ds['metadata']['namespace']}/{ds['metadata']['name']}", delay - (now - since))
            return True
        self.failed_backoff[key] = (min(max(delay * 2, FAILED_BACKOFF_START), FAILED_BACKOFF_MAX), now)
        if len(self.failed_backoff) > 10000:
            self.failed_backoff.clear()
        return False

    def _pod_template(self, ds: Obj, hashed: str) -> Obj:
        template = ds["spec"].get("template") or {}
        meta = template.get("metadata") or {}
        labels = {**(meta.get("labels") or {}), HASH_LABEL: hashed}
        generation = (ds["metadata"].get("annotations") or {}).get(GENERATION_ANNOTATION)
        if generation is not None:
            labels[GENERATION_LABEL] = generation
        pod_meta: Obj = {"generateName": f"{ds['metadata']['name']}-", "namespace": ds["metadata"]["namespace"],
                         "labels": labels, "ownerReferences": [owner_reference(ds)]}
        for field in ("annotations", "finalizers"):
            if meta.get(field):
                pod_meta[field] = copy.deepcopy(meta[field])
        return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": daemon_pod_spec(ds)}

    async def _sync_nodes(self, key: str, ds: Obj, delete: list[Obj], create: list[str], hashed: str) -> None:
        create, delete = create[:BURST_REPLICAS], delete[:BURST_REPLICAS]
        self.expectations.expect(key, adds=len(create), deletes=len(delete))
        errors: list[BaseException] = []
        template = self._pod_template(ds, hashed)
        done, batch = 0, 1
        while done < len(create):
            names = create[done:done + batch]
            results = await asyncio.gather(*(self._create_pod(ds, template, n) for n in names), return_exceptions=True)
            failed = [r for r in results if isinstance(r, BaseException)]
            done += len(names)
            if failed:
                errors += failed
                self.expectations.lower(key, adds=len(failed) + len(create) - done)
                break
            batch *= 2
        results = await asyncio.gather(*(self._delete_pod(key, ds, p) for p in delete), return_exceptions=True)
        errors += [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]

    async def _create_pod(self, ds: Obj, template: Obj, node: str) -> None:
        pod = {**template, "spec": with_node_affinity(template["spec"], node)}
        try:
            created = await self.client.create(PODS, pod)
        except APIStatusError as exc:
            if "NamespaceTerminating" in str(exc.status.get("details") or ""):
                return
            self.recorder.record(ds, "Warning", "FailedCreate", f"Error creating: {exc}")
            raise
        self.recorder.record(ds, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")

    async def _delete_pod(self, key: str, ds: Obj, pod: Obj) -> None:
        name = pod["metadata"]["name"]
        try:
            await self.client.delete(PODS, name, pod["metadata"]["namespace"])
        except APIStatusError as exc:
            self.expectations.deletion_observed(key)
            if exc.code == 404:
                return
            self.recorder.record(ds, "Warning", "FailedDelete", f"Error deleting: {exc}")
            raise
        self.recorder.record(ds, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")

    # --- rolling update
    @staticmethod
    def _allows_surge(ds: Obj) -> bool:
        strategy = ds["spec"].get("updateStrategy") or {}
        return strategy.get("type", "RollingUpdate") == "RollingUpdate" and \
            scaled((strategy.get("rollingUpdate") or {}).get("maxSurge"), 1) > 0

    @staticmethod
    def _updated_on_node(pods: list[Obj], hashed: str) -> tuple[Obj | None, Obj | None, bool]:
        """(the new pod, the old pod, at most one of each) among the node's live pods."""
        new = old = None
        for pod in pods:
            if pod["metadata"].get("deletionTimestamp"):
                continue
            if (pod["metadata"].get("labels") or {}).get(HASH_LABEL) == hashed:
                if new is not None:
                    return None, None, False
                new = pod
            else:
                if old is not None:
                    return None, None, False
                old = pod
        return new, old, True

    async def _rolling_update(self, key: str, ds: Obj, nodes: list[Obj], by_node: dict[str, list[Obj]],
                              hashed: str) -> None:
        spec = daemon_pod_spec(ds)
        should_run = {n["metadata"]["name"]: node_should_run(n, ds, spec)[0] for n in nodes}
        desired = sum(1 for run in should_run.values() if run)
        for name, run in should_run.items():
            if run:
                by_node.setdefault(name, [])
        rolling = (ds["spec"].get("updateStrategy") or {}).get("rollingUpdate") or {}
        max_surge, max_unavailable = scaled(rolling.get("maxSurge"), desired), scaled(rolling.get("maxUnavailable"), desired)
        if desired > 0 and max_surge == 0 and max_unavailable == 0:
            max_unavailable = 1
        min_ready = int(ds["spec"].get("minReadySeconds") or 0)
        if max_surge == 0:
            unavailable, replace, candidates = 0, [], []
            for pods in by_node.values():
                new, old, ok = self._updated_on_node(pods, hashed)
                if not ok or (new is None) == (old is None):
                    unavailable += 1  # the loop above is creating or pruning here
                elif new is not None:
                    unavailable += 0 if is_available(new, min_ready) else 1
                elif old is not None and not is_available(old, min_ready):
                    replace.append(old)
                    unavailable += 1
                elif old is not None and unavailable < max_unavailable:
                    candidates.append(old)
            room = max(0, min(max_unavailable - unavailable, len(candidates)))
            await self._sync_nodes(key, ds, replace + candidates[:room], [], hashed)
            return
        delete: list[Obj] = []
        not_wanted: list[Obj] = []
        candidate_nodes: list[str] = []
        allowed_nodes: list[str] = []
        surging = available = 0
        for name, pods in by_node.items():
            new, old, ok = self._updated_on_node(pods, hashed)
            if not ok:
                surging += 1
                continue
            shown = old if old is not None else new
            if shown is not None and is_available(shown, min_ready):
                available += 1
            if old is None:
                continue
            if new is None:
                if not is_available(old, min_ready):
                    (allowed_nodes.append(name) if should_run.get(name) else delete.append(old))
                elif not should_run.get(name):
                    not_wanted.append(old)
                elif surging < max_surge:
                    candidate_nodes.append(name)
            elif not is_available(new, min_ready):
                surging += 1
            else:
                delete.append(old)
        spare = available - desired
        if spare > 0:
            delete += not_wanted[:spare]
        room = max(0, min(max_surge - surging, len(candidate_nodes)))
        await self._sync_nodes(key, ds, delete, allowed_nodes + candidate_nodes[:room], hashed)

    # --- status
    async def _update_status(self, ds: Obj, nodes: list[Obj], pods: list[Obj], hashed: str, collisions: int,
                             observe: bool) -> None:
        by_node = self._by_node(pods)
        spec = daemon_pod_spec(ds)
        min_ready = int(ds["spec"].get("minReadySeconds") or 0)
        generation = (ds["metadata"].get("annotations") or {}).get(GENERATION_ANNOTATION)
        desired = current = misscheduled = ready = updated = available = 0
        for node in nodes:
            here = by_node.get(node["metadata"]["name"])
            if not node_should_run(node, ds, spec)[0]:
                misscheduled += 1 if here else 0
                continue
            desired += 1
            if not here:
                continue
            current += 1
            pod = sorted(here, key=_age_key)[0]
            if is_ready(pod):
                ready += 1
                available += 1 if is_available(pod, min_ready) else 0
            labels = pod["metadata"].get("labels") or {}
            if labels.get(HASH_LABEL) == hashed or (generation is not None and labels.get(GENERATION_LABEL) == generation):
                updated += 1
        old = ds.get("status") or {}
        status = {**old, "desiredNumberScheduled": desired, "currentNumberScheduled": current,
                  "numberMisscheduled": misscheduled, "numberReady": ready, "updatedNumberScheduled": updated,
                  "numberAvailable": available, "numberUnavailable": desired - available}
        if observe:
            status["observedGeneration"] = ds["metadata"].get("generation", 1)
        if collisions:
            status["collisionCount"] = collisions
        for omitted in ("updatedNumberScheduled", "numberAvailable", "numberUnavailable"):
            if not status[omitted]:
                del status[omitted]
        key = f"{ds['metadata']['namespace']}/{ds['metadata']['name']}"
        if min_ready and ready != available:
            self.queue.add_after(key, min_ready)
        if status == old:
            return
        try:
            await self.client.update_status(DAEMONSETS, {**ds, "status": status})
        except APIStatusError as exc:
            if exc.code == 409:
                self.queue.add_after(key, 0.05)
            elif exc.code != 404:
                raise
