"""Builders for realistic Pod and Node objects, shared by the scheduler's unit tests."""

from __future__ import annotations

import itertools
from typing import Any

from kubeherd.scheduler.nodeinfo import NodeInfo
from kubeherd.scheduler.podinfo import PodInfo

Obj = dict[str, Any]
_uids = itertools.count(1)


def make_node(name: str, cpu: str = "4", memory: str = "16Gi", pods: str = "110", *,
              labels: dict[str, str] | None = None, taints: list[Obj] | None = None, unschedulable: bool = False,
              images: list[tuple[list[str], int]] | None = None, extra: dict[str, str] | None = None,
              zone: str = "") -> Obj:
    node_labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", **(labels or {})}
    if zone:
        node_labels["topology.kubernetes.io/zone"] = zone
    allocatable = {"cpu": cpu, "memory": memory, "pods": pods, "ephemeral-storage": "100Gi", **(extra or {})}
    spec: Obj = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": node_labels},
        "spec": spec,
        "status": {"capacity": dict(allocatable), "allocatable": allocatable,
                   "images": [{"names": names, "sizeBytes": size} for names, size in images or []],
                   "conditions": [{"type": "Ready", "status": "True"}]},
    }


def container(name: str = "app", image: str = "registry.example/app:1.0", cpu: str | None = None,
              memory: str | None = None, ports: list[Obj] | None = None, **extra: Any) -> Obj:
    requests = {}
    if cpu is not None:
        requests["cpu"] = cpu
    if memory is not None:
        requests["memory"] = memory
    c: Obj = {"name": name, "image": image, "resources": {"requests": requests} if requests else {}}
    if ports:
        c["ports"] = ports
    c.update(extra)
    return c


def make_pod(name: str, namespace: str = "default", *, cpu: str | None = None, memory: str | None = None,
             labels: dict[str, str] | None = None, node_name: str = "", priority: int = 0,
             containers: list[Obj] | None = None, init_containers: list[Obj] | None = None,
             uid: str = "", start_time: str = "", owner: Obj | None = None, phase: str = "Pending",
             terminating: bool = False, **spec: Any) -> Obj:
    meta: Obj = {"name": name, "namespace": namespace, "uid": uid or f"uid-{name}-{next(_uids)}",
                 "labels": labels or {}, "creationTimestamp": "2025-01-01T00:00:00Z"}
    if owner is not None:
        meta["ownerReferences"] = [{"controller": True, **owner}]
    if terminating:
        meta["deletionTimestamp"] = "2025-01-01T00:10:00Z"
    pod_spec: Obj = {"containers": containers or [container(cpu=cpu, memory=memory)],
                     "schedulerName": "default-scheduler", "priority": priority, **spec}
    if init_containers:
        pod_spec["initContainers"] = init_containers
    if node_name:
        pod_spec["nodeName"] = node_name
    status: Obj = {"phase": phase}
    if start_time:
        status["startTime"] = start_time
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": pod_spec, "status": status}


def pod_info(name: str, **kw: Any) -> PodInfo:
    return PodInfo(make_pod(name, **kw))


def node_info(node: Obj, *pods: PodInfo) -> NodeInfo:
    return NodeInfo.from_node(node, list(pods))


def test_builders_make_objects_the_scheduler_reads() -> None:
    node = node_info(make_node("n1", cpu="2", memory="4Gi", pods="10"), pod_info("a", cpu="500m", node_name="n1"))
    assert node.allocatable.milli_cpu == 2000 and node.allocatable.memory == 4 * 1024 ** 3
    assert node.allocatable.allowed_pods == 10 and node.requested.milli_cpu == 500 and node.num_pods == 1
