"""pods/proxy and services/proxy without a node: the checks made before any pod is dialled, with
upstream's codes and messages, and discovery (tests/e2e/test_proxy.py proxies to real pods)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import CLIENT_VERSIONS, Cluster

NS = "/api/v1/namespaces/default"


def _apply(cluster: Cluster, *docs: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(docs)}))


@pytest.fixture(scope="module", autouse=True)
def objects(cluster: Cluster) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pending", "labels": {"app": "p"}},
           "spec": {"containers": [{"name": "c", "image": "busybox", "ports": [{"containerPort": 8080}]}]}}
    looped = {**pod, "metadata": {"name": "looped"}}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
               "spec": {"selector": {"app": "p"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}
    _apply(cluster, pod, looped, service)
    # an address on the apiserver's own loopback is never proxied to
    status = {"status": {"podIP": "127.0.0.1", "podIPs": [{"ip": "127.0.0.1"}]}}
    cluster.kubectl("patch", "pod", "looped", "--subresource=status", "--type=merge", "-p", json.dumps(status))


@pytest.mark.parametrize("version", CLIENT_VERSIONS)
def test_errors_before_any_pod_is_dialled(cluster: Cluster, version: str) -> None:
    cases = {
        "pods/absent/proxy/": ("NotFound", 'pods "absent" not found'),
        "pods/pending/proxy/": ("BadRequest", "address not allowed"),  # no pod IP yet
        "pods/looped:6443/proxy/": ("BadRequest", "address not allowed"),
        "pods/gopher:pending:70/proxy/": ("BadRequest", 'invalid pod request "gopher:pending:70"'),
        "pods/a:b:c:d/proxy/x": ("BadRequest", 'invalid pod request "a:b:c:d"'),
        "services/web/proxy/": ("ServiceUnavailable", 'no endpoints available for service "web"'),
        "services/web:443/proxy/": ("ServiceUnavailable", 'no service port 443 found for service "web"'),
        "services/https:web:http/proxy/": ("ServiceUnavailable", 'no endpoints available for service "web"'),
        "services/absent:80/proxy/": ("NotFound", 'services "absent" not found'),
        "services/absent/proxy/": ("NotFound", 'endpoints "absent" not found'),
        "services/ftp:web:21/proxy/": ("BadRequest", 'invalid service request "ftp:web:21"'),
    }
    for path, (reason, message) in cases.items():
        result = cluster.kubectl("get", "--raw", f"{NS}/{path}", version=version, check=False)
        assert result.returncode != 0, path
        assert f"({reason})" in result.stderr and message in result.stderr, (path, result.stderr)


def test_status_codes_and_methods(cluster: Cluster, api_client: Any) -> None:
    def call(method: str, path: str) -> tuple[int, dict[str, Any]]:
        response = api_client.rest_client.pool_manager.request(method, api_client.configuration.host + NS + path,
                                                               redirect=False)
        return response.status, json.loads(response.data or b"{}")

    assert call("GET", "/pods/absent/proxy/")[0] == 404
    for method in ("GET", "HEAD", "OPTIONS", "DELETE", "PATCH", "POST", "PUT"):
        code, status = call(method, "/pods/pending/proxy/some/path?watch=true")  # a proxied query, not a watch
        assert code == 400, method
        if method != "HEAD":
            assert (status["reason"], status["message"]) == ("BadRequest", "address not allowed"), method
    assert call("GET", "/services/web/proxy/")[0] == 503
    assert call("GET", "/services/web:443/proxy/")[0] == 503
    code, status = call("TRACE", "/pods/pending/proxy/")
    assert (code, status["reason"]) == (405, "MethodNotAllowed")


def test_discovery_lists_the_proxy_subresources(cluster: Cluster) -> None:
    listed = json.loads(cluster.kubectl("get", "--raw", "/api/v1").stdout)["resources"]
    resources = {r["name"]: r for r in listed}
    for name in ("pods/proxy", "services/proxy", "nodes/proxy"):
        assert sorted(resources[name]["verbs"]) == ["create", "delete", "get", "patch", "update"], name
    assert resources["pods/proxy"]["kind"] == "PodProxyOptions"
    assert resources["services/proxy"]["kind"] == "ServiceProxyOptions"
    assert resources["nodes/proxy"]["kind"] == "NodeProxyOptions"
