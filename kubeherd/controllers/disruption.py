"""PodDisruptionBudget status: how many of the selected pods may be disrupted right now.

Each sync reads the budget and the pods its selector picks from the informers and writes the
status the eviction subresource and `kubectl get/describe pdb` read, as upstream's disruption
controller (`pkg/controller/disruption`) does:

- `expectedPods` and `desiredHealthy`: with an integer `minAvailable`, the number of selected
  pods and that integer. With a percentage `minAvailable` or any `maxUnavailable`, the sum of
  `spec.replicas` of the pods' controllers (found through their controller ownerReferences:
  ReplicationController, Deployment behind a ReplicaSet, ReplicaSet, StatefulSet, or any
  other kind through its scale subresource), percentages rounded up; pods without a controller
  are reported with an `UnmanagedPods` warning and left out.
- `currentHealthy`: selected pods that are Ready, not being deleted, and not recently evicted.
- `disruptedPods`: pods the eviction subresource approved (it writes them here); an entry is
  dropped once its pod is being deleted or gone, or after 2 minutes if the pod never went
  (then a `NotDeleted` warning). The budget is looked at again when the earliest entry expires.
- `disruptionsAllowed` = currentHealthy - desiredHealthy (never below 0, and 0 while no pod is
  expected), `observedGeneration`, and the `DisruptionAllowed` condition: True/SufficientPods,
  False/InsufficientPods, or False/SyncFailed with the error when the status could not be
  computed (then disruptionsAllowed is forced to 0: fail closed).

Pods that carry an eviction's `DisruptionTarget` condition but were not deleted within two
minutes get it set back to False, as upstream's stale-condition cleanup.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

import orjson

from kubeherd.api.selectors import SelectorError, label_selector_from_dict
from kubeherd.client import APIStatusError, ResourceRef, split_key
from kubeherd.controllers.base import (
    DEPLOYMENTS,
    PDBS,
    PODS,
    REPLICASETS,
    REPLICATIONCONTROLLERS,
    STATEFULSETS,
    Context,
    Controller,
    controller_of,
)
from kubeherd.controllers.podutil import condition, is_ready, now, parse_time, rfc3339

Obj = dict[str, Any]

DELETION_TIMEOUT = datetime.timedelta(minutes=2)
STALE_DISRUPTION_TIMEOUT = datetime.timedelta(minutes=2)
STALE_POD_PREFIX = "pod:"  # queue keys of pods whose DisruptionTarget condition may be stale


class ExpectedCountError(Exception):
    """The number of expected pods could not be worked out."""


def scaled_value(value: Any, total: int) -> int:
    """An IntOrString as a count: an integer as is, "N%" of `total` rounded up."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value)
    if not text.endswith("%") or not text[:-1].lstrip("-").isdigit():
        raise ValueError("invalid value for IntOrString: invalid type: string is not a percentage")
    return math.ceil(int(text[:-1]) * total / 100)


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def _go_selector(selector: Obj | None) -> str:
    """A LabelSelector printed as Go's %v prints it (for the UnmanagedPods message)."""
    if selector is None:
        return "nil"
    labels = "".join(f"{k}: {v}," for k, v in sorted((selector.get("matchLabels") or {}).items()))
    exprs = "".join(f"LabelSelectorRequirement{{Key:{e.get('key', '')},Operator:{e.get('operator', '')},"
                    f"Values:[{' '.join(e.get('values') or [])}],}},"
                    for e in selector.get("matchExpressions") or [])
    return (f"&LabelSelector{{MatchLabels:map[string]string{{{labels}}},"
            f"MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}")


def set_condition(conditions: list[Obj], new: Obj) -> list[Obj]:
    """metav1 SetStatusCondition: a new transition time only when the status changes."""
    out, found = [], False
    for cond in conditions:
        if cond.get("type") != new["type"]:
            out.append(cond)
            continue
        found = True
        merged = {**cond, **new, "lastTransitionTime": cond.get("lastTransitionTime") or rfc3339()}
        if cond.get("status") != new["status"]:
            merged["lastTransitionTime"] = rfc3339()
        if "observedGeneration" not in new:
            merged.pop("observedGeneration", None)
        out.append(merged)
    if not found:
        out.append({**new, "lastTransitionTime": rfc3339()})
    return out


def allowed_condition(disruptions_allowed: int, observed_generation: int, reason: str = "",
                      message: str = "") -> Obj:
    allowed = disruptions_allowed > 0 and not reason
    cond: Obj = {"type": "DisruptionAllowed", "status": "True" if allowed else "False"}
    if observed_generation:
        cond["observedGeneration"] = observed_generation
    cond["reason"] = reason or ("SufficientPods" if allowed else "InsufficientPods")
    cond["message"] = message
    return cond


def conditions_up_to_date(status: Obj) -> bool:
    cond = next((c for c in status.get("conditions") or [] if c.get("type") == "DisruptionAllowed"), None)
    if cond is None:
        return False
    if int(status.get("disruptionsAllowed") or 0) > 0:
        return cond.get("status") == "True" and cond.get("reason") == "SufficientPods"
    return cond.get("status") == "False" and cond.get("reason") == "InsufficientPods"


class DisruptionController(Controller):
    name = "disruption"
    workers = 2

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.pdbs = self.informer(PDBS)
        self.pods = self.informer(PODS)
        self.rcs = self.informer(REPLICATIONCONTROLLERS)
        self.rss = self.informer(REPLICASETS)
        self.deployments = self.informer(DEPLOYMENTS)
        self.statefulsets = self.informer(STATEFULSETS)
        self.watch(self.pdbs)
        self.pods.add_handlers(on_add=self._pod_added, on_update=self._pod_updated, on_delete=self._pod_deleted)
        for informer in (self.rcs, self.rss, self.deployments, self.statefulsets):
            informer.add_handlers(on_update=self._scale_changed)

    # --- event handlers: only work out which keys to look at
    def _budgets_for(self, pod: Obj) -> list[Obj]:
        labels = pod["metadata"].get("labels") or {}
        found = []
        for pdb in self.pdbs.indexer.objects(pod["metadata"].get("namespace", "")):
            try:
                if label_selector_from_dict((pdb.get("spec") or {}).get("selector")).matches(labels):
                    found.append(pdb)
            except SelectorError:
                continue
        return sorted(found, key=lambda p: p["metadata"]["name"])

    def _enqueue_budgets(self, pod: Obj, warn: bool) -> None:
        budgets = self._budgets_for(pod)
        if warn and len(budgets) > 1:
            meta = pod["metadata"]
            self.recorder.record(pod, "Warning", "MultiplePodDisruptionBudgets",
                                 f'Pod "{meta.get("namespace")}"/"{meta["name"]}" matches multiple '
                                 f'PodDisruptionBudgets.  Chose "{budgets[0]["metadata"]["name"]}" arbitrarily.')
        for pdb in budgets:
            self.queue.add(f"{pdb['metadata']['namespace']}/{pdb['metadata']['name']}")

    def _pod_added(self, pod: Obj) -> None:
        self._enqueue_budgets(pod, warn=True)
        self._check_stale_condition(pod)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        labels_changed = old["metadata"].get("labels") != new["metadata"].get("labels")
        if labels_changed:
            self._enqueue_budgets(old, warn=False)
        self._enqueue_budgets(new, warn=labels_changed)
        self._check_stale_condition(new)

    def _pod_deleted(self, pod: Obj) -> None:
        self._enqueue_budgets(pod, warn=False)

    def _scale_changed(self, old: Obj, new: Obj) -> None:
        # expectedPods follows the controllers' replicas, not only their pods
        if (old.get("spec") or {}).get("replicas") == (new.get("spec") or {}).get("replicas"):
            return
        for pdb in self.pdbs.indexer.objects(new["metadata"].get("namespace", "")):
            self.queue.add(f"{pdb['metadata']['namespace']}/{pdb['metadata']['name']}")

    def _check_stale_condition(self, pod: Obj) -> None:
        wait = self._stale_disruption_wait(pod)
        if wait is not None:
            key = f"{STALE_POD_PREFIX}{pod['metadata'].get('namespace', '')}/{pod['metadata']['name']}"
            self.queue.add_after(key, wait)

    @staticmethod
    def _stale_disruption_wait(pod: Obj) -> float | None:
        """Seconds until a DisruptionTarget condition no deletion followed counts as stale."""
        if pod["metadata"].get("deletionTimestamp"):
            return None
        cond = condition(pod, "DisruptionTarget")
        if cond is None or cond.get("status") != "True" or cond.get("reason") == "TerminationByKubelet" \
                or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return None
        since = parse_time(cond.get("lastTransitionTime")) or now()
        return max(0.0, (since + STALE_DISRUPTION_TIMEOUT - now()).total_seconds())

    # --- reconcile
    async def sync(self, key: str) -> None:
        if key.startswith(STALE_POD_PREFIX):
            await self._clear_stale_condition(key[len(STALE_POD_PREFIX):])
            return
        pdb = self.pdbs.indexer.get(key)
        if pdb is None:
            return
        try:
            await self._try_sync(key, pdb)
        except APIStatusError as exc:
            if exc.code == 409:
                raise  # someone wrote the budget in between (an eviction): just try again
            await self._fail_safe(pdb, exc)
            raise
        except Exception as exc:
            await self._fail_safe(pdb, exc)
            raise

    async def _try_sync(self, key: str, pdb: Obj) -> None:
        namespace = pdb["metadata"]["namespace"]
        try:
            selector = label_selector_from_dict((pdb.get("spec") or {}).get("selector"))
        except SelectorError as exc:
            self.recorder.record(pdb, "Warning", "NoPods", f"Failed to get pods: {exc}")
            raise
        pods = [p for p in self.pods.indexer.objects(namespace) if selector.matches(p["metadata"].get("labels") or {})]
        if not pods:
            self.recorder.record(pdb, "Normal", "NoPods", "No matching pods found")
        try:
            expected, desired, unmanaged = await self._expected_count(pdb, pods)
        except Exception as exc:
            self.recorder.record(pdb, "Warning", "CalculateExpectedPodCountFailed",
                                 f"Failed to calculate the number of expected pods: {exc}")
            raise
        if unmanaged:
            selector_text = _go_selector((pdb.get("spec") or {}).get("selector"))
            self.recorder.record(
                pdb, "Warning", "UnmanagedPods",
                f"Pods selected by this PodDisruptionBudget (selector: {selector_text}) were found to be "
                "unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result "
                "in undefined behavior. To account for these pods please set "
                '".spec.minAvailable" field of the PDB to an integer value.')
        at = now()
        disrupted, recheck = self._disrupted_pods(pods, pdb, at)
        healthy = self._count_healthy(pods, disrupted, at)
        await self._update_status(pdb, healthy, desired, expected, disrupted)
        if recheck is not None:
            self.queue.add_after(key, max(0.0, (recheck - at).total_seconds()))

    async def _expected_count(self, pdb: Obj, pods: list[Obj]) -> tuple[int, int, list[str]]:
        spec = pdb.get("spec") or {}
        if spec.get("maxUnavailable") is not None:
            expected, unmanaged = await self._expected_scale(pods)
            desired = max(0, expected - scaled_value(spec["maxUnavailable"], expected))
            return expected, desired, unmanaged
        min_available = spec.get("minAvailable")
        if isinstance(min_available, int) and not isinstance(min_available, bool):
            return len(pods), min_available, []
        if min_available is not None:
            expected, unmanaged = await self._expected_scale(pods)
            return expected, scaled_value(min_available, expected), unmanaged
        return 0, 0, []

    async def _expected_scale(self, pods: list[Obj]) -> tuple[int, list[str]]:
        """The replicas of all the controllers behind these pods, each counted once."""
        scales: dict[str, int] = {}
        unmanaged: list[str] = []
        for pod in pods:
            ref = controller_of(pod)
            if ref is None:
                unmanaged.append(pod["metadata"]["name"])
                continue
            if ref.get("uid") in scales:
                continue
            found = await self._controller_scale(ref, pod["metadata"]["namespace"])
            if found is None:
                raise ExpectedCountError(f'found no controllers for pod "{pod["metadata"]["name"]}"')
            scales[found[0]] = found[1]
        return sum(scales.values()), unmanaged

    async def _controller_scale(self, ref: Obj, namespace: str) -> tuple[str, int] | None:
        """(uid, replicas) of the controller `ref` names, as upstream's finders look it up."""
        kind, group = ref.get("kind"), _group(str(ref.get("apiVersion", "")))
        name, uid = ref.get("name"), ref.get("uid")
        if kind == "ReplicationController" and group == "":
            rc = self.rcs.indexer.get_by_name(namespace, str(name))
            if rc is not None and rc["metadata"].get("uid") == uid:
                return uid, int((rc.get("spec") or {}).get("replicas", 1))
            return None
        if kind == "ReplicaSet" and group in ("apps", "extensions"):
            rs = self.rss.indexer.get_by_name(namespace, str(name))
            if rs is None or rs["metadata"].get("uid") != uid:
                return None
            owner = controller_of(rs)
            if owner is not None and owner.get("kind") == "Deployment":
                # a Deployment's ReplicaSets scale with it: count the Deployment
                if _group(str(owner.get("apiVersion", ""))) not in ("apps", "extensions"):
                    return None
                deployment = self.deployments.indexer.get_by_name(namespace, str(owner.get("name")))
                if deployment is None or deployment["metadata"].get("uid") != owner.get("uid"):
                    return None
                return str(owner["uid"]), int((deployment.get("spec") or {}).get("replicas", 1))
            return uid, int((rs.get("spec") or {}).get("replicas", 1))
        if kind == "StatefulSet" and group == "apps":
            sts = self.statefulsets.indexer.get_by_name(namespace, str(name))
            if sts is not None and sts["metadata"].get("uid") == uid:
                return uid, int((sts.get("spec") or {}).get("replicas", 1))
            return None
        return await self._scale_subresource(ref, namespace)

    async def _scale_subresource(self, ref: Obj, namespace: str) -> tuple[str, int] | None:
        """Any other controller: its scale subresource, found through discovery."""
        api_version = str(ref.get("apiVersion", ""))
        path = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
        response = await self.client.transport.request("GET", path)
        if response.status != 200:
            raise ExpectedCountError(f"no matches for kind \"{ref.get('kind')}\" in version \"{api_version}\"")
        listing = orjson.loads(response.body)
        resources = listing.get("resources") or []
        plural = next((r["name"] for r in resources if r.get("kind") == ref.get("kind") and "/" not in r["name"]),
                      None)
        if plural is None:
            raise ExpectedCountError(f"no matches for kind \"{ref.get('kind')}\" in version \"{api_version}\"")
        group_resource = f"{plural}.{_group(api_version)}" if _group(api_version) else plural
        if not any(r.get("name") == f"{plural}/scale" for r in resources):
            raise ExpectedCountError(f"{group_resource} does not implement the scale subresource")
        try:
            scale = await self.client.get(ResourceRef(api_version, plural, True), str(ref.get("name")), namespace,
                                          subresource="scale")
        except APIStatusError as exc:
            if exc.code == 404:
                return None
            raise
        if scale.get("metadata", {}).get("uid") != ref.get("uid"):
            return None
        return str(ref["uid"]), int((scale.get("spec") or {}).get("replicas", 0))

    def _disrupted_pods(self, pods: list[Obj], pdb: Obj, at: datetime.datetime
                        ) -> tuple[dict[str, str], datetime.datetime | None]:
        """The entries of status.disruptedPods still pending, and when the first one expires."""
        recorded = (pdb.get("status") or {}).get("disruptedPods") or {}
        kept: dict[str, str] = {}
        recheck: datetime.datetime | None = None
        for pod in pods:
            name = pod["metadata"]["name"]
            if pod["metadata"].get("deletionTimestamp") or name not in recorded:
                continue
            since = parse_time(recorded[name])
            if since is None:
                continue
            expires = since + DELETION_TIMEOUT
            if expires < at:
                self.recorder.record(pod, "Warning", "NotDeleted",
                                     f"Pod was expected by PDB {pdb['metadata']['namespace']}/"
                                     f"{pdb['metadata']['name']} to be deleted but it wasn't")
                continue
            kept[name] = recorded[name]
            recheck = expires if recheck is None else min(recheck, expires)
        return kept, recheck

    @staticmethod
    def _count_healthy(pods: list[Obj], disrupted: dict[str, str], at: datetime.datetime) -> int:
        healthy = 0
        for pod in pods:
            if pod["metadata"].get("deletionTimestamp"):
                continue
            since = parse_time(disrupted.get(pod["metadata"]["name"]))
            if since is not None and since + DELETION_TIMEOUT > at:
                continue  # evicted: about to go
            if is_ready(pod):
                healthy += 1
        return healthy

    async def _update_status(self, pdb: Obj, healthy: int, desired: int, expected: int,
                             disrupted: dict[str, str]) -> None:
        allowed = healthy - desired
        if expected <= 0 or allowed <= 0:
            allowed = 0
        generation = int(pdb["metadata"].get("generation") or 0)
        current = pdb.get("status") or {}
        if (current.get("currentHealthy") == healthy and current.get("desiredHealthy") == desired
                and current.get("expectedPods") == expected and current.get("disruptionsAllowed") == allowed
                and (current.get("disruptedPods") or {}) == disrupted
                and int(current.get("observedGeneration") or 0) == generation and conditions_up_to_date(current)):
            return
        status: Obj = {}
        if generation:
            status["observedGeneration"] = generation
        if disrupted:
            status["disruptedPods"] = disrupted
        status.update(disruptionsAllowed=allowed, currentHealthy=healthy, desiredHealthy=desired,
                      expectedPods=expected)
        status["conditions"] = set_condition(list(current.get("conditions") or []),
                                             allowed_condition(allowed, generation))
        await self.client.update_status(PDBS, {**pdb, "status": status})

    async def _fail_safe(self, pdb: Obj, error: BaseException) -> None:
        """Could not compute the status: allow no disruption and say why (fail closed)."""
        status = dict(pdb.get("status") or {})
        status["disruptionsAllowed"] = 0
        observed = int(status.get("observedGeneration") or 0)
        message = error.status.get("message", str(error)) if isinstance(error, APIStatusError) else str(error)
        status["conditions"] = set_condition(list(status.get("conditions") or []),
                                             allowed_condition(0, observed, "SyncFailed", message))
        try:
            await self.client.update_status(PDBS, {**pdb, "status": status})
        except APIStatusError as exc:
            if exc.code not in (404, 409):
                raise

    async def _clear_stale_condition(self, pod_key: str) -> None:
        namespace, name = split_key(pod_key)
        pod = self.pods.indexer.get_by_name(namespace, name)
        if pod is None:
            return
        wait = self._stale_disruption_wait(pod)
        if wait is None:
            return
        if wait > 0:
            self.queue.add_after(STALE_POD_PREFIX + pod_key, wait)
            return
        status = dict(pod.get("status") or {})
        status["conditions"] = [
            {**c, "status": "False", "lastTransitionTime": rfc3339()} if c.get("type") == "DisruptionTarget" else c
            for c in status.get("conditions") or []]
        try:
            await self.client.update_status(PODS, {**pod, "status": status})
        except APIStatusError as exc:
            if exc.code != 404:
                raise
