"""PodDisruptionBudgets: their status, the eviction subresource, and `kubectl drain` honouring them."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import pytest

from tests.integration.conftest import KUBECTL_DIR, Cluster, run_pods, wait_for

Obj = dict[str, Any]
MESSAGE = "Cannot evict pod as it would violate the pod's disruption budget."


def create(cluster: Cluster, namespace: str, *objects: Obj) -> None:
    items = {"apiVersion": "v1", "kind": "List", "items": list(objects)}
    cluster.kubectl("create", "-n", namespace, "-f", "-", input=json.dumps(items), version="1.27")


def namespace(cluster: Cluster, name: str) -> str:
    create(cluster, "default", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


def replicaset(name: str, replicas: int, **pod_spec: Any) -> Obj:
    return {
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}], **pod_spec}}},
    }


def pdb(name: str, app: str, **spec: Any) -> Obj:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": app}}, **spec}}


def pods(cluster: Cluster, namespace: str, app: str) -> list[Obj]:
    return cluster.kubectl_json("get", "pods", "-n", namespace, "-l", f"app={app}")["items"]


def running_pods(cluster: Cluster, namespace: str, name: str, replicas: int) -> list[Obj]:
    """Create a ReplicaSet's worth of pods and make them run; returns them."""
    wait_for(lambda: len(pods(cluster, namespace, name)) == replicas, message=f"{replicas} pods of {name}")
    run_pods(cluster, namespace, label_selector=f"app={name}")
    return pods(cluster, namespace, name)


def status(cluster: Cluster, namespace: str, name: str) -> Obj:
    return cluster.kubectl_json("get", "pdb", name, "-n", namespace).get("status") or {}


def settled(cluster: Cluster, namespace: str, name: str, **want: Any) -> Obj:
    """Wait until the budget's status, for its current generation, has these values."""
    def check() -> Obj | None:
        obj = cluster.kubectl_json("get", "pdb", name, "-n", namespace)
        found = obj.get("status") or {}
        if found.get("observedGeneration") != obj["metadata"]["generation"]:
            return None
        return found if all(found.get(k) == v for k, v in want.items()) else None

    return wait_for(check, message=f"status of {name} with {want}")


def allowed_condition(found: Obj) -> tuple[str, str]:
    [cond] = [c for c in found["conditions"] if c["type"] == "DisruptionAllowed"]
    return cond["status"], cond["reason"]


def set_ready(cluster: Cluster, namespace: str, name: str, ready: bool) -> None:
    from kubernetes import client, config

    from tests.integration.conftest import pod_status_running

    api = client.CoreV1Api(config.new_client_from_config(str(cluster.kubeconfig)))
    raw = api.api_client.sanitize_for_serialization(api.read_namespaced_pod(name, namespace))
    api.patch_namespaced_pod_status(name, namespace, {"status": pod_status_running(raw, ready)},
                                    _content_type="application/merge-patch+json")
    api.api_client.close()


class Evictions:
    """POST pods/{name}/eviction through the official Python client; answers (code, body)."""

    def __init__(self, cluster: Cluster, namespace: str) -> None:
        from kubernetes import client, config

        self.client = client
        self.api = client.CoreV1Api(config.new_client_from_config(str(cluster.kubeconfig)))
        self.namespace = namespace

    def evict(self, pod: str, name: str | None = None, **delete_options: Any) -> tuple[int, Obj]:
        body = self.client.V1Eviction(metadata=self.client.V1ObjectMeta(name=name or pod, namespace=self.namespace),
                                      delete_options=self.client.V1DeleteOptions(**delete_options)
                                      if delete_options else None)
        try:
            response = self.api.create_namespaced_pod_eviction(pod, self.namespace, body, _preload_content=False)
            return response.status, json.loads(response.data)
        except self.client.ApiException as exc:
            return exc.status, json.loads(exc.body)

    def close(self) -> None:
        self.api.api_client.close()


@pytest.fixture
def evictions(cluster: Cluster) -> Any:
    found = Evictions(cluster, namespace(cluster, "evict"))
    yield found
    found.close()


def test_budget_status_for_numbers_and_percentages(cluster: Cluster) -> None:
    ns = namespace(cluster, "pdb-status")
    create(cluster, ns, replicaset("web", 3))
    web = running_pods(cluster, ns, "web", 3)
    create(cluster, ns, pdb("min-two", "web", minAvailable=2), pdb("half", "web", maxUnavailable="50%"),
           pdb("nobody", "none", minAvailable=1))

    found = settled(cluster, ns, "min-two", currentHealthy=3, desiredHealthy=2, expectedPods=3, disruptionsAllowed=1)
    assert allowed_condition(found) == ("True", "SufficientPods")
    assert "min-two   2               N/A               1" in cluster.kubectl("get", "pdb", "-n", ns).stdout
    # 50% of the ReplicaSet's 3 replicas, rounded up, may be unavailable
    settled(cluster, ns, "half", currentHealthy=3, desiredHealthy=1, expectedPods=3, disruptionsAllowed=2)
    found = settled(cluster, ns, "nobody", currentHealthy=0, desiredHealthy=1, expectedPods=0, disruptionsAllowed=0)
    assert allowed_condition(found) == ("False", "InsufficientPods")

    set_ready(cluster, ns, web[0]["metadata"]["name"], ready=False)
    found = settled(cluster, ns, "min-two", currentHealthy=2, disruptionsAllowed=0)
    assert allowed_condition(found) == ("False", "InsufficientPods")

    # scaling the owner changes what a percentage means, before any new pod runs
    cluster.kubectl("scale", "replicaset", "web", "-n", ns, "--replicas=5")
    settled(cluster, ns, "half", expectedPods=5, desiredHealthy=2, currentHealthy=2, disruptionsAllowed=0)


def test_budget_fails_closed_when_the_expected_count_is_unknown(cluster: Cluster) -> None:
    ns = namespace(cluster, "pdb-failsafe")
    create(cluster, ns, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner"}})
    owner = cluster.kubectl_json("get", "configmap", "owner", "-n", ns)
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"],
           "controller": True}
    create(cluster, ns, {"apiVersion": "v1", "kind": "Pod",
                         "metadata": {"name": "odd", "labels": {"app": "odd"}, "ownerReferences": [ref]},
                         "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}},
           pdb("odd", "odd", maxUnavailable=1))
    run_pods(cluster, ns)

    def sync_failed() -> Obj | None:
        conditions = status(cluster, ns, "odd").get("conditions") or []
        return next((c for c in conditions if c["reason"] == "SyncFailed"), None)

    cond = wait_for(sync_failed, message="SyncFailed condition")
    assert cond["status"] == "False"
    assert cond["message"] == "configmaps does not implement the scale subresource"
    assert status(cluster, ns, "odd")["disruptionsAllowed"] == 0


def test_eviction_honours_the_budget(cluster: Cluster, evictions: Evictions) -> None:
    ns = evictions.namespace
    create(cluster, ns, replicaset("api", 2, terminationGracePeriodSeconds=0))
    first, second = (p["metadata"]["name"] for p in running_pods(cluster, ns, "api", 2))
    create(cluster, ns, pdb("api", "api", minAvailable=2))
    settled(cluster, ns, "api", currentHealthy=2, disruptionsAllowed=0)

    code, body = evictions.evict(first)
    assert code == 429
    assert body["reason"] == "TooManyRequests" and body["message"] == MESSAGE
    assert body["details"]["causes"] == [{"reason": "DisruptionBudget",
                                          "message": "The disruption budget api needs 2 healthy pods and has 2 "
                                                     "currently"}]

    cluster.kubectl("patch", "pdb", "api", "-n", ns, "--type=merge", "-p", '{"spec":{"minAvailable":1}}')
    settled(cluster, ns, "api", currentHealthy=2, desiredHealthy=1, disruptionsAllowed=1)

    # a dry run answers as the real thing would and changes nothing
    code, body = evictions.evict(first, dry_run=["All"])
    assert (code, body["status"]) == (201, "Success")
    assert status(cluster, ns, "api")["disruptionsAllowed"] == 1
    assert first in {p["metadata"]["name"] for p in pods(cluster, ns, "api")}

    # a name that does not match the URL is refused
    assert evictions.evict(first, name="someone-else")[0] == 400

    code, body = evictions.evict(first)
    assert (code, body["kind"], body["status"]) == (201, "Status", "Success")
    wait_for(lambda: first not in {p["metadata"]["name"] for p in pods(cluster, ns, "api")}, message="evicted pod gone")
    assert status(cluster, ns, "api")["disruptionsAllowed"] == 0
    code, body = evictions.evict(second)
    assert code == 429

    # the replacement has not started: it cannot count toward the budget, so it may go
    replacement = wait_for(lambda: [p["metadata"]["name"] for p in pods(cluster, ns, "api")
                                    if p["metadata"]["name"] != second], message="replacement pod")[0]
    assert evictions.evict(replacement)[0] == 201

    # two budgets over one pod: the eviction API refuses to choose
    create(cluster, ns, pdb("api-too", "api", maxUnavailable=1))
    code, body = evictions.evict(second)
    assert code == 500
    assert body["message"] == ("This pod has more than one PodDisruptionBudget, which the eviction subresource "
                               "does not support.")
    assert second in {p["metadata"]["name"] for p in pods(cluster, ns, "api")}


def drain(cluster: Cluster, node: str, timeout: str) -> subprocess.Popen[str]:
    assert KUBECTL_DIR is not None
    env = {**os.environ, "HOME": str(cluster.home), "KUBECONFIG": str(cluster.kubeconfig)}
    return subprocess.Popen([str(KUBECTL_DIR / "kubectl.1.33"), "drain", node, "--ignore-daemonsets",
                             "--delete-emptydir-data", f"--timeout={timeout}"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def test_drain_is_blocked_by_a_budget_until_it_allows(cluster: Cluster) -> None:
    ns = namespace(cluster, "drain")
    create(cluster, "default", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "worker-1"}})
    create(cluster, ns, replicaset("web", 2, nodeName="worker-1", terminationGracePeriodSeconds=0))
    original = {p["metadata"]["name"] for p in running_pods(cluster, ns, "web", 2)}
    create(cluster, ns, pdb("web", "web", minAvailable=2))
    settled(cluster, ns, "web", currentHealthy=2, disruptionsAllowed=0)
    # cordon first with a merge patch, so drain finds the node already cordoned
    cluster.kubectl("patch", "node", "worker-1", "--type=merge", "-p", '{"spec":{"unschedulable":true}}')

    blocked = drain(cluster, "worker-1", "5s")
    output, _ = blocked.communicate(timeout=60)
    assert blocked.returncode != 0, output
    assert MESSAGE in output and "will retry after 5s" in output
    assert {p["metadata"]["name"] for p in pods(cluster, ns, "web")} == original

    # one disruption allowed: drain evicts one pod, then waits until its replacement is ready
    cluster.kubectl("patch", "pdb", "web", "-n", ns, "--type=merge", "-p", '{"spec":{"minAvailable":1}}')
    settled(cluster, ns, "web", disruptionsAllowed=1)
    rehearsal = cluster.kubectl("drain", "worker-1", "--ignore-daemonsets", "--dry-run=server", "--timeout=5s")
    assert "node/worker-1 drained (server dry run)" in rehearsal.stdout
    assert {p["metadata"]["name"] for p in pods(cluster, ns, "web")} == original
    assert status(cluster, ns, "web")["disruptionsAllowed"] == 1
    running = drain(cluster, "worker-1", "60s")
    try:
        replacement = wait_for(lambda: [p for p in pods(cluster, ns, "web") if p["metadata"]["name"] not in original],
                               message="a replacement for the first evicted pod")
        assert len({p["metadata"]["name"] for p in pods(cluster, ns, "web")} & original) == 1
        run_pods(cluster, ns, label_selector="app=web")
        output, _ = running.communicate(timeout=60)
    finally:
        running.kill()
    assert running.returncode == 0, output
    assert "node/worker-1 drained" in output
    assert replacement
    assert not {p["metadata"]["name"] for p in pods(cluster, ns, "web")} & original
