"""Leader election on a coordination.k8s.io/v1 Lease, so two servers never run one controller.

A candidate takes the Lease when it is free or its holder has not renewed it within
`leaseDurationSeconds`, then renews it every `retry_period`; if it cannot renew within
`renew_deadline` it stops leading (and its work is cancelled) before anyone else can take over.
Every write is compare-and-swap on the Lease's resourceVersion, so two candidates racing for
it cannot both win.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from kubeherd.client.api import APIClient, APIStatusError, ResourceRef

log = logging.getLogger(__name__)

LEASES = ResourceRef("coordination.k8s.io/v1", "leases", True, "Lease")


def _micro_now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(ts: str | None) -> datetime.datetime | None:
    if not ts:
        return None
    return datetime.datetime.fromisoformat(ts.replace("Z", "+00:00"))


class LeaderElector:
    def __init__(self, client: APIClient, name: str, identity: str, namespace: str = "kube-system",
                 lease_duration: float = 15.0, renew_deadline: float = 10.0, retry_period: float = 2.0) -> None:
        self.client = client
        self.name = name
        self.identity = identity
        self.namespace = namespace
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.leading = False

    async def _try_acquire_or_renew(self) -> bool:
        now = _micro_now()
        try:
            lease = await self.client.get(LEASES, self.name, self.namespace)
        except APIStatusError as exc:
            if exc.code != 404:
                raise
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.namespace},
                    "spec": {"holderIdentity": self.identity, "leaseDurationSeconds": int(self.lease_duration),
                             "acquireTime": now, "renewTime": now, "leaseTransitions": 0}}
            try:
                await self.client.create(LEASES, body, self.namespace)
                return True
            except APIStatusError as create_exc:
                if create_exc.code == 409:
                    return False
                raise
        spec: dict[str, Any] = lease.get("spec") or {}
        holder = spec.get("holderIdentity")
        renewed = _parse(spec.get("renewTime"))
        duration = spec.get("leaseDurationSeconds") or self.lease_duration
        expired = renewed is None or (datetime.datetime.now(datetime.UTC) - renewed).total_seconds() > duration
        if holder and holder != self.identity and not expired:
            return False
        if holder != self.identity:
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
            spec["acquireTime"] = now
        spec["holderIdentity"] = self.identity
        spec["renewTime"] = now
        spec["leaseDurationSeconds"] = int(self.lease_duration)
        lease["spec"] = spec
        try:
            await self.client.update(LEASES, lease)  # carries resourceVersion: compare-and-swap
            return True
        except APIStatusError as exc:
            if exc.code == 409:
                return False
            raise

    async def run(self, lead: Callable[[], Awaitable[None]]) -> None:
        """Campaign forever; while leading, run `lead()` and cancel it when leadership is lost."""
        while True:
            await self._acquire()
            self.leading = True
            log.info("%s: became leader of %s", self.identity, self.name)
            work = asyncio.ensure_future(lead())
            try:
                await self._renew_until_lost(work)
            finally:
                self.leading = False
                work.cancel()
                with contextlib.suppress(BaseException):
                    await work
            log.warning("%s: lost leadership of %s", self.identity, self.name)

    async def _acquire(self) -> None:
        while True:
            try:
                if await self._try_acquire_or_renew():
                    return
            except Exception as exc:
                log.debug("leader election %s: %s", self.name, exc)
            await asyncio.sleep(self.retry_period)

    async def _renew_until_lost(self, work: asyncio.Future[None]) -> None:
        loop = asyncio.get_running_loop()
        last_renew = loop.time()
        while not work.done():
            await asyncio.sleep(self.retry_period)
            try:
                if await self._try_acquire_or_renew():
                    last_renew = loop.time()
                    continue
                return  # somebody else holds it
            except Exception as exc:
                log.debug("leader election %s renew: %s", self.name, exc)
            if loop.time() - last_renew > self.renew_deadline:
                return

    async def release(self) -> None:
        """Give the Lease up (on clean shutdown) so another candidate need not wait it out."""
        with contextlib.suppress(Exception):
            lease = await self.client.get(LEASES, self.name, self.namespace)
            if (lease.get("spec") or {}).get("holderIdentity") == self.identity:
                lease["spec"]["holderIdentity"] = None
                lease["spec"]["leaseDurationSeconds"] = 1
                await self.client.update(LEASES, lease)
