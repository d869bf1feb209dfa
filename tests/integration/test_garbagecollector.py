"""The garbage collector, driven by the real kubectl: cascading deletes and dangling owners."""

from __future__ import annotations

import json

from tests.integration.conftest import Cluster, run_pods, wait_for

REPLICASET = """
apiVersion: apps/v1
kind: ReplicaSet
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata:
      labels: {{app: {name}}}
      finalizers: {finalizers}
    spec:
      containers: [{{name: c, image: "busybox:1.36"}}]
"""

HOLD = "example.com/hold"


def create(cluster: Cluster, manifest: str, namespace: str = "default") -> dict:
    out = cluster.kubectl("create", "-n", namespace, "-f", "-", "-o", "json", input=manifest, version="1.27")
    return json.loads(out.stdout)


def get(cluster: Cluster, *args: str) -> dict | None:
    result = cluster.kubectl("get", *args, "-o", "json", check=False)
    if result.returncode != 0:
        assert "NotFound" in result.stderr, result.stderr
        return None
    return json.loads(result.stdout)


def pods(cluster: Cluster, app: str, namespace: str = "default") -> list[dict]:
    return cluster.kubectl_json("get", "pods", "-n", namespace, "-l", f"app={app}")["items"]


def replicaset(cluster: Cluster, name: str, replicas: int = 2, finalizers: list[str] | None = None) -> list[dict]:
    """A ReplicaSet whose pods are running; returns the pods."""
    create(cluster, REPLICASET.format(name=name, replicas=replicas, finalizers=json.dumps(finalizers or [])))
    found = wait_for(lambda: len(p := pods(cluster, name)) == replicas and p, message=f"{replicas} pods of {name}")
    run_pods(cluster, "default", label_selector=f"app={name}")
    return found


def configmap(cluster: Cluster, name: str, owners: list[dict] | None = None, namespace: str = "default",
              finalizers: list[str] | None = None) -> dict:
    meta: dict = {"name": name}
    if owners:
        meta["ownerReferences"] = owners
    if finalizers:
        meta["finalizers"] = finalizers
    return create(cluster, json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}), namespace)


def ref(obj: dict, block: bool = False) -> dict:
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"], "blockOwnerDeletion": block}


def release(cluster: Cluster, kind: str, name: str, namespace: str = "default") -> None:
    cluster.kubectl("patch", kind, name, "-n", namespace, "--type=merge", "-p", '{"metadata":{"finalizers":null}}')


def test_background_cascade_deletes_the_pods_after_the_replicaset(cluster: Cluster) -> None:
    replicaset(cluster, "bg", replicas=3)
    cluster.kubectl("delete", "replicaset", "bg", "--cascade=background")
    assert get(cluster, "replicaset", "bg") is None
    wait_for(lambda: not pods(cluster, "bg"), message="the pods of a deleted ReplicaSet to be collected")


def test_foreground_cascade_keeps_the_replicaset_until_its_pods_are_gone(cluster: Cluster) -> None:
    # the pods carry a finalizer of their own so the window in which the owner waits is visible
    held = replicaset(cluster, "fg", replicas=2, finalizers=[HOLD])
    cluster.kubectl("delete", "replicaset", "fg", "--cascade=foreground", "--wait=false")
    waiting = wait_for(lambda: (rs := get(cluster, "replicaset", "fg")) and rs["metadata"].get("deletionTimestamp")
                       and rs, message="the ReplicaSet marked for deletion")
    assert "foregroundDeletion" in waiting["metadata"]["finalizers"]
    wait_for(lambda: all(p["metadata"].get("deletionTimestamp") for p in pods(cluster, "fg")),
             message="the collector to delete the pods")
    rs = get(cluster, "replicaset", "fg")
    assert rs is not None and "foregroundDeletion" in rs["metadata"]["finalizers"], "owner left before its pods"
    for pod in held:
        release(cluster, "pod", pod["metadata"]["name"])
    cluster.kubectl("wait", "--for=delete", "replicaset/fg", "--timeout=30s")
    assert not pods(cluster, "fg")


def test_orphan_cascade_leaves_the_pods_without_an_owner(cluster: Cluster) -> None:
    before = replicaset(cluster, "orph", replicas=2)
    cluster.kubectl("delete", "replicaset", "orph", "--cascade=orphan")
    assert get(cluster, "replicaset", "orph") is None
    left = pods(cluster, "orph")
    assert sorted(p["metadata"]["uid"] for p in left) == sorted(p["metadata"]["uid"] for p in before)
    assert all(not p["metadata"].get("ownerReferences") for p in left)
    cluster.kubectl("delete", "pods", "-l", "app=orph")


def test_configmap_owned_by_a_deleted_object_is_collected(cluster: Cluster) -> None:
    owner = configmap(cluster, "owner")
    configmap(cluster, "owned", owners=[ref(owner)])
    cluster.kubectl("delete", "configmap", "owner")
    wait_for(lambda: get(cluster, "configmap", "owned") is None, message="the dependent to be collected")


def test_dangling_references_are_collected(cluster: Cluster) -> None:
    configmap(cluster, "orphan-uid", owners=[{"apiVersion": "v1", "kind": "ConfigMap", "name": "never",
                                              "uid": "00000000-0000-0000-0000-000000000001"}])
    same_name = configmap(cluster, "reused-name")
    configmap(cluster, "stale-uid", owners=[{**ref(same_name), "uid": "00000000-0000-0000-0000-000000000002"}])
    wait_for(lambda: get(cluster, "configmap", "orphan-uid") is None, message="owner uid that never existed")
    wait_for(lambda: get(cluster, "configmap", "stale-uid") is None, message="owner name taken by another uid")
    assert get(cluster, "configmap", "reused-name") is not None


def test_a_dependent_with_a_live_owner_only_loses_the_dangling_reference(cluster: Cluster) -> None:
    alive = configmap(cluster, "alive")
    doomed = configmap(cluster, "doomed")
    configmap(cluster, "two-owners", owners=[ref(alive), ref(doomed)])
    cluster.kubectl("delete", "configmap", "doomed")
    remaining = wait_for(lambda: (cm := get(cluster, "configmap", "two-owners"))
                         and len(cm["metadata"].get("ownerReferences") or []) == 1 and cm,
                         message="the dangling reference removed")
    assert remaining["metadata"]["ownerReferences"][0]["uid"] == alive["metadata"]["uid"]


def test_cluster_scoped_owner(cluster: Cluster) -> None:
    role = create(cluster, json.dumps({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                                       "metadata": {"name": "gc-owner"}, "rules": []}))
    configmap(cluster, "owned-by-role", owners=[ref(role)])
    configmap(cluster, "owned-by-role", owners=[ref(role)], namespace="kube-public")
    cluster.kubectl("delete", "clusterrole", "gc-owner")
    wait_for(lambda: get(cluster, "configmap", "owned-by-role") is None
             and get(cluster, "configmap", "owned-by-role", "-n", "kube-public") is None,
             message="dependents of a cluster-scoped owner in two namespaces")


def test_owner_in_another_namespace_is_treated_as_absent(cluster: Cluster) -> None:
    owner = configmap(cluster, "elsewhere", namespace="kube-public")
    dependent = configmap(cluster, "cross-ns", owners=[ref(owner)])
    wait_for(lambda: get(cluster, "configmap", "cross-ns") is None, message="the cross-namespace dependent")
    assert get(cluster, "configmap", "elsewhere", "-n", "kube-public") is not None
    events = wait_for(lambda: cluster.kubectl_json(
        "get", "events", "--field-selector", f"involvedObject.uid={dependent['metadata']['uid']}")["items"],
        message="an OwnerRefInvalidNamespace event")
    assert events[0]["reason"] == "OwnerRefInvalidNamespace"
    assert events[0]["type"] == "Warning"
    assert 'does not exist in namespace "default"' in events[0]["message"]


def test_foreground_propagates_through_a_chain(cluster: Cluster) -> None:
    """top ← middle ← leaf: middle, which has a dependent, is itself deleted in the foreground."""
    top = configmap(cluster, "top")
    middle = configmap(cluster, "middle", owners=[ref(top, block=True)])
    configmap(cluster, "leaf", owners=[ref(middle, block=True)], finalizers=[HOLD])
    cluster.kubectl("delete", "configmap", "top", "--cascade=foreground", "--wait=false")
    wait_for(lambda: ((get(cluster, "configmap", "leaf") or {}).get("metadata") or {}).get("deletionTimestamp"),
             message="the leaf to be deleted")
    for name in ("top", "middle"):
        held = get(cluster, "configmap", name)
        assert held is not None and held["metadata"].get("deletionTimestamp"), name
        assert "foregroundDeletion" in held["metadata"]["finalizers"], name
    release(cluster, "configmap", "leaf")
    cluster.kubectl("wait", "--for=delete", "configmap/top", "configmap/middle", "configmap/leaf", "--timeout=30s")
