"""The CronJob controller against a real server, driven by the real kubectl.

Waiting for `* * * * *` to fire would take up to a minute, so the tests make a run due the way
downtime would: a CronJob is created suspended, its `status.lastScheduleTime` is set in the past
(status subresource), and resuming it makes the most recent missed time due at once. The schedule
arithmetic itself is covered by tests/unit/test_cronjob_schedule.py.
"""

from __future__ import annotations

import calendar
import datetime
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import Cluster, wait_for
from tests.integration.test_job import finish_pod, running

SCHEDULED = "batch.kubernetes.io/cronjob-scheduled-timestamp"

CRONJOB = """
apiVersion: batch/v1
kind: CronJob
metadata: {{name: {name}}}
spec:
  schedule: "{schedule}"
  suspend: true
{spec}
  jobTemplate:
    metadata: {{labels: {{cron: {name}}}}}
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{{name: work, image: busybox:1.36}}]
"""

OWNED_JOB = """
apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
  labels: {{cron: {cron}}}
  ownerReferences: [{{apiVersion: batch/v1, kind: CronJob, name: {cron}, uid: {uid}, controller: true}}]
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{{name: work, image: busybox:1.36}}]
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
    name = request.node.name.removeprefix("test_").replace("_", "-")[:40].strip("-")
    cluster.kubectl("create", "namespace", name, version="1.27")
    yield name


def create_cronjob(cluster: Cluster, ns: str, name: str, schedule: str, spec: str = "") -> None:
    body = CRONJOB.format(name=name, schedule=schedule, spec="\n".join("  " + s for s in spec.strip().splitlines()))
    cluster.kubectl("create", "-n", ns, "-f", "-", input=body, version="1.27")


def rfc3339(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def make_due(cluster: Cluster, batch: Any, ns: str, name: str, last_schedule: float) -> None:
    """Pretend the controller was down since `last_schedule`, then resume the CronJob."""
    batch.patch_namespaced_cron_job_status(name, ns, {"status": {"lastScheduleTime": rfc3339(last_schedule)}})
    cluster.kubectl("patch", "cronjob", name, "-n", ns, "--type=merge", "-p", '{"spec":{"suspend":false}}')


def seconds(stamp: str) -> float:
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def jobs_of(batch: Any, ns: str, cron: str) -> list[Any]:
    return list(batch.list_namespaced_job(ns, label_selector=f"cron={cron}").items)


def cron_status(batch: Any, ns: str, name: str) -> dict[str, Any]:
    raw = batch.api_client.sanitize_for_serialization(batch.read_namespaced_cron_job_status(name, ns))
    return dict(raw.get("status") or {})


def events(cluster: Cluster, ns: str, name: str) -> list[str]:
    out = cluster.kubectl("get", "events", "-n", ns, "--field-selector", f"involvedObject.name={name}",
                          "-o", "json", version="1.27").stdout
    return [e["reason"] for e in json.loads(out)["items"]]


def current_minutes() -> set[int]:
    """The minute now (and the next, in case the test straddles a minute boundary)."""
    now = int(time.time()) // 60
    return {now, now + 1}


def new_year_minutes() -> int:
    year = datetime.datetime.now(datetime.UTC).year
    return calendar.timegm((year, 1, 1, 0, 0, 0)) // 60


def test_a_missed_run_starts_at_once_named_after_its_minute(cluster: Cluster, ns: str, batch: Any) -> None:
    create_cronjob(cluster, ns, "tick", "* * * * *", "timeZone: Asia/Kolkata")
    assert jobs_of(batch, ns, "tick") == []
    make_due(cluster, batch, ns, "tick", time.time() - 600)
    job = wait_for(lambda: jobs_of(batch, ns, "tick"), message="the missed run's Job")[0]
    minute = int(job.metadata.name.rsplit("-", 1)[1])
    assert minute in current_minutes() | {m - 1 for m in current_minutes()}
    assert len(jobs_of(batch, ns, "tick")) == 1, "only the most recent missed time runs"
    scheduled = job.metadata.annotations[SCHEDULED]
    assert scheduled.endswith("+05:30")
    assert datetime.datetime.fromisoformat(scheduled).timestamp() == minute * 60
    ref = job.metadata.owner_references[0]
    assert (ref.kind, ref.name, ref.controller) == ("CronJob", "tick", True)
    status = wait_for(lambda: (s := cron_status(batch, ns, "tick")).get("active") and s, message="status.active")
    assert [a["name"] for a in status["active"]] == [job.metadata.name]
    assert seconds(status["lastScheduleTime"]) == minute * 60
    wait_for(lambda: "SuccessfulCreate" in events(cluster, ns, "tick"), message="SuccessfulCreate event")


def test_forbid_waits_for_the_active_job(cluster: Cluster, ns: str, core: Any, batch: Any) -> None:
    # a yearly run (January 1st) is still active when the schedule becomes every minute
    create_cronjob(cluster, ns, "solo", "0 0 1 1 *", "concurrencyPolicy: Forbid")
    make_due(cluster, batch, ns, "solo", time.time() - 2 * 366 * 86400)
    first = wait_for(lambda: jobs_of(batch, ns, "solo"), message="the yearly run")[0]
    assert first.metadata.name == f"solo-{new_year_minutes()}"
    wait_for(lambda: cron_status(batch, ns, "solo").get("active"), message="the run recorded as active")
    cluster.kubectl("patch", "cronjob", "solo", "-n", ns, "--type=merge", "-p", '{"spec":{"schedule":"* * * * *"}}')
    wait_for(lambda: "JobAlreadyActive" in events(cluster, ns, "solo"), message="JobAlreadyActive event")
    assert [j.metadata.name for j in jobs_of(batch, ns, "solo")] == [first.metadata.name]
    # once the running Job completes, the due run starts
    pod = wait_for(lambda: running(list(core.list_namespaced_pod(ns).items)), message="the first Job's pod")[0]
    finish_pod(core, pod, "Succeeded")
    later = wait_for(lambda: [j for j in jobs_of(batch, ns, "solo") if j.metadata.name != first.metadata.name],
                     message="the next run")
    assert int(later[0].metadata.name.rsplit("-", 1)[1]) in current_minutes() | {m - 1 for m in current_minutes()}
    status = wait_for(lambda: (s := cron_status(batch, ns, "solo")).get("lastSuccessfulTime") and s,
                      message="lastSuccessfulTime")
    assert [a["name"] for a in status["active"]] == [later[0].metadata.name]
    assert "SawCompletedJob" in events(cluster, ns, "solo")


def test_replace_deletes_the_active_job(cluster: Cluster, ns: str, batch: Any) -> None:
    create_cronjob(cluster, ns, "swap", "0 0 1 1 *", "concurrencyPolicy: Replace")
    make_due(cluster, batch, ns, "swap", time.time() - 2 * 366 * 86400)
    first = wait_for(lambda: jobs_of(batch, ns, "swap"), message="the yearly run")[0]
    wait_for(lambda: cron_status(batch, ns, "swap").get("active"), message="the run recorded as active")
    cluster.kubectl("patch", "cronjob", "swap", "-n", ns, "--type=merge", "-p", '{"spec":{"schedule":"* * * * *"}}')
    jobs = wait_for(lambda: (js := jobs_of(batch, ns, "swap")) and first.metadata.uid not in
                    {j.metadata.uid for j in js} and js, message="the first Job replaced")
    assert len(jobs) == 1 and jobs[0].metadata.name != first.metadata.name
    status = wait_for(lambda: (s := cron_status(batch, ns, "swap")).get("active") and
                      s["active"][0]["uid"] == jobs[0].metadata.uid and s, message="status.active updated")
    assert len(status["active"]) == 1
    assert "SuccessfulDelete" in events(cluster, ns, "swap")


def test_history_limits_prune_old_jobs(cluster: Cluster, ns: str, core: Any, batch: Any) -> None:
    create_cronjob(cluster, ns, "hist", "0 0 1 1 *", "successfulJobsHistoryLimit: 1\nfailedJobsHistoryLimit: 0")
    uid = batch.read_namespaced_cron_job("hist", ns).metadata.uid
    # three earlier runs that succeeded and one that failed
    for n in range(1, 5):
        cluster.kubectl("create", "-n", ns, "-f", "-", version="1.27",
                        input=OWNED_JOB.format(name=f"hist-{n}", cron="hist", uid=uid))
    pods = wait_for(lambda: len(p := running(list(core.list_namespaced_pod(ns).items))) == 4 and p,
                    message="the runs' pods")
    for pod in pods:
        failed = pod.metadata.labels["batch.kubernetes.io/job-name"] == "hist-4"
        finish_pod(core, pod, "Failed" if failed else "Succeeded", exit_code=1 if failed else 0)
    left = wait_for(lambda: (names := sorted(j.metadata.name for j in jobs_of(batch, ns, "hist"))) == ["hist-3"]
                    and names, timeout=30, message="only the newest successful Job kept")
    assert left == ["hist-3"]
    assert events(cluster, ns, "hist").count("SuccessfulDelete") == 3
