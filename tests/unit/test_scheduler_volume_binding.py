"""VolumeBinding: bound claims, unbound Immediate claims, WaitForFirstConsumer claims."""

from __future__ import annotations

import asyncio
from typing import Any

from kubeherd.scheduler.framework import CycleState, Handle
from kubeherd.scheduler.listers import StaticListers
from kubeherd.scheduler.nodeinfo import NodeInfo
from kubeherd.scheduler.plugins.volume_binding import (
    ANN_SELECTED_NODE,
    ERR_REASON_BIND_CONFLICT,
    ERR_REASON_NODE_CONFLICT,
    ERR_REASON_UNBOUND_IMMEDIATE,
    VolumeBinding,
)
from kubeherd.scheduler.queue import SchedulingQueue
from kubeherd.scheduler.types import Code
from tests.unit.test_scheduler_builders import make_node, pod_info


def claim(name: str, cls: str = "", volume: str = "", size: str = "1Gi", phase: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if cls:
        spec["storageClassName"] = cls
    if volume:
        spec["volumeName"] = volume
    return {"kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": "default", "uid": f"u-{name}"},
            "spec": spec, "status": {"phase": phase or ("Bound" if volume else "Pending")}}


def volume(name: str, cls: str = "local", size: str = "10Gi", host: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"], "storageClassName": cls}
    if host:
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": [host]}]}]}}
    return {"kind": "PersistentVolume", "metadata": {"name": name}, "spec": spec, "status": {"phase": "Available"}}


def storage_class(name: str, mode: str = "WaitForFirstConsumer", provisioner: str = "example.com/csi") -> dict[str, Any]:
    return {"kind": "StorageClass", "metadata": {"name": name}, "provisioner": provisioner, "volumeBindingMode": mode}


class Recorder:
    def __init__(self) -> None:
        self.patches: list[tuple[str, str, dict[str, Any]]] = []

    async def patch_object(self, resource: str, namespace: str, name: str, patch: dict[str, Any]) -> None:
        self.patches.append((resource, name, patch))


def setup(*objs: dict[str, Any]) -> tuple[VolumeBinding, StaticListers, list[NodeInfo]]:
    listers = StaticListers()
    for obj in objs:
        listers.add(obj)
    nodes = [NodeInfo(make_node("n1")), NodeInfo(make_node("n2"))]

    class Snap:
        def get(self, name: str) -> NodeInfo | None:
            return next((n for n in nodes if n.name == name), None)

    handle = Handle(snapshot=Snap(), listers=listers, nominator=SchedulingQueue(),  # type: ignore[arg-type]
                    api=Recorder())  # type: ignore[arg-type]
    return VolumeBinding(handle, {"bind_timeout": 0.2}), listers, nodes


def with_claims(*names: str) -> Any:
    return pod_info("db", volumes=[{"name": n, "persistentVolumeClaim": {"claimName": n}} for n in names])


def test_pods_without_claims_skip_the_plugin() -> None:
    plugin, _, nodes = setup()
    status = plugin.pre_filter(CycleState(), pod_info("web"), nodes)
    assert status is not None and status.code == Code.SKIP


def test_missing_and_unbound_immediate_claims_are_unschedulable() -> None:
    plugin, _, nodes = setup(claim("data"))
    status = plugin.pre_filter(CycleState(), with_claims("data"), nodes)
    assert status is not None and status.reasons == (ERR_REASON_UNBOUND_IMMEDIATE,)
    assert status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    status = plugin.pre_filter(CycleState(), with_claims("nope"), nodes)
    assert status is not None and status.reasons == ('persistentvolumeclaim "nope" not found',)


def test_bound_claims_restrict_nodes_by_volume_affinity() -> None:
    plugin, _, nodes = setup(claim("data", cls="local", volume="pv-1"), volume("pv-1", host="n2"))
    state = CycleState()
    assert plugin.pre_filter(state, with_claims("data"), nodes) is None
    rejected = plugin.filter(state, with_claims("data"), nodes[0])
    assert rejected is not None and rejected.reasons == (ERR_REASON_NODE_CONFLICT,)
    assert plugin.filter(state, with_claims("data"), nodes[1]) is None


def test_wait_for_first_consumer_needs_a_matching_volume_or_a_provisioner() -> None:
    plugin, _, nodes = setup(claim("data", cls="local"), storage_class("local", provisioner="kubernetes.io/no-provisioner"),
                             volume("pv-small", size="500Mi", host="n1"), volume("pv-n2", host="n2"))
    state = CycleState()
    pod = with_claims("data")
    assert plugin.pre_filter(state, pod, nodes) is None
    rejected = plugin.filter(state, pod, nodes[0])  # n1's volume is too small
    assert rejected is not None and rejected.reasons == (ERR_REASON_BIND_CONFLICT,)
    assert plugin.filter(state, pod, nodes[1]) is None
    plugin, _, nodes = setup(claim("data", cls="fast"), storage_class("fast"))
    state = CycleState()
    assert plugin.pre_filter(state, pod, nodes) is None
    assert plugin.filter(state, pod, nodes[0]) is None  # the provisioner will make one


def test_pre_bind_records_the_choice_and_waits_for_the_claim_to_bind() -> None:
    async def go() -> None:
        plugin, listers, nodes = setup(claim("data", cls="fast"), storage_class("fast"))
        state = CycleState()
        pod = with_claims("data")
        assert plugin.pre_filter(state, pod, nodes) is None
        assert plugin.reserve(state, pod, "n2") is None

        async def provisioner() -> None:
            await asyncio.sleep(0.05)
            listers.add(claim("data", cls="fast", volume="pvc-123"))

        task = asyncio.ensure_future(provisioner())
        assert await plugin.pre_bind(state, pod, "n2") is None
        await task
        recorder = plugin.handle.api
        assert recorder.patches == [("persistentvolumeclaims", "data",  # type: ignore[union-attr]
                                     {"metadata": {"annotations": {ANN_SELECTED_NODE: "n2"}}})]
        # nobody provisions this time: binding gives up after the timeout
        plugin, _, nodes = setup(claim("data", cls="fast"), storage_class("fast"))
        state = CycleState()
        plugin.pre_filter(state, pod, nodes)
        plugin.reserve(state, pod, "n1")
        status = await plugin.pre_bind(state, pod, "n1")
        assert status is not None and "timed out" in status.message()

    asyncio.run(go())
