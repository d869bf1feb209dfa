"""The event recorder: writes core/v1 Events as upstream components do, without blocking them.

`record()` only appends to a queue; a background task writes. Repeats of the same event (same
object, type, reason, message and source) are aggregated into one Event whose `count` and
`lastTimestamp` are patched, as client-go's correlator does, so a crash-looping object makes
one Event with a growing count rather than thousands.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import time
from dataclasses import dataclass
from typing import Any

from kubeherd.client.api import APIClient, APIStatusError, ResourceRef

log = logging.getLogger(__name__)

EVENTS = ResourceRef("v1", "events", True, "Event")
MAX_PENDING = 1000


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class _Known:
    name: str
    namespace: str
    count: int


class EventRecorder:
    def __init__(self, client: APIClient, component: str, host: str = "") -> None:
        self.client = client
        self.component = component
        self.host = host
        self.queue: asyncio.Queue[tuple[dict[str, Any], str, str, str]] = asyncio.Queue()
        self.known: dict[tuple[str, ...], _Known] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
            self._task = None

    def record(self, obj: dict[str, Any], event_type: str, reason: str, message: str) -> None:
        """Queue an event about `obj` (Normal or Warning); drops it if far behind, never blocks."""
        if self.queue.qsize() >= MAX_PENDING:
            return
        self.queue.put_nowait((obj, event_type, reason, message))

    async def flush(self) -> None:
        """Wait until everything recorded so far is written (for tests and shutdown)."""
        while not self.queue.empty():
            await asyncio.sleep(0.01)

    async def _run(self) -> None:
        while True:
            obj, event_type, reason, message = await self.queue.get()
            try:
                await self._write(obj, event_type, reason, message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.debug("event %s for %s not written: %s", reason, obj.get("metadata", {}).get("name"), exc)

    async def _write(self, obj: dict[str, Any], event_type: str, reason: str, message: str) -> None:
        meta = obj.get("metadata", {})
        namespace = meta.get("namespace") or "default"
        involved = {
            "kind": obj.get("kind", ""), "namespace": meta.get("namespace", ""), "name": meta.get("name", ""),
            "uid": meta.get("uid", ""), "apiVersion": obj.get("apiVersion", ""),
            "resourceVersion": meta.get("resourceVersion", ""),
        }
        key = (involved["kind"], involved["namespace"], involved["name"], involved["uid"], event_type, reason,
               message)
        now = _now()
        known = self.known.get(key)
        if known is not None:
            try:
                await self.client.patch(EVENTS, known.name, {"count": known.count + 1, "lastTimestamp": now},
                                        known.namespace)
                known.count += 1
                return
            except APIStatusError as exc:
                if exc.code != 404:
                    raise
                del self.known[key]
        name = f"{involved['name']}.{time.time_ns():x}"
        event = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": {k: v for k, v in involved.items() if v},
            "reason": reason, "message": message, "type": event_type,
            "source": {"component": self.component, **({"host": self.host} if self.host else {})},
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
            "reportingComponent": self.component, "reportingInstance": self.host,
        }
        await self.client.create(EVENTS, event, namespace)
        if len(self.known) > 4096:
            self.known.clear()
        self.known[key] = _Known(name, namespace, 1)
