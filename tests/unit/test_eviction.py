"""The eviction manager's rules: thresholds, ranking, messages, conditions, one eviction per pass."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from kubeherd.kubelet.config import parse_kubelet_args
from kubeherd.kubelet.cri import ContainerAttributes, ContainerStats, FilesystemUsage, MemoryUsage
from kubeherd.kubelet.eviction import (
    MEMORY,
    NODEFS,
    PIDS,
    EvictionManager,
    Observation,
    PodUsage,
    Threshold,
    evictable,
    evicted_status,
    eviction_message,
    parse_thresholds,
    rank_pods,
    read_pids,
    thresholds_met,
)

Mi = 1024 * 1024


def pod(name: str, memory_request: str | None = None, priority: int = 0, **annotations: str) -> dict[str, Any]:
    resources = {"requests": {"memory": memory_request}} if memory_request else {}
    return {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "annotations": annotations},
            "spec": {"priority": priority, "containers": [{"name": "c", "resources": resources}]}}


def usage(p: dict[str, Any], memory: int | None, disk: int | None = None) -> PodUsage:
    u = PodUsage(p, memory=memory, disk=disk)
    if memory is not None:
        u.containers["c"] = (memory, disk or 0)
    return u


def names(ranked: list[PodUsage]) -> list[str]:
    return [u.pod["metadata"]["name"] for u in ranked]


def test_thresholds_from_the_config() -> None:
    config = parse_kubelet_args(["eviction-hard=memory.available<100Mi,nodefs.available<10%",
                                 "eviction-soft=memory.available<1Gi", "eviction-soft-grace-period=memory.available=30s",
                                 "eviction-minimum-reclaim=memory.available=50Mi"])
    by_kind = {(t.signal, t.hard): t for t in parse_thresholds(config)}
    assert by_kind[(MEMORY, True)].value(8000 * Mi) == 100 * Mi
    assert by_kind[(NODEFS, True)].value(1000) == 100
    soft = by_kind[(MEMORY, False)]
    assert (soft.value(0), soft.grace_period, soft.reclaim(0)) == (1024 * Mi, 30.0, 50 * Mi)


def test_a_met_threshold_stays_met_until_the_minimum_reclaim_is_back() -> None:
    t = Threshold(MEMORY, quantity=100 * Mi, min_reclaim="50Mi")
    assert thresholds_met([t], {MEMORY: Observation(99 * Mi, 1000 * Mi)}) == [t]
    assert thresholds_met([t], {MEMORY: Observation(120 * Mi, 1000 * Mi)}) == []
    assert thresholds_met([t], {MEMORY: Observation(120 * Mi, 1000 * Mi)}, enforce_min_reclaim=True) == [t]
    assert thresholds_met([t], {MEMORY: Observation(151 * Mi, 1000 * Mi)}, enforce_min_reclaim=True) == []
    assert thresholds_met([t], {}) == []  # a signal not observed meets nothing


def test_memory_ranking_is_upstreams() -> None:
    best_effort = usage(pod("best-effort"), 10 * Mi)
    burstable_over = usage(pod("burstable-over", "20Mi"), 100 * Mi)  # 80Mi above its request
    burstable_under = usage(pod("burstable-under", "200Mi"), 150 * Mi)
    guaranteed = usage(pod("guaranteed", "64Mi"), 30 * Mi)
    important = usage(pod("important-over", priority=1000), 500 * Mi)
    no_stats = usage(pod("no-stats", "64Mi"), None)
    ranked = rank_pods([guaranteed, burstable_under, important, best_effort, burstable_over, no_stats], "memory")
    # over their requests first (no stats counts as over), by priority, then the larger excess
    assert names(ranked) == ["no-stats", "burstable-over", "best-effort", "important-over", "guaranteed",
                             "burstable-under"]


def test_disk_ranking_uses_disk_usage() -> None:
    a, b = usage(pod("a"), 500 * Mi, disk=1 * Mi), usage(pod("b"), 1 * Mi, disk=50 * Mi)
    assert names(rank_pods([a, b], "ephemeral-storage")) == ["b", "a"]
    assert names(rank_pods([a, b], "memory")) == ["a", "b"]


def test_static_mirror_and_critical_pods_are_not_evictable() -> None:
    assert evictable(pod("plain"))
    assert not evictable(pod("static", **{"kubernetes.io/config.source": "file"}))
    assert not evictable(pod("mirror", **{"kubernetes.io/config.mirror": "abc"}))
    assert not evictable(pod("critical", priority=2_000_001_000))
    assert evictable(pod("high", priority=1_000_000_000))


def test_the_message_names_the_shortage_and_the_greedy_containers() -> None:
    p = pod("p", "10Mi")
    p["spec"]["containers"].append({"name": "small", "resources": {"requests": {"memory": "64Mi"}}})
    u = usage(p, 48 * Mi)
    u.containers["small"] = (1 * Mi, 0)
    t = Threshold(MEMORY, quantity=100 * Mi)
    message = eviction_message(t, Observation(50 * Mi, 1000 * Mi), u)
    assert message == ("The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi. "
                       "Container c was using 48Mi, request is 10Mi, has larger consumption of memory. ")
    pct = Threshold(NODEFS, percentage=0.1)
    assert eviction_message(pct, Observation(1024, 40960), usage(pod("q"), 0, disk=0)).startswith(
        "The node was low on resource: ephemeral-storage. Threshold quantity: 4Ki, available: 1Ki. ")


def test_evicted_status() -> None:
    status = {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}
    out = evicted_status(status, "low")
    assert (out["phase"], out["reason"], out["message"]) == ("Failed", "Evicted", "low")
    assert [c["type"] for c in out["conditions"]] == ["Ready", "DisruptionTarget"]
    assert out["conditions"][1]["reason"] == "TerminationByKubelet"


class FakeCRI:
    def __init__(self, memory: dict[str, int]) -> None:
        self.memory = memory

    async def list_container_stats(self) -> list[ContainerStats]:
        return [ContainerStats(attributes=ContainerAttributes(labels={"io.kubernetes.pod.uid": uid,
                                                                      "io.kubernetes.container.name": "c"}),
                               memory=MemoryUsage(working_set_bytes=used),
                               writable_layer=FilesystemUsage(used_bytes=4096))
                for uid, used in self.memory.items()]


class Harness:
    """An eviction manager over fake observations, pods and runtime; evictions are recorded."""

    def __init__(self, args: list[str], pods: list[dict[str, Any]], memory: dict[str, int]) -> None:
        self.available = 1000 * Mi
        self.pods = pods
        self.evictions: list[tuple[str, int, str]] = []
        self.status_posts = 0
        self.manager = EvictionManager(parse_kubelet_args(args), FakeCRI(memory), Path("/"), Path("/"),  # type: ignore[arg-type]
                                       Path("/nonexistent"), lambda: list(self.pods), self._evict, self._posted,
                                       observer=lambda: {MEMORY: Observation(self.available, 2000 * Mi)})

    async def _evict(self, p: dict[str, Any], grace: int, message: str) -> None:
        self.evictions.append((p["metadata"]["name"], grace, message))
        self.pods = [q for q in self.pods if q is not p]

    async def _posted(self) -> None:
        self.status_posts += 1

    def condition(self, kind: str) -> dict[str, Any]:
        return next(c for c in self.manager.conditions() if c["type"] == kind)

    def sync(self) -> Any:
        return asyncio.run(self.manager.synchronize())


def test_hard_threshold_sets_pressure_and_evicts_one_pod_per_pass() -> None:
    h = Harness(["eviction-hard=memory.available<500Mi", "eviction-pressure-transition-period=0s"],
                [pod("guaranteed", "64Mi"), pod("best-effort"), pod("static", **{"kubernetes.io/config.source": "file"})],
                {"uid-guaranteed": 10 * Mi, "uid-best-effort": 5 * Mi, "uid-static": 900 * Mi})
    assert h.sync() is None and h.condition("MemoryPressure")["status"] == "False"
    assert h.condition("MemoryPressure")["reason"] == "KubeletHasSufficientMemory"
    h.available = 400 * Mi
    assert h.sync()["metadata"]["name"] == "best-effort"
    assert h.condition("MemoryPressure")["status"] == "True"
    assert h.condition("MemoryPressure")["reason"] == "KubeletHasInsufficientMemory"
    assert h.status_posts == 1  # the kubelet posts node status at once on a change
    assert h.evictions[0][:2] == ("best-effort", 1)
    assert "Container c was using 5Mi, request is 0" in h.evictions[0][2]
    assert "uid-best-effort" in h.manager.evicted
    assert h.sync()["metadata"]["name"] == "guaranteed"
    assert h.sync() is None  # only the static pod is left, and it stays
    assert [e[0] for e in h.evictions] == ["best-effort", "guaranteed"]
    h.available = 900 * Mi
    h.sync()
    assert h.condition("MemoryPressure")["status"] == "False" and h.status_posts == 2


def test_pressure_clears_only_after_the_transition_period() -> None:
    h = Harness(["eviction-hard=memory.available<500Mi", "eviction-pressure-transition-period=1h"], [], {})
    h.available = 100 * Mi
    h.sync()
    h.available = 900 * Mi
    h.sync()
    assert h.condition("MemoryPressure")["status"] == "True"


def test_soft_threshold_waits_for_its_grace_period() -> None:
    h = Harness(["eviction-hard=memory.available<1Mi", "eviction-soft=memory.available<500Mi",
                 "eviction-soft-grace-period=memory.available=1h", "eviction-max-pod-grace-period=5"],
                [pod("p")], {"uid-p": Mi})
    h.available = 400 * Mi
    assert h.sync() is None  # met, but not for an hour yet
    assert h.condition("MemoryPressure")["status"] == "True"  # conditions do not wait
    h.manager._first_observed = {t: v - 7200 for t, v in h.manager._first_observed.items()}
    assert h.sync()["metadata"]["name"] == "p"
    assert h.evictions[0][1] == 5  # soft: the max pod grace period (the pod's own is 30)


def test_pid_signal_reads_the_kernel_limit_less_the_tasks(tmp_path: Path) -> None:
    (tmp_path / "sys/kernel").mkdir(parents=True)
    (tmp_path / "sys/kernel/pid_max").write_text("4194304\n")
    (tmp_path / "sys/kernel/threads-max").write_text("10000\n")
    (tmp_path / "loadavg").write_text("0.10 0.20 0.30 2/731 4242\n")
    assert read_pids(tmp_path) == Observation(10000 - 731, 10000)
    assert read_pids(tmp_path / "missing") is None
    assert read_pids() is not None  # this machine's /proc has them


def test_pid_pressure_evicts_the_lowest_priority_pod_first() -> None:
    h = Harness(["eviction-hard=pid.available<1000", "eviction-pressure-transition-period=0s"],
                [pod("important", priority=1000), pod("batch", priority=10)],
                {"uid-important": 900 * Mi, "uid-batch": 5 * Mi})
    h.manager.observer = lambda: {PIDS: Observation(500, 10000)}
    evicted = h.sync()
    assert evicted["metadata"]["name"] == "batch"  # memory use plays no part in PID ranking
    assert h.condition("PIDPressure")["status"] == "True"
    assert h.condition("PIDPressure")["reason"] == "KubeletHasInsufficientPID"
    assert h.evictions[0][2].startswith("The node was low on resource: pids. Threshold quantity: 1k, available: 500.")


def test_admission_under_pressure_is_upstreams() -> None:
    h = Harness(["eviction-hard=memory.available<500Mi", "eviction-pressure-transition-period=1h"], [], {})
    guaranteed = pod("g")
    guaranteed["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "1", "memory": "64Mi"}}
    tolerant = pod("t")
    tolerant["spec"]["tolerations"] = [{"key": "node.kubernetes.io/memory-pressure", "operator": "Exists",
                                        "effect": "NoSchedule"}]
    assert h.manager.admit(pod("be")) is None  # no pressure: everyone
    h.available = 100 * Mi
    h.sync()
    assert h.manager.admit(pod("be")) == "The node had condition: [MemoryPressure]. "
    assert h.manager.admit(guaranteed) is None and h.manager.admit(tolerant) is None
    assert h.manager.admit(pod("static", **{"kubernetes.io/config.source": "file"})) is None
    assert h.manager.admit(pod("critical", priority=2_000_000_000)) is None
    h.manager.observer = lambda: {MEMORY: Observation(100 * Mi, 2000 * Mi), NODEFS: Observation(0, 100 * Mi)}
    h.manager.thresholds += parse_thresholds(parse_kubelet_args(["eviction-hard=nodefs.available<10%"]))
    h.sync()
    assert h.manager.admit(guaranteed) == "The node had condition: [MemoryPressure DiskPressure]. "
