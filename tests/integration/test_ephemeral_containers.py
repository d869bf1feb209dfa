"""`pods/{name}/ephemeralcontainers`: adding debug containers to a running pod's spec.

Driven by `kubectl debug` (strategic merge patch, kubectl 1.27 and 1.33), `kubectl patch
--subresource` and the Python client's read/replace/patch of the subresource. The kubelet side
(starting them) is covered by the e2e tests; here the API: what is stored, what is refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.conftest import CLIENT_VERSIONS, Cluster

NS = "default"


@pytest.fixture(scope="module")
def core(api_client: Any) -> Any:
    from kubernetes import client

    return client.CoreV1Api(api_client)


@pytest.fixture
def pod(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    name = "eph-" + request.node.name.split("[")[0].removeprefix("test_").replace("_", "-")[:40]
    if "[" in request.node.name:
        name += "-" + request.node.name.split("[")[1].rstrip("]").replace(".", "")
    manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}],
                         "initContainers": [{"name": "setup", "image": "busybox:1.36"}]}}
    cluster.kubectl("create", "-f", "-", input=json.dumps(manifest))
    yield name
    cluster.kubectl("delete", "pod", name, "--grace-period=0", "--wait=false", check=False)


def ephemeral(cluster: Cluster, name: str) -> list[dict[str, Any]]:
    return cluster.kubectl_json("get", "pod", name).get("spec", {}).get("ephemeralContainers", [])


def container(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "image": "busybox:1.36", "command": ["sleep", "3600"], **fields}


@pytest.mark.parametrize("version", CLIENT_VERSIONS)
def test_kubectl_debug_adds_a_defaulted_ephemeral_container(cluster: Cluster, pod: str, version: str) -> None:
    out = cluster.kubectl("debug", pod, "--image=busybox", "--target=app", "-c", "dbg", "--", "sleep", "1",
                          version=version)
    assert 'Targeting container "app"' in out.stdout
    (added,) = ephemeral(cluster, pod)
    assert added == {"name": "dbg", "image": "busybox", "command": ["sleep", "1"], "targetContainerName": "app",
                     "resources": {}, "terminationMessagePath": "/dev/termination-log",
                     "terminationMessagePolicy": "File", "imagePullPolicy": "Always"}
    # a second one keeps the first
    cluster.kubectl("debug", pod, "--image=busybox:1.36", "-c", "dbg2", "--", "true", version=version)
    assert [(c["name"], c["imagePullPolicy"]) for c in ephemeral(cluster, pod)] == [
        ("dbg", "Always"), ("dbg2", "IfNotPresent")]


def test_get_returns_the_pod(core: Any, pod: str) -> None:
    got = core.read_namespaced_pod_ephemeralcontainers(pod, NS)
    assert got.kind == "Pod" and got.metadata.name == pod
    assert [c.name for c in got.spec.containers] == ["app"]


def test_put_changes_only_ephemeral_containers(core: Any, cluster: Cluster, pod: str) -> None:
    body = core.api_client.sanitize_for_serialization(core.read_namespaced_pod_ephemeralcontainers(pod, NS))
    body["spec"]["ephemeralContainers"] = [container("shell", stdin=True, tty=True, targetContainerName="app")]
    body["spec"]["containers"][0]["image"] = "nginx:1.26"  # not this path's to change
    body["metadata"]["labels"] = {"app": "changed"}
    written = core.replace_namespaced_pod_ephemeralcontainers(pod, NS, body)
    assert [c.name for c in written.spec.ephemeral_containers] == ["shell"]
    stored = cluster.kubectl_json("get", "pod", pod)
    assert stored["spec"]["containers"][0]["image"] == "nginx:1.25"
    assert stored["metadata"]["labels"] == {"app": "web"}
    (shell,) = stored["spec"]["ephemeralContainers"]
    assert (shell["stdin"], shell["tty"], shell["terminationMessagePolicy"], shell["imagePullPolicy"]) == (
        True, True, "File", "IfNotPresent")


def test_patch_through_the_python_client(core: Any, cluster: Cluster, pod: str) -> None:
    core.patch_namespaced_pod_ephemeralcontainers(
        pod, NS, {"spec": {"ephemeralContainers": [container("one")]}},
        _content_type="application/strategic-merge-patch+json")
    core.patch_namespaced_pod_ephemeralcontainers(
        pod, NS, [{"op": "add", "path": "/spec/ephemeralContainers/-", "value": container("two")}],
        _content_type="application/json-patch+json")
    assert [c["name"] for c in ephemeral(cluster, pod)] == ["one", "two"]


def invalid_message(core: Any, pod: str, patch: Any, content_type: str) -> str:
    from kubernetes import client

    with pytest.raises(client.ApiException) as caught:
        core.patch_namespaced_pod_ephemeralcontainers(pod, NS, patch, _content_type=content_type)
    assert caught.value.status == 422
    status = json.loads(caught.value.body)
    assert status["reason"] == "Invalid"
    return str(status["message"])


def test_existing_ones_may_not_change_or_go(core: Any, cluster: Cluster, pod: str) -> None:
    core.patch_namespaced_pod_ephemeralcontainers(pod, NS, {"spec": {"ephemeralContainers": [container("dbg")]}},
                                                  _content_type="application/strategic-merge-patch+json")
    change = [{"op": "replace", "path": "/spec/ephemeralContainers/0/image", "value": "busybox:1.37"}]
    message = invalid_message(core, pod, change, "application/json-patch+json")
    assert message.startswith(f'Pod "{pod}" is invalid: spec.ephemeralContainers: Forbidden: existing ephemeral '
                              'containers "dbg" may not be changed\n')
    message = invalid_message(core, pod, {"spec": {"ephemeralContainers": None}}, "application/merge-patch+json")
    assert message == (f'Pod "{pod}" is invalid: spec.ephemeralContainers: Forbidden: existing ephemeral '
                       'containers "dbg" may not be removed\n')
    # and through kubectl, as users meet it
    out = cluster.kubectl("patch", "pod", pod, "--subresource=ephemeralcontainers", "--type=json", "-p",
                          '[{"op": "remove", "path": "/spec/ephemeralContainers/0"}]', check=False)
    assert out.returncode == 1
    assert 'existing ephemeral containers "dbg" may not be removed' in out.stderr
    assert [c["image"] for c in ephemeral(cluster, pod)] == ["busybox:1.36"]


def test_what_an_ephemeral_container_may_not_have(core: Any, cluster: Cluster, pod: str) -> None:
    bad = container("app", ports=[{"containerPort": 80}], resources={"limits": {"cpu": "1"}},
                    readinessProbe={"exec": {"command": ["true"]}}, lifecycle={"preStop": {"exec": {"command": ["x"]}}},
                    targetContainerName="nope")
    message = invalid_message(core, pod, {"spec": {"ephemeralContainers": [bad]}},
                              "application/strategic-merge-patch+json")
    path = "spec.ephemeralContainers[0]"
    for line in (f'{path}.name: Duplicate value: "app"', f'{path}.targetContainerName: Not found: "nope"',
                 f"{path}.ports: Forbidden: cannot be set for an Ephemeral Container",
                 f"{path}.resources: Forbidden: cannot be set for an Ephemeral Container",
                 f"{path}.readinessProbe: Forbidden: cannot be set for an Ephemeral Container",
                 f"{path}.lifecycle: Forbidden: cannot be set for an Ephemeral Container"):
        assert line in message
    # names are unique across init containers too; the target may be an init container
    message = invalid_message(core, pod, {"spec": {"ephemeralContainers": [container("setup")]}},
                              "application/strategic-merge-patch+json")
    assert f'{path}.name: Duplicate value: "setup"' in message
    core.patch_namespaced_pod_ephemeralcontainers(
        pod, NS, {"spec": {"ephemeralContainers": [container("ok", targetContainerName="setup")]}},
        _content_type="application/strategic-merge-patch+json")
    assert [c["name"] for c in ephemeral(cluster, pod)] == ["ok"]


def test_the_pod_path_cannot_add_them(cluster: Cluster, pod: str) -> None:
    out = cluster.kubectl("patch", "pod", pod, "-p", json.dumps({"spec": {"ephemeralContainers": [container("x")]}}),
                          check=False)
    assert out.returncode == 1 and "pod updates may not change fields other than" in out.stderr
    assert ephemeral(cluster, pod) == []


def test_discovery_lists_the_subresource(cluster: Cluster) -> None:
    resources = json.loads(cluster.kubectl("get", "--raw", "/api/v1").stdout)["resources"]
    (sub,) = [r for r in resources if r["name"] == "pods/ephemeralcontainers"]
    assert (sub["kind"], sorted(sub["verbs"]), sub["namespaced"]) == ("Pod", ["get", "patch", "update"], True)
