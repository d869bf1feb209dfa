"""The Job controller (and TTL after finished) against a real server, driven by the real kubectl.

There is no kubelet here: tests finish pods as a kubelet would, by patching their status to
Succeeded or Failed with a terminated container and its exit code.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Cluster, start_server, stop_server, wait_for

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
INDEX = "batch.kubernetes.io/job-completion-index"

JOB = """
apiVersion: batch/v1
kind: Job
metadata: {{name: {name}}}
spec:
{spec}
  template:
    spec:
      restartPolicy: Never
      containers: [{{name: work, image: busybox:1.36, command: [sh, -c, "exit 0"]}}]
"""


@pytest.fixture(scope="module")
def core(api_client: Any) -> Any:
    from kubernetes import client

    return client.CoreV1Api(api_client)


@pytest.fixture(scope="module")
def batch(api_client: Any) -> Any:
    from kubernetes import client

    return client.BatchV1Api(api_client)


@pytest.fixture
def ns(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    name = request.node.name.removeprefix("test_").replace("_", "-").replace("[", "-").rstrip("]")[-40:].strip("-")
    cluster.kubectl("create", "namespace", name, version="1.27")
    yield name


def create_job(cluster: Cluster, ns: str, name: str, spec: str) -> None:
    body = JOB.format(name=name, spec="\n".join("  " + line for line in spec.strip().splitlines()))
    cluster.kubectl("create", "-n", ns, "-f", "-", input=body, version="1.27")


def job_pods(core: Any, ns: str, job: str) -> list[Any]:
    return list(core.list_namespaced_pod(ns, label_selector=f"batch.kubernetes.io/job-name={job}").items)


def running(pods: list[Any]) -> list[Any]:
    """Pods that count as active: not finished, not being deleted."""
    return [p for p in pods if p.status.phase not in ("Succeeded", "Failed") and not p.metadata.deletion_timestamp]


def finish_pod(core: Any, pod: Any, phase: str, exit_code: int = 0) -> None:
    """What a kubelet reports once a pod's only container exited with `exit_code`."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    status = {
        "phase": phase,
        "conditions": [{"type": "Ready", "status": "False", "reason": "PodCompleted", "lastTransitionTime": now}],
        "containerStatuses": [{
            "name": c.name, "image": c.image, "imageID": "", "ready": False, "restartCount": 0, "started": False,
            "state": {"terminated": {"exitCode": exit_code, "reason": "Completed" if exit_code == 0 else "Error",
                                     "startedAt": now, "finishedAt": now}},
        } for c in pod.spec.containers],
    }
    core.patch_namespaced_pod_status(pod.metadata.name, pod.metadata.namespace, {"status": status},
                                     _content_type="application/merge-patch+json")


def job_status(batch: Any, ns: str, name: str) -> dict[str, Any]:
    raw = batch.api_client.sanitize_for_serialization(batch.read_namespaced_job_status(name, ns))
    return dict(raw.get("status") or {})


def condition(status: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((c for c in status.get("conditions") or [] if c["type"] == kind and c["status"] == "True"), None)


def events(cluster: Cluster, ns: str, name: str) -> list[str]:
    out = cluster.kubectl("get", "events", "-n", ns, "--field-selector", f"involvedObject.name={name}",
                          "-o", "json", version="1.27").stdout
    return [e["reason"] for e in json.loads(out)["items"]]


def test_completions_with_parallelism_never_exceed_parallel_pods(cluster: Cluster, ns: str, core: Any) -> None:
    create_job(cluster, ns, "five", "completions: 5\nparallelism: 2")
    finished = 0
    while finished < 5:
        active = wait_for(lambda: running(job_pods(core, ns, "five")), message="an active pod")
        assert len(running(job_pods(core, ns, "five"))) <= 2
        for pod in active:
            assert TRACKING_FINALIZER in pod.metadata.finalizers
            finish_pod(core, pod, "Succeeded")
            finished += 1
        if finished < 5:  # the controller replaces them, never with more than two at a time
            wait_for(lambda: running(job_pods(core, ns, "five")), message="replacement pods")
    cluster.kubectl("wait", "-n", ns, "--for=condition=complete", "job/five", "--timeout=30s")
    out = json.loads(cluster.kubectl("get", "job", "five", "-n", ns, "-o", "json", version="1.27").stdout)
    assert out["status"]["succeeded"] == 5
    assert out["status"]["completionTime"]
    assert condition(out["status"], "SuccessCriteriaMet")["reason"] == "CompletionsReached"  # type: ignore[index]
    pods = job_pods(core, ns, "five")
    assert len(pods) == 5, "exactly the completions, none extra"
    wait_for(lambda: all(not p.metadata.finalizers for p in job_pods(core, ns, "five")),
             message="tracking finalizers removed")
    reasons = wait_for(lambda: (r := events(cluster, ns, "five")).count("Completed") and r, message="Completed")
    assert reasons.count("SuccessfulCreate") == 5


def test_work_queue_job_completes_when_any_pod_succeeds_and_the_rest_finish(cluster: Cluster, ns: str,
                                                                            core: Any, batch: Any) -> None:
    create_job(cluster, ns, "queue", "parallelism: 2")
    pods = wait_for(lambda: len(p := running(job_pods(core, ns, "queue"))) == 2 and p, message="two workers")
    finish_pod(core, pods[0], "Succeeded")
    wait_for(lambda: job_status(batch, ns, "queue").get("succeeded") == 1, message="one success counted")
    assert len(job_pods(core, ns, "queue")) == 2, "a success in work-queue mode starts no more pods"
    assert condition(job_status(batch, ns, "queue"), "Complete") is None, "the other worker still runs"
    finish_pod(core, pods[1], "Succeeded")
    cluster.kubectl("wait", "-n", ns, "--for=condition=complete", "job/queue", "--timeout=30s")


def test_failing_job_stops_at_backoff_limit(cluster: Cluster, ns: str, core: Any, batch: Any) -> None:
    create_job(cluster, ns, "doomed", "completions: 3\nparallelism: 3\nbackoffLimit: 2")
    pods = wait_for(lambda: len(p := running(job_pods(core, ns, "doomed"))) == 3 and p, message="three pods")
    for pod in pods:
        finish_pod(core, pod, "Failed", exit_code=1)
    cluster.kubectl("wait", "-n", ns, "--for=condition=failed", "job/doomed", "--timeout=30s")
    status = job_status(batch, ns, "doomed")
    assert condition(status, "Failed")["reason"] == "BackoffLimitExceeded"  # type: ignore[index]
    assert condition(status, "FailureTarget") is not None
    assert status["failed"] == 3 and not status.get("active")
    assert len(job_pods(core, ns, "doomed")) == 3, "no pod is created past the backoff limit"
    wait_for(lambda: "BackoffLimitExceeded" in events(cluster, ns, "doomed"), message="BackoffLimitExceeded event")


def test_failed_pod_is_replaced_only_after_back_off(cluster: Cluster, ns: str, core: Any, batch: Any) -> None:
    create_job(cluster, ns, "retry", "backoffLimit: 1")
    first = wait_for(lambda: running(job_pods(core, ns, "retry")), message="the first pod")[0]
    finish_pod(core, first, "Failed", exit_code=2)
    failed_at = time.monotonic()
    wait_for(lambda: job_status(batch, ns, "retry").get("failed") == 1, message="the failure counted")
    assert not running(job_pods(core, ns, "retry")), "no replacement during the back-off"
    second = wait_for(lambda: running(job_pods(core, ns, "retry")), timeout=25, message="the replacement")[0]
    assert time.monotonic() - failed_at >= 8, "the first back-off is 10 s"
    finish_pod(core, second, "Failed", exit_code=2)
    cluster.kubectl("wait", "-n", ns, "--for=condition=failed", "job/retry", "--timeout=30s")
    assert job_status(batch, ns, "retry")["failed"] == 2


def test_indexed_job_pods_carry_their_index(cluster: Cluster, ns: str, core: Any, batch: Any) -> None:
    create_job(cluster, ns, "idx", "completions: 4\nparallelism: 4\ncompletionMode: Indexed")
    pods = wait_for(lambda: len(p := running(job_pods(core, ns, "idx"))) == 4 and p, message="four pods")
    by_index = {int(p.metadata.annotations[INDEX]): p for p in pods}
    assert sorted(by_index) == [0, 1, 2, 3]
    for index, pod in by_index.items():
        assert pod.metadata.labels[INDEX] == str(index)
        assert pod.spec.hostname == f"idx-{index}"
        assert pod.metadata.name.startswith(f"idx-{index}-")
        env = {e.name: e.value_from.field_ref.field_path for e in pod.spec.containers[0].env}
        assert env["JOB_COMPLETION_INDEX"] == f"metadata.labels['{INDEX}']"
    for index in (0, 1, 3):
        finish_pod(core, by_index[index], "Succeeded")
    wait_for(lambda: job_status(batch, ns, "idx").get("completedIndexes") == "0,1,3", message="indexes 0,1,3")
    finish_pod(core, by_index[2], "Succeeded")
    cluster.kubectl("wait", "-n", ns, "--for=condition=complete", "job/idx", "--timeout=30s")
    status = job_status(batch, ns, "idx")
    assert status["completedIndexes"] == "0-3" and status["succeeded"] == 4


def test_suspended_job_has_no_pods_until_resumed(cluster: Cluster, ns: str, core: Any, batch: Any) -> None:
    create_job(cluster, ns, "later", "suspend: true\nparallelism: 2\ncompletions: 2")
    wait_for(lambda: condition(job_status(batch, ns, "later"), "Suspended"), message="Suspended condition")
    assert job_pods(core, ns, "later") == []
    assert "startTime" not in job_status(batch, ns, "later")
    cluster.kubectl("patch", "job", "later", "-n", ns, "--type=merge", "-p", '{"spec":{"suspend":false}}')
    wait_for(lambda: len(running(job_pods(core, ns, "later"))) == 2, message="pods once resumed")

    def resumed() -> dict[str, Any] | None:
        status = job_status(batch, ns, "later")
        found = [c for c in status["conditions"] if c["type"] == "Suspended" and c["status"] == "False"]
        return status if found and found[0]["reason"] == "JobResumed" else None

    assert wait_for(resumed, message="Suspended=False JobResumed")["startTime"]
    cluster.kubectl("patch", "job", "later", "-n", ns, "--type=merge", "-p", '{"spec":{"suspend":true}}')
    wait_for(lambda: not job_pods(core, ns, "later"), message="pods deleted on suspend")
    status = wait_for(lambda: (s := job_status(batch, ns, "later")) and condition(s, "Suspended") and s,
                      message="Suspended again")
    assert not status.get("active")
    assert not status.get("failed"), "pods removed for a suspension are not failures"
    assert {"Suspended", "Resumed", "SuccessfulDelete"} <= set(events(cluster, ns, "later"))


def test_active_deadline_fails_the_job(cluster: Cluster, ns: str, core: Any, batch: Any) -> None:
    create_job(cluster, ns, "hurry", "activeDeadlineSeconds: 1")
    cluster.kubectl("wait", "-n", ns, "--for=condition=failed", "job/hurry", "--timeout=30s")
    assert condition(job_status(batch, ns, "hurry"), "Failed")["reason"] == "DeadlineExceeded"  # type: ignore[index]
    wait_for(lambda: not running(job_pods(core, ns, "hurry")), message="active pods deleted")
    wait_for(lambda: "DeadlineExceeded" in events(cluster, ns, "hurry"), message="DeadlineExceeded event")


def test_pod_failure_policy_ignores_and_fails(cluster: Cluster, ns: str, core: Any, batch: Any) -> None:
    policy = """
completions: 2
parallelism: 2
backoffLimit: 0
podFailurePolicy:
  rules:
  - action: Ignore
    onExitCodes: {operator: In, values: [3]}
  - action: FailJob
    onExitCodes: {containerName: work, operator: In, values: [42]}
"""
    create_job(cluster, ns, "policy", policy)
    first, second = wait_for(lambda: len(p := running(job_pods(core, ns, "policy"))) == 2 and p,
                             message="two pods")
    finish_pod(core, first, "Failed", exit_code=3)  # ignored: not counted against backoffLimit 0

    def released() -> bool:
        return not any(p.metadata.finalizers for p in job_pods(core, ns, "policy")
                       if p.metadata.uid == first.metadata.uid)

    wait_for(released, message="the ignored failure processed")
    status = job_status(batch, ns, "policy")
    assert not status.get("failed") and condition(status, "Failed") is None
    finish_pod(core, second, "Failed", exit_code=42)
    cluster.kubectl("wait", "-n", ns, "--for=condition=failed", "job/policy", "--timeout=30s")
    failed = condition(job_status(batch, ns, "policy"), "Failed")
    assert failed is not None and failed["reason"] == "PodFailurePolicy"
    assert "exit code 42 matching FailJob rule at index 1" in failed["message"]


def test_ttl_after_finished_deletes_the_job(cluster: Cluster, ns: str, core: Any, batch: Any) -> None:
    from kubernetes import watch
    from kubernetes.client.exceptions import ApiException

    create_job(cluster, ns, "brief", "ttlSecondsAfterFinished: 1")
    pod = wait_for(lambda: running(job_pods(core, ns, "brief")), message="the pod")[0]
    # watch from before the pod finishes: the Job may complete and be deleted a second later,
    # faster than a fresh `kubectl wait` could look at it
    since = batch.list_namespaced_job(ns).metadata.resource_version
    finish_pod(core, pod, "Succeeded")
    seen: list[tuple[str, bool]] = []
    for event in watch.Watch().stream(batch.list_namespaced_job, ns, resource_version=since, timeout_seconds=30):
        job = event["object"]
        complete = any(c.type == "Complete" and c.status == "True" for c in (job.status.conditions or []))
        seen.append((event["type"], complete))
        if event["type"] == "DELETED":
            break
    assert ("MODIFIED", True) in seen, seen  # it completed first
    assert seen[-1][0] == "DELETED", seen  # then went after its TTL

    def gone() -> bool:
        try:
            batch.read_namespaced_job("brief", ns)
        except ApiException as exc:
            return exc.status == 404
        return False

    assert gone()


@pytest.mark.parametrize("cascade", ["background", "foreground"])
def test_deleting_a_running_job_leaves_no_pods_behind(cluster: Cluster, ns: str, core: Any, cascade: str) -> None:
    create_job(cluster, ns, "gone", "parallelism: 2\ncompletions: 4")
    wait_for(lambda: len(running(job_pods(core, ns, "gone"))) == 2, message="two pods")
    cluster.kubectl("delete", "job", "gone", "-n", ns, f"--cascade={cascade}", "--timeout=30s", version="1.27")
    # the tracking finalizers must not keep the pods around once their Job is gone
    wait_for(lambda: not job_pods(core, ns, "gone"), message="the Job's pods deleted")


def test_sigkill_while_counting_finished_pods_neither_loses_nor_double_counts(tmp_path: Path) -> None:
    from kubernetes import client, config

    c = start_server(tmp_path)
    try:
        c.kubectl("create", "namespace", "crash", version="1.27")
        create_job(c, "crash", "count", "completions: 6\nparallelism: 6")
        api = client.CoreV1Api(config.new_client_from_config(str(c.kubeconfig)))
        pods = wait_for(lambda: len(p := running(job_pods(api, "crash", "count"))) == 6 and p, message="six pods")
        for pod in pods:  # all finish at once; the controller is killed mid-way through counting them
            finish_pod(api, pod, "Succeeded")
        c.process.send_signal(signal.SIGKILL)
        c.process.wait(10)
        api.api_client.close()
    finally:
        stop_server(c)
    c = start_server(tmp_path)
    try:
        c.kubectl("wait", "-n", "crash", "--for=condition=complete", "job/count", "--timeout=30s")
        job = json.loads(c.kubectl("get", "job", "count", "-n", "crash", "-o", "json", version="1.27").stdout)
        assert job["status"]["succeeded"] == 6
        assert job["status"]["uncountedTerminatedPods"] == {}
        pods_left = json.loads(c.kubectl("get", "pods", "-n", "crash", "-o", "json", version="1.27").stdout)["items"]
        assert len(pods_left) == 6, "no pod created twice"
        assert all(not p["metadata"].get("finalizers") for p in pods_left)
    finally:
        stop_server(c)
