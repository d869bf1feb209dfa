"""DefaultPreemption's pure parts: victim selection, PDBs, candidate choice, eligibility."""

from __future__ import annotations

from typing import Any

from kubeherd.scheduler.framework import CycleState, Framework, Handle
from kubeherd.scheduler.listers import StaticListers
from kubeherd.scheduler.nodeinfo import NodeInfo, anti_affinity_index_of, index_of
from kubeherd.scheduler.plugins import REGISTRY, default_profile
from kubeherd.scheduler.plugins import default_preemption as dp
from kubeherd.scheduler.podinfo import PodInfo
from kubeherd.scheduler.queue import SchedulingQueue
from kubeherd.scheduler.types import Code, Status
from tests.unit.test_scheduler_builders import make_node, pod_info


class OneNode:
    """A snapshot of the nodes given (enough for the plugins' PreFilter)."""

    def __init__(self, *nodes: NodeInfo) -> None:
        self.nodes = list(nodes)
        self.label_index = index_of(nodes)
        self.anti_affinity_index = anti_affinity_index_of(nodes)

    def node_infos(self) -> list[NodeInfo]:
        return self.nodes

    def get(self, name: str) -> NodeInfo | None:
        return next((n for n in self.nodes if n.name == name), None)

    def nodes_with_affinity_pods(self) -> list[NodeInfo]:
        return [n for n in self.nodes if n.pods_with_affinity]

    def nodes_with_required_anti_affinity_pods(self) -> list[NodeInfo]:
        return [n for n in self.nodes if n.pods_with_required_anti_affinity]

    def image_num_nodes(self, image: str) -> int:
        return 0

    def num_nodes(self) -> int:
        return len(self.nodes)


def framework(*nodes: NodeInfo) -> Framework:
    handle = Handle(snapshot=OneNode(*nodes), listers=StaticListers(), nominator=SchedulingQueue())
    return Framework(default_profile(), REGISTRY, handle)


def victims_for(pod: PodInfo, node: NodeInfo, pdbs: list[dict[str, Any]] | None = None) -> tuple[list[str], int, Any]:
    fw = framework(node)
    state = CycleState()
    status, _ = fw.run_pre_filter(state, pod, [node])
    assert status is None
    victims, violations, status = dp.select_victims_on_node(fw, state, pod, node, pdbs or [])
    return [v.name for v in victims], violations, status


def low(name: str, cpu: str, priority: int = 0, start: str = "2025-01-01T00:00:00Z", **kw: Any) -> PodInfo:
    return pod_info(name, cpu=cpu, node_name="n1", priority=priority, start_time=start, **kw)


def test_only_as_many_victims_as_needed_least_important_first() -> None:
    node = NodeInfo.from_node(make_node("n1", cpu="4"), [
        low("a", "1", priority=5), low("b", "1", priority=1), low("c", "1", priority=1, start="2025-02-01T00:00:00Z"),
        low("d", "1", priority=9)])
    names, violations, status = victims_for(pod_info("urgent", cpu="2", priority=100), node)
    # priority 1 pods go first; of those, the more recently started is less important
    assert status is None and violations == 0
    assert sorted(names) == ["b", "c"]


def test_higher_or_equal_priority_pods_are_never_victims() -> None:
    node = NodeInfo.from_node(make_node("n1", cpu="2"), [low("peer", "2", priority=100)])
    names, _, status = victims_for(pod_info("urgent", cpu="1", priority=100), node)
    assert names == [] and status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert status.reasons == (dp.NO_VICTIMS,)


def test_evicting_everything_still_not_enough() -> None:
    node = NodeInfo.from_node(make_node("n1", cpu="2"), [low("a", "1")])
    names, _, status = victims_for(pod_info("huge", cpu="4", priority=100), node)
    assert names == [] and status.reasons == ("Insufficient cpu",)


def test_pdb_protected_pods_are_reprieved_first() -> None:
    node = NodeInfo.from_node(make_node("n1", cpu="2"), [
        low("guarded", "1", labels={"app": "db"}), low("free", "1", labels={"app": "batch"})])
    pdb = {"metadata": {"name": "db", "namespace": "default"}, "spec": {"selector": {"matchLabels": {"app": "db"}}},
           "status": {"disruptionsAllowed": 0}}
    names, violations, status = victims_for(pod_info("urgent", cpu="1", priority=10), node, [pdb])
    assert names == ["free"] and violations == 0 and status is None
    names, violations, _ = victims_for(pod_info("urgent", cpu="2", priority=10), node, [pdb])
    assert sorted(names) == ["free", "guarded"] and violations == 1


def test_candidate_node_choice_follows_upstreams_order() -> None:
    def c(node: str, *priorities: int, pdb: int = 0, start: str = "2025-01-01T00:00:00Z") -> dp.Candidate:
        victims = [pod_info(f"{node}-{i}", priority=p, start_time=start) for i, p in enumerate(priorities)]
        return dp.Candidate(node, victims, pdb)

    assert dp.pick_one_node_for_preemption([c("a", 5, pdb=1), c("b", 50)]).node_name == "b"  # PDBs first
    assert dp.pick_one_node_for_preemption([c("a", 50), c("b", 10, 10, 10)]).node_name == "b"  # lowest top
    assert dp.pick_one_node_for_preemption([c("a", 10, 5), c("b", 10, 1)]).node_name == "b"  # smallest sum
    assert dp.pick_one_node_for_preemption([c("a", 10, 0), c("b", 10)]).node_name == "b"  # fewest victims
    late = c("b", 10, start="2025-06-01T00:00:00Z")
    assert dp.pick_one_node_for_preemption([c("a", 10), late]).node_name == "b"  # latest start


def test_a_preemptor_waits_while_its_victims_terminate() -> None:
    dying = PodInfo({**low("victim", "1").pod, "status": {"phase": "Running", "conditions": [
        {"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler"}]},
        "metadata": {**low("victim", "1").pod["metadata"], "deletionTimestamp": "2025-01-01T00:00:00Z"}})
    node = NodeInfo.from_node(make_node("n1"), [dying])
    preemptor = PodInfo({**pod_info("urgent", priority=10).pod,
                         "status": {"phase": "Pending", "nominatedNodeName": "n1"}})
    ok, msg = dp.pod_eligible_to_preempt_others(preemptor, node, Status(Code.UNSCHEDULABLE))
    assert not ok and msg == dp.NOT_ELIGIBLE_TERMINATING
    # unless its nominated node cannot take it at all any more
    assert dp.pod_eligible_to_preempt_others(preemptor, node, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE))[0]
    never = pod_info("polite", priority=10, preemptionPolicy="Never")
    assert dp.pod_eligible_to_preempt_others(never, None, None) == (False, dp.NOT_ELIGIBLE_NEVER)


def test_number_of_candidates_looked_at() -> None:
    assert dp.num_candidates(50) == 50
    assert dp.num_candidates(500) == 100
    assert dp.num_candidates(5000) == 500
