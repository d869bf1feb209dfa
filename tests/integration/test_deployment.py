"""ReplicaSets and Deployments driven by the real kubectl, pods made Running by the test (no kubelet yet)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest

from tests.integration.conftest import Cluster, Kubelet, run_pods, wait_for

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  strategy: {strategy}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec: {{containers: [{{name: web, image: "nginx:1.25"}}]}}
"""


@pytest.fixture
def kubelet(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[Kubelet]:
    ns = request.node.name.split("[")[0].replace("_", "-")[:40]
    cluster.kubectl("create", "namespace", ns, version="1.27")
    k = Kubelet(cluster, ns)
    k.thread.start()
    yield k
    k.stop.set()
    k.thread.join(5)


def pod_names(cluster: Cluster, ns: str) -> list[str]:
    return cluster.kubectl("get", "pods", "-n", ns, "-o", "name").stdout.split()


def test_replicaset_scales_and_adopts(cluster: Cluster) -> None:
    ns = "rs-scale"
    cluster.kubectl("create", "namespace", ns, version="1.27")
    orphan = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "orphan", "labels": {"app": "rs"}},
              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    cluster.kubectl("create", "-n", ns, "-f", "-", input=json.dumps(orphan), version="1.27")
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs"},
          "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "rs"}},
                   "template": {"metadata": {"labels": {"app": "rs"}},
                                "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
    cluster.kubectl("create", "-n", ns, "-f", "-", input=json.dumps(rs), version="1.27")
    wait_for(lambda: len(pod_names(cluster, ns)) == 3, message="3 pods")
    adopted = cluster.kubectl_json("get", "pod", "orphan", "-n", ns)
    assert adopted["metadata"]["ownerReferences"][0]["name"] == "rs"  # the orphan counts as one of the three
    run_pods(cluster, ns)
    wait_for(lambda: cluster.kubectl_json("get", "rs", "rs", "-n", ns)["status"].get("readyReplicas") == 3,
             message="3 ready")
    cluster.kubectl("scale", "rs", "rs", "-n", ns, "--replicas=1")
    wait_for(lambda: len(pod_names(cluster, ns)) == 1, message="1 pod")
    events = cluster.kubectl("get", "events", "-n", ns).stdout
    assert "SuccessfulCreate" in events and "SuccessfulDelete" in events


def test_rollout_history_and_undo(cluster: Cluster, kubelet: Kubelet) -> None:
    ns = kubelet.namespace
    strategy = "{type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}"
    cluster.kubectl("create", "-n", ns, "-f", "-", input=DEPLOYMENT.format(name="web", replicas=3, strategy=strategy),
                    version="1.27")
    cluster.kubectl("rollout", "status", "deploy/web", "-n", ns, "--timeout=60s")
    cluster.kubectl("patch", "deploy", "web", "-n", ns, "--type=json", "-p",
                    '[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"nginx:1.26"}]')
    cluster.kubectl("rollout", "status", "deploy/web", "-n", ns, "--timeout=60s")
    history = cluster.kubectl("rollout", "history", "deploy/web", "-n", ns).stdout.split()
    assert history[history.index("CHANGE-CAUSE") + 1:] == ["1", "<none>", "2", "<none>"]
    sets = cluster.kubectl_json("get", "rs", "-n", ns)["items"]
    assert {s["metadata"]["annotations"]["deployment.kubernetes.io/revision"] for s in sets} == {"1", "2"}
    cluster.kubectl("rollout", "undo", "deploy/web", "-n", ns)
    cluster.kubectl("rollout", "status", "deploy/web", "-n", ns, "--timeout=60s")
    d = cluster.kubectl_json("get", "deploy", "web", "-n", ns)
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
    assert len(cluster.kubectl_json("get", "rs", "-n", ns)["items"]) == 2  # the first set was reused
    conditions = {c["type"]: c["reason"] for c in d["status"]["conditions"]}
    assert conditions == {"Available": "MinimumReplicasAvailable", "Progressing": "NewReplicaSetAvailable"}
    assert d["status"]["updatedReplicas"] == d["status"]["availableReplicas"] == 3
    images = {p["spec"]["containers"][0]["image"] for p in cluster.kubectl_json("get", "pods", "-n", ns)["items"]}
    assert images == {"nginx:1.25"}


def test_rolling_update_respects_surge_and_unavailable(cluster: Cluster, kubelet: Kubelet) -> None:
    ns = kubelet.namespace
    strategy = "{type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}"
    cluster.kubectl("create", "-n", ns, "-f", "-", input=DEPLOYMENT.format(name="d", replicas=4, strategy=strategy),
                    version="1.27")
    cluster.kubectl("rollout", "status", "deploy/d", "-n", ns, "--timeout=60s")
    seen: list[int] = []
    stop = threading.Event()

    def watch_counts() -> None:
        while not stop.is_set():
            seen.append(len(cluster.kubectl_json("get", "pods", "-n", ns)["items"]))

    watcher = threading.Thread(target=watch_counts)
    watcher.start()
    cluster.kubectl("patch", "deploy", "d", "-n", ns, "--type=json", "-p",
                    '[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"nginx:1.27"}]')
    cluster.kubectl("rollout", "status", "deploy/d", "-n", ns, "--timeout=60s")
    stop.set()
    watcher.join()
    assert max(seen) <= 5  # replicas + maxSurge (terminating pods are removed at once here)


def test_recreate_and_scale_and_pause(cluster: Cluster, kubelet: Kubelet) -> None:
    ns = kubelet.namespace
    cluster.kubectl("create", "-n", ns, "-f", "-", input=DEPLOYMENT.format(name="r", replicas=2,
                                                                          strategy="{type: Recreate}"),
                    version="1.27")
    cluster.kubectl("rollout", "status", "deploy/r", "-n", ns, "--timeout=60s")
    cluster.kubectl("scale", "deploy/r", "-n", ns, "--replicas=4")
    cluster.kubectl("rollout", "status", "deploy/r", "-n", ns, "--timeout=60s")
    assert len(pod_names(cluster, ns)) == 4
    cluster.kubectl("patch", "deploy", "r", "-n", ns, "--type=merge", "-p", '{"spec":{"paused":true}}')
    cluster.kubectl("patch", "deploy", "r", "-n", ns, "--type=json", "-p",
                    '[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"nginx:1.27"}]')
    wait_for(lambda: any(c["reason"] == "DeploymentPaused" for c in
                         cluster.kubectl_json("get", "deploy", "r", "-n", ns)["status"]["conditions"]),
             message="paused condition")
    assert len(cluster.kubectl_json("get", "rs", "-n", ns)["items"]) == 1  # paused: no new set
    cluster.kubectl("patch", "deploy", "r", "-n", ns, "--type=merge", "-p", '{"spec":{"paused":false}}')
    cluster.kubectl("rollout", "status", "deploy/r", "-n", ns, "--timeout=60s")
    images = {p["spec"]["containers"][0]["image"] for p in cluster.kubectl_json("get", "pods", "-n", ns)["items"]}
    assert images == {"nginx:1.27"}


def test_progress_deadline_exceeded(cluster: Cluster) -> None:
    ns = "deadline"
    cluster.kubectl("create", "namespace", ns, version="1.27")
    manifest = DEPLOYMENT.format(name="stuck", replicas=1, strategy="{type: RollingUpdate}").replace(
        "replicas: 1", "replicas: 1\n  progressDeadlineSeconds: 2")
    cluster.kubectl("create", "-n", ns, "-f", "-", input=manifest, version="1.27")
    result = cluster.kubectl("rollout", "status", "deploy/stuck", "-n", ns, "--timeout=30s", check=False)
    assert result.returncode == 1
    assert 'deployment "stuck" exceeded its progress deadline' in result.stderr


@pytest.mark.parametrize("version", ["1.27", "1.33"])
def test_kubectl_rollout_commands(cluster: Cluster, version: str) -> None:
    """The user's path, with the commands themselves: create deployment, rollout status, set image,
    history, undo, pause/resume, restart, scale."""
    ns = f"rollout-{version.replace('.', '')}"
    cluster.kubectl("create", "namespace", ns, version="1.27")
    kubelet = Kubelet(cluster, ns)
    kubelet.thread.start()
    try:
        k = lambda *args: cluster.kubectl(*args, "-n", ns, version=version)  # noqa: E731
        k("create", "deployment", "web", "--image=nginx:1.25", "--replicas=3")
        k("rollout", "status", "deploy/web", "--timeout=60s")
        k("set", "image", "deploy/web", "nginx=nginx:1.26")
        k("rollout", "status", "deploy/web", "--timeout=60s")
        history = k("rollout", "history", "deploy/web").stdout.split()
        assert history[history.index("CHANGE-CAUSE") + 1:] == ["1", "<none>", "2", "<none>"]
        k("rollout", "undo", "deploy/web")
        k("rollout", "status", "deploy/web", "--timeout=60s")
        image = lambda: cluster.kubectl_json("get", "deploy", "web", "-n", ns)["spec"]["template"]["spec"][  # noqa: E731
            "containers"][0]["image"]
        assert image() == "nginx:1.25"
        k("rollout", "pause", "deploy/web")
        k("set", "image", "deploy/web", "nginx=nginx:1.27")
        assert cluster.kubectl_json("get", "deploy", "web", "-n", ns)["spec"]["paused"] is True
        k("rollout", "resume", "deploy/web")
        k("rollout", "status", "deploy/web", "--timeout=60s")
        k("rollout", "restart", "deploy/web")
        k("rollout", "status", "deploy/web", "--timeout=60s")
        template = cluster.kubectl_json("get", "deploy", "web", "-n", ns)["spec"]["template"]
        assert "kubectl.kubernetes.io/restartedAt" in template["metadata"]["annotations"]
        k("scale", "deploy/web", "--replicas=5")
        k("rollout", "status", "deploy/web", "--timeout=60s")
        pods = cluster.kubectl_json("get", "pods", "-n", ns)["items"]
        live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        assert len(live) == 5 and {p["spec"]["containers"][0]["image"] for p in live} == {"nginx:1.27"}
    finally:
        kubelet.stop.set()
        kubelet.thread.join(5)
