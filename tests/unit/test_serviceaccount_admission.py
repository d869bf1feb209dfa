"""The ServiceAccount admission plugin: defaulting, refusal, and the kube-api-access volume."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from kubeherd.api import errors
from kubeherd.api.resources import CATALOG
from kubeherd.apiserver.admission import TOKEN_MOUNT_PATH, ServiceAccountAdmission

PODS = CATALOG.lookup("", "v1", "pods")
CONFIGMAPS = CATALOG.lookup("", "v1", "configmaps")
assert PODS is not None and CONFIGMAPS is not None


def plugin(accounts: dict[tuple[str, str], dict[str, Any]], wait: float = 0.0) -> ServiceAccountAdmission:
    def lookup(plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        if plural == "namespaces":
            return {"metadata": {"name": name}} if name == "team" else None
        return accounts.get((namespace, name)) if plural == "serviceaccounts" else None

    return ServiceAccountAdmission(lookup, default_wait=wait)


def pod(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "web"},
            "spec": {"containers": [{"name": "app", "image": "nginx"}], **spec}}


DEFAULT = {("team", "default"): {"metadata": {"name": "default", "namespace": "team"}}}


def test_default_account_and_token_volume_mounted_everywhere() -> None:
    obj = pod(initContainers=[{"name": "init", "image": "busybox"}])
    plugin(DEFAULT).admit(PODS, "team", obj)
    spec = obj["spec"]
    assert spec["serviceAccountName"] == "default"
    (volume,) = spec["volumes"]
    assert volume["name"].startswith("kube-api-access-") and len(volume["name"]) == len("kube-api-access-") + 5
    assert volume["projected"] == {
        "defaultMode": 420,
        "sources": [
            {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace",
                                        "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
        ]}
    for container in spec["containers"] + spec["initContainers"]:
        assert container["volumeMounts"] == [{"name": volume["name"], "readOnly": True, "mountPath": TOKEN_MOUNT_PATH}]


def test_missing_account_is_forbidden() -> None:
    with pytest.raises(errors.APIError) as caught:
        plugin(DEFAULT).admit(PODS, "team", pod(serviceAccountName="robot"))
    assert caught.value.code == 403
    assert caught.value.message == ('pods "web" is forbidden: error looking up service account team/robot: '
                                    'serviceaccount "robot" not found')


def test_automount_false_on_pod_or_account_gives_no_volume() -> None:
    obj = pod(automountServiceAccountToken=False)
    plugin(DEFAULT).admit(PODS, "team", obj)
    assert "volumes" not in obj["spec"] and "volumeMounts" not in obj["spec"]["containers"][0]
    quiet = {("team", "default"): {"metadata": {"name": "default"}, "automountServiceAccountToken": False}}
    obj = pod()
    plugin(quiet).admit(PODS, "team", obj)
    assert "volumes" not in obj["spec"]
    obj = pod(automountServiceAccountToken=True)  # the pod's word wins over the account's
    plugin(quiet).admit(PODS, "team", obj)
    assert len(obj["spec"]["volumes"]) == 1


def test_own_mount_at_the_path_is_kept_and_pull_secrets_copied() -> None:
    accounts = {("team", "default"): {"metadata": {"name": "default"}, "imagePullSecrets": [{"name": "regcred"}]}}
    mine = {"name": "mine", "mountPath": TOKEN_MOUNT_PATH}
    obj = pod(containers=[{"name": "a", "image": "x", "volumeMounts": [mine]}],
              volumes=[{"name": "mine", "emptyDir": {}}])
    before = copy.deepcopy(obj["spec"]["volumes"])
    plugin(accounts).admit(PODS, "team", obj)
    assert obj["spec"]["volumes"] == before  # no container needed the token volume
    assert obj["spec"]["containers"][0]["volumeMounts"] == [mine]
    assert obj["spec"]["imagePullSecrets"] == [{"name": "regcred"}]


def test_missing_namespace_is_left_to_the_namespace_check() -> None:
    obj = pod(serviceAccountName="robot")
    plugin(DEFAULT).admit(PODS, "elsewhere", obj)  # no error here: the registry answers 404 for the namespace
    assert "volumes" not in obj["spec"]


def test_other_kinds_and_mirror_pods_are_left_alone() -> None:
    cm = {"metadata": {"name": "x"}, "data": {}}
    plugin({}).admit(CONFIGMAPS, "team", cm)
    mirror = pod()
    mirror["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "abc"}
    plugin({}).admit(PODS, "team", mirror)
    assert "volumes" not in mirror["spec"]


def test_waits_briefly_for_the_default_account() -> None:
    accounts: dict[tuple[str, str], dict[str, Any]] = {}

    async def scenario() -> dict[str, Any]:
        obj = pod()
        admission = plugin(accounts, wait=2.0)
        waiting = asyncio.ensure_future(admission.wait(PODS, "team", obj))
        await asyncio.sleep(0.3)
        accounts[("team", "default")] = {"metadata": {"name": "default"}}
        await waiting
        admission.admit(PODS, "team", obj)
        return obj

    obj = asyncio.run(scenario())
    assert obj["spec"]["volumes"][0]["name"].startswith("kube-api-access-")
