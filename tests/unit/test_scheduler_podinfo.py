"""How the scheduler reads a pod: its resource request, host ports, node selector terms, priority."""

from __future__ import annotations

from kubeherd.scheduler.listers import PriorityResolver, StaticListers
from kubeherd.scheduler.podinfo import NodeSelector, PodInfo, pod_requests
from kubeherd.scheduler.types import DEFAULT_MEMORY_REQUEST, DEFAULT_MILLI_CPU_REQUEST, HostPort, HostPortInfo
from tests.unit.test_scheduler_builders import container, make_pod

GI = 1024 ** 3


def test_app_containers_add_up_and_init_containers_take_the_max() -> None:
    # upstream's example: init 2 cpu/1G and 2 cpu/3G, app 2 cpu/1G + 1 cpu/1G -> 3 cpu, 3G
    spec = make_pod("p", containers=[container("a", cpu="2", memory="1G"), container("b", cpu="1", memory="1G")],
                    init_containers=[container("i1", cpu="2", memory="1G"),
                                     container("i2", cpu="2", memory="3G")])["spec"]
    r = pod_requests(spec)
    assert r.milli_cpu == 3000
    assert r.memory == 3_000_000_000


def test_sidecars_keep_running_and_add_to_everything_after_them() -> None:
    spec = make_pod("p", containers=[container("app", cpu="1")], init_containers=[
        container("sidecar", cpu="500m", restartPolicy="Always"),
        container("migrate", cpu="2"),  # runs while the sidecar runs: 2.5 cpu at that step
    ])["spec"]
    assert pod_requests(spec).milli_cpu == 2500
    spec["initContainers"][1]["resources"]["requests"]["cpu"] = "200m"
    # now the app phase dominates: app 1 + sidecar 0.5
    assert pod_requests(spec).milli_cpu == 1500


def test_overhead_is_added_on_top() -> None:
    spec = make_pod("p", cpu="250m", memory="64Mi", overhead={"cpu": "100m", "memory": "32Mi"})["spec"]
    r = pod_requests(spec)
    assert (r.milli_cpu, r.memory) == (350, 96 * 1024 * 1024)


def test_extended_and_hugepage_resources_are_counted_by_value() -> None:
    c = container(cpu="1")
    c["resources"]["requests"].update({"example.com/gpu": "2", "hugepages-2Mi": "64Mi"})
    r = pod_requests(make_pod("p", containers=[c])["spec"])
    assert r.scalar == {"example.com/gpu": 2, "hugepages-2Mi": 64 * 1024 * 1024}


def test_scoring_counts_missing_cpu_and_memory_requests_as_defaults() -> None:
    pod = PodInfo(make_pod("p", containers=[container("a"), container("b", cpu="300m")]))
    assert pod.requests.milli_cpu == 300 and pod.requests.memory == 0
    assert pod.non_zero_cpu == DEFAULT_MILLI_CPU_REQUEST + 300
    assert pod.non_zero_memory == 2 * DEFAULT_MEMORY_REQUEST


def test_host_ports_default_protocol_and_wildcard_conflicts() -> None:
    pod = PodInfo(make_pod("p", containers=[container(ports=[{"containerPort": 80, "hostPort": 8080},
                                                             {"containerPort": 53, "hostPort": 53, "protocol": "UDP",
                                                              "hostIP": "10.0.0.5"},
                                                             {"containerPort": 9000}])]))
    assert pod.host_ports == (HostPort("0.0.0.0", "TCP", 8080), HostPort("10.0.0.5", "UDP", 53))
    used = HostPortInfo()
    used.add(HostPort("10.0.0.5", "TCP", 8080))
    assert used.conflicts(HostPort("0.0.0.0", "TCP", 8080))  # all addresses include 10.0.0.5
    assert not used.conflicts(HostPort("10.0.0.6", "TCP", 8080))
    assert not used.conflicts(HostPort("10.0.0.5", "UDP", 8080))


def test_host_network_pods_use_their_container_ports_on_the_host() -> None:
    pod = PodInfo(make_pod("p", hostNetwork=True, containers=[container(ports=[{"containerPort": 9100}])]))
    assert pod.host_ports == (HostPort("0.0.0.0", "TCP", 9100),)


def test_node_selector_terms_are_ored_and_expressions_anded() -> None:
    sel = NodeSelector.parse({"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]},
                              {"key": "cores", "operator": "Gt", "values": ["8"]}]},
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["special"]}]},
    ]})
    assert sel.matches({"disk": "ssd", "cores": "16"}, "n1")
    assert not sel.matches({"disk": "ssd", "cores": "8"}, "n1")
    assert not sel.matches({"disk": "hdd", "cores": "16"}, "n1")
    assert sel.matches({}, "special")
    assert not NodeSelector.parse({"nodeSelectorTerms": [{}]}).matches({"a": "b"}, "n")  # empty term: nothing
    assert not NodeSelector.parse({"nodeSelectorTerms": []}).matches({"a": "b"}, "n")


def test_not_in_and_does_not_exist_match_nodes_without_the_label() -> None:
    sel = NodeSelector.parse({"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "gpu", "operator": "DoesNotExist"}, {"key": "tier", "operator": "NotIn", "values": ["spot"]}]}]})
    assert sel.matches({}, "n")
    assert not sel.matches({"tier": "spot"}, "n")
    assert not sel.matches({"gpu": "a100"}, "n")


def test_priority_comes_from_the_priority_class_the_pod_names() -> None:
    listers = StaticListers()
    listers.add({"kind": "PriorityClass", "metadata": {"name": "high"}, "value": 1000, "preemptionPolicy": "Never"})
    resolve = PriorityResolver(listers)
    assert resolve(make_pod("p", priorityClassName="high")) == (1000, "Never")
    assert resolve(make_pod("p", priorityClassName="system-node-critical"))[0] == 2000001000
    assert resolve(make_pod("p", priority=5)) == (5, "PreemptLowerPriority")
    listers.add({"kind": "PriorityClass", "metadata": {"name": "default"}, "value": 10, "globalDefault": True})
    assert resolve(make_pod("p"))[0] == 10  # no class named: the global default applies
    assert resolve(make_pod("p", priorityClassName="high"))[0] == 1000


def test_pod_affinity_terms_default_to_the_pods_own_namespace() -> None:
    pod = PodInfo(make_pod("p", namespace="team-a", labels={"app": "web"}, affinity={"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}]}}))
    (term,) = pod.required_anti_affinity_terms
    assert term.namespaces == frozenset({"team-a"})
    assert term.matches("team-a", {"app": "web"}, lambda ns: {})
    assert not term.matches("team-b", {"app": "web"}, lambda ns: {})
    assert pod.has_required_anti_affinity


def test_memory_quantities_are_exact_bytes() -> None:
    assert pod_requests(make_pod("p", memory="1.5Gi")["spec"]).memory == 3 * GI // 2
