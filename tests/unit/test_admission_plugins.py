"""Priority and RuntimeClass admission, ephemeral-container and sysctl validation, and the
`--kube-apiserver-arg` parser, without a server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kubeherd.api import errors
from kubeherd.api.resources import CATALOG
from kubeherd.api.validation import validate_pod_ephemeral_containers_update
from kubeherd.api.validation.sysctls import is_valid_sysctl_name, sysctl_namespace
from kubeherd.apiserver.admission import PriorityAdmission, RuntimeClassAdmission, merge_tolerations
from kubeherd.apiserver.options import go_duration_seconds, parse_kube_apiserver_args
from kubeherd.apiserver.registry import only_ephemeral_containers

PODS = CATALOG.lookup("", "v1", "pods")
PRIORITY_CLASSES = CATALOG.lookup("scheduling.k8s.io", "v1", "priorityclasses")
assert PODS is not None and PRIORITY_CLASSES is not None


class Objects:
    """Stands in for the watch-cache look-ups: objects by (group, plural, name)."""

    def __init__(self, *objs: tuple[str, str, dict[str, Any]]) -> None:
        self.objs = {(group, plural, obj["metadata"]["name"]): obj for group, plural, obj in objs}
        self.caught_up = 0

    def get(self, group: str, plural: str, name: str) -> dict[str, Any] | None:
        return self.objs.get((group, plural, name))

    def list(self, group: str, plural: str) -> list[dict[str, Any]]:
        return [o for (g, p, _), o in self.objs.items() if (g, p) == (group, plural)]

    async def fresh(self) -> None:
        self.caught_up += 1


def priority_class(name: str, value: int, **fields: Any) -> tuple[str, str, dict[str, Any]]:
    return "scheduling.k8s.io", "priorityclasses", {"metadata": {"name": name}, "value": value, **fields}


def pod(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "web", "namespace": "ns", "resourceVersion": "5"},
            "spec": {"containers": [{"name": "app", "image": "nginx"}], **spec}}


# ------------------------------------------------------------------ Priority
def test_the_lowest_of_several_global_defaults_wins() -> None:
    objects = Objects(priority_class("high", 900, globalDefault=True, preemptionPolicy="Never"),
                      priority_class("low", 10, globalDefault=True, preemptionPolicy="PreemptLowerPriority"),
                      priority_class("other", 5))
    obj = pod()
    PriorityAdmission(objects).admit(PODS, "ns", obj)  # type: ignore[arg-type]
    assert (obj["spec"]["priority"], obj["spec"]["priorityClassName"]) == (10, "low")


def test_waits_for_the_cache_only_when_a_named_class_is_missing() -> None:
    objects = Objects(priority_class("known", 1))
    plugin = PriorityAdmission(objects)  # type: ignore[arg-type]
    asyncio.run(plugin.wait(PODS, "ns", pod(priorityClassName="known")))
    assert objects.caught_up == 0
    asyncio.run(plugin.wait(PODS, "ns", pod(priorityClassName="new")))
    assert objects.caught_up == 1


def test_a_class_may_become_default_when_it_is_the_default_already() -> None:
    objects = Objects(priority_class("only", 1, globalDefault=True))
    plugin = PriorityAdmission(objects)  # type: ignore[arg-type]
    with pytest.raises(errors.APIError) as caught:
        plugin.admit(PRIORITY_CLASSES, "", {"metadata": {"name": "second"}, "value": 2, "globalDefault": True})
    assert caught.value.code == 403
    assert caught.value.details == {"kind": "priorityclasses", "name": "second", "group": "scheduling.k8s.io"}
    plugin.admit(PRIORITY_CLASSES, "", {"metadata": {"name": "plain"}, "value": 2})


# ------------------------------------------------------------------ RuntimeClass
NO_EXECUTE_300 = {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                  "tolerationSeconds": 300}


def test_merge_tolerations_keeps_only_what_nothing_else_covers() -> None:
    everything = {"operator": "Exists"}
    assert merge_tolerations([NO_EXECUTE_300], [everything]) == [everything]
    sandbox = {"key": "sandbox", "operator": "Exists", "effect": "NoSchedule"}
    same = {"key": "sandbox", "operator": "Exists", "effect": "NoSchedule"}
    assert merge_tolerations([sandbox], [same, NO_EXECUTE_300]) == [sandbox, NO_EXECUTE_300]
    # a shorter tolerationSeconds does not cover a longer one
    shorter = {**NO_EXECUTE_300, "tolerationSeconds": 60}
    assert merge_tolerations([shorter], [NO_EXECUTE_300]) == [NO_EXECUTE_300]
    equal_value = {"key": "gpu", "operator": "Equal", "value": "a", "effect": "NoSchedule"}
    other_value = {"key": "gpu", "value": "b", "effect": "NoSchedule"}
    assert merge_tolerations([equal_value], [other_value]) == [equal_value, other_value]


def test_overhead_compares_quantities_by_amount() -> None:
    objects = Objects(("node.k8s.io", "runtimeclasses", {"metadata": {"name": "rc"}, "handler": "runc",
                                                          "overhead": {"podFixed": {"cpu": "250m"}}}))
    obj = pod(runtimeClassName="rc", overhead={"cpu": "0.25"})
    RuntimeClassAdmission(objects).admit(PODS, "ns", obj)  # type: ignore[arg-type]
    assert obj["spec"]["overhead"] == {"cpu": "250m"}


# ------------------------------------------------------------------ ephemeral containers
def with_ephemeral(base: dict[str, Any], *containers: dict[str, Any]) -> dict[str, Any]:
    return {**base, "spec": {**base["spec"], "ephemeralContainers": list(containers)}}


DEBUG = {"name": "dbg", "image": "busybox", "terminationMessagePolicy": "File", "imagePullPolicy": "Always"}


def test_subpath_and_restart_policy_are_not_for_ephemeral_containers() -> None:
    old = pod(volumes=[{"name": "data", "emptyDir": {}}])
    new = with_ephemeral(old, {**DEBUG, "restartPolicy": "Always",
                               "volumeMounts": [{"name": "data", "mountPath": "/d", "subPath": "x"}]})
    causes = [(c.field, c.message) for c in validate_pod_ephemeral_containers_update(new, old)]
    assert causes == [
        ("spec.ephemeralContainers[0].restartPolicy", "Forbidden: cannot be set for an Ephemeral Container"),
        ("spec.ephemeralContainers[0].volumeMounts[0].subPath", "Forbidden: cannot be set for an Ephemeral Container"),
    ]


def test_static_pods_take_no_ephemeral_containers() -> None:
    old = pod(nodeName="n1")
    old["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "abc"}
    causes = validate_pod_ephemeral_containers_update(with_ephemeral(old, DEBUG), old)
    assert [str(c) for c in causes] == [": Forbidden: static pods do not support ephemeral containers"]


def test_the_subresource_keeps_everything_but_ephemeral_containers() -> None:
    old = {**pod(), "metadata": {"name": "web", "labels": {"a": "1"}}, "status": {"phase": "Running"}}
    sent = with_ephemeral({**old, "metadata": {"name": "web", "labels": {}}, "status": {}},
                          {"name": "dbg", "image": "busybox:1.36", "ports": [{"containerPort": 80}]})
    sent["spec"]["containers"] = []
    new = only_ephemeral_containers(sent, old)
    assert (new["metadata"], new["status"], new["spec"]["containers"]) == (
        old["metadata"], old["status"], old["spec"]["containers"])
    (dbg,) = new["spec"]["ephemeralContainers"]
    assert (dbg["imagePullPolicy"], dbg["terminationMessagePath"], dbg["ports"][0]["protocol"]) == (
        "IfNotPresent", "/dev/termination-log", "TCP")
    assert "ephemeralContainers" not in only_ephemeral_containers(old, new)["spec"]


# ------------------------------------------------------------------ sysctls
@pytest.mark.parametrize(("name", "valid"), [
    ("kernel.shmmax", True), ("net.ipv4.ip_forward", True), ("net/ipv4/conf/eth0.100/forwarding", True),
    ("safe-and-unsafe", True), ("a_b.c-d", True), ("foo-", False), ("bar..", False), ("-x", False),
    ("Kernel.shm", False), ("a" * 254, False), ("", False),
])
def test_sysctl_names(name: str, valid: bool) -> None:
    assert is_valid_sysctl_name(name) is valid


@pytest.mark.parametrize(("name", "namespace"), [
    ("net.core.somaxconn", "net"), ("net/ipv4/conf/eth0.100/forwarding", "net"), ("kernel.shmmax", "ipc"),
    ("kernel.sem", "ipc"), ("kernel.msgmax", "ipc"), ("fs.mqueue.msg_max", "ipc"), ("kernel.hostname", ""),
    ("vm.swappiness", ""),
])
def test_sysctl_namespaces(name: str, namespace: str) -> None:
    assert sysctl_namespace(name) == namespace


# ------------------------------------------------------------------ --kube-apiserver-arg
def test_apiserver_args() -> None:
    config = parse_kube_apiserver_args([
        "service-account-issuer=https://issuer.example", "--api-audiences=a, b",
        "service-account-max-token-expiration=1h30m", "service-account-extend-token-expiration=false",
        "service-account-jwks-uri=https://issuer.example/keys"])
    assert (config.issuer, config.audiences, config.max_expiration, config.extend_expiration, config.jwks_uri) == (
        "https://issuer.example", ["a", "b"], 5400, False, "https://issuer.example/keys")
    assert parse_kube_apiserver_args(None).issuer == "https://kubernetes.default.svc.cluster.local"
    assert go_duration_seconds("24h") == 86400 and go_duration_seconds("1.5m") == 90


@pytest.mark.parametrize(("arg", "message"), [
    ("service-account-issuer", "--kube-apiserver-arg 'service-account-issuer': want KEY=VALUE"),
    ("service-account-issuer=:issuer", "--kube-apiserver-arg service-account-issuer: ':issuer' contains a ':' but "
                                       "is not a valid URL"),
    ("service-account-max-token-expiration=30m", "--kube-apiserver-arg service-account-max-token-expiration: must "
                                                 "be between 1 hour and 2^32 seconds"),
    ("service-account-max-token-expiration=1d", '--kube-apiserver-arg service-account-max-token-expiration: time: '
                                                'invalid duration "1d"'),
    ("service-account-extend-token-expiration=yes", '--kube-apiserver-arg service-account-extend-token-expiration: '
                                                    'strconv.ParseBool: parsing "yes": invalid syntax'),
])
def test_bad_apiserver_args(arg: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_kube_apiserver_args([arg])
    assert str(caught.value) == message
