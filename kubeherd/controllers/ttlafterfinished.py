"""TTL after finished: delete a finished Job `spec.ttlSecondsAfterFinished` seconds after it finished.

As upstream (`pkg/controller/ttlafterfinished`): the finish time is the `lastTransitionTime` of
the Job's Complete or Failed condition; a Job whose TTL has not run out is re-queued for exactly
when it will (`queue.add_after`), never polled. Before deleting, the Job is read fresh from the
API — the cached TTL may be stale, the user may have raised it — and deleted with foreground
propagation (its pods go first) and a uid precondition, so a new Job of the same name is safe.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from typing import Any

from kubeherd.client import APIStatusError, object_key, split_key
from kubeherd.controllers.base import JOBS, Context, Controller
from kubeherd.controllers.podutil import now, parse_time

log = logging.getLogger(__name__)

Obj = dict[str, Any]


def needs_cleanup(job: Obj) -> bool:
    return (job.get("spec") or {}).get("ttlSecondsAfterFinished") is not None and finish_time(job) is not None


def finish_time(job: Obj) -> datetime.datetime | None:
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
            return parse_time(cond.get("lastTransitionTime"))
    return None


def expire_time(job: Obj) -> datetime.datetime | None:
    """When a finished Job with a TTL may be deleted (None: never, or not yet finished)."""
    finished = finish_time(job)
    ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
    if finished is None or ttl is None:
        return None
    return finished + datetime.timedelta(seconds=int(ttl))


class TTLAfterFinishedController(Controller):
    name = "ttl-after-finished"
    workers = 2

    def __init__(self, ctx: Context, *, clock: Callable[[], datetime.datetime] = now) -> None:
        super().__init__(ctx)
        self.clock = clock
        self.jobs = self.informer(JOBS)
        self.jobs.add_handlers(on_add=self._job_changed, on_update=lambda old, new: self._job_changed(new))

    def _job_changed(self, job: Obj) -> None:
        if not job["metadata"].get("deletionTimestamp") and needs_cleanup(job):
            self.queue.add(object_key(job))

    def _expired(self, key: str, job: Obj) -> bool:
        """Whether the TTL ran out; if it will later, look again exactly then."""
        if job["metadata"].get("deletionTimestamp"):
            return False
        expires = expire_time(job)
        if expires is None:
            return False
        left = (expires - self.clock()).total_seconds()
        if left > 0:
            self.queue.add_after(key, left)
            return False
        return True

    async def sync(self, key: str) -> None:
        cached = self.jobs.indexer.get(key)
        if cached is None or not self._expired(key, cached):
            return
        namespace, name = split_key(key)
        try:
            fresh = await self.client.get(JOBS, name, namespace)
        except APIStatusError as exc:
            if exc.code == 404:
                return
            raise
        if not self._expired(key, fresh):
            return
        log.debug("ttl-after-finished: deleting Job %s", key)
        try:
            await self.client.delete(JOBS, name, namespace, propagation="Foreground",
                                     preconditions={"uid": fresh["metadata"]["uid"]})
        except APIStatusError as exc:
            if exc.code != 404:
                raise
