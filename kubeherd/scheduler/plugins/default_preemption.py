"""DefaultPreemption: when no node fits, make room by evicting lower-priority pods.

Upstream's algorithm (PostFilter, run only after every node was rejected):
1. The pod may preempt unless its preemptionPolicy is Never, or it already preempted and its
   victims on the nominated node are still terminating.
2. Candidate nodes are those rejected with a resolvable status (Unschedulable, not
   UnschedulableAndUnresolvable: a taint or a node selector is not fixed by evicting anything).
   On each (from a random offset, at least 10% of them or 100), every lower-priority pod is removed
   in a what-if copy; if the pod then passes every filter, victims are reprieved one by one, most
   important first (higher priority, then longer running), keeping back all that still let it fit
   — first those whose eviction would violate a PodDisruptionBudget.
3. The node chosen has the fewest PDB violations, then the lowest highest-victim priority, the
   smallest priority sum, the fewest victims, the latest start among its top victims.
4. The victims get the DisruptionTarget condition (reason PreemptionByScheduler) and are deleted
   gracefully, with a `Preempted` event; the preemptor's `status.nominatedNodeName` names the node,
   and it is scheduled once they are gone (their deletion is the event that requeues it).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

from kubeherd.api.selectors import LabelSelector, SelectorError, label_selector_from_dict
from kubeherd.scheduler.framework import (
    CycleState,
    Diagnosis,
    Framework,
    PostFilterPlugin,
    PostFilterResult,
    fit_error_message,
)
from kubeherd.scheduler.nodeinfo import NodeInfo
from kubeherd.scheduler.podinfo import PodInfo
from kubeherd.scheduler.types import Code, Obj, Status

log = logging.getLogger(__name__)

NAME = "DefaultPreemption"
MIN_CANDIDATE_NODES_PERCENTAGE = 10
MIN_CANDIDATE_NODES_ABSOLUTE = 100
NO_VICTIMS = "No preemption victims found for incoming pod"
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NOT_ELIGIBLE_NEVER = "not eligible due to preemptionPolicy=Never."
NOT_ELIGIBLE_TERMINATING = "not eligible due to a terminating pod on the nominated node."


@dataclass
class Candidate:
    node_name: str
    victims: list[PodInfo]
    num_pdb_violations: int


def more_important(a: PodInfo, b: PodInfo) -> bool:
    """Higher priority first; at equal priority the pod that started earlier."""
    if a.priority != b.priority:
        return a.priority > b.priority
    return a.start_time < b.start_time


def _importance_key(p: PodInfo) -> tuple[int, str]:
    return (-p.priority, p.start_time)


def terminating_by_preemption(pod: PodInfo) -> bool:
    if not pod.terminating:
        return False
    for c in (pod.pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "DisruptionTarget":
            return c.get("status") == "True" and c.get("reason") == "PreemptionByScheduler"
    return False


def pod_eligible_to_preempt_others(pod: PodInfo, nominated_node: NodeInfo | None,
                                   nominated_status: Status | None) -> tuple[bool, str]:
    if pod.preemption_policy == "Never":
        return False, NOT_ELIGIBLE_NEVER
    if pod.nominated_node_name:
        if nominated_status is not None and nominated_status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
            return True, ""
        if nominated_node is not None:
            for p in nominated_node.pods.values():
                if p.priority < pod.priority and terminating_by_preemption(p):
                    return False, NOT_ELIGIBLE_TERMINATING
    return True, ""


def filter_pods_with_pdb_violation(pods: list[PodInfo], pdbs: list[Obj]) -> tuple[list[PodInfo], list[PodInfo]]:
    """Split (keeping order) into pods whose eviction would break a budget and the others."""
    allowed = [int((pdb.get("status") or {}).get("disruptionsAllowed") or 0) for pdb in pdbs]
    selectors: list[LabelSelector | None] = []
    for pdb in pdbs:
        try:
            selectors.append(label_selector_from_dict((pdb.get("spec") or {}).get("selector")))
        except SelectorError:
            selectors.append(None)
    violating: list[PodInfo] = []
    fine: list[PodInfo] = []
    for p in pods:
        violated = False
        if p.labels:
            for i, pdb in enumerate(pdbs):
                if (pdb.get("metadata") or {}).get("namespace") != p.namespace:
                    continue
                sel = selectors[i]
                if sel is None or sel.empty or not sel.matches(p.labels):
                    continue
                if p.name in ((pdb.get("status") or {}).get("disruptedPods") or {}):
                    continue
                allowed[i] -= 1
                if allowed[i] < 0:
                    violated = True
        (violating if violated else fine).append(p)
    return violating, fine


def select_victims_on_node(fw: Framework, state: CycleState, pod: PodInfo, node: NodeInfo,
                           pdbs: list[Obj]) -> tuple[list[PodInfo], int, Status | None]:
    """The fewest (least important) pods to evict from `node` so `pod` fits; a status if none will do."""
    potential = [p for p in node.pods.values() if p.priority < pod.priority]
    if not potential:
        return [], 0, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, NO_VICTIMS)
    node = node.clone()
    state = state.clone()
    for p in potential:
        node.remove_pod(p.uid)
        fw.run_pre_filter_remove_pod(state, pod, p, node)
    status = fw.run_filter_with_nominated_pods(state, pod, node)
    if status is not None:
        return [], 0, status
    potential.sort(key=_importance_key)
    violating, non_violating = filter_pods_with_pdb_violation(potential, pdbs)
    victims: list[PodInfo] = []

    def reprieve(p: PodInfo) -> bool:
        node.add_pod(p)
        fw.run_pre_filter_add_pod(state, pod, p, node)
        if fw.run_filter_with_nominated_pods(state, pod, node) is None:
            return True
        node.remove_pod(p.uid)
        fw.run_pre_filter_remove_pod(state, pod, p, node)
        victims.append(p)
        return False

    num_violating = sum(1 for p in violating if not reprieve(p))
    for p in non_violating:
        reprieve(p)
    if violating and non_violating:
        victims.sort(key=_importance_key)
    return victims, num_violating, None


def pick_one_node_for_preemption(candidates: list[Candidate]) -> Candidate | None:
    if not candidates:
        return None

    def earliest_start(c: Candidate) -> str:
        top = c.victims[0].priority
        return min((v.start_time for v in c.victims if v.priority == top), default="")

    scorers: list[Callable[[Candidate], object]] = [
        lambda c: -c.num_pdb_violations,
        lambda c: -c.victims[0].priority,
        lambda c: -sum(v.priority + 2 ** 31 for v in c.victims),
        lambda c: -len(c.victims),
        earliest_start,  # the latest start time of the highest-priority victims wins
    ]
    remaining = candidates
    for scorer in scorers:
        best = max(scorer(c) for c in remaining)  # type: ignore[type-var]
        remaining = [c for c in remaining if scorer(c) == best]
        if len(remaining) == 1:
            return remaining[0]
    return remaining[0]


def num_candidates(num_nodes: int) -> int:
    n = num_nodes * MIN_CANDIDATE_NODES_PERCENTAGE // 100
    return min(max(n, MIN_CANDIDATE_NODES_ABSOLUTE), num_nodes)


class DefaultPreemption(PostFilterPlugin):
    name = NAME

    def post_filter(self, state: CycleState, pod: PodInfo, diagnosis: Diagnosis,
                    num_all_nodes: int) -> tuple[PostFilterResult | None, Status]:
        result, status = self.preempt(state, pod, diagnosis)
        if status.message():
            return result, Status(status.code, "preemption: " + status.message())
        return result, status

    def preempt(self, state: CycleState, pod: PodInfo, diagnosis: Diagnosis) -> tuple[PostFilterResult | None, Status]:
        handle = self.handle
        fw = handle.framework
        assert fw is not None
        snapshot = handle.snapshot
        nominated_node = snapshot.get(pod.nominated_node_name) if pod.nominated_node_name else None
        ok, msg = pod_eligible_to_preempt_others(pod, nominated_node, diagnosis.status_of(pod.nominated_node_name))
        if not ok:
            return None, Status(Code.UNSCHEDULABLE, msg)
        all_nodes = snapshot.node_infos()
        if not all_nodes:
            return None, Status(Code.ERROR, "no nodes available")
        potential = []
        for n in all_nodes:
            status = diagnosis.status_of(n.name)
            if status is not None and status.code == Code.UNSCHEDULABLE:
                potential.append(n)
        candidates: list[Candidate] = []
        statuses: dict[str, Status] = {}
        if potential:
            candidates, statuses = self.dry_run(fw, state, pod, potential)
        if not candidates:
            d = Diagnosis(node_to_status=statuses, absent_status=Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, NOT_HELPFUL))
            return PostFilterResult("", override=True), Status(Code.UNSCHEDULABLE,
                                                               fit_error_message(len(all_nodes), d))
        best = pick_one_node_for_preemption(candidates)
        if best is None:
            return None, Status(Code.UNSCHEDULABLE, "no candidate node for preemption")
        self.prepare_candidate(best, pod)
        return PostFilterResult(best.node_name), Status(Code.SUCCESS)

    def dry_run(self, fw: Framework, state: CycleState, pod: PodInfo,
                potential: list[NodeInfo]) -> tuple[list[Candidate], dict[str, Status]]:
        pdbs = self.handle.listers.pdbs()
        offset = random.randrange(len(potential))
        wanted = num_candidates(len(potential))
        non_violating: list[Candidate] = []
        violating: list[Candidate] = []
        statuses: dict[str, Status] = {}
        for i in range(len(potential)):
            node = potential[(offset + i) % len(potential)]
            victims, num_pdb, status = select_victims_on_node(fw, state, pod, node, pdbs)
            if status is None and victims:
                (non_violating if num_pdb == 0 else violating).append(Candidate(node.name, victims, num_pdb))
                if non_violating and len(non_violating) + len(violating) >= wanted:
                    break
                continue
            statuses[node.name] = status or Status(Code.ERROR, f'expected at least one victim pod on node "{node.name}"')
        return non_violating + violating, statuses

    def prepare_candidate(self, c: Candidate, pod: PodInfo) -> None:
        """Evict the victims and drop weaker nominations to the node, without holding the cycle."""
        handle = self.handle
        nominator = handle.nominator
        lower = [p for p in nominator.nominated_pods_for_node(c.node_name) if p.priority < pod.priority]
        for p in lower:
            nominator.delete_nominated_pod(p)
        api = handle.api
        if api is None or handle.spawn is None:
            return
        victims = [v for v in c.victims if not v.terminating]

        async def run() -> None:
            try:
                for victim in victims:
                    await api.preempt(victim, pod, c.node_name, handle.scheduler_name)
                for p in lower:
                    await api.set_nominated_node(p, "")
            except Exception as exc:
                log.warning("preemption for %s on %s failed: %s", pod.key, c.node_name, exc)
                if handle.activate is not None:
                    handle.activate([pod])
            if lower and handle.activate is not None:
                handle.activate(lower)

        handle.spawn(run())

