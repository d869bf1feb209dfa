"""NodeResourcesFit (filter and LeastAllocated), BalancedAllocation and ImageLocality, as pure functions."""

from __future__ import annotations

from kubeherd.scheduler.framework import CycleState
from kubeherd.scheduler.plugins import balanced_allocation, image_locality, node_resources_fit
from kubeherd.scheduler.plugins.image_locality import MB
from kubeherd.scheduler.plugins.node_resources_fit import NodeResourcesFit
from kubeherd.scheduler.podinfo import PodInfo
from kubeherd.scheduler.types import Code
from tests.unit.test_scheduler_builders import container, make_node, make_pod, node_info, pod_info


def test_pod_fits_when_requests_plus_used_stay_within_allocatable() -> None:
    node = node_info(make_node("n1", cpu="4", memory="8Gi"),
                     pod_info("running", cpu="3", memory="2Gi", node_name="n1"))
    assert node_resources_fit.fits(pod_info("p", cpu="1", memory="6Gi"), node) == []
    assert node_resources_fit.fits(pod_info("p", cpu="1500m"), node) == ["Insufficient cpu"]
    assert node_resources_fit.fits(pod_info("p", cpu="2", memory="7Gi"), node) == \
        ["Insufficient cpu", "Insufficient memory"]


def test_too_many_pods_counts_every_pod_even_best_effort() -> None:
    node = node_info(make_node("n1", pods="2"), pod_info("a", node_name="n1"), pod_info("b", node_name="n1"))
    assert node_resources_fit.fits(pod_info("p"), node) == ["Too many pods"]


def test_extended_resources_must_be_advertised() -> None:
    gpu_pod = PodInfo(make_pod("train", containers=[container(cpu="1")]))
    gpu_pod.requests.scalar["nvidia.com/gpu"] = 1
    assert node_resources_fit.fits(gpu_pod, node_info(make_node("cpu-only"))) == ["Insufficient nvidia.com/gpu"]
    assert node_resources_fit.fits(gpu_pod, node_info(make_node("gpu", extra={"nvidia.com/gpu": "4"}))) == []


def test_insufficient_resource_details() -> None:
    node = node_info(make_node("n1", cpu="2"), pod_info("a", cpu="1500m", node_name="n1"))
    (short,) = node_resources_fit.insufficient_resources(pod_info("p", cpu="1"), node)
    assert (short.resource, short.requested, short.used, short.capacity) == ("cpu", 1000, 1500, 2000)


def test_filter_plugin_reports_all_reasons_with_unschedulable_code() -> None:
    plugin = NodeResourcesFit(None)  # type: ignore[arg-type]  # the filter needs no handle
    node = node_info(make_node("n1", cpu="1", memory="1Gi", pods="1"), pod_info("a", node_name="n1"))
    status = plugin.filter(CycleState(), pod_info("p", cpu="2", memory="2Gi"), node)
    assert status is not None and status.code == Code.UNSCHEDULABLE  # preemption may help
    assert status.reasons == ("Too many pods", "Insufficient cpu", "Insufficient memory")


def test_least_allocated_prefers_the_emptier_node() -> None:
    pod = pod_info("p", cpu="1", memory="1Gi")
    empty = node_info(make_node("empty", cpu="4", memory="8Gi"))
    busy = node_info(make_node("busy", cpu="4", memory="8Gi"), pod_info("a", cpu="2", memory="6Gi", node_name="busy"))
    # empty: cpu (4-1)/4 = 75, memory (8-1)/8 = 87 -> 81; busy: cpu 25, memory 12 -> 18
    assert node_resources_fit.least_allocated_score(pod, empty) == 81
    assert node_resources_fit.least_allocated_score(pod, busy) == 18


def test_least_allocated_counts_best_effort_pods_as_100m_and_200mb() -> None:
    node = node_info(make_node("n", cpu="1", memory=str(2000 * 1024 * 1024)))
    # (1000-100)*100/1000 = 90, (2000-200)/2000 = 90
    assert node_resources_fit.least_allocated_score(pod_info("p"), node) == 90


def test_balanced_allocation_prefers_even_cpu_and_memory_use() -> None:
    pod = pod_info("p", cpu="1", memory="1Gi")
    balanced = node_info(make_node("a", cpu="4", memory="4Gi"))  # 25% / 25%
    skewed = node_info(make_node("b", cpu="4", memory="16Gi"))  # 25% / 6.25%
    assert balanced_allocation.balanced_allocation_score(pod, balanced) == 100
    assert balanced_allocation.balanced_allocation_score(pod, skewed) == 90  # 1 - 0.1875/2
    assert balanced_allocation.balanced_resource_score([1, 1, 4], [4, 4, 4]) == 64  # three resources: std dev


def test_image_locality_scales_by_size_and_spread() -> None:
    image = "registry.example/app:1.0"
    with_image = node_info(make_node("a", images=[([image], 500 * MB)]))
    without = node_info(make_node("b"))
    pod = pod_info("p")  # one container with that image
    # 500MB on 1 of 2 nodes -> 250MB scaled; (250-23)/(1000-23)*100 = 23
    assert image_locality.image_locality_score(pod, with_image, lambda name: 1, 2) == 23
    assert image_locality.image_locality_score(pod, without, lambda name: 1, 2) == 0
    # tiny images are below the 23MB threshold and count for nothing
    small = node_info(make_node("c", images=[([image], 10 * MB)]))
    assert image_locality.image_locality_score(pod, small, lambda name: 1, 1) == 0


def test_image_names_without_a_tag_mean_latest() -> None:
    assert image_locality.normalized_image_name("nginx") == "nginx:latest"
    assert image_locality.normalized_image_name("localhost:5000/nginx") == "localhost:5000/nginx:latest"
    assert image_locality.normalized_image_name("nginx:1.25") == "nginx:1.25"


def test_batch_scoring_equals_node_by_node_scoring() -> None:
    from kubeherd.scheduler.plugins.balanced_allocation import BalancedAllocation

    nodes = [node_info(make_node(f"n{i}", cpu=str(2 + i % 5), memory=f"{4 + i % 7}Gi"),
                       *[pod_info(f"p{i}-{j}", cpu=f"{100 * (j + 1)}m", memory=f"{256 * j}Mi", node_name=f"n{i}")
                         for j in range(i % 4)]) for i in range(30)]
    nodes.append(node_info(make_node("no-memory", memory="0")))
    for pod in (pod_info("p", cpu="700m", memory="1Gi"), pod_info("best-effort"), pod_info("huge", cpu="64")):
        for plugin in (NodeResourcesFit(None), BalancedAllocation(None)):  # type: ignore[arg-type]
            state = CycleState()
            assert plugin.score_nodes(state, pod, nodes) == [plugin.score(state, pod, n) for n in nodes]
