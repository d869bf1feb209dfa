"""Pod GC against a real server.

Upstream's periods (a sweep every 20 s, a 40 s quarantine for missing nodes, a threshold of 12500
terminated pods) would make this test slow or huge, so it runs its own PodGCController — the same
class the server runs — in the test process, over HTTPS with the admin kubeconfig, with a
threshold of 3, a 0.2 s period and a 0.5 s quarantine.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

from kubeherd.client import (
    APIClient,
    APIStatusError,
    EventRecorder,
    HTTPTransport,
    InformerFactory,
    KubeConfig,
)
from kubeherd.controllers.base import NODES, PODS, Context
from kubeherd.controllers.podgc import PodGCController
from tests.integration.conftest import Cluster

NS = "default"


def pod(name: str, node: str = "", finalizers: list[str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": NS}
    if finalizers:
        meta["finalizers"] = finalizers
    # no scheduler takes these: the test decides which pods are bound
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox:1.36"}], "schedulerName": "none"}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


async def eventually(check: Callable[[], Awaitable[Any]], message: str, timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        await asyncio.sleep(0.1)


async def get_pod(client: APIClient, name: str) -> dict[str, Any] | None:
    try:
        return await client.get(PODS, name, NS)
    except APIStatusError as exc:
        if exc.code == 404:
            return None
        raise


async def scenario(cluster: Cluster) -> None:
    client = APIClient(HTTPTransport(KubeConfig.load(cluster.kubeconfig)))
    informers = InformerFactory(client)
    recorder = EventRecorder(client, "podgc-test")
    gc = PodGCController(Context(client, informers, recorder), terminated_pod_gc_threshold=3,
                         gc_check_period=0.2, quarantine=0.5)
    await client.create(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "real"}})
    for n in range(1, 5):  # four terminated pods, oldest first
        await client.create(PODS, pod(f"done-{n}", node="real"))
        await client.patch(PODS, f"done-{n}", {"status": {"phase": "Succeeded" if n % 2 else "Failed"}}, NS,
                           subresource="status")
    await client.create(PODS, pod("orphan", node="ghost"))
    await client.create(PODS, pod("alive", node="real"))
    await client.create(PODS, pod("stuck", finalizers=["example.com/hold"]))
    await client.delete(PODS, "stuck", NS)  # unscheduled, held by a finalizer: terminating forever
    informers.start()
    await informers.wait_for_sync(10)
    task = asyncio.ensure_future(gc.run())
    try:
        async def swept() -> bool:
            return all([await get_pod(client, n) is None for n in ("done-1", "done-2", "orphan")])

        # the stuck pod, once marked Failed, is terminated too: 3 may stay of the 5
        await eventually(swept, "the two oldest terminated pods and the orphan deleted")
        assert await get_pod(client, "done-3") is not None and await get_pod(client, "done-4") is not None
        assert await get_pod(client, "alive") is not None, "a pod on an existing node stays"
        stuck = await eventually(lambda: _failed(client, "stuck"), "the unscheduled terminating pod marked Failed")
        assert stuck["metadata"]["deletionTimestamp"]
    finally:
        gc.queue.shutdown()
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        await informers.stop()
        with contextlib.suppress(APIStatusError):
            await client.patch(PODS, "stuck", {"metadata": {"finalizers": None}}, NS)
        await client.transport.close()


async def _failed(client: APIClient, name: str) -> dict[str, Any] | None:
    found = await get_pod(client, name)
    return found if found and found["status"].get("phase") == "Failed" else None


def test_pod_gc_sweeps_terminated_orphaned_and_unscheduled_terminating_pods(cluster: Cluster) -> None:
    asyncio.run(scenario(cluster))


def test_orphaned_pod_is_marked_failed_with_disruption_target_before_deletion(cluster: Cluster) -> None:
    async def run() -> None:
        client = APIClient(HTTPTransport(KubeConfig.load(cluster.kubeconfig)))
        gc = PodGCController(Context(client, InformerFactory(client), EventRecorder(client, "t")))
        try:
            created = await client.create(PODS, pod("lonely", node="nowhere", finalizers=["example.com/hold"]))
            await gc.mark_failed_and_delete(created, {"type": "DisruptionTarget", "status": "True",
                                                      "reason": "DeletionByPodGC",
                                                      "message": "PodGC: node no longer exists"})
            found = await get_pod(client, "lonely")
            assert found is not None and found["status"]["phase"] == "Failed"
            target = [c for c in found["status"]["conditions"] if c["type"] == "DisruptionTarget"]
            assert target and target[0]["reason"] == "DeletionByPodGC"
            assert found["metadata"]["deletionTimestamp"]
            await client.patch(PODS, "lonely", {"metadata": {"finalizers": None}}, NS)
            assert await get_pod(client, "lonely") is None
        finally:
            await client.transport.close()

    asyncio.run(run())
