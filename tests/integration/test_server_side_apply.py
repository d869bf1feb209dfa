"""Server-side apply and managedFields, driven by the real kubectl (oldest and newest clients) and
the official Python client: creation, re-apply, conflicts, forcing, migration from client-side
apply, diff, and the managedFields every ordinary write leaves behind."""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.conftest import CLIENT_VERSIONS, Cluster
from tests.integration.test_api import Raw

APPLY = "application/apply-patch+yaml"


@pytest.fixture(scope="module")
def raw(cluster: Cluster) -> Raw:
    return Raw(cluster)


def deployment(name: str, *, image: str = "nginx:1.25", replicas: int = 2, side: bool = True,
               env: tuple[str, ...] = ("A", "B"), labels: dict[str, str] | None = None) -> dict[str, Any]:
    containers: list[dict[str, Any]] = [{
        "name": "web", "image": image,
        "ports": [{"containerPort": 80}],
        "env": [{"name": e, "value": e.lower()} for e in env],
    }]
    if side:
        containers.append({"name": "side", "image": "busybox:1.36", "args": ["sleep", "3600"]})
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default",
                     "labels": labels if labels is not None else {"app": name, "tier": "web"}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": containers}}},
    }


def as_yaml(obj: dict[str, Any]) -> str:
    return yaml.safe_dump(obj)


def get(cluster: Cluster, kind: str, name: str) -> dict[str, Any]:
    return json.loads(cluster.kubectl("get", kind, name, "-o", "json", "--show-managed-fields").stdout)


def entries(obj: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(e.get("manager", ""), e["operation"], e.get("subresource", "")): e
            for e in obj["metadata"].get("managedFields", [])}


def owners(obj: dict[str, Any], *path: str) -> set[str]:
    """The managers whose entry has `path` (FieldsV1 keys, e.g. "f:spec", "f:replicas")."""
    found = set()
    for e in obj["metadata"].get("managedFields", []):
        node = e["fieldsV1"]
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
            if node is None:
                break
        else:
            found.add(e.get("manager", ""))
    return found


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return obj["spec"]["template"]["spec"]["containers"]


# --- apply ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", CLIENT_VERSIONS)
def test_apply_server_side_creates_with_201_and_an_apply_entry(cluster: Cluster, version: str) -> None:
    name = "create" + version.replace(".", "")
    result = cluster.kubectl("apply", "--server-side", "-f", "-", "-v=6", input=as_yaml(deployment(name)),
                             version=version)
    assert f"deployment.apps/{name} serverside-applied" in result.stdout
    assert "fieldManager=kubectl" in result.stderr and "201 Created" in result.stderr
    obj = get(cluster, "deployment", name)
    apply = entries(obj)[("kubectl", "Apply", "")]
    assert apply["apiVersion"] == "apps/v1" and apply["fieldsType"] == "FieldsV1" and apply["time"]
    fields = apply["fieldsV1"]
    assert fields["f:spec"]["f:replicas"] == {}
    web = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"web"}']
    assert web["."] == {} and web["f:image"] == {}
    assert 'k:{"containerPort":80,"protocol":"TCP"}' in web["f:ports"]  # the key's schema default
    # defaults are nobody's: the applier owns exactly what it applied
    assert "f:imagePullPolicy" not in web and "f:strategy" not in fields["f:spec"]
    assert containers(obj)[0]["imagePullPolicy"] == "IfNotPresent"
    # applying the same configuration again changes nothing at all
    rv = obj["metadata"]["resourceVersion"]
    cluster.kubectl("apply", "--server-side", "-f", "-", input=as_yaml(deployment(name)), version=version)
    assert get(cluster, "deployment", name)["metadata"]["resourceVersion"] == rv


@pytest.mark.parametrize("version", CLIENT_VERSIONS)
def test_reapply_removes_what_is_no_longer_applied_and_nothing_else(cluster: Cluster, version: str) -> None:
    name = "reapply" + version.replace(".", "")
    cluster.kubectl("apply", "--server-side", "-f", "-", input=as_yaml(deployment(name)), version=version)
    before = get(cluster, "deployment", name)
    changed = deployment(name, image="nginx:1.26", side=False, env=("A",), labels={"app": name})
    cluster.kubectl("apply", "--server-side", "-f", "-", input=as_yaml(changed), version=version)
    after = get(cluster, "deployment", name)
    # each change landed
    assert [c["name"] for c in containers(after)] == ["web"]
    web = containers(after)[0]
    assert web["image"] == "nginx:1.26"
    assert web["env"] == [{"name": "A", "value": "a"}]
    assert after["metadata"]["labels"] == {"app": name}
    # nothing else moved: the rest of the spec, including defaults nobody applied, is as it was
    expected = copy.deepcopy(before["spec"])
    expected["template"]["spec"]["containers"] = [c for c in containers(before) if c["name"] == "web"]
    expected["template"]["spec"]["containers"][0].update(image="nginx:1.26", env=[{"name": "A", "value": "a"}])
    assert after["spec"] == expected
    fields = entries(after)[("kubectl", "Apply", "")]["fieldsV1"]
    assert list(fields["f:spec"]["f:template"]["f:spec"]["f:containers"]) == ['k:{"name":"web"}']
    assert fields["f:metadata"]["f:labels"] == {"f:app": {}}


@pytest.mark.parametrize("version", CLIENT_VERSIONS)
def test_second_manager_conflicts_then_forces(cluster: Cluster, raw: Raw, version: str) -> None:
    name = "conflict" + version.replace(".", "")
    cluster.kubectl("apply", "--server-side", "-f", "-", input=as_yaml(deployment(name)), version=version)
    other = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
             "spec": {"replicas": 5}}
    result = cluster.kubectl("apply", "--server-side", "--field-manager=other", "-f", "-", input=as_yaml(other),
                             version=version, check=False)
    assert result.returncode != 0
    assert 'Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas' in result.stderr
    assert "--force-conflicts" in result.stderr
    assert get(cluster, "deployment", name)["spec"]["replicas"] == 2
    # on the wire: 409 Conflict with one FieldManagerConflict cause naming the field
    status, body = raw.json("PATCH", f"/apis/apps/v1/namespaces/default/deployments/{name}?fieldManager=other",
                            other, headers={"Content-Type": APPLY})
    assert status == 409 and body["reason"] == "Conflict"
    assert body["message"] == 'Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas'
    assert body["details"]["causes"] == [{"reason": "FieldManagerConflict", "message": 'conflict with "kubectl"',
                                          "field": ".spec.replicas"}]

    cluster.kubectl("apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", "-",
                    input=as_yaml(other), version=version)
    obj = get(cluster, "deployment", name)
    assert obj["spec"]["replicas"] == 5
    assert owners(obj, "f:spec", "f:replicas") == {"other"}
    # the first applier lost only that field, and re-applying without force now conflicts with "other"
    assert owners(obj, "f:spec", "f:selector") == {"kubectl"}
    again = cluster.kubectl("apply", "--server-side", "-f", "-", input=as_yaml(deployment(name)), version=version,
                            check=False)
    assert 'conflict with "other": .spec.replicas' in again.stderr


def test_update_conflict_names_the_manager_and_its_version(cluster: Cluster, raw: Raw) -> None:
    cluster.kubectl("apply", "--server-side", "-f", "-", input=as_yaml(deployment("upd")))
    cluster.kubectl("scale", "deployment", "upd", "--replicas=4")
    cluster.kubectl("label", "deployment", "upd", "tier=db", "--overwrite")
    status, body = raw.json("PATCH", "/apis/apps/v1/namespaces/default/deployments/upd?fieldManager=kubectl",
                            deployment("upd"), headers={"Content-Type": APPLY})
    assert status == 409
    assert body["message"].startswith("Apply failed with 2 conflicts: ")
    causes = {(c["message"], c["field"]) for c in body["details"]["causes"]}
    assert ('conflict with "kubectl-label" using apps/v1', ".metadata.labels.tier") in causes
    assert any(m.startswith('conflict with "kubectl') and 'with subresource "scale" using apps/v1' in m
               and f == ".spec.replicas" for m, f in causes)


@pytest.mark.parametrize("version", CLIENT_VERSIONS)
def test_migration_from_client_side_apply_leaves_no_stale_fields(cluster: Cluster, version: str) -> None:
    name = "migrate" + version.replace(".", "")
    first = {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": name, "namespace": "default", "labels": {"keep": "1", "drop": "2"}},
             "data": {"kept": "1", "dropped": "2"}}
    cluster.kubectl("apply", "-f", "-", input=as_yaml(first), version=version)
    csa = get(cluster, "configmap", name)
    assert set(entries(csa)) == {("kubectl-client-side-apply", "Update", "")}

    second = copy.deepcopy(first)
    del second["metadata"]["labels"]["drop"]
    second["data"] = {"kept": "1", "added": "3"}
    cluster.kubectl("apply", "--server-side", "-f", "-", input=as_yaml(second), version=version)
    obj = get(cluster, "configmap", name)
    assert obj["data"] == {"kept": "1", "added": "3"}
    assert obj["metadata"]["labels"] == {"keep": "1"}
    assert set(entries(obj)) == {("kubectl", "Apply", ""), ("kubectl-last-applied", "Apply", "")}
    # the annotation follows the applied configuration, so client-side apply can come back
    last = json.loads(obj["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert last["data"] == {"kept": "1", "added": "3"}
    assert owners(obj, "f:metadata", "f:annotations", "f:kubectl.kubernetes.io/last-applied-configuration") == {
        "kubectl-last-applied"}


def test_migration_keeps_the_defaults_nobody_applies(cluster: Cluster) -> None:
    manifests = """apiVersion: v1
kind: Service
metadata: {name: migsvc, namespace: default}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}, {name: https, port: 443}]
---
apiVersion: v1
kind: Pod
metadata: {name: migpod, namespace: default}
spec:
  containers: [{name: c, image: busybox:1.36, ports: [{containerPort: 80}]}]
"""
    cluster.kubectl("apply", "-f", "-", input=manifests)
    def pod_spec() -> dict[str, Any]:  # the scheduler may bind it at any moment
        return {k: v for k, v in get(cluster, "pod", "migpod")["spec"].items() if k != "nodeName"}

    pod_before = pod_spec()
    result = cluster.kubectl("apply", "--server-side", "-f", "-", input=manifests.replace(
        ", {name: https, port: 443}", ""))
    assert "Warning" not in result.stderr, result.stderr  # kubectl's re-apply after migrating succeeded
    svc = get(cluster, "service", "migsvc")
    # the dropped port is gone; what client-side apply's create owned only as defaults comes back
    assert svc["spec"]["ports"] == [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]
    assert svc["spec"]["type"] == "ClusterIP" and svc["spec"]["sessionAffinity"] == "None"
    assert pod_spec() == pod_before  # a pod's spec may not change: it does not


def test_show_managed_fields_and_default_hiding(cluster: Cluster) -> None:
    cluster.kubectl("apply", "--server-side", "-f", "-", input=as_yaml(deployment("shown")))
    plain = yaml.safe_load(cluster.kubectl("get", "deployment", "shown", "-o", "yaml").stdout)
    assert "managedFields" not in plain["metadata"]
    shown = yaml.safe_load(cluster.kubectl("get", "deployment", "shown", "-o", "yaml", "--show-managed-fields").stdout)
    managed = shown["metadata"]["managedFields"]
    assert managed[0]["manager"] == "kubectl" and managed[0]["operation"] == "Apply"
    for entry in managed:
        assert set(entry) >= {"manager", "operation", "apiVersion", "fieldsType", "fieldsV1"}
        assert entry["fieldsType"] == "FieldsV1" and entry["apiVersion"] == "apps/v1"
    # apply entries first, then updates oldest first, as upstream sorts them
    operations = [e["operation"] for e in managed]
    assert operations == sorted(operations)


@pytest.mark.parametrize("version", CLIENT_VERSIONS)
def test_diff_server_side_shows_the_change(cluster: Cluster, version: str) -> None:
    name = "diff" + version.replace(".", "")
    cluster.kubectl("apply", "--server-side", "-f", "-", input=as_yaml(deployment(name)), version=version)
    same = cluster.kubectl("diff", "--server-side", "-f", "-", input=as_yaml(deployment(name)), version=version,
                           check=False)
    assert same.returncode == 0, same.stderr
    changed = cluster.kubectl("diff", "--server-side", "-f", "-", input=as_yaml(deployment(name, replicas=3)),
                              version=version, check=False)
    assert changed.returncode == 1, changed.stderr
    assert "-  replicas: 2" in changed.stdout and "+  replicas: 3" in changed.stdout
    assert get(cluster, "deployment", name)["spec"]["replicas"] == 2  # a dry run


def test_dry_run_server_apply_persists_nothing(cluster: Cluster) -> None:
    result = cluster.kubectl("apply", "--server-side", "--dry-run=server", "-f", "-", input=as_yaml(deployment("dry")))
    assert "serverside-applied (server dry run)" in result.stdout
    assert cluster.kubectl("get", "deployment", "dry", check=False).returncode != 0


# --- the official Python client ------------------------------------------------------------------------


def test_python_client_dynamic_and_typed_apply(cluster: Cluster) -> None:
    from kubernetes import client, config, dynamic
    from kubernetes.client.rest import ApiException

    api_client = config.new_client_from_config(str(cluster.kubeconfig))
    try:
        dyn = dynamic.DynamicClient(api_client)
        cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "pyapply", "namespace": "default"},
                "data": {"a": "1"}}
        created = dyn.server_side_apply(cms, body=body, field_manager="py-dyn")
        assert created.data.a == "1"
        core = client.CoreV1Api(api_client)
        typed = core.patch_namespaced_config_map(
            "pyapply", "default", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "pyapply"},
                                   "data": {"b": "2"}},
            field_manager="py-typed", _content_type=APPLY)
        assert typed.data == {"a": "1", "b": "2"}
        managers = {(e.manager, e.operation) for e in typed.metadata.managed_fields}
        assert managers == {("py-dyn", "Apply"), ("py-typed", "Apply")}
        with pytest.raises(ApiException) as err:
            core.patch_namespaced_config_map(
                "pyapply", "default", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "pyapply"},
                                       "data": {"a": "changed"}},
                field_manager="py-typed", _content_type=APPLY)
        assert err.value.status == 409
        forced = dyn.server_side_apply(cms, body={**body, "data": {"a": "changed"}}, field_manager="py-typed",
                                       force_conflicts=True)
        assert forced.data.a == "changed"
    finally:
        api_client.close()


# --- the API's rules ------------------------------------------------------------------------------------


def test_apply_requires_a_field_manager_and_force_only_for_apply(raw: Raw) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "nofm"}}
    status, out = raw.json("PATCH", "/api/v1/namespaces/default/configmaps/nofm", body,
                           headers={"Content-Type": APPLY})
    assert status == 422 and out["reason"] == "Invalid"
    assert out["message"] == ('PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                              "is required for apply patch")
    status, out = raw.json("PATCH", "/api/v1/namespaces/default/configmaps/nofm?force=true&fieldManager=m",
                           {"data": {}}, headers={"Content-Type": "application/merge-patch+json"})
    assert status == 422 and "force: Forbidden: may not be specified for non-apply patch" in out["message"]
    status, out = raw.json("PATCH", "/api/v1/namespaces/default/configmaps/nofm?fieldManager=" + "m" * 129, body,
                           headers={"Content-Type": APPLY})
    assert status == 422 and "fieldManager: Too long: may not be more than 128 bytes" in out["message"]


def test_apply_body_in_yaml_and_bad_configurations(raw: Raw) -> None:
    text = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: yamlcm\ndata:\n  k: v\n"
    status, out = raw.json("PATCH", "/api/v1/namespaces/default/configmaps/yamlcm?fieldManager=m", text,
                           headers={"Content-Type": APPLY})
    assert status == 201 and out["data"] == {"k": "v"} and out["metadata"]["managedFields"][0]["manager"] == "m"
    status, out = raw.json("PATCH", "/api/v1/namespaces/default/configmaps/yamlcm?fieldManager=m", text,
                           headers={"Content-Type": APPLY})
    assert status == 200
    wrong_kind = text.replace(b"ConfigMap", b"Secret")
    status, out = raw.json("PATCH", "/api/v1/namespaces/default/configmaps/yamlcm?fieldManager=m", wrong_kind,
                           headers={"Content-Type": APPLY})
    assert status == 400 and out["message"] == "invalid object type: /v1, Kind=Secret"
    unknown = text + b"spec:\n  x: 1\n"
    status, out = raw.json("PATCH", "/api/v1/namespaces/default/configmaps/yamlcm?fieldManager=m", unknown,
                           headers={"Content-Type": APPLY})
    assert status == 400 and out["message"].endswith(".spec: field not declared in schema")
    duplicate = text + b"data:\n  k: w\n"
    status, out = raw.json("PATCH", "/api/v1/namespaces/default/configmaps/yamlcm?fieldManager=m&fieldValidation=Strict",
                           duplicate, headers={"Content-Type": APPLY})
    assert status == 400 and 'line 7: key "data" already set in map' in out["message"]
    with_managed = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: yamlcm\n  managedFields: []\n"
    status, out = raw.json("PATCH", "/api/v1/namespaces/default/configmaps/yamlcm?fieldManager=m", with_managed,
                           headers={"Content-Type": APPLY})
    assert status == 400 and out["message"] == "metadata.managedFields must be nil"
    renamed = text.replace(b"name: yamlcm", b"name: other")
    status, out = raw.json("PATCH", "/api/v1/namespaces/default/configmaps/yamlcm?fieldManager=m", renamed,
                           headers={"Content-Type": APPLY})
    assert status == 400 and "does not match the name on the URL" in out["message"]


def test_managed_fields_sent_by_clients_are_kept_or_reset(raw: Raw) -> None:
    base = "/api/v1/namespaces/default/configmaps"
    status, created = raw.json("POST", f"{base}?fieldManager=maker", {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "sent"}, "data": {"a": "1"}})
    assert status == 201 and [e["manager"] for e in created["metadata"]["managedFields"]] == ["maker"]
    # a patch that sets managedFields is taken at its word (that is how kubectl migrates ownership)
    mine = [{"manager": "restored", "operation": "Update", "apiVersion": "v1", "time": "2024-01-01T00:00:00Z",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:a": {}}}}]
    status, out = raw.json("PATCH", f"{base}/sent", {"metadata": {"managedFields": mine}},
                           headers={"Content-Type": "application/merge-patch+json"})
    assert status == 200 and out["metadata"]["managedFields"] == mine
    # invalid entries are ignored: the stored ones stay
    bad = [{"manager": "x", "operation": "Sideways", "apiVersion": "v1", "fieldsType": "FieldsV1"}]
    status, out = raw.json("PATCH", f"{base}/sent", {"metadata": {"managedFields": bad}},
                           headers={"Content-Type": "application/merge-patch+json"})
    assert status == 200 and out["metadata"]["managedFields"] == mine
    # [{}] clears them, and updates do not start tracking again
    status, out = raw.json("PATCH", f"{base}/sent", {"metadata": {"managedFields": [{}]}},
                           headers={"Content-Type": "application/merge-patch+json"})
    assert status == 200 and "managedFields" not in out["metadata"]
    status, out = raw.json("PATCH", f"{base}/sent?fieldManager=later", {"data": {"b": "2"}},
                           headers={"Content-Type": "application/merge-patch+json"})
    assert status == 200 and "managedFields" not in out["metadata"]
    # the first apply gives what is there to "before-first-apply"
    status, out = raw.json("PATCH", f"{base}/sent?fieldManager=applier", {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "sent"}, "data": {"c": "3"}},
        headers={"Content-Type": APPLY})
    assert status == 200
    managers = {(e["manager"], e["operation"]) for e in out["metadata"]["managedFields"]}
    assert managers == {("applier", "Apply"), ("before-first-apply", "Update")}
    status, out = raw.json("PATCH", f"{base}/sent?fieldManager=applier", {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "sent"}, "data": {"a": "changed"}},
        headers={"Content-Type": APPLY})
    assert status == 409 and out["message"].endswith('conflict with "before-first-apply" using v1: .data.a')


# --- ordinary writes -------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", CLIENT_VERSIONS)
def test_kubectl_writes_record_their_managers(cluster: Cluster, version: str) -> None:
    name = "writes" + version.replace(".", "")
    cluster.kubectl("create", "deployment", name, "--image=nginx:1.25", version=version)
    created = get(cluster, "deployment", name)
    create_entry = entries(created)[("kubectl-create", "Update", "")]
    spec = create_entry["fieldsV1"]["f:spec"]
    # upstream's marks: a struct Go always has gets no ".", a map that appears does
    assert "." not in spec and "." not in spec["f:template"]["f:spec"]["f:containers"]
    assert create_entry["fieldsV1"]["f:metadata"]["f:labels"]["."] == {}
    assert spec["f:template"]["f:spec"]["f:containers"]['k:{"name":"nginx"}']["f:imagePullPolicy"] == {}

    cluster.kubectl("label", "deployment", name, "team=a", version=version)
    cluster.kubectl("annotate", "deployment", name, "note=x", version=version)
    cluster.kubectl("set", "image", f"deployment/{name}", "nginx=nginx:1.26", version=version)
    cluster.kubectl("scale", "deployment", name, "--replicas=3", version=version)
    cluster.kubectl("patch", "deployment", name, "-p", '{"spec":{"minReadySeconds":5}}', version=version)
    with tempfile.TemporaryDirectory() as tmp:
        editor = Path(tmp) / "editor.sh"
        editor.write_text("#!/bin/sh\nsed -i 's/revisionHistoryLimit: 10/revisionHistoryLimit: 4/' \"$1\"\n")
        editor.chmod(0o755)
        cluster.kubectl("edit", "deployment", name, env={"KUBE_EDITOR": str(editor)}, version=version)
    obj = get(cluster, "deployment", name)
    found = entries(obj)
    for manager in ("kubectl-create", "kubectl-label", "kubectl-annotate", "kubectl-set", "kubectl-patch",
                    "kubectl-edit"):
        entry = found[(manager, "Update", "")]
        assert entry["time"] and entry["apiVersion"] == "apps/v1"
    assert owners(obj, "f:metadata", "f:labels", "f:team") == {"kubectl-label"}
    assert owners(obj, "f:spec", "f:minReadySeconds") == {"kubectl-patch"}
    assert owners(obj, "f:spec", "f:revisionHistoryLimit") == {"kubectl-edit"}
    image = ("f:spec", "f:template", "f:spec", "f:containers", 'k:{"name":"nginx"}', "f:image")
    assert owners(obj, *image) == {"kubectl-set"}
    # kubectl scale names no manager: the user agent's program name is the manager
    scale = [e for e in obj["metadata"]["managedFields"] if e.get("subresource") == "scale"]
    assert len(scale) == 1 and scale[0]["manager"].startswith("kubectl")
    assert scale[0]["fieldsV1"] == {"f:spec": {"f:replicas": {}}} and "time" not in scale[0]
    assert owners(obj, "f:spec", "f:replicas") == {scale[0]["manager"]}
    # the controllers' writes are recorded under their component's name
    assert ("kube-controller-manager", "Update", "status") in found


def test_replace_and_create_from_file_record_their_managers(cluster: Cluster) -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "replaced", "namespace": "default"},
          "data": {"a": "1"}}
    cluster.kubectl("create", "-f", "-", input=as_yaml(cm))
    cm["data"] = {"a": "1", "b": "2"}
    cluster.kubectl("replace", "-f", "-", input=as_yaml(cm))
    obj = get(cluster, "configmap", "replaced")
    assert owners(obj, "f:data", "f:a") == {"kubectl-create"}
    assert owners(obj, "f:data", "f:b") == {"kubectl-replace"}
    ns = get(cluster, "namespace", "default")
    assert ("kube-apiserver", "Update", "") in entries(ns)
