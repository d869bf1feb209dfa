"""StatefulSets driven by the real kubectl; the test plays the kubelet (no kubelet or scheduler here)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest

from tests.integration.conftest import Cluster, Kubelet, run_pods, wait_for


def statefulset(name: str, replicas: int, image: str = "nginx:1.25", **spec: object) -> str:
    return json.dumps({
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
        "spec": {"replicas": replicas, "serviceName": name, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "web", "image": image}]}},
                 **spec},
    })


CLAIMS = [{"metadata": {"name": "data", "labels": {"tier": "db"}},
           "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]


class PodEvents:
    """Records the order in which a namespace's pods are added and deleted (a watch, in a thread)."""

    def __init__(self, cluster: Cluster, namespace: str) -> None:
        from kubernetes import client, config

        self.api = client.CoreV1Api(config.new_client_from_config(str(cluster.kubeconfig)))
        self.namespace = namespace
        self.events: list[tuple[str, str]] = []
        self.stopped = False
        rv = self.api.list_namespaced_pod(namespace).metadata.resource_version
        self.thread = threading.Thread(target=self._run, args=(rv,), daemon=True)
        self.thread.start()

    def _run(self, rv: str) -> None:
        from kubernetes import watch

        while not self.stopped:
            for event in watch.Watch().stream(self.api.list_namespaced_pod, self.namespace, resource_version=rv,
                                              timeout_seconds=2):
                rv = event["object"].metadata.resource_version
                self.events.append((event["type"], event["object"].metadata.name))

    def names(self, kind: str) -> list[str]:
        return [name for t, name in self.events if t == kind]

    def close(self) -> None:
        self.stopped = True
        self.thread.join(5)
        self.api.api_client.close()


def namespace_for(cluster: Cluster, request: pytest.FixtureRequest) -> str:
    ns = request.node.name.replace("_", "-")[:40].strip("-")
    cluster.kubectl("create", "namespace", ns, version="1.27")
    return ns


@pytest.fixture
def ns(cluster: Cluster, request: pytest.FixtureRequest) -> str:
    return namespace_for(cluster, request)


@pytest.fixture
def kubelet(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[Kubelet]:
    k = Kubelet(cluster, namespace_for(cluster, request))
    k.thread.start()
    yield k
    k.stop.set()
    k.thread.join(5)


def pods(cluster: Cluster, ns: str) -> dict[str, dict]:
    return {p["metadata"]["name"]: p for p in cluster.kubectl_json("get", "pods", "-n", ns)["items"]}


def sts(cluster: Cluster, ns: str, name: str) -> dict:
    return cluster.kubectl_json("get", "statefulset", name, "-n", ns)


def test_ordered_creation_identity_claims_and_ordered_scale_down(cluster: Cluster, ns: str) -> None:
    cluster.kubectl("create", "-n", ns, "-f", "-", input=statefulset("web", 3, volumeClaimTemplates=CLAIMS),
                    version="1.27")
    for i in range(3):
        # the controller has seen pod i and is waiting for it: nothing beyond it exists
        wait_for(lambda i=i: sts(cluster, ns, "web").get("status", {}).get("replicas") == i + 1,
                 message=f"web-{i} observed")
        assert sorted(pods(cluster, ns)) == [f"web-{j}" for j in range(i + 1)]
        pod = pods(cluster, ns)[f"web-{i}"]
        assert pod["spec"]["hostname"] == f"web-{i}" and pod["spec"]["subdomain"] == "web"
        labels = pod["metadata"]["labels"]
        assert labels["statefulset.kubernetes.io/pod-name"] == f"web-{i}"
        assert labels["apps.kubernetes.io/pod-index"] == str(i)
        assert labels["controller-revision-hash"] == sts(cluster, ns, "web")["status"]["updateRevision"]
        assert {"name": "data", "persistentVolumeClaim": {"claimName": f"data-web-{i}"}} in pod["spec"]["volumes"]
        claim = cluster.kubectl_json("get", "pvc", f"data-web-{i}", "-n", ns)
        assert claim["metadata"]["labels"] == {"tier": "db", "app": "web"}
        run_pods(cluster, ns)
    cluster.kubectl("rollout", "status", "statefulset/web", "-n", ns, "--timeout=30s")
    status = sts(cluster, ns, "web")["status"]
    assert status["readyReplicas"] == status["availableReplicas"] == status["currentReplicas"] == 3
    assert status["currentRevision"] == status["updateRevision"]
    messages = cluster.kubectl("get", "events", "-n", ns, "-o", "jsonpath={.items[*].message}").stdout
    assert "create Pod web-0 in StatefulSet web successful" in messages
    assert "create Claim data-web-2 Pod web-2 in StatefulSet web success" in messages

    events = PodEvents(cluster, ns)
    try:
        cluster.kubectl("scale", "statefulset/web", "-n", ns, "--replicas=0")
        wait_for(lambda: not pods(cluster, ns), message="all pods gone")
        wait_for(lambda: len(events.names("DELETED")) == 3, message="three deletions seen")
        assert events.names("DELETED") == ["web-2", "web-1", "web-0"]
    finally:
        events.close()
    # whenScaled: Retain (the default) keeps every claim for the next scale-up
    claims = cluster.kubectl("get", "pvc", "-n", ns, "-o", "name").stdout.split()
    assert sorted(claims) == [f"persistentvolumeclaim/data-web-{i}" for i in range(3)]
    messages = cluster.kubectl("get", "events", "-n", ns, "-o", "jsonpath={.items[*].message}").stdout
    assert "delete Pod web-2 in StatefulSet web successful" in messages


def test_rolling_update_history_and_undo(cluster: Cluster, kubelet: Kubelet) -> None:
    ns = kubelet.namespace
    cluster.kubectl("create", "-n", ns, "-f", "-", input=statefulset("web", 3), version="1.27")
    cluster.kubectl("rollout", "status", "statefulset/web", "-n", ns, "--timeout=30s")
    first = sts(cluster, ns, "web")["status"]["updateRevision"]
    events = PodEvents(cluster, ns)
    try:
        cluster.kubectl("patch", "statefulset", "web", "-n", ns, "--type=merge", "-p",
                        '{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.26"}]}}}}')
        wait_for(lambda: (s := sts(cluster, ns, "web")["status"])["currentRevision"] == s["updateRevision"] != first,
                 message="rolling update complete")
        assert events.names("DELETED") == ["web-2", "web-1", "web-0"]  # highest ordinal first
    finally:
        events.close()
    result = cluster.kubectl("rollout", "status", "statefulset/web", "-n", ns, "--timeout=30s")
    assert "partitioned roll out complete: 3 new pods have been updated" in result.stdout
    second = sts(cluster, ns, "web")["status"]["updateRevision"]
    assert {p["spec"]["containers"][0]["image"] for p in pods(cluster, ns).values()} == {"nginx:1.26"}
    assert {p["metadata"]["labels"]["controller-revision-hash"] for p in pods(cluster, ns).values()} == {second}

    lines = cluster.kubectl("rollout", "history", "statefulset/web", "-n", ns).stdout.splitlines()
    assert [line.split()[0] for line in lines if line[:1].isdigit()] == ["1", "2"]
    detail = cluster.kubectl("rollout", "history", "statefulset/web", "-n", ns, "--revision=1").stdout
    assert "nginx:1.25" in detail
    undo = cluster.kubectl("rollout", "undo", "statefulset/web", "-n", ns)
    assert "rolled back" in undo.stdout
    wait_for(lambda: (s := sts(cluster, ns, "web")["status"])["currentRevision"] == s["updateRevision"] == first
             and s.get("readyReplicas") == 3, message="rolled back to the first revision")
    assert {p["spec"]["containers"][0]["image"] for p in pods(cluster, ns).values()} == {"nginx:1.25"}
    revisions = {r["metadata"]["name"]: r["revision"]
                 for r in cluster.kubectl_json("get", "controllerrevisions", "-n", ns)["items"]}
    assert revisions == {first: 3, second: 2}  # the restored template is the newest revision again
    again = cluster.kubectl("rollout", "undo", "statefulset/web", "-n", ns, "--to-revision=3")
    assert "skipped rollback (current template already matches revision 3)" in again.stdout


def test_partition_and_on_delete(cluster: Cluster, kubelet: Kubelet) -> None:
    ns = kubelet.namespace
    cluster.kubectl("create", "-n", ns, "-f", "-", version="1.27", input=statefulset(
        "part", 3, updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}))
    cluster.kubectl("rollout", "status", "statefulset/part", "-n", ns, "--timeout=30s")
    cluster.kubectl("patch", "statefulset", "part", "-n", ns, "--type=merge", "-p",
                    '{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.26"}]}}}}')
    result = cluster.kubectl("rollout", "status", "statefulset/part", "-n", ns, "--timeout=30s")
    assert "partitioned roll out complete: 1 new pods have been updated" in result.stdout
    images = {name: p["spec"]["containers"][0]["image"] for name, p in pods(cluster, ns).items()}
    assert images == {"part-0": "nginx:1.25", "part-1": "nginx:1.25", "part-2": "nginx:1.26"}
    status = sts(cluster, ns, "part")["status"]
    assert status["currentRevision"] != status["updateRevision"] and status["updatedReplicas"] == 1

    cluster.kubectl("create", "-n", ns, "-f", "-", version="1.27",
                    input=statefulset("od", 2, updateStrategy={"type": "OnDelete"}))
    wait_for(lambda: sts(cluster, ns, "od").get("status", {}).get("readyReplicas") == 2, message="od ready")
    cluster.kubectl("patch", "statefulset", "od", "-n", ns, "--type=merge", "-p",
                    '{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.26"}]}}}}')
    wait_for(lambda: sts(cluster, ns, "od")["status"]["observedGeneration"] == 2, message="od update observed")
    assert {pods(cluster, ns)[f"od-{i}"]["spec"]["containers"][0]["image"] for i in range(2)} == {"nginx:1.25"}
    cluster.kubectl("delete", "pod", "od-1", "-n", ns)
    wait_for(lambda: (p := pods(cluster, ns).get("od-1")) is not None
             and p["spec"]["containers"][0]["image"] == "nginx:1.26", message="od-1 recreated at the new revision")
    assert pods(cluster, ns)["od-0"]["spec"]["containers"][0]["image"] == "nginx:1.25"


def test_parallel_and_claim_retention(cluster: Cluster, ns: str) -> None:
    policy = {"whenScaled": "Delete", "whenDeleted": "Delete"}
    cluster.kubectl("create", "-n", ns, "-f", "-", version="1.27", input=statefulset(
        "db", 3, podManagementPolicy="Parallel", volumeClaimTemplates=CLAIMS,
        persistentVolumeClaimRetentionPolicy=policy))
    # Parallel: every pod at once, none of them ready
    wait_for(lambda: sorted(pods(cluster, ns)) == ["db-0", "db-1", "db-2"], message="three pods at once")
    run_pods(cluster, ns)
    uid = sts(cluster, ns, "db")["metadata"]["uid"]

    def claim_owners() -> dict[str, list[str]]:
        return {c["metadata"]["name"]: [r["uid"] for r in c["metadata"].get("ownerReferences") or []]
                for c in cluster.kubectl_json("get", "pvc", "-n", ns)["items"]}

    # whenDeleted: Delete makes the set own each claim
    wait_for(lambda: claim_owners() == {f"data-db-{i}": [uid] for i in range(3)}, message="claims owned by the set")
    cluster.kubectl("scale", "statefulset/db", "-n", ns, "--replicas=1")
    # whenScaled: Delete hands the condemned pods' claims to the pods, and the garbage collector removes them
    wait_for(lambda: sorted(pods(cluster, ns)) == ["db-0"], message="scaled down")
    wait_for(lambda: sorted(claim_owners()) == ["data-db-0"], timeout=30, message="scaled-down claims collected")
