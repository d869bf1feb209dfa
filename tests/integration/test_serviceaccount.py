"""Every namespace gets a `default` ServiceAccount and the `kube-root-ca.crt` ConfigMap, and keeps them."""

from __future__ import annotations

import json

from tests.integration.conftest import Cluster, wait_for

DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints "
               "such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across "
               "distributions of Kubernetes clusters.")


def get(cluster: Cluster, *args: str) -> dict | None:
    result = cluster.kubectl("get", *args, "-o", "json", check=False)
    if result.returncode != 0:
        assert "NotFound" in result.stderr, result.stderr
        return None
    return json.loads(result.stdout)


def server_ca(cluster: Cluster) -> str:
    return (cluster.data_dir / "server" / "tls" / "ca.crt").read_text()


def test_new_namespace_gets_default_service_account_and_root_ca(cluster: Cluster) -> None:
    cluster.kubectl("create", "namespace", "fresh", version="1.27")
    account = wait_for(lambda: get(cluster, "serviceaccount", "default", "-n", "fresh"),
                       message="the default ServiceAccount")
    assert account["metadata"]["namespace"] == "fresh"
    configmap = wait_for(lambda: get(cluster, "configmap", "kube-root-ca.crt", "-n", "fresh"),
                         message="the kube-root-ca.crt ConfigMap")
    assert configmap["data"] == {"ca.crt": server_ca(cluster)}
    assert configmap["metadata"]["annotations"]["kubernetes.io/description"] == DESCRIPTION


def test_system_namespaces_have_them_too(cluster: Cluster) -> None:
    for namespace in ("default", "kube-system", "kube-public", "kube-node-lease"):
        wait_for(lambda ns=namespace: get(cluster, "serviceaccount", "default", "-n", ns),
                 message=f"default ServiceAccount in {namespace}")
        configmap = wait_for(lambda ns=namespace: get(cluster, "configmap", "kube-root-ca.crt", "-n", ns),
                             message=f"kube-root-ca.crt in {namespace}")
        assert configmap["data"]["ca.crt"] == server_ca(cluster)


def test_deleted_default_service_account_comes_back(cluster: Cluster) -> None:
    cluster.kubectl("create", "namespace", "sa-again", version="1.27")
    first = wait_for(lambda: get(cluster, "serviceaccount", "default", "-n", "sa-again"))
    cluster.kubectl("delete", "serviceaccount", "default", "-n", "sa-again")
    second = wait_for(lambda: (sa := get(cluster, "serviceaccount", "default", "-n", "sa-again"))
                      and sa["metadata"]["uid"] != first["metadata"]["uid"] and sa,
                      message="a new default ServiceAccount")
    assert second["metadata"]["name"] == "default"


def test_root_ca_configmap_is_restored_after_edit_and_delete(cluster: Cluster) -> None:
    cluster.kubectl("create", "namespace", "ca-again", version="1.27")
    original = wait_for(lambda: get(cluster, "configmap", "kube-root-ca.crt", "-n", "ca-again"))
    cluster.kubectl("patch", "configmap", "kube-root-ca.crt", "-n", "ca-again", "--type=merge",
                    "-p", '{"data":{"ca.crt":"tampered"}}')
    wait_for(lambda: ((get(cluster, "configmap", "kube-root-ca.crt", "-n", "ca-again") or {}).get("data")
                      == {"ca.crt": server_ca(cluster)}), message="ca.crt restored after an edit")
    cluster.kubectl("delete", "configmap", "kube-root-ca.crt", "-n", "ca-again")
    recreated = wait_for(lambda: (cm := get(cluster, "configmap", "kube-root-ca.crt", "-n", "ca-again"))
                         and cm["metadata"]["uid"] != original["metadata"]["uid"] and cm,
                         message="kube-root-ca.crt re-created")
    assert recreated["data"] == {"ca.crt": server_ca(cluster)}
