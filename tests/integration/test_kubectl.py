"""The real kubectl, oldest and newest shipped clients, against a real kubeherd server."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from tests.integration.conftest import CLIENT_VERSIONS, Cluster

POD = """
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{app: web}}
spec:
  containers:
  - name: c
    image: busybox:1.36
    ports: [{{containerPort: 80}}]
"""

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers: [{{name: web, image: "nginx:1.25"}}]
"""


@pytest.fixture(params=CLIENT_VERSIONS)
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def ns(cluster: Cluster, version: str, suffix: str) -> str:
    name = f"t{version.replace('.', '')}-{suffix}"
    cluster.kubectl("create", "namespace", name, version="1.27")  # 1.27 sends JSON for typed creates
    return name


def test_version_picks_the_matching_client(cluster: Cluster) -> None:
    out = cluster.kubectl("version", "-o", "json", version="dispatcher").stdout
    server = json.loads(out)["serverVersion"]
    assert (server["major"], server["minor"]) == ("1", "33")


def test_create_get_describe_delete(cluster: Cluster, version: str) -> None:
    n = ns(cluster, version, "crud")
    cluster.kubectl("create", "-n", n, "-f", "-", input=POD.format(name="web-1"), version=version)
    out = cluster.kubectl("get", "pods", "-n", n, version=version).stdout.splitlines()
    assert out[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert out[1].split()[:4] == ["web-1", "0/1", "Pending", "0"]
    wide = cluster.kubectl("get", "pods", "-n", n, "-o", "wide", version=version).stdout.splitlines()
    assert wide[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED", "NODE",
                               "READINESS", "GATES"]
    pod = cluster.kubectl_json("get", "pod", "web-1", "-n", n, version=version)
    assert pod["metadata"]["uid"] and pod["metadata"]["resourceVersion"]
    assert pod["status"]["phase"] == "Pending"
    described = cluster.kubectl("describe", "pod", "web-1", "-n", n, version=version).stdout
    assert "Name:" in described and "web-1" in described and "busybox:1.36" in described
    deleted = cluster.kubectl("delete", "pod", "web-1", "-n", n, version=version).stdout
    assert 'pod "web-1" deleted' in deleted
    missing = cluster.kubectl("get", "pod", "web-1", "-n", n, check=False, version=version)
    assert missing.returncode == 1
    assert 'Error from server (NotFound): pods "web-1" not found' in missing.stderr


def test_label_annotate_and_patches(cluster: Cluster, version: str) -> None:
    n = ns(cluster, version, "patch")
    cluster.kubectl("create", "-n", n, "-f", "-", input=POD.format(name="p"), version=version)
    cluster.kubectl("label", "pod", "p", "-n", n, "tier=front", version=version)
    cluster.kubectl("annotate", "pod", "p", "-n", n, "note=hello", version=version)
    shown = cluster.kubectl("get", "pods", "-n", n, "-l", "tier=front", "--show-labels", version=version).stdout
    assert "tier=front" in shown and "app=web" in shown
    cluster.kubectl("patch", "pod", "p", "-n", n, "--type=merge", "-p",
                    '{"metadata":{"labels":{"tier":null,"x":"1"}}}', version=version)
    cluster.kubectl("patch", "pod", "p", "-n", n, "--type=json", "-p",
                    '[{"op":"replace","path":"/spec/containers/0/image","value":"busybox:1.37"}]', version=version)
    pod = cluster.kubectl_json("get", "pod", "p", "-n", n, version=version)
    assert pod["metadata"]["labels"] == {"app": "web", "x": "1"}
    assert pod["metadata"]["annotations"]["note"] == "hello"
    assert pod["spec"]["containers"][0]["image"] == "busybox:1.37"
    # label without --overwrite on an existing key is refused by kubectl itself; with it, it lands
    cluster.kubectl("label", "pod", "p", "-n", n, "x=2", "--overwrite", version=version)
    assert cluster.kubectl_json("get", "pod", "p", "-n", n)["metadata"]["labels"]["x"] == "2"
    bad = cluster.kubectl("patch", "pod", "p", "-n", n, "--type=json", "-p",
                          '[{"op":"remove","path":"/metadata/nothere"}]', check=False, version=version)
    assert bad.returncode == 1
    assert "The request is invalid: the server rejected our request due to an error in our request" in bad.stderr
    assert "nothere" in bad.stderr


def test_replace_and_conflict(cluster: Cluster, version: str) -> None:
    n = ns(cluster, version, "replace")
    cluster.kubectl("create", "-n", n, "-f", "-", input=POD.format(name="r"), version=version)
    pod = cluster.kubectl_json("get", "pod", "r", "-n", n)
    stale = json.loads(json.dumps(pod))
    pod["metadata"]["labels"]["v"] = "1"
    cluster.kubectl("replace", "-n", n, "-f", "-", input=json.dumps(pod), version=version)
    stale["metadata"]["labels"]["v"] = "2"
    result = cluster.kubectl("replace", "-n", n, "-f", "-", input=json.dumps(stale), check=False, version=version)
    assert result.returncode == 1
    assert "Error from server (Conflict)" in result.stderr
    assert "the object has been modified; please apply your changes to the latest version" in result.stderr
    assert cluster.kubectl_json("get", "pod", "r", "-n", n)["metadata"]["labels"]["v"] == "1"


def test_get_all_and_api_resources(cluster: Cluster, version: str) -> None:
    n = ns(cluster, version, "all")
    cluster.kubectl("create", "-n", n, "-f", "-", input=DEPLOYMENT.format(name="web"), version=version)
    cluster.kubectl("create", "-n", n, "-f", "-", input=POD.format(name="solo"), version=version)
    out = cluster.kubectl("get", "all", "-n", n, version=version).stdout
    assert "pod/solo" in out and "deployment.apps/web" in out
    resources = cluster.kubectl("api-resources", version=version).stdout
    rows = {line.split()[0]: line.split() for line in resources.splitlines()[1:]}
    assert rows["deployments"][1:] == ["deploy", "apps/v1", "true", "Deployment"]
    assert rows["namespaces"][1:] == ["ns", "v1", "false", "Namespace"]
    by_short = cluster.kubectl("get", "deploy", "-n", n, "-o", "name", version=version).stdout.split()
    assert by_short == ["deployment.apps/web"]


def test_get_deployment_columns(cluster: Cluster) -> None:
    n = ns(cluster, "1.33", "cols")
    cluster.kubectl("create", "-n", n, "-f", "-", input=DEPLOYMENT.format(name="web"))
    from tests.integration.conftest import wait_for

    # the deployment controller creates the replica set: 2 up to date, none available (no kubelet)
    lines = wait_for(lambda: (out := cluster.kubectl("get", "deploy", "-n", n, "-o", "wide").stdout.splitlines())
                     and out[1].split()[2] == "2" and out, message="deployment status")
    assert lines[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES",
                                "SELECTOR"]
    assert lines[1].split()[:4] == ["web", "0/2", "2", "0"]
    assert lines[1].split()[5:] == ["web", "nginx:1.25", "app=web"]


def test_watch_shows_changes(cluster: Cluster, version: str) -> None:
    n = ns(cluster, version, "watch")
    cluster.kubectl("create", "-n", n, "-f", "-", input=POD.format(name="w"), version=version)
    from tests.integration.conftest import KUBECTL_DIR
    env = {"HOME": str(cluster.home), "KUBECONFIG": str(cluster.kubeconfig), "PATH": "/usr/bin:/bin"}
    watcher = subprocess.Popen([str(KUBECTL_DIR / f"kubectl.{version}"), "get", "pods", "-n", n, "-w",
                                "--output-watch-events"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env)
    try:
        time.sleep(1.5)
        cluster.kubectl("label", "pod", "w", "-n", n, "seen=yes", version=version)
        cluster.kubectl("delete", "pod", "w", "-n", n, version=version)
        time.sleep(1.5)
    finally:
        watcher.terminate()
        out, _ = watcher.communicate(timeout=10)
    events = [line.split()[0] for line in out.splitlines()[1:] if line.strip()]
    assert events == ["ADDED", "MODIFIED", "DELETED"], out


def test_wait_for_delete(cluster: Cluster, version: str) -> None:
    n = ns(cluster, version, "wait")
    cluster.kubectl("create", "-n", n, "-f", "-", input=POD.format(name="gone"), version=version)
    cluster.kubectl("delete", "pod", "gone", "-n", n, "--wait=false", version=version)
    result = cluster.kubectl("wait", "--for=delete", "pod/gone", "-n", n, "--timeout=20s", check=False,
                             version=version)
    assert result.returncode == 0, result.stderr


def test_chunked_list(cluster: Cluster, version: str) -> None:
    n = ns(cluster, version, "chunk")
    docs = "\n---\n".join(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{i:02d}}}\ndata: {{i: '{i}'}}"
                          for i in range(25))
    cluster.kubectl("create", "-n", n, "-f", "-", input=docs, version=version)
    out = cluster.kubectl("get", "configmaps", "-n", n, "--chunk-size=4", "-o", "name", "-v=6",
                          version=version)
    names = [line for line in out.stdout.split() if line.startswith("configmap/cm-")]
    assert names == [f"configmap/cm-{i:02d}" for i in range(25)]
    assert out.stderr.count("continue=") >= 6  # 25 items in pages of 4: six follow-up requests


def test_bad_inputs(cluster: Cluster, version: str) -> None:
    n = ns(cluster, version, "bad")
    bad_name = POD.format(name="Bad_Name")
    result = cluster.kubectl("create", "-n", n, "-f", "-", input=bad_name, check=False, version=version)
    assert result.returncode == 1
    assert 'The Pod "Bad_Name" is invalid' in result.stderr
    assert "metadata.name: Invalid value: \"Bad_Name\"" in result.stderr
    cluster.kubectl("create", "-n", n, "-f", "-", input=POD.format(name="dup"), version=version)
    again = cluster.kubectl("create", "-n", n, "-f", "-", input=POD.format(name="dup"), check=False,
                            version=version)
    assert 'Error from server (AlreadyExists): error when creating "STDIN": pods "dup" already exists' \
        in again.stderr
    bad_label = cluster.kubectl("label", "pod", "dup", "-n", n, "bad key=x", check=False, version=version)
    assert bad_label.returncode != 0
    missing_ns = cluster.kubectl("create", "-n", "nope-not-here", "-f", "-", input=POD.format(name="x"),
                                 check=False, version=version)
    assert 'namespaces "nope-not-here" not found' in missing_ns.stderr
    assert cluster.kubectl("get", "pods", "-n", n, "-o", "name", version=version).stdout.split() == ["pod/dup"]


def test_create_job_and_describe(cluster: Cluster) -> None:
    n = ns(cluster, "1.27", "job")
    job = """
apiVersion: batch/v1
kind: Job
metadata: {name: once}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox}]
"""
    cluster.kubectl("create", "-n", n, "-f", "-", input=job)
    got = cluster.kubectl_json("get", "job", "once", "-n", n)
    uid = got["metadata"]["uid"]
    assert got["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert got["spec"]["template"]["metadata"]["labels"]["job-name"] == "once"
    lines = cluster.kubectl("get", "jobs", "-n", n).stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert lines[1].split()[:3] == ["once", "Running", "0/1"]
