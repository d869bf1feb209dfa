"""Simulated nodes: many nodes in one process, with no containers, that behave like kubelets.

Each simulated node registers a Node object, renews its Lease in `kube-node-lease`, and moves
the pods bound to it through the lifecycle a kubelet reports: Pending → Running with container
statuses, a pod IP from the node's podCIDR and the Ready condition; graceful deletion completes
at once. How a simulated container ends is set by pod annotations, so Jobs and restart policies
can be exercised: with `sim.kubeherd.io/run-seconds` (default 1 s for Never/OnFailure) it exits
with `sim.kubeherd.io/exit-code` (default 0); with restartPolicy Always it runs until deleted
unless those annotations are present, in which case it crash-loops with kubelet's back-off.

Cost is what makes a thousand nodes cheap: one shared pod informer, one work queue, and Lease
renewals spread over the heartbeat period with bounded concurrency.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import logging
from dataclasses import dataclass, field
from typing import Any

from kubeherd.client import APIClient, APIStatusError, InformerFactory, ResourceRef, WorkQueue, run_workers
from kubeherd.client.informer import object_key

log = logging.getLogger(__name__)

Obj = dict[str, Any]
NODES = ResourceRef("v1", "nodes", False, "Node")
PODS = ResourceRef("v1", "pods", True, "Pod")
LEASES = ResourceRef("coordination.k8s.io/v1", "leases", True, "Lease")
RUN_SECONDS = "sim.kubeherd.io/run-seconds"
EXIT_CODE = "sim.kubeherd.io/exit-code"
KUBELET_VERSION = "v1.33.0-kubeherd-sim"
CRASH_BACKOFF_START = 10.0
CRASH_BACKOFF_MAX = 300.0


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _micro_now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class NodeTemplate:
    capacity: dict[str, str] = field(default_factory=lambda: {
        "cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "100Gi"})
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[Obj] = field(default_factory=list)


@dataclass
class _PodState:
    """What the simulator remembers about a pod between syncs (a kubelet's in-memory state)."""

    ip: str = ""
    restarts: int = 0
    started: str = ""
    run_until: float = 0.0
    backoff_until: float = 0.0


class SimulatedNodes:
    def __init__(self, client: APIClient, count: int, prefix: str = "sim-node-",
                 template: NodeTemplate | None = None, heartbeat: float = 10.0, workers: int = 32) -> None:
        self.client = client
        self.names = [f"{prefix}{i}" for i in range(count)]
        self.name_set = set(self.names)
        self.template = template or NodeTemplate()
        self.heartbeat = heartbeat
        self.workers = workers
        self.informers = InformerFactory(client)
        self.pods = self.informers.informer(PODS)
        self.nodes = self.informers.informer(NODES)
        self.queue = WorkQueue("sim-pods")
        self.state: dict[str, _PodState] = {}
        self.next_ip: dict[str, int] = {}
        self.stopped: set[str] = set()  # nodes told to stop heart-beating (tests)
        self._tasks: list[asyncio.Task[Any]] = []

    # ------------------------------------------------------------------ nodes
    def _node(self, name: str, index: int) -> Obj:
        labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                  "type": "kubeherd-sim", **self.template.labels}
        spec: Obj = {}
        if self.template.taints:
            spec["taints"] = [dict(t) for t in self.template.taints]
        return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}, "spec": spec,
                "status": self._status(name, index)}

    def _status(self, name: str, index: int) -> Obj:
        now = _now()

        def cond(kind: str, status: str, reason: str, message: str) -> Obj:
            return {"type": kind, "status": status, "lastHeartbeatTime": now, "lastTransitionTime": now,
                    "reason": reason, "message": message}

        address = str(ipaddress.ip_address("198.18.0.0") + index + 1)
        return {
            "capacity": dict(self.template.capacity), "allocatable": dict(self.template.capacity),
            "conditions": [
                cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "addresses": [{"type": "InternalIP", "address": address}, {"type": "Hostname", "address": name}],
            "nodeInfo": {"machineID": name, "systemUUID": name, "bootID": name, "kernelVersion": "simulated",
                         "osImage": "kubeherd simulated node", "containerRuntimeVersion": "sim://1.0",
                         "kubeletVersion": KUBELET_VERSION, "kubeProxyVersion": KUBELET_VERSION,
                         "operatingSystem": "linux", "architecture": "amd64"},
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        }

    async def _register(self, name: str, index: int, gate: asyncio.Semaphore) -> None:
        async with gate:
            node = self._node(name, index)
            try:
                created = await self.client.create(NODES, node)
            except APIStatusError as exc:
                if exc.code != 409:
                    raise
                created = await self.client.get(NODES, name)
            # status is ignored on create: write it through the status subresource
            await self.client.patch(NODES, name, {"status": node["status"]}, subresource="status")
            await self._renew(name, created)

    async def _renew(self, name: str, node: Obj | None = None) -> None:
        now = _micro_now()
        try:
            await self.client.patch(LEASES, name, {"spec": {"renewTime": now, "holderIdentity": name}},
                                    "kube-node-lease")
        except APIStatusError as exc:
            if exc.code != 404:
                raise
            node = node or await self.client.get(NODES, name)
            lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                     "metadata": {"name": name, "namespace": "kube-node-lease", "ownerReferences": [{
                         "apiVersion": "v1", "kind": "Node", "name": name, "uid": node["metadata"]["uid"]}]},
                     "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": now}}
            with contextlib.suppress(APIStatusError):
                await self.client.create(LEASES, lease, "kube-node-lease")

    async def _heartbeats(self) -> None:
        """Renew every node's Lease once per period, spread evenly over it."""
        while True:
            live = [n for n in self.names if n not in self.stopped]
            gap = self.heartbeat / max(1, len(live))
            for name in live:
                asyncio.ensure_future(self._renew_quietly(name))
                await asyncio.sleep(gap)
            if not live:
                await asyncio.sleep(self.heartbeat)

    async def _renew_quietly(self, name: str) -> None:
        try:
            await self._renew(name)
        except Exception as exc:
            log.debug("lease renewal for %s failed: %s", name, exc)

    def stop_heartbeat(self, name: str) -> None:
        self.stopped.add(name)

    # ------------------------------------------------------------------ pods
    def _pod_changed(self, pod: Obj) -> None:
        if (pod.get("spec") or {}).get("nodeName") in self.name_set:
            self.queue.add(object_key(pod))

    def _pod_gone(self, pod: Obj) -> None:
        self.state.pop(object_key(pod), None)

    def _pod_ip(self, node_name: str) -> str:
        node = self.nodes.indexer.get(node_name) or {}
        cidr = (node.get("spec") or {}).get("podCIDR")
        if not cidr:
            return ""
        network = ipaddress.ip_network(cidr)
        n = self.next_ip.get(node_name, 1) + 1
        if n >= network.num_addresses - 1:
            n = 2
        self.next_ip[node_name] = n
        return str(network[n])

    async def sync(self, key: str) -> None:
        pod = self.pods.indexer.get(key)
        if pod is None:
            self.state.pop(key, None)
            return
        node_name = (pod.get("spec") or {}).get("nodeName")
        if node_name not in self.name_set or node_name in self.stopped:
            return
        meta = pod["metadata"]
        if meta.get("deletionTimestamp"):
            # containers stop at once: finish the graceful deletion as a kubelet would
            with contextlib.suppress(APIStatusError):
                await self.client.delete(PODS, meta["name"], meta["namespace"], grace_period=0,
                                         preconditions={"uid": meta["uid"]})
            self.state.pop(key, None)
            return
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            return
        state = self.state.setdefault(key, _PodState())
        loop = asyncio.get_running_loop()
        if not state.ip:
            if (pod.get("spec") or {}).get("hostNetwork"):
                node = self.nodes.indexer.get(node_name) or {}
                state.ip = next((a["address"] for a in (node.get("status") or {}).get("addresses") or []
                                 if a.get("type") == "InternalIP"), "")
            else:
                state.ip = self._pod_ip(node_name)
            if not state.ip:
                self.queue.add_after(key, 0.5)  # the node has no podCIDR yet
                return
        annotations = meta.get("annotations") or {}
        policy = (pod.get("spec") or {}).get("restartPolicy", "Always")
        ends = RUN_SECONDS in annotations or EXIT_CODE in annotations or policy != "Always"
        run_seconds = float(annotations.get(RUN_SECONDS, "1"))
        exit_code = int(annotations.get(EXIT_CODE, "0"))
        if phase != "Running" and not state.started:
            state.started = _now()
            state.run_until = loop.time() + run_seconds
            await self._write_running(pod, state, node_name)
            if ends:
                self.queue.add_after(key, run_seconds)
            return
        if not ends or loop.time() < state.run_until:
            if ends:
                self.queue.add_after(key, state.run_until - loop.time())
            return
        if state.backoff_until and loop.time() < state.backoff_until:
            self.queue.add_after(key, state.backoff_until - loop.time())
            return
        restart = policy == "Always" or (policy == "OnFailure" and exit_code != 0)
        if not restart:
            await self._write_terminated(pod, state, exit_code)
            return
        if state.backoff_until:  # back-off over: the container runs again
            state.backoff_until = 0.0
            state.started = _now()
            state.run_until = loop.time() + run_seconds
            await self._write_running(pod, state, node_name)
            self.queue.add_after(key, run_seconds)
            return
        state.restarts += 1
        backoff = min(CRASH_BACKOFF_START * 2 ** (state.restarts - 1), CRASH_BACKOFF_MAX)
        state.backoff_until = loop.time() + backoff
        await self._write_backoff(pod, state, exit_code)
        self.queue.add_after(key, backoff)

    def _conditions(self, ready: bool, started: str) -> list[Obj]:
        flag = "True" if ready else "False"
        return [{"type": kind, "status": flag if kind in ("Ready", "ContainersReady") else "True",
                 "lastProbeTime": None, "lastTransitionTime": started}
                for kind in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")]

    async def _patch_status(self, pod: Obj, status: Obj) -> None:
        meta = pod["metadata"]
        try:
            await self.client.patch(PODS, meta["name"], {"status": status}, meta["namespace"], subresource="status")
        except APIStatusError as exc:
            if exc.code not in (404, 409):
                raise

    def _container_statuses(self, pod: Obj, state: _PodState, running: Obj | None, waiting: Obj | None,
                            last: Obj | None, terminated: Obj | None = None) -> list[Obj]:
        out = []
        for c in (pod.get("spec") or {}).get("containers") or []:
            st: Obj = {"name": c["name"], "image": c.get("image", ""), "imageID": f"sim://{c.get('image', '')}",
                       "containerID": f"sim://{pod['metadata']['uid']}-{c['name']}", "ready": running is not None,
                       "restartCount": state.restarts, "started": running is not None,
                       "state": {"running": running} if running else {"waiting": waiting} if waiting
                       else {"terminated": terminated}}
            if last:
                st["lastState"] = {"terminated": last}
            out.append(st)
        return out

    async def _write_running(self, pod: Obj, state: _PodState, node_name: str) -> None:
        node = self.nodes.indexer.get(node_name) or {}
        host_ip = next((a["address"] for a in (node.get("status") or {}).get("addresses") or []
                        if a.get("type") == "InternalIP"), "")
        status = {
            "phase": "Running", "hostIP": host_ip, "hostIPs": [{"ip": host_ip}], "podIP": state.ip,
            "podIPs": [{"ip": state.ip}], "startTime": (pod.get("status") or {}).get("startTime") or state.started,
            "conditions": self._conditions(True, state.started),
            "containerStatuses": self._container_statuses(pod, state, {"startedAt": state.started}, None, None),
        }
        await self._patch_status(pod, status)

    async def _write_terminated(self, pod: Obj, state: _PodState, exit_code: int) -> None:
        finished = _now()
        terminated = {"exitCode": exit_code, "reason": "Completed" if exit_code == 0 else "Error",
                      "startedAt": state.started, "finishedAt": finished,
                      "containerID": f"sim://{pod['metadata']['uid']}"}
        status = {"phase": "Succeeded" if exit_code == 0 else "Failed",
                  "conditions": self._conditions(False, finished),
                  "containerStatuses": self._container_statuses(pod, state, None, None, None, terminated)}
        await self._patch_status(pod, status)

    async def _write_backoff(self, pod: Obj, state: _PodState, exit_code: int) -> None:
        finished = _now()
        last = {"exitCode": exit_code, "reason": "Completed" if exit_code == 0 else "Error",
                "startedAt": state.started, "finishedAt": finished}
        name = pod["metadata"]["name"]
        container = ((pod.get("spec") or {}).get("containers") or [{}])[0].get("name", "")
        backoff = int(min(CRASH_BACKOFF_START * 2 ** (state.restarts - 1), CRASH_BACKOFF_MAX))
        waiting = {"reason": "CrashLoopBackOff",
                   "message": f"back-off {backoff}s restarting failed container={container} "
                              f"pod={name}_{pod['metadata']['namespace']}({pod['metadata']['uid']})"}
        status = {"phase": "Running", "conditions": self._conditions(False, finished),
                  "containerStatuses": self._container_statuses(pod, state, None, waiting, last)}
        await self._patch_status(pod, status)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        gate = asyncio.Semaphore(32)
        await asyncio.gather(*(self._register(name, i, gate) for i, name in enumerate(self.names)))
        self.pods.add_handlers(on_add=self._pod_changed, on_update=lambda old, new: self._pod_changed(new),
                               on_delete=self._pod_gone)
        self.informers.start()
        await self.informers.wait_for_sync(60)
        self._tasks = [asyncio.ensure_future(self._heartbeats()),
                       asyncio.ensure_future(run_workers(self.queue, self.sync, self.workers))]

    async def stop(self) -> None:
        self.queue.shutdown()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        await self.informers.stop()

