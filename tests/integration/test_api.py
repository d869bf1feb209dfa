"""The API over raw HTTPS and through the official Python client: the details clients rely on."""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Cluster, start_server, stop_server


class Raw:
    """Plain HTTPS requests with the admin client certificate (or none, or a token)."""

    def __init__(self, cluster: Cluster, cert: bool = True, token: str = "") -> None:
        tls = cluster.data_dir / "server" / "tls"
        self.context = ssl.create_default_context(cafile=str(tls / "ca.crt"))
        if cert:
            self.context.load_cert_chain(str(tls / "client-admin.crt"), str(tls / "client-admin.key"))
        self.port = int(cluster.url.rsplit(":", 1)[1])
        self.token = token

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context, timeout=timeout)
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if self.token:
            all_headers["Authorization"] = f"Bearer {self.token}"
        conn.request(method, path, body=data, headers=all_headers)
        response = conn.getresponse()
        payload = response.read()
        conn.close()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, payload

    def json(self, method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        status, _, payload = self.request(method, path, body, **kw)
        return status, json.loads(payload) if payload else None

    def watch_lines(self, path: str, count: int, headers: dict[str, str] | None = None,
                    timeout: float = 20) -> list[dict[str, Any]]:
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context, timeout=timeout)
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        assert response.status == 200
        lines = []
        while len(lines) < count:
            line = response.readline()
            if not line:
                break
            if line.strip():
                lines.append(json.loads(line))
        conn.close()
        return lines


@pytest.fixture(scope="module")
def raw(cluster: Cluster) -> Raw:
    return Raw(cluster)


def configmap(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def test_unauthenticated_is_401_and_public_paths_open(cluster: Cluster) -> None:
    anon = Raw(cluster, cert=False)
    status, body = anon.json("GET", "/api/v1/namespaces")
    assert status == 401 and body["reason"] == "Unauthorized"
    assert anon.request("GET", "/readyz")[0] == 200
    assert anon.json("GET", "/version")[1]["minor"] == "33"
    wrong = Raw(cluster, cert=False, token="not-the-token")
    assert wrong.request("GET", "/api/v1/namespaces")[0] == 401


def test_token_and_non_admin_users(tmp_path: Path) -> None:
    c = start_server(tmp_path, ["--token", "s3cret"])
    try:
        admin = Raw(c, cert=False, token="s3cret")
        assert admin.request("GET", "/api/v1/namespaces")[0] == 200
        # a certificate for a user outside system:masters authenticates but is not authorized
        from kubeherd.apiserver.certs import ClusterPKI
        pki = ClusterPKI(c.data_dir / "server" / "tls")
        pair = pki.client_cert("alice", "alice", ["developers"])
        alice = Raw(c, cert=False)
        alice.context.load_cert_chain(str(pair.cert_path), str(pair.key_path))
        status, body = alice.json("GET", "/api/v1/namespaces/default/pods")
        assert status == 403
        assert body["message"] == ('pods is forbidden: User "alice" cannot list resource "pods" in API group "" '
                                   'in the namespace "default"')
    finally:
        stop_server(c)


def test_discovery_content_types(raw: Raw) -> None:
    v2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    v2beta1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
    for accept, expected in ((f"{v2},{v2beta1},application/json", v2), (f"{v2beta1},application/json", v2beta1)):
        for path in ("/api", "/apis"):
            status, headers, body = raw.request("GET", path, headers={"Accept": accept})
            assert status == 200 and headers["content-type"] == expected
            assert json.loads(body)["kind"] == "APIGroupDiscoveryList"
    status, headers, body = raw.request("GET", "/apis", headers={"Accept": "application/json"})
    assert json.loads(body)["kind"] == "APIGroupList"
    apps = json.loads(raw.request("GET", "/apis/apps/v1")[2])
    deploy = next(r for r in apps["resources"] if r["name"] == "deployments")
    assert deploy["shortNames"] == ["deploy"] and deploy["categories"] == ["all"]
    assert any(r["name"] == "deployments/scale" for r in apps["resources"])
    core = json.loads(raw.request("GET", "/api/v1")[2])
    eviction = next(r for r in core["resources"] if r["name"] == "pods/eviction")
    assert (eviction["group"], eviction["version"], eviction["kind"]) == ("policy", "v1", "Eviction")


def test_object_semantics(raw: Raw) -> None:
    status, created = raw.json("POST", "/api/v1/namespaces/default/configmaps",
                               {**configmap("", a="1"), "metadata": {"generateName": "gen-"}})
    assert status == 201 and created["metadata"]["name"].startswith("gen-") and len(created["metadata"]["name"]) == 9
    status, dep = raw.json("POST", "/apis/apps/v1/namespaces/default/deployments", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "sem"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}},
                 "template": {"metadata": {"labels": {"a": "b"}},
                              "spec": {"containers": [{"name": "c", "image": "x"}]}}},
        "status": {"replicas": 99}})
    assert status == 201 and dep["metadata"]["generation"] == 1 and dep.get("status", {}).get("replicas") != 99
    path = "/apis/apps/v1/namespaces/default/deployments/sem"
    # a metadata-only change leaves generation alone; a spec change bumps it
    _, dep = raw.json("PATCH", path, {"metadata": {"labels": {"x": "y"}}},
                      headers={"Content-Type": "application/merge-patch+json"})
    assert dep["metadata"]["generation"] == 1
    _, dep = raw.json("PATCH", path, {"spec": {"replicas": 3}}, headers={"Content-Type": "application/merge-patch+json"})
    assert dep["metadata"]["generation"] == 2
    # status writes go through /status only, and leave spec alone
    _, dep = raw.json("PATCH", path + "/status", {"status": {"replicas": 3}, "spec": {"replicas": 7}},
                      headers={"Content-Type": "application/merge-patch+json"})
    assert dep["status"]["replicas"] == 3 and dep["spec"]["replicas"] == 3 and dep["metadata"]["generation"] == 2
    # scale subresource answers autoscaling/v1 Scale
    status, scale = raw.json("GET", path + "/scale")
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"]["replicas"] == 3 and scale["status"]["selector"] == "a=b"
    status, scale = raw.json("PATCH", path + "/scale", {"spec": {"replicas": 5}},
                             headers={"Content-Type": "application/merge-patch+json"})
    assert status == 200 and scale["spec"]["replicas"] == 5
    # dryRun stores nothing
    status, _ = raw.json("POST", "/api/v1/namespaces/default/configmaps?dryRun=All", configmap("dry"))
    assert status == 201
    assert raw.json("GET", "/api/v1/namespaces/default/configmaps/dry")[0] == 404


def test_finalizers_hold_deletion(raw: Raw) -> None:
    cm = configmap("held")
    cm["metadata"]["finalizers"] = ["example.com/hold"]
    raw.json("POST", "/api/v1/namespaces/default/configmaps", cm)
    status, body = raw.json("DELETE", "/api/v1/namespaces/default/configmaps/held")
    assert status == 200 and body["metadata"]["deletionTimestamp"]
    assert raw.json("GET", "/api/v1/namespaces/default/configmaps/held")[0] == 200
    raw.json("PATCH", "/api/v1/namespaces/default/configmaps/held", {"metadata": {"finalizers": None}},
             headers={"Content-Type": "application/merge-patch+json"})
    assert raw.json("GET", "/api/v1/namespaces/default/configmaps/held")[0] == 404


def test_pods_delete_gracefully_once_bound(raw: Raw) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bound"},
           "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "x"}]}}
    raw.json("POST", "/api/v1/namespaces/default/pods", pod)
    status, body = raw.json("DELETE", "/api/v1/namespaces/default/pods/bound")
    assert body["metadata"]["deletionGracePeriodSeconds"] == 30
    assert raw.json("GET", "/api/v1/namespaces/default/pods/bound")[0] == 200
    raw.json("DELETE", "/api/v1/namespaces/default/pods/bound", {"gracePeriodSeconds": 0})
    assert raw.json("GET", "/api/v1/namespaces/default/pods/bound")[0] == 404


def test_terminating_namespace_refuses_creates(raw: Raw) -> None:
    raw.json("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "going"}})
    status, body = raw.json("DELETE", "/api/v1/namespaces/going")
    assert status == 200 and body["status"]["phase"] == "Terminating"
    status, body = raw.json("POST", "/api/v1/namespaces/going/configmaps", configmap("late"))
    assert status == 403 and "because it is being terminated" in body["message"]


def test_default_namespaces_exist(raw: Raw) -> None:
    _, body = raw.json("GET", "/api/v1/namespaces")
    names = {item["metadata"]["name"] for item in body["items"]}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names


def test_bad_requests(raw: Raw) -> None:
    status, body = raw.json("POST", "/api/v1/namespaces/default/configmaps", b"{not json")
    assert status == 400 and body["kind"] == "Status" and body["reason"] == "BadRequest"
    big = configmap("big", blob="x" * (3 * 1024 * 1024 + 10))
    status, body = raw.json("POST", "/api/v1/namespaces/default/configmaps", big)
    assert status == 413 and body["reason"] == "RequestEntityTooLarge"
    assert raw.json("GET", "/api/v1/namespaces/default/configmaps/big")[0] == 404
    status, body = raw.json("POST", "/api/v1/namespaces/default/configmaps",
                            {**configmap("x"), "metadata": {"name": "x", "labels": {"bad key": "v"}}})
    assert status == 422 and body["reason"] == "Invalid"
    assert body["details"]["causes"][0]["field"] == "metadata.labels"
    status, body = raw.json("GET", "/api/v1/pods?fieldSelector=spec.bogus%3Dx")
    assert status == 400 and "field label not supported: spec.bogus" in body["message"]
    status, body = raw.json("GET", "/api/v1/nothings")
    assert status == 404


def test_selectors(raw: Raw) -> None:
    for name, tier in (("sel-a", "front"), ("sel-b", "back"), ("sel-c", "")):
        cm = configmap(name)
        if tier:
            cm["metadata"]["labels"] = {"tier": tier}
        raw.json("POST", "/api/v1/namespaces/default/configmaps", cm)

    def names(query: str) -> list[str]:
        status, body = raw.json("GET", f"/api/v1/namespaces/default/configmaps?{query}")
        assert status == 200, body
        return [i["metadata"]["name"] for i in body["items"] if i["metadata"]["name"].startswith("sel-")]

    assert names("labelSelector=tier%3Dfront") == ["sel-a"]
    assert names("labelSelector=tier%21%3Dfront") == ["sel-b", "sel-c"]
    assert names("labelSelector=tier+in+(front,back)") == ["sel-a", "sel-b"]
    assert names("labelSelector=tier+notin+(front)") == ["sel-b", "sel-c"]
    assert names("labelSelector=tier") == ["sel-a", "sel-b"]
    assert names("labelSelector=%21tier") == ["sel-c"]
    assert names("fieldSelector=metadata.name%3Dsel-b") == ["sel-b"]
    assert names("fieldSelector=metadata.name%21%3Dsel-b") == ["sel-a", "sel-c"]


def test_table_output(raw: Raw) -> None:
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    status, headers, body = raw.request("GET", "/api/v1/namespaces?limit=500", headers={"Accept": accept})
    table = json.loads(body)
    assert table["kind"] == "Table" and [c["name"] for c in table["columnDefinitions"]] == ["Name", "Status", "Age"]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    status, headers, body = raw.request("GET", "/api/v1/namespaces?includeObject=Object", headers={"Accept": accept})
    assert json.loads(body)["rows"][0]["object"]["kind"] == "Namespace"


def test_watch_resume_and_expiry(tmp_path: Path) -> None:
    c = start_server(tmp_path, ["--default-watch-cache-size", "20", "--watch-bookmark-interval", "0.5"])
    try:
        raw = Raw(c)
        def labelled(name: str) -> dict[str, Any]:
            cm = configmap(name)
            cm["metadata"]["labels"] = {"test": "watch"}  # controllers add other configmaps of their own
            return cm

        _, first = raw.json("POST", "/api/v1/namespaces/default/configmaps", labelled("w0"))
        start_rv = first["metadata"]["resourceVersion"]
        for i in range(1, 5):
            raw.json("POST", "/api/v1/namespaces/default/configmaps", labelled(f"w{i}"))
        # resuming from a recent resource version replays exactly what came after it
        events = raw.watch_lines(f"/api/v1/namespaces/default/configmaps?labelSelector=test%3Dwatch&watch=true&resourceVersion={start_rv}", 4)
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
            ("ADDED", "w1"), ("ADDED", "w2"), ("ADDED", "w3"), ("ADDED", "w4")]
        # watching from 0 starts with synthetic ADDED events for what exists
        events = raw.watch_lines("/api/v1/namespaces/default/configmaps?labelSelector=test%3Dwatch&watch=true&resourceVersion=0", 5)
        assert sorted(e["object"]["metadata"]["name"] for e in events) == ["w0", "w1", "w2", "w3", "w4"]
        # bookmarks carry only the resource version
        events = raw.watch_lines("/api/v1/namespaces/default/configmaps?labelSelector=test%3Dwatch&watch=true&allowWatchBookmarks=true"
                                 f"&resourceVersion={events[-1]['object']['metadata']['resourceVersion']}", 1)
        assert events[0]["type"] == "BOOKMARK" and set(events[0]["object"]["metadata"]) == {"resourceVersion"}
        for i in range(30):
            raw.json("PATCH", "/api/v1/namespaces/default/configmaps/w1", {"data": {"i": str(i)}},
                     headers={"Content-Type": "application/merge-patch+json"})
        events = raw.watch_lines(f"/api/v1/namespaces/default/configmaps?labelSelector=test%3Dwatch&watch=true&resourceVersion={start_rv}", 1)
        assert events[0]["type"] == "ERROR"
        assert events[0]["object"]["code"] == 410 and events[0]["object"]["reason"] == "Expired"
    finally:
        stop_server(c)


def test_watch_timeout_ends_stream(raw: Raw) -> None:
    started = time.monotonic()
    events = raw.watch_lines("/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1&resourceVersion="
                             + raw.json("GET", "/api/v1/namespaces/default/configmaps")[1]["metadata"]["resourceVersion"],
                             10)
    assert events == [] and time.monotonic() - started < 10


def test_python_client_crud_and_watch(cluster: Cluster, api_client: Any) -> None:
    from kubernetes import client, watch

    core = client.CoreV1Api(api_client)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="pyclient")))
    core.create_namespaced_config_map("pyclient", client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="one", labels={"k": "v"}), data={"a": "1"}))
    listed = core.list_namespaced_config_map("pyclient", label_selector="k=v")
    assert [cm.metadata.name for cm in listed.items] == ["one"]
    seen: list[tuple[str, str]] = []

    def run() -> None:
        w = watch.Watch()
        for event in w.stream(core.list_namespaced_config_map, "pyclient",
                              resource_version=listed.metadata.resource_version, timeout_seconds=5):
            seen.append((event["type"], event["object"].metadata.name))
            if len(seen) == 2:
                w.stop()

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.5)
    core.patch_namespaced_config_map("one", "pyclient", {"data": {"a": "2"}},
                                     _content_type="application/merge-patch+json")
    core.delete_namespaced_config_map("one", "pyclient")
    thread.join(15)
    assert seen == [("MODIFIED", "one"), ("DELETED", "one")]
    apps = client.AppsV1Api(api_client)
    with pytest.raises(client.ApiException) as err:
        apps.read_namespaced_deployment("missing", "pyclient")
    assert err.value.status == 404


def test_python_client_pagination(cluster: Cluster, api_client: Any) -> None:
    from kubernetes import client

    core = client.CoreV1Api(api_client)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="paging")))

    def template(name: str) -> Any:  # pod templates: no controller adds any of its own
        return client.V1PodTemplate(metadata=client.V1ObjectMeta(name=name), template=client.V1PodTemplateSpec(
            spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="x")])))

    for i in range(7):
        core.create_namespaced_pod_template("paging", template(f"c{i}"))
    first = core.list_namespaced_pod_template("paging", limit=3)
    assert [c.metadata.name for c in first.items] == ["c0", "c1", "c2"]
    assert first.metadata.remaining_item_count == 4
    # a write between pages does not show up: pages come from one snapshot
    core.create_namespaced_pod_template("paging", template("c3a"))
    second = core.list_namespaced_pod_template("paging", limit=3, _continue=first.metadata._continue)
    assert [c.metadata.name for c in second.items] == ["c3", "c4", "c5"]
    assert second.metadata.resource_version == first.metadata.resource_version
    third = core.list_namespaced_pod_template("paging", limit=3, _continue=second.metadata._continue)
    assert [c.metadata.name for c in third.items] == ["c6"] and not third.metadata._continue


def _names(items: Iterator[Any]) -> list[str]:
    return [i.metadata.name for i in items]


def test_invalid_objects_name_the_field(raw: Raw) -> None:
    big = configmap("big-annotations")
    big["metadata"]["annotations"] = {"a": "x" * (256 * 1024)}
    status, body = raw.json("POST", "/api/v1/namespaces/default/configmaps", big)
    assert status == 422 and body["details"]["causes"][0]["field"] == "metadata.annotations"
    assert body["details"]["causes"][0]["reason"] == "FieldValueTooLong"  # StatusCause's wire name for the type
    assert "262144 bytes" in body["message"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "q"},
           "spec": {"containers": [{"name": "c", "image": "x", "resources": {"limits": {"cpu": "lots"}}}]}}
    status, body = raw.json("POST", "/api/v1/namespaces/default/pods", pod)
    # as upstream, a malformed quantity fails decoding already: 400, not 422
    assert status == 400 and body["reason"] == "BadRequest"
    assert body["message"].startswith('Pod in version "v1" cannot be handled as a Pod: ')
    assert "quantities must match the regular expression" in body["message"]
    pod["spec"]["containers"][0]["resources"] = {}
    status, created = raw.json("POST", "/api/v1/namespaces/default/pods", pod)
    assert status == 201
    _, created = raw.json("GET", "/api/v1/namespaces/default/pods/q")  # the scheduler may have written since
    created["spec"]["containers"][0]["name"] = "renamed"
    status, body = raw.json("PUT", "/api/v1/namespaces/default/pods/q", created)
    assert status == 422 and body["reason"] == "Invalid"
    assert "pod updates may not change fields other than" in body["message"]
    frozen = {**configmap("frozen", a="1"), "immutable": True}
    _, stored = raw.json("POST", "/api/v1/namespaces/default/configmaps", frozen)
    stored["data"] = {"a": "2"}
    status, body = raw.json("PUT", "/api/v1/namespaces/default/configmaps/frozen", stored)
    assert status == 422 and body["details"]["causes"][0]["field"] == "data"
    assert raw.json("GET", "/api/v1/namespaces/default/configmaps/frozen")[1]["data"] == {"a": "1"}


def test_acknowledged_writes_survive_kill_9_and_sigterm_is_clean(tmp_path: Path) -> None:
    import signal

    c = start_server(tmp_path)
    raw = Raw(c)
    created = [raw.json("POST", "/api/v1/namespaces/default/configmaps", configmap(f"k{i}"))[1] for i in range(50)]
    c.process.send_signal(signal.SIGKILL)
    c.process.wait(10)
    c = start_server(tmp_path)
    try:
        raw = Raw(c)
        _, listed = raw.json("GET", "/api/v1/namespaces/default/configmaps")
        stored = {i["metadata"]["name"]: i["metadata"]["resourceVersion"] for i in listed["items"]}
        assert all(stored[o["metadata"]["name"]] == o["metadata"]["resourceVersion"] for o in created)
        # revisions continue after the restart
        _, later = raw.json("POST", "/api/v1/namespaces/default/configmaps", configmap("after"))
        assert int(later["metadata"]["resourceVersion"]) > int(created[-1]["metadata"]["resourceVersion"])
    finally:
        c.process.send_signal(signal.SIGTERM)
        assert c.process.wait(15) == 0


def test_resource_version_match(raw: Raw) -> None:
    base = "/api/v1/namespaces/default/configmaps"
    _, first = raw.json("POST", base, configmap("rvm-1"))
    rv = first["metadata"]["resourceVersion"]
    raw.json("POST", base, configmap("rvm-2"))

    def names(body: dict[str, Any]) -> list[str]:
        return [i["metadata"]["name"] for i in body["items"] if i["metadata"]["name"].startswith("rvm-")]

    # Exact: the list as it was at that revision, even though the cache has moved on
    status, body = raw.json("GET", f"{base}?resourceVersion={rv}&resourceVersionMatch=Exact")
    assert status == 200 and names(body) == ["rvm-1"] and body["metadata"]["resourceVersion"] == rv
    # NotOlderThan: at least as new as asked, so both
    status, body = raw.json("GET", f"{base}?resourceVersion={rv}&resourceVersionMatch=NotOlderThan")
    assert names(body) == ["rvm-1", "rvm-2"] and int(body["metadata"]["resourceVersion"]) >= int(rv)
    status, body = raw.json("GET", f"{base}?resourceVersionMatch=Exact")
    assert status == 422 and body["details"]["causes"][0]["field"] == "resourceVersionMatch"
    status, body = raw.json("GET", f"{base}?resourceVersion=abc")
    assert status == 400


def test_patches_are_checked_where_they_write(raw: Raw) -> None:
    """A patch's unknown fields and wrong types are found wherever it puts them, and the parts it
    leaves alone (the pod's spec, with what admission added) come through unchanged."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "patched"},
           "spec": {"containers": [{"name": "c", "image": "x"}]}}
    assert raw.json("POST", "/api/v1/namespaces/default/pods", pod)[0] == 201
    path = "/api/v1/namespaces/default/pods/patched"
    merge = {"Content-Type": "application/merge-patch+json"}
    status, body = raw.json("PATCH", path + "/status?fieldValidation=Strict",
                            {"status": {"phase": "Running", "bogus": 1}}, headers=merge)
    assert status == 400 and 'strict decoding error: unknown field "status.bogus"' in body["message"]
    status, body = raw.json("PATCH", path + "/status", {"status": {"startTime": 5}}, headers=merge)
    assert status == 400 and "status.startTime" in body["message"]
    status, headers, payload = raw.request("PATCH", path + "/status",
                                           {"status": {"phase": "Running", "bogus": 1}}, headers=merge)
    assert status == 200 and 'unknown field \\"status.bogus\\"' in headers["warning"]
    patched = json.loads(payload)
    assert patched["status"]["phase"] == "Running" and "bogus" not in patched["status"]
    _, before = raw.json("GET", path)
    assert [v["name"] for v in patched["spec"]["volumes"]] == [v["name"] for v in before["spec"]["volumes"]]
    assert patched["spec"] == before["spec"]
    status, body = raw.json("PATCH", path + "?fieldValidation=Strict",
                            {"metadata": {"labels": {"a": "b"}, "colour": "red"}},
                            headers={"Content-Type": "application/strategic-merge-patch+json"})
    assert status == 400 and 'unknown field "metadata.colour"' in body["message"]
    status, body = raw.json("PATCH", path, {"metadata": {"labels": {"a": "b"}}},
                            headers={"Content-Type": "application/strategic-merge-patch+json"})
    assert status == 200 and body["metadata"]["labels"] == {"a": "b"}
    status, headers, payload = raw.request("PATCH", path, {"extra": True, "metadata": {"labels": {"a": "c"}}},
                                           headers=merge)
    assert status == 200 and 'unknown field \\"extra\\"' in headers["warning"]
    body = json.loads(payload)
    assert "extra" not in body and body["metadata"]["labels"] == {"a": "c"} and body["spec"] == before["spec"]
    raw.json("DELETE", path, {"gracePeriodSeconds": 0})
