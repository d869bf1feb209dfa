"""The Job controller's pure rules: index intervals, pod failure policy, back-off, pod templates."""

from __future__ import annotations

import datetime

import pytest

from kubeherd.controllers.job import (
    COMPLETION_INDEX,
    TRACKING_FINALIZER,
    active_pods_for_removal,
    backoff_delay,
    ensure_condition,
    finished_time,
    format_indexes,
    is_pod_failed,
    match_pod_failure_policy,
    match_success_policy,
    normalized_status,
    parse_indexes,
    pod_for_job,
    pod_generate_name,
)

UTC = datetime.UTC


def pod(name: str = "p", phase: str = "Running", index: int | None = None, exit_code: int | None = None,
        deleting: bool = False, ready: bool = False, conditions: list[dict] | None = None,
        created: str = "2024-05-01T10:00:00Z") -> dict:
    meta: dict = {"name": name, "namespace": "ns", "uid": f"uid-{name}", "creationTimestamp": created}
    if index is not None:
        meta["annotations"] = {COMPLETION_INDEX: str(index)}
    if deleting:
        meta["deletionTimestamp"] = "2024-05-01T10:05:30Z"
        meta["deletionGracePeriodSeconds"] = 30
    status: dict = {"phase": phase, "conditions": list(conditions or [])}
    if ready:
        status["conditions"].append({"type": "Ready", "status": "True"})
    if exit_code is not None:
        status["containerStatuses"] = [{"name": "work", "state": {"terminated": {
            "exitCode": exit_code, "finishedAt": "2024-05-01T10:03:00Z"}}}]
    return {"metadata": meta, "spec": {"nodeName": "n1" if ready else ""}, "status": status}


def job(**spec: object) -> dict:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "work", "namespace": "ns", "uid": "j-1"},
            "spec": {"template": {"metadata": {"labels": {"app": "w"}},
                                  "spec": {"containers": [{"name": "work", "image": "busybox"}]}}, **spec}}


@pytest.mark.parametrize(("indexes", "text"), [
    (set(), ""), ({0}, "0"), ({0, 1}, "0,1"), ({0, 1, 2}, "0-2"), ({0, 1, 2, 4}, "0-2,4"),
    ({1, 3, 4, 5, 7, 8}, "1,3-5,7,8"),
])
def test_completed_indexes_round_trip(indexes: set[int], text: str) -> None:
    assert format_indexes(indexes) == text
    assert parse_indexes(text, 100) == indexes


def test_parse_indexes_drops_what_is_out_of_range_or_corrupt() -> None:
    assert parse_indexes("0-2,x,5-9,12", 7) == {0, 1, 2, 5, 6}


def test_backoff_doubles_from_ten_seconds_and_is_capped() -> None:
    assert [backoff_delay(n, 10, 600) for n in range(6)] == [0, 10, 20, 40, 80, 160]
    assert backoff_delay(7, 10, 600) == 600
    assert backoff_delay(1000, 10, 600) == 600


def test_finished_time_prefers_container_finish_then_ready_then_deletion() -> None:
    assert finished_time(pod(exit_code=1)) == datetime.datetime(2024, 5, 1, 10, 3, tzinfo=UTC)
    not_ready = pod(conditions=[{"type": "Ready", "status": "False", "lastTransitionTime": "2024-05-01T10:04:00Z"}])
    assert finished_time(not_ready) == datetime.datetime(2024, 5, 1, 10, 4, tzinfo=UTC)
    assert finished_time(pod(deleting=True)) == datetime.datetime(2024, 5, 1, 10, 5, tzinfo=UTC)
    assert finished_time(pod()) == datetime.datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def test_deleted_pods_count_as_failed_unless_only_failed_pods_are_replaced() -> None:
    assert is_pod_failed(pod(phase="Failed"), job())
    assert is_pod_failed(pod(deleting=True), job())
    assert not is_pod_failed(pod(deleting=True, phase="Succeeded"), job())
    assert not is_pod_failed(pod(deleting=True), job(podReplacementPolicy="Failed"))
    assert not is_pod_failed(pod(deleting=True), job(podFailurePolicy={"rules": []}))


POLICY = {"rules": [
    {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
    {"action": "FailJob", "onExitCodes": {"containerName": "work", "operator": "In", "values": [42]}},
    {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [1, 2]}},
    {"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [2]}},
]}


def test_pod_failure_policy_rules_match_in_order() -> None:
    disrupted = pod(phase="Failed", exit_code=42, conditions=[{"type": "DisruptionTarget", "status": "True"}])
    assert match_pod_failure_policy(POLICY, disrupted) == (None, False, "Ignore")
    message, counts, action = match_pod_failure_policy(POLICY, pod("x", phase="Failed", exit_code=42))
    assert (counts, action) == (True, "FailJob")
    assert message == "Container work for pod ns/x failed with exit code 42 matching FailJob rule at index 1"
    assert match_pod_failure_policy(POLICY, pod(phase="Failed", exit_code=7)) == (None, True, "Count")
    assert match_pod_failure_policy(POLICY, pod(phase="Failed", exit_code=2)) == (None, True, "FailIndex")
    assert match_pod_failure_policy(POLICY, pod(phase="Failed", exit_code=1)) == (None, True, None)
    assert match_pod_failure_policy(None, pod(phase="Failed", exit_code=42)) == (None, True, None)


def test_exit_code_zero_never_matches() -> None:
    rule = {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "NotIn", "values": [5]}}]}
    assert match_pod_failure_policy(rule, pod(phase="Failed", exit_code=0)) == (None, True, None)


def test_indexed_pod_template() -> None:
    p = pod_for_job(job(completionMode="Indexed"), 3, failure_counts=(2, 1))
    meta = p["metadata"]
    assert meta["generateName"] == "work-3-"
    assert meta["annotations"][COMPLETION_INDEX] == meta["labels"][COMPLETION_INDEX] == "3"
    assert meta["annotations"]["batch.kubernetes.io/job-index-failure-count"] == "2"
    assert meta["annotations"]["batch.kubernetes.io/job-index-ignored-failure-count"] == "1"
    assert meta["finalizers"] == [TRACKING_FINALIZER]
    assert meta["ownerReferences"][0]["uid"] == "j-1" and meta["ownerReferences"][0]["controller"]
    assert p["spec"]["hostname"] == "work-3"
    assert p["spec"]["containers"][0]["env"] == [{"name": "JOB_COMPLETION_INDEX", "valueFrom": {
        "fieldRef": {"fieldPath": f"metadata.labels['{COMPLETION_INDEX}']"}}}]
    plain = pod_for_job(job(), None)
    assert plain["metadata"]["generateName"] == "work-" and "hostname" not in plain["spec"]


def test_generate_name_is_truncated_keeping_the_index() -> None:
    assert pod_generate_name("x" * 70, 12) == "x" * 54 + "-12-"
    assert pod_generate_name("x" * 70, None) == "x" * 58


def test_removal_prefers_duplicate_and_out_of_range_indexes_then_least_valuable() -> None:
    j = job(completionMode="Indexed", completions=3)
    pods = [pod("a0", index=0, ready=True), pod("b0", index=0), pod("c5", index=5, ready=True),
            pod("d1", index=1, ready=True), pod("e2", index=2)]
    assert sorted(p["metadata"]["name"] for p in active_pods_for_removal(j, pods, 0)) == ["b0", "c5"]
    names = [p["metadata"]["name"] for p in active_pods_for_removal(j, pods, 3)]
    assert sorted(names[:2]) == ["b0", "c5"] and names[2] == "e2"  # not ready before ready
    plain = [pod("r", ready=True), pod("n")]
    assert [p["metadata"]["name"] for p in active_pods_for_removal(job(), plain, 1)] == ["n"]


def test_success_policy() -> None:
    policy = {"rules": [{"succeededIndexes": "0,2-4", "succeededCount": 2}, {"succeededCount": 5}]}
    assert match_success_policy(policy, 10, {1, 5}) is None
    assert match_success_policy(policy, 10, {0, 3}) == "Matched rules at index 0"
    assert match_success_policy(policy, 10, {1, 5, 6, 7, 9}) == "Matched rules at index 1"
    assert match_success_policy({"rules": [{"succeededIndexes": "1-2"}]}, 10, {1, 2}) == "Matched rules at index 0"


def test_conditions_change_only_when_something_differs() -> None:
    now = datetime.datetime(2024, 5, 1, tzinfo=UTC)
    conditions: list[dict] = []
    assert not ensure_condition(conditions, "Suspended", "False", "JobResumed", "Job resumed", now)
    assert ensure_condition(conditions, "Suspended", "True", "JobSuspended", "Job suspended", now)
    assert not ensure_condition(conditions, "Suspended", "True", "JobSuspended", "Job suspended", now)
    assert ensure_condition(conditions, "Suspended", "False", "JobResumed", "Job resumed", now)
    assert conditions[0]["status"] == "False" and len(conditions) == 1


def test_status_serializes_as_upstream() -> None:
    status = normalized_status({"active": 0, "succeeded": 2, "failed": 0, "completedIndexes": "",
                                "uncountedTerminatedPods": {"succeeded": [], "failed": ["u"]}})
    assert status == {"succeeded": 2, "ready": 0, "terminating": 0, "uncountedTerminatedPods": {"failed": ["u"]}}
