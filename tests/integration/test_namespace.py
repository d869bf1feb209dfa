"""Deleting a namespace empties it, then it disappears; its conditions say what holds it up."""

from __future__ import annotations

import json

from tests.integration.conftest import Cluster, run_pods, wait_for

CONTENT = """
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: settings}
  data: {mode: test}
- apiVersion: v1
  kind: Secret
  metadata: {name: token}
  stringData: {password: hunter2}
- apiVersion: v1
  kind: Service
  metadata: {name: web}
  spec:
    selector: {app: web}
    ports: [{port: 80}]
- apiVersion: apps/v1
  kind: ReplicaSet
  metadata: {name: web}
  spec:
    replicas: 2
    selector: {matchLabels: {app: web}}
    template:
      metadata: {labels: {app: web}}
      spec:
        containers: [{name: web, image: "nginx:1.25"}]
- apiVersion: rbac.authorization.k8s.io/v1
  kind: Role
  metadata: {name: reader}
  rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]
"""


def names(cluster: Cluster, kind: str, namespace: str) -> list[str]:
    return sorted(i["metadata"]["name"] for i in cluster.kubectl_json("get", kind, "-n", namespace)["items"])


def namespace(cluster: Cluster, name: str) -> dict | None:
    result = cluster.kubectl("get", "namespace", name, "-o", "json", check=False)
    if result.returncode != 0:
        assert "NotFound" in result.stderr, result.stderr
        return None
    return json.loads(result.stdout)


def conditions(ns: dict | None) -> dict[str, dict]:
    return {c["type"]: c for c in ((ns or {}).get("status") or {}).get("conditions") or []}


def test_deleting_a_namespace_empties_it_and_it_disappears(cluster: Cluster) -> None:
    cluster.kubectl("create", "namespace", "doomed", version="1.27")
    cluster.kubectl("create", "-n", "doomed", "-f", "-", input=CONTENT, version="1.27")
    wait_for(lambda: len(names(cluster, "pods", "doomed")) == 2, message="the ReplicaSet's pods")
    run_pods(cluster, "doomed")
    wait_for(lambda: "default" in names(cluster, "serviceaccounts", "doomed"), message="the default ServiceAccount")

    cluster.kubectl("delete", "namespace", "doomed", "--wait=false")
    cluster.kubectl("wait", "--for=delete", "namespace/doomed", "--timeout=30s")
    assert namespace(cluster, "doomed") is None

    # a namespace of the same name starts empty: the old content was deleted, not hidden
    cluster.kubectl("create", "namespace", "doomed", version="1.27")
    for kind in ("configmaps", "secrets", "services", "replicasets", "pods", "roles"):
        assert names(cluster, kind, "doomed") in ([], ["kube-root-ca.crt"]), kind
    cluster.kubectl("delete", "namespace", "doomed")


def test_conditions_explain_what_remains_until_it_is_released(cluster: Cluster) -> None:
    cluster.kubectl("create", "namespace", "held", version="1.27")
    held = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "held", "finalizers": ["example.com/hold"]}}
    cluster.kubectl("create", "-n", "held", "-f", "-", input=json.dumps(held), version="1.27")
    cluster.kubectl("create", "-n", "held", "configmap", "free", "--from-literal=a=b", version="1.27")

    cluster.kubectl("delete", "namespace", "held", "--wait=false")
    ns = wait_for(lambda: (ns := namespace(cluster, "held"))
                  and conditions(ns).get("NamespaceContentRemaining", {}).get("status") == "True" and ns,
                  message="the NamespaceContentRemaining condition")
    assert ns["status"]["phase"] == "Terminating"
    found = conditions(ns)
    assert found["NamespaceContentRemaining"]["reason"] == "SomeResourcesRemain"
    assert found["NamespaceContentRemaining"]["message"] == \
        "Some resources are remaining: configmaps. has 1 resource instances"
    assert found["NamespaceFinalizersRemaining"] == {**found["NamespaceFinalizersRemaining"], "status": "True",
                                                     "reason": "SomeFinalizerRemain",
                                                     "message": "Some finalizers are remaining: example.com/hold "
                                                                "in 1 resource instances"}
    for kind, reason in (("NamespaceDeletionDiscoveryFailure", "ResourcesDiscovered"),
                         ("NamespaceDeletionGroupVersionParsingFailure", "ParsedGroupVersions"),
                         ("NamespaceDeletionContentFailure", "ContentDeleted")):
        assert (found[kind]["status"], found[kind]["reason"]) == ("False", reason), kind
    assert names(cluster, "configmaps", "held") == ["held"], "everything without a finalizer is gone"

    cluster.kubectl("patch", "configmap", "held", "-n", "held", "--type=merge",
                    "-p", '{"metadata":{"finalizers":null}}')
    cluster.kubectl("wait", "--for=delete", "namespace/held", "--timeout=30s")
