"""Pod facts controllers ask about: active, ready, available, and which pods to delete first."""

from __future__ import annotations

import datetime
from typing import Any

Obj = dict[str, Any]


def parse_time(value: str | None) -> datetime.datetime | None:
    if not value:
        return None
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def rfc3339(when: datetime.datetime | None = None) -> str:
    return (when or now()).astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_active(pod: Obj) -> bool:
    """Counts toward a controller's replicas: not finished and not being deleted."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


def condition(obj: Obj, kind: str) -> Obj | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return None


def is_ready(pod: Obj) -> bool:
    cond = condition(pod, "Ready")
    return bool(cond and cond.get("status") == "True")


def is_available(pod: Obj, min_ready_seconds: int, at: datetime.datetime | None = None) -> bool:
    """Ready for at least `min_ready_seconds`."""
    cond = condition(pod, "Ready")
    if not cond or cond.get("status") != "True":
        return False
    if min_ready_seconds <= 0:
        return True
    since = parse_time(cond.get("lastTransitionTime"))
    return since is not None and (at or now()) - since >= datetime.timedelta(seconds=min_ready_seconds)


_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


def deletion_rank(pod: Obj) -> tuple[Any, ...]:
    """Sort key: the pods upstream deletes first come first (unscheduled, pending, not ready,
    ready for less time, most restarts, newest)."""
    status = pod.get("status") or {}
    assigned = 1 if (pod.get("spec") or {}).get("nodeName") else 0
    phase = _PHASE_RANK.get(status.get("phase", "Pending"), 0)
    ready = 1 if is_ready(pod) else 0
    ready_since = (condition(pod, "Ready") or {}).get("lastTransitionTime") or ""
    restarts = max((c.get("restartCount", 0) for c in status.get("containerStatuses") or []), default=0)
    created = pod["metadata"].get("creationTimestamp") or ""
    # newer ready-since and newer creation sort first: invert by negating string order via tuple trick
    return (assigned, phase, ready, _desc(ready_since), -restarts, _desc(created))


def _desc(text: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in text)
