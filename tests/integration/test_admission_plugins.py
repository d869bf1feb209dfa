"""Pod admission and validation users meet at create time: sysctl names, RuntimeClass, Priority;
plus `kubectl auth whoami` of kubectl 1.27 and the `--kube-apiserver-arg` service-account flags.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import CLIENT_VERSIONS, Cluster, start_server, stop_server

NS = "default"


@pytest.fixture(scope="module")
def core(api_client: Any) -> Any:
    from kubernetes import client

    return client.CoreV1Api(api_client)


def pod(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}], **spec}}


def create(cluster: Cluster, obj: dict[str, Any], version: str = "1.33", check: bool = True) -> Any:
    return cluster.kubectl("create", "-f", "-", input=json.dumps(obj), version=version, check=check)


def refused(cluster: Cluster, obj: dict[str, Any], version: str = "1.33") -> str:
    out = create(cluster, obj, version, check=False)
    assert out.returncode == 1, out.stdout
    return str(out.stderr)


def api_error(call: Any) -> tuple[int, dict[str, Any]]:
    from kubernetes import client

    with pytest.raises(client.ApiException) as caught:
        call()
    return caught.value.status, json.loads(caught.value.body)


# ------------------------------------------------------------------ sysctls
@pytest.mark.parametrize("version", CLIENT_VERSIONS)
def test_invalid_sysctl_names_are_refused_by_name(cluster: Cluster, version: str) -> None:
    sysctls = [{"name": "foo-", "value": "bar"}, {"name": "kernel.shmmax", "value": "100000000"},
               {"name": "safe-and-unsafe", "value": "100000000"}, {"name": "bar..", "value": "42"}]
    message = refused(cluster, pod(f"sysctl-{version.replace('.', '')}", securityContext={"sysctls": sysctls}),
                      version)
    assert 'spec.securityContext.sysctls[0].name: Invalid value: "foo-": must have at most 253 characters ' \
           r"and match regex ^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$" in message
    assert 'spec.securityContext.sysctls[3].name: Invalid value: "bar.."' in message
    assert "kernel.shmmax" not in message and "safe-and-unsafe" not in message


def test_sysctls_of_shared_host_namespaces_are_refused(core: Any) -> None:
    body = pod("hostsysctl", hostNetwork=True, hostIPC=True, securityContext={"sysctls": [
        {"name": "net.ipv4.ip_forward", "value": "1"}, {"name": "kernel.shmmax", "value": "1"},
        {"name": "kernel.shmmax", "value": "2"}, {"name": "kernel.hostname", "value": "x"}]})
    status, error = api_error(lambda: core.create_namespaced_pod(NS, body))
    assert status == 422
    causes = [(c["field"], c["message"]) for c in error["details"]["causes"]]
    path = "spec.securityContext.sysctls"
    assert causes == [
        (f"{path}[0].name", "Invalid value: \"net.ipv4.ip_forward\": may not be specified when 'hostNetwork' is true"),
        (f"{path}[1].name", "Invalid value: \"kernel.shmmax\": may not be specified when 'hostIPC' is true"),
        (f"{path}[2].name", 'Duplicate value: "kernel.shmmax"'),
        (f"{path}[2].name", "Invalid value: \"kernel.shmmax\": may not be specified when 'hostIPC' is true"),
    ]


# ------------------------------------------------------------------ RuntimeClass
@pytest.fixture(scope="module")
def runtime_class(cluster: Cluster) -> str:
    create(cluster, {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "kata-ish"},
                     "handler": "runc", "overhead": {"podFixed": {"cpu": "250m", "memory": "120Mi"}},
                     "scheduling": {"nodeSelector": {"sandbox": "yes"},
                                    "tolerations": [{"key": "sandbox", "operator": "Exists", "effect": "NoSchedule"}]}})
    return "kata-ish"


@pytest.mark.parametrize("version", CLIENT_VERSIONS)
def test_missing_runtime_class_is_forbidden(cluster: Cluster, version: str) -> None:
    name = f"norc-{version.replace('.', '')}"
    message = refused(cluster, pod(name, runtimeClassName="missing"), version)
    assert f'pods "{name}" is forbidden: pod rejected: RuntimeClass "missing" not found' in message


def test_runtime_class_overhead_and_scheduling_are_copied(core: Any, cluster: Cluster, runtime_class: str) -> None:
    created = core.create_namespaced_pod(NS, pod("withrc", runtimeClassName=runtime_class,
                                                 nodeSelector={"disk": "ssd"}))
    assert created.spec.overhead == {"cpu": "250m", "memory": "120Mi"}
    assert created.spec.node_selector == {"disk": "ssd", "sandbox": "yes"}
    assert [(t.key, t.effect) for t in created.spec.tolerations][-1] == ("sandbox", "NoSchedule")
    # a pod naming the class created a moment ago is admitted (no cache lag)
    create(cluster, {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "fresh"},
                     "handler": "runc"})
    fresh = core.create_namespaced_pod(NS, pod("freshrc", runtimeClassName="fresh"))
    assert fresh.spec.overhead is None


def test_runtime_class_conflicts_are_forbidden(core: Any, runtime_class: str) -> None:
    status, error = api_error(lambda: core.create_namespaced_pod(NS, pod(
        "rcsel", runtimeClassName=runtime_class, nodeSelector={"sandbox": "no"})))
    assert (status, error["message"]) == (403, 'pods "rcsel" is forbidden: conflict: '
                                               "runtimeClass.scheduling.nodeSelector[sandbox] = yes; "
                                               "pod.spec.nodeSelector[sandbox] = no")
    status, error = api_error(lambda: core.create_namespaced_pod(NS, pod(
        "rcover", runtimeClassName=runtime_class, overhead={"cpu": "1"})))
    assert (status, error["message"]) == (403, 'pods "rcover" is forbidden: pod rejected: '
                                               "Pod's Overhead doesn't match RuntimeClass's defined Overhead")
    status, error = api_error(lambda: core.create_namespaced_pod(NS, pod("nooverhead", overhead={"cpu": "1"})))
    assert (status, error["message"]) == (403, 'pods "nooverhead" is forbidden: pod rejected: Pod Overhead set '
                                               "without corresponding RuntimeClass defined Overhead")


# ------------------------------------------------------------------ Priority
@pytest.mark.parametrize("version", CLIENT_VERSIONS)
def test_system_priority_classes_exist_from_the_start(cluster: Cluster, version: str) -> None:
    out = cluster.kubectl("get", "priorityclass", version=version).stdout.splitlines()
    rows = {line.split()[0]: line.split()[1:3] for line in out[1:]}
    assert rows["system-node-critical"] == ["2000001000", "false"]
    assert rows["system-cluster-critical"] == ["2000000000", "false"]


def test_pods_get_priority_from_their_class(core: Any, cluster: Cluster) -> None:
    create(cluster, {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "batch"},
                     "value": 100, "preemptionPolicy": "Never"})
    batch = core.create_namespaced_pod(NS, pod("prio-batch", priorityClassName="batch"))
    assert (batch.spec.priority, batch.spec.preemption_policy) == (100, "Never")
    critical = core.create_namespaced_pod(NS, pod("prio-critical", priorityClassName="system-node-critical"))
    assert (critical.spec.priority, critical.spec.preemption_policy) == (2000001000, "PreemptLowerPriority")
    plain = core.create_namespaced_pod(NS, pod("prio-plain"))
    assert (plain.spec.priority, plain.spec.preemption_policy, plain.spec.priority_class_name) == (
        0, "PreemptLowerPriority", None)
    # restating what the class gives is fine; anything else is not
    core.create_namespaced_pod(NS, pod("prio-same", priorityClassName="batch", priority=100))
    status, error = api_error(lambda: core.create_namespaced_pod(NS, pod("prio-own", priorityClassName="batch",
                                                                         priority=7)))
    assert (status, error["message"]) == (403, 'pods "prio-own" is forbidden: the integer value of priority (7) '
                                               "must not be provided in pod spec; priority admission controller "
                                               "computed 100 from the given PriorityClass name")
    status, error = api_error(lambda: core.create_namespaced_pod(NS, pod(
        "prio-policy", priorityClassName="batch", preemptionPolicy="PreemptLowerPriority")))
    assert (status, error["message"]) == (403, 'pods "prio-policy" is forbidden: the string value of '
                                               "PreemptionPolicy (PreemptLowerPriority) must not be provided in pod "
                                               "spec; priority admission controller computed Never from the given "
                                               "PriorityClass name")


@pytest.mark.parametrize("version", CLIENT_VERSIONS)
def test_unknown_priority_class_is_forbidden(cluster: Cluster, version: str) -> None:
    name = f"prio-unknown-{version.replace('.', '')}"
    message = refused(cluster, pod(name, priorityClassName="nonesuch"), version)
    assert f'pods "{name}" is forbidden: no PriorityClass with name nonesuch was found' in message


def test_global_default_class_applies_and_is_unique(core: Any, cluster: Cluster) -> None:
    create(cluster, {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "everyone"},
                     "value": 42, "globalDefault": True})
    try:
        defaulted = core.create_namespaced_pod(NS, pod("prio-default"))
        assert (defaulted.spec.priority, defaulted.spec.priority_class_name,
                defaulted.spec.preemption_policy) == (42, "everyone", "PreemptLowerPriority")
        message = refused(cluster, {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                                    "metadata": {"name": "another"}, "value": 1, "globalDefault": True})
        assert ('priorityclasses.scheduling.k8s.io "another" is forbidden: PriorityClass everyone is already marked '
                "as default. Only one default can exist") in message
    finally:
        cluster.kubectl("delete", "priorityclass", "everyone")


def test_priority_class_rules(cluster: Cluster) -> None:
    def priority_class(name: str, value: int, **fields: Any) -> dict[str, Any]:
        return {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name},
                "value": value, **fields}

    message = refused(cluster, priority_class("system-mine", 5), version="1.27")
    assert ('The PriorityClass "system-mine" is invalid: metadata.name: Forbidden: priority class '
            "names with 'system-' prefix are reserved for system use only. error: system-mine is not a known system "
            "priority class") in message
    message = refused(cluster, priority_class("too-high", 1_000_000_001))
    assert "value: Forbidden: maximum allowed value of a user defined priority is 1000000000" in message
    create(cluster, priority_class("steady", 10, description="before"))
    changed = cluster.kubectl("patch", "priorityclass", "steady", "--type=merge", "-p", '{"value": 11}', check=False)
    assert changed.returncode == 1 and "value: Forbidden: may not be changed in an update." in changed.stderr
    cluster.kubectl("patch", "priorityclass", "steady", "--type=merge", "-p", '{"description": "after"}')
    stored = cluster.kubectl_json("get", "priorityclass", "steady")
    assert (stored["value"], stored["description"], stored["preemptionPolicy"]) == (10, "after",
                                                                                  "PreemptLowerPriority")


def test_priority_survives_an_update_that_leaves_it_out(core: Any, cluster: Cluster) -> None:
    cluster.kubectl("run", "prio-update", "--image=busybox:1.36", "--overrides",
                    json.dumps({"spec": {"priorityClassName": "system-cluster-critical"}}))
    live = cluster.kubectl_json("get", "pod", "prio-update")
    for key in ("priority", "preemptionPolicy"):
        del live["spec"][key]
    live["metadata"]["labels"] = {"touched": "yes"}
    cluster.kubectl("replace", "-f", "-", input=json.dumps(live))
    stored = cluster.kubectl_json("get", "pod", "prio-update")
    assert (stored["spec"]["priority"], stored["metadata"]["labels"]) == (2000000000, {"touched": "yes"})


# ------------------------------------------------------------------ whoami and issuer flags
@pytest.mark.parametrize("version", CLIENT_VERSIONS)
def test_auth_whoami(cluster: Cluster, version: str) -> None:
    out = cluster.kubectl("auth", "whoami", "-o", "json", version=version)
    review = json.loads(out.stdout)
    assert review["apiVersion"] == ("authentication.k8s.io/v1beta1" if version == "1.27" else
                                    "authentication.k8s.io/v1")
    assert review["status"]["userInfo"]["username"] == "system:admin"


@pytest.fixture(scope="module")
def issuer_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = start_server(tmp_path_factory.mktemp("issuer"), [
        "--disable-scheduler", "--kube-apiserver-arg", "service-account-issuer=https://kubeherd.example/issuer",
        "--kube-apiserver-arg=--api-audiences=vault,https://kubeherd.example/issuer",
        "--kube-apiserver-arg", "service-account-max-token-expiration=2h"])
    yield c
    stop_server(c)


def test_issuer_flags_reach_the_tokens(issuer_cluster: Cluster) -> None:
    token = issuer_cluster.kubectl("create", "token", "default", "--duration=10h").stdout.strip()
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["iss"] == "https://kubeherd.example/issuer"
    assert claims["aud"] == ["vault", "https://kubeherd.example/issuer"]
    assert claims["exp"] - claims["iat"] == 7200  # shortened to the maximum
    discovery = json.loads(issuer_cluster.kubectl("get", "--raw", "/.well-known/openid-configuration").stdout)
    assert discovery["issuer"] == "https://kubeherd.example/issuer"


def test_unknown_apiserver_arg_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError) as caught:
        start_server(tmp_path, ["--kube-apiserver-arg", "enable-admission-plugins=AlwaysPullImages"])
    log = (tmp_path / "server.log").read_text().strip().splitlines()
    assert log == ["kubeherd: --kube-apiserver-arg 'enable-admission-plugins': unknown kube-apiserver flag; known: "
                   "api-audiences, service-account-extend-token-expiration, service-account-issuer, "
                   "service-account-jwks-uri, service-account-max-token-expiration"]
    assert "server did not start" in str(caught.value)
