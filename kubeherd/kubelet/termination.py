"""Stopping containers: preStop hooks, the grace period, and the order sidecars stop in.

Upstream's ``killContainer``: the preStop hook runs first, cut off at the grace period; what
is left of the grace period (never less than 2 s, so a process always gets a chance to handle
SIGTERM — unless the caller asked for 0) is the ``StopContainer`` timeout, after which the
runtime sends SIGKILL. A failed hook is recorded as a ``FailedPreStopHook`` event and the
container is stopped anyway; every stop is recorded as ``Killing``.

When a whole pod stops, its app containers stop together, and its sidecars (init containers
with ``restartPolicy: Always``) after them, in reverse order: each sidecar's preStop hook runs
at once, but its SIGTERM waits until every app container and every later sidecar is gone, all
within the one grace period of the pod.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .cgroups import is_sidecar
from .cri import ContainerState, CRIClient, CRIError
from .hooks import run_handler
from .status import RuntimeView

log = logging.getLogger(__name__)
Obj = dict[str, Any]
EventSink = Callable[[Obj, str, str, str], None]  # (pod, type, reason, message)
MINIMUM_GRACE = 2


@dataclass
class ContainerKiller:
    cri: CRIClient
    record_event: EventSink

    async def stop(self, pod: Obj | None, container: Obj | None, container_id: str, grace: int, pod_ip: str, *,
                   after: list[asyncio.Event] | None = None, message: str = "") -> None:
        """Stop one container: preStop, then SIGTERM and SIGKILL after what is left of ``grace``.
        ``after`` holds the stops to wait for between the hook and the SIGTERM (sidecar order)."""
        deadline = time.monotonic() + grace
        if pod is not None and container is not None:
            self.record_event(pod, "Normal", "Killing", message or f"Stopping container {container['name']}")
        hook = ((container or {}).get("lifecycle") or {}).get("preStop")
        if hook and pod is not None and container is not None and grace > 0:
            try:
                failure = await asyncio.wait_for(run_handler(self.cri, pod, container, container_id, hook, pod_ip,
                                                             timeout=grace), grace)
            except TimeoutError:
                failure = None  # the grace period ran out: upstream stops waiting and goes on
                log.info("preStop hook of %s did not finish within %ss", container["name"], grace)
            if failure:
                self.record_event(pod, "Warning", "FailedPreStopHook", failure)
        if after:
            await asyncio.gather(*(event.wait() for event in after))
        remaining = 0
        if grace > 0:
            remaining = max(MINIMUM_GRACE, int(deadline - time.monotonic() + 0.5))
        try:
            await self.cri.stop_container(container_id, remaining)
        except CRIError as exc:
            if not exc.not_found:
                raise

    async def kill_all(self, pod: Obj | None, view: RuntimeView, grace: int, pod_ip: str) -> None:
        """Stop every running container of the pod: app containers first, sidecars after them in
        reverse order."""
        spec = (pod or {}).get("spec") or {}
        specs = {c["name"]: c for key in ("initContainers", "containers", "ephemeralContainers")
                 for c in spec.get(key) or []}
        order = [c["name"] for c in spec.get("initContainers") or [] if is_sidecar(c)]
        running = [(name, i.id) for name, instances in view.containers.items() for i in instances
                   if i.state in (ContainerState.CONTAINER_RUNNING, ContainerState.CONTAINER_CREATED)]
        done = {cid: asyncio.Event() for _, cid in running}
        rank = {name: order.index(name) for name in order}
        apps = [done[cid] for name, cid in running if name not in rank]

        async def one(name: str, cid: str) -> None:
            after = None
            if name in rank:
                after = apps + [done[other] for n, other in running if rank.get(n, -1) > rank[name]]
            try:
                await self.stop(pod, specs.get(name), cid, grace, pod_ip, after=after)
            finally:
                done[cid].set()

        await asyncio.gather(*(one(name, cid) for name, cid in running))

    async def stop_sidecars(self, pod: Obj, view: RuntimeView, grace: int, pod_ip: str) -> bool:
        """Stop the running sidecars of a pod whose app containers are done (reverse order).
        Returns whether any was running."""
        sidecars = [c for c in (pod.get("spec") or {}).get("initContainers") or [] if is_sidecar(c)]
        stopped = False
        for c in reversed(sidecars):
            latest = view.latest(c["name"])
            if latest is not None and latest.state in (ContainerState.CONTAINER_RUNNING,
                                                       ContainerState.CONTAINER_CREATED):
                await self.stop(pod, c, latest.id, grace, pod_ip)
                stopped = True
        return stopped
