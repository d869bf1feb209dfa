"""Pull secrets matched to images as upstream's kubelet matches them."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from kubeherd.kubelet.keyring import CredentialError, DockerKeyring, keyring_from_secrets


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def dockerconfigjson(name: str, auths: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"namespace": "ns", "name": name}, "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": b64(json.dumps({"auths": auths}))}}


def users(keyring: DockerKeyring, image: str) -> list[str]:
    return [c.username for c in keyring.lookup(image)]


def test_keys_match_by_host_port_and_path_prefix() -> None:
    keyring = keyring_from_secrets([dockerconfigjson("s", {
        "https://127.0.0.1:5000": {"username": "port", "password": "p"},
        "127.0.0.1:5000/team": {"auth": b64("team:t")},
        "http://registry.example/v2/": {"username": "v2", "password": "p"},
        "*.example.com": {"username": "glob", "password": "p"},
    })])
    assert users(keyring, "127.0.0.1:5000/team/app") == ["team", "port"]  # the more specific key first
    assert users(keyring, "127.0.0.1:5000/other/app") == ["port"]
    assert users(keyring, "127.0.0.1:5001/team/app") == []  # the port must match
    assert users(keyring, "127.0.0.1/team/app") == []
    assert users(keyring, "registry.example/x/y") == ["v2"]
    assert users(keyring, "a.example.com/x") == ["glob"]
    assert users(keyring, "a.b.example.com/x") == []  # a glob label stands for one label
    cred = keyring.lookup("127.0.0.1:5000/team/app")[0]
    assert (cred.username, cred.password, cred.source) == ("team", "t", "ns/s")


@pytest.mark.parametrize("key", ["https://index.docker.io/v1/", "index.docker.io", "docker.io"])
def test_docker_hub_aliases(key: str) -> None:
    keyring = keyring_from_secrets([dockerconfigjson("hub", {key: {"username": "hub", "password": "p"}})])
    assert users(keyring, "docker.io/library/busybox") == ["hub"]
    assert users(keyring, "127.0.0.1:5000/library/busybox") == []


def test_legacy_dockercfg_and_other_secret_types() -> None:
    legacy = {"metadata": {"namespace": "ns", "name": "old"}, "type": "kubernetes.io/dockercfg",
              "data": {".dockercfg": b64(json.dumps({"registry.example:5000": {"auth": b64("old:pw")}}))}}
    opaque = {"metadata": {"namespace": "ns", "name": "opaque"}, "type": "Opaque",
              "data": {".dockerconfigjson": b64(json.dumps({"auths": {"registry.example:5000": {"username": "x"}}}))}}
    keyring = keyring_from_secrets([legacy, opaque])
    assert [(c.username, c.password) for c in keyring.lookup("registry.example:5000/a")] == [("old", "pw")]


@pytest.mark.parametrize("entry", [{"auth": b64("no-colon")}, {"auth": "!!!"}])
def test_an_unreadable_auth_field_is_an_error(entry: dict[str, str]) -> None:
    with pytest.raises(CredentialError):
        keyring_from_secrets([dockerconfigjson("bad", {"r.example": entry})])
