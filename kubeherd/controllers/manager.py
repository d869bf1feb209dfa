"""The controller manager: every controller, sharing one informer factory, under one leader lease.

Only the holder of the `kube-controller-manager` Lease runs controllers, so several servers
sharing one datastore never run the same control loop twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
from typing import Any

from kubeherd.client import APIClient, EventRecorder, InformerFactory, LeaderElector
from kubeherd.controllers.base import Context, Controller

log = logging.getLogger(__name__)


def default_controllers() -> list[type[Controller]]:
    from kubeherd.controllers.cronjob import CronJobController
    from kubeherd.controllers.daemonset import DaemonSetController
    from kubeherd.controllers.deployment import DeploymentController
    from kubeherd.controllers.disruption import DisruptionController
    from kubeherd.controllers.endpoints import EndpointsController
    from kubeherd.controllers.endpointslice import EndpointSliceController
    from kubeherd.controllers.garbagecollector import GarbageCollector
    from kubeherd.controllers.job import JobController
    from kubeherd.controllers.namespace import NamespaceController
    from kubeherd.controllers.nodeipam import NodeIPAMController
    from kubeherd.controllers.nodelifecycle import NodeLifecycleController, TaintEvictionController
    from kubeherd.controllers.podgc import PodGCController
    from kubeherd.controllers.replicaset import ReplicaSetController, ReplicationControllerController
    from kubeherd.controllers.serviceaccount import (
        RootCACertPublisher,
        ServiceAccountsController,
        TokensController,
    )
    from kubeherd.controllers.statefulset import StatefulSetController
    from kubeherd.controllers.ttlafterfinished import TTLAfterFinishedController

    return [ReplicaSetController, ReplicationControllerController, DeploymentController, NodeIPAMController,
            NodeLifecycleController, TaintEvictionController, GarbageCollector, NamespaceController,
            ServiceAccountsController, RootCACertPublisher, TokensController, EndpointsController, EndpointSliceController,
            DisruptionController, JobController, CronJobController, TTLAfterFinishedController, PodGCController,
            StatefulSetController, DaemonSetController]


class ControllerManager:
    def __init__(self, client: APIClient, controllers: list[type[Controller]] | None = None,
                 identity: str = "", options: dict[str, Any] | None = None, ca_pem: bytes = b"") -> None:
        self.client = client
        self.options = options or {}
        self.ca_pem = ca_pem
        self.controller_types = controllers if controllers is not None else default_controllers()
        self.identity = identity or f"{socket.gethostname()}_{uuid.uuid4()}"
        self.elector = LeaderElector(client, "kube-controller-manager", self.identity)
        self.controllers: list[Controller] = []
        self._task: asyncio.Task[None] | None = None

    async def _lead(self) -> None:
        informers = InformerFactory(self.client)
        recorder = EventRecorder(self.client, "kube-controller-manager", socket.gethostname())
        ctx = Context(self.client, informers, recorder, self.options, self.ca_pem)
        self.controllers = [cls(ctx) for cls in self.controller_types]
        recorder.start()
        informers.start()
        try:
            await informers.wait_for_sync(60)
            await asyncio.gather(*(c.run() for c in self.controllers))
        finally:
            for c in self.controllers:
                c.queue.shutdown()
            await informers.stop()
            await recorder.stop()

    def metrics(self) -> str:
        """Work-queue figures per controller (Prometheus text), for the server's /metrics."""
        lines = ["# TYPE workqueue_queue_duration_seconds summary", "# TYPE workqueue_depth gauge"]
        for c in self.controllers:
            samples = sorted(c.queue.latencies)
            for q in (0.5, 0.9, 0.99):
                value = samples[min(len(samples) - 1, int(q * len(samples)))] if samples else 0.0
                lines.append(f'workqueue_queue_duration_seconds{{name="{c.name}",quantile="{q}"}} {value:.6f}')
            lines.append(f'workqueue_queue_duration_seconds_count{{name="{c.name}"}} {len(samples)}')
            lines.append(f'workqueue_depth{{name="{c.name}"}} {len(c.queue)}')
        return "\n".join(lines)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.elector.run(self._lead))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        await self.elector.release()
