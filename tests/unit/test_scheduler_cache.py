"""The scheduler cache: assumed pods, confirmation, forgetting, placeholders, zone-interleaved order."""

from __future__ import annotations

from kubeherd.scheduler.cache import SchedulerCache
from kubeherd.scheduler.podinfo import PodInfo
from tests.unit.test_scheduler_builders import make_node, make_pod, pod_info


def test_assume_then_confirm_counts_the_pod_once() -> None:
    cache = SchedulerCache()
    cache.add_node(make_node("n1", cpu="4"))
    pod = pod_info("p", cpu="1")
    cache.assume_pod(pod, "n1")
    n1 = cache.get("n1")
    assert n1 is not None and n1.requested.milli_cpu == 1000 and cache.is_assumed(pod)
    cache.finish_binding(pod)
    cache.add_pod(PodInfo({**pod.pod, "spec": {**pod.pod["spec"], "nodeName": "n1"}}))  # the informer confirms
    assert not cache.is_assumed(pod) and n1.requested.milli_cpu == 1000 and n1.num_pods == 1


def test_forgetting_a_failed_binding_frees_the_room() -> None:
    cache = SchedulerCache()
    cache.add_node(make_node("n1", cpu="4"))
    pod = pod_info("p", cpu="1")
    cache.assume_pod(pod, "n1")
    cache.forget_pod(pod)
    n1 = cache.get("n1")
    assert n1 is not None and n1.requested.milli_cpu == 0 and n1.num_pods == 0


def test_pods_reported_before_their_node_wait_on_a_placeholder() -> None:
    cache = SchedulerCache()
    cache.add_pod(pod_info("early", cpu="2", node_name="late-node"))
    assert cache.get("late-node") is None and cache.num_nodes() == 0
    cache.add_node(make_node("late-node", cpu="4"))
    node = cache.get("late-node")
    assert node is not None and node.requested.milli_cpu == 2000


def test_finished_pods_take_no_room() -> None:
    cache = SchedulerCache()
    cache.add_node(make_node("n1"))
    pod = make_pod("job", cpu="1", node_name="n1", phase="Running")
    cache.add_pod(PodInfo(pod))
    cache.update_pod(PodInfo({**pod, "status": {"phase": "Succeeded"}}))
    n1 = cache.get("n1")
    assert n1 is not None and n1.num_pods == 0


def test_node_order_interleaves_zones() -> None:
    cache = SchedulerCache()
    for name, zone in [("a1", "a"), ("a2", "a"), ("a3", "a"), ("b1", "b"), ("c1", "c"), ("c2", "c")]:
        cache.add_node(make_node(name, zone=zone))
    assert [n.name for n in cache.node_infos()] == ["a1", "b1", "c1", "a2", "c2", "a3"]
    cache.remove_node(make_node("b1", zone="b"))
    assert [n.name for n in cache.node_infos()] == ["a1", "c1", "a2", "c2", "a3"]


def test_image_sizes_and_spread_are_tracked() -> None:
    cache = SchedulerCache()
    cache.add_node(make_node("n1", images=[(["nginx:1.25", "docker.io/library/nginx:1.25"], 70_000_000)]))
    cache.add_node(make_node("n2", images=[(["nginx:1.25"], 70_000_000)]))
    assert cache.image_num_nodes("nginx:1.25") == 2
    assert cache.image_num_nodes("docker.io/library/nginx:1.25") == 1
    cache.update_node(make_node("n2"))
    assert cache.image_num_nodes("nginx:1.25") == 1
