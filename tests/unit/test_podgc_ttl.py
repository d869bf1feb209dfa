"""Pod GC's choice of terminated pods and the TTL-after-finished expiry time."""

from __future__ import annotations

import datetime

from kubeherd.controllers.podgc import terminated_to_delete
from kubeherd.controllers.ttlafterfinished import expire_time, needs_cleanup


def pod(name: str, phase: str, created: str, reason: str = "") -> dict:
    status = {"phase": phase, **({"reason": reason} if reason else {})}
    return {"metadata": {"name": name, "creationTimestamp": created}, "status": status}


def test_terminated_pods_over_the_threshold_go_evicted_first_then_oldest() -> None:
    pods = [pod("new", "Succeeded", "2024-05-01T10:03:00Z"), pod("running", "Running", "2024-05-01T09:00:00Z"),
            pod("b-old", "Failed", "2024-05-01T10:00:00Z"), pod("a-old", "Succeeded", "2024-05-01T10:00:00Z"),
            pod("evicted", "Failed", "2024-05-01T10:05:00Z", reason="Evicted")]
    assert [p["metadata"]["name"] for p in terminated_to_delete(pods, 1)] == ["evicted", "a-old", "b-old"]
    assert terminated_to_delete(pods, 4) == []
    assert terminated_to_delete(pods, 0) == [], "a threshold of 0 disables it"


def test_ttl_counts_from_the_finished_condition() -> None:
    job = {"spec": {"ttlSecondsAfterFinished": 30}, "status": {"conditions": [
        {"type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": "2024-05-01T10:00:00Z"},
        {"type": "Complete", "status": "True", "lastTransitionTime": "2024-05-01T10:00:05Z"}]}}
    assert needs_cleanup(job)
    assert expire_time(job) == datetime.datetime(2024, 5, 1, 10, 0, 35, tzinfo=datetime.UTC)
    running = {"spec": {"ttlSecondsAfterFinished": 30}, "status": {}}
    assert not needs_cleanup(running) and expire_time(running) is None
    assert not needs_cleanup({"spec": {}, "status": job["status"]})
