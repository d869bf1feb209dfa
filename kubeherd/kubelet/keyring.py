"""Pull credentials: imagePullSecrets as upstream's kubelet matches them to an image.

A pod's ``kubernetes.io/dockerconfigjson`` secrets (``{"auths": {server: entry}}``) and legacy
``kubernetes.io/dockercfg`` ones (``{server: entry}``) become one keyring. Each server key is
read as a URL without scheme: ``https://`` / ``http://`` prefixes and a ``/v1/`` or ``/v2/``
path are dropped, a remaining path narrows the key to repositories under it. An image's
normalized name (``docker.io/library/busybox``) matches a key when the port is the same, the
host has as many dot-separated labels and each matches (a label may be a glob such as ``*``),
and the key's path is a prefix of the image's. More specific keys come first, and every
match is returned, so the kubelet tries each in turn. Docker Hub images also match a key for
``index.docker.io`` (the name ``docker login`` writes). An entry's ``auth`` (base64
``user:password``) wins over its ``username``/``password``.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

DOCKER_CONFIG_JSON = "kubernetes.io/dockerconfigjson"
DOCKER_CONFIG_JSON_KEY = ".dockerconfigjson"
DOCKERCFG = "kubernetes.io/dockercfg"
DOCKERCFG_KEY = ".dockercfg"
DEFAULT_REGISTRY_HOST = "index.docker.io"


class CredentialError(ValueError):
    """A pull secret whose content cannot be read (bad JSON, bad ``auth`` field)."""


@dataclass(frozen=True)
class Credential:
    username: str = ""
    password: str = ""
    identity_token: str = ""
    registry_token: str = ""
    server_address: str = ""  # set for node credentials: containerd then sends them to that host only
    source: str = ""  # "namespace/secret" for a pull secret, "node" for the node's configuration


def _decode_auth(field: str) -> tuple[str, str]:
    text = field.strip()
    try:
        padded = text + "=" * (-len(text) % 4)
        decoded = base64.b64decode(padded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise CredentialError(f"illegal base64 data in the auth field: {exc}") from None
    username, sep, password = decoded.partition(":")
    if not sep:
        raise CredentialError("unable to parse auth field, must be formatted as base64(username:password)")
    return username, password


def _entry(value: Any) -> Credential:
    if not isinstance(value, Mapping):
        raise CredentialError("a registry entry must be a JSON object")
    username, password = str(value.get("username") or ""), str(value.get("password") or "")
    if value.get("auth"):
        username, password = _decode_auth(str(value["auth"]))
    return Credential(username=username, password=password,
                      identity_token=str(value.get("identitytoken") or value.get("identityToken") or ""),
                      registry_token=str(value.get("registrytoken") or value.get("registryToken") or ""))


def _key(location: str) -> str:
    value = location if location.startswith(("https://", "http://")) else "https://" + location
    rest = value.split("://", 1)[1]
    host, slash, path = rest.partition("/")
    path = slash + path
    for prefix in ("/v2/", "/v1/"):
        if path.startswith(prefix):
            path = path[3:]
    path = path.split("?", 1)[0].split("#", 1)[0]
    return host + path if path and path != "/" else host


def _split(url: str) -> tuple[list[str], str, str]:
    """(host labels, port, path) of a schemeless URL."""
    hostport, slash, path = url.partition("/")
    host, port = hostport, ""
    if hostport.startswith("["):
        end = hostport.find("]")
        host, port = hostport[1:end], hostport[end + 2:] if hostport[end + 1:end + 2] == ":" else ""
    elif hostport.count(":") == 1:
        host, port = hostport.split(":")
    return host.split("."), port, slash + path


def urls_match(glob: str, target: str) -> bool:
    glob_labels, glob_port, glob_path = _split(glob)
    labels, port, path = _split(target)
    if glob_port != port or len(glob_labels) != len(labels) or not path.startswith(glob_path):
        return False
    return all(fnmatch.fnmatchcase(label, pattern) for pattern, label in zip(glob_labels, labels, strict=True))


def _is_default_registry(image: str) -> bool:
    first, slash, _ = image.partition("/")
    if not first:
        return False
    if not slash or first in ("docker.io", DEFAULT_REGISTRY_HOST):
        return True
    return not any(c in first for c in ".:")


class DockerKeyring:
    """Credentials by registry key, looked up by an image's normalized name."""

    def __init__(self) -> None:
        self.creds: dict[str, list[Credential]] = {}

    def add(self, config: Mapping[str, Any], source: str = "") -> None:
        for location, value in config.items():
            entry = _entry(value)
            key = _key(str(location))
            self.creds.setdefault(key, []).append(Credential(**{**entry.__dict__, "source": source}))

    def lookup(self, image: str) -> list[Credential]:
        """Every credential whose key matches ``image`` (a normalized name), most specific key first."""
        found: list[Credential] = []
        for key in sorted(self.creds, reverse=True):
            if urls_match(key, image):
                found += self.creds[key]
        if not found and _is_default_registry(image):
            found = list(self.creds.get(DEFAULT_REGISTRY_HOST, []))
        return found

    def __bool__(self) -> bool:
        return bool(self.creds)


def keyring_from_secrets(secrets: Iterable[Mapping[str, Any]]) -> DockerKeyring:
    """A keyring of the docker-config secrets among ``secrets`` (other types are ignored).

    Raises :class:`CredentialError` for a secret whose content is not what its type says."""
    keyring = DockerKeyring()
    for secret in secrets:
        meta = secret.get("metadata") or {}
        source = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
        data = secret.get("data") or {}
        kind = secret.get("type")
        if kind == DOCKER_CONFIG_JSON and data.get(DOCKER_CONFIG_JSON_KEY):
            doc = _json(data[DOCKER_CONFIG_JSON_KEY], source)
            auths = doc.get("auths") if isinstance(doc, Mapping) else None
            keyring.add(auths if isinstance(auths, Mapping) else {}, source)
        elif kind == DOCKERCFG and data.get(DOCKERCFG_KEY):
            doc = _json(data[DOCKERCFG_KEY], source)
            keyring.add(doc if isinstance(doc, Mapping) else {}, source)
    return keyring


def _json(b64: str, source: str) -> Any:
    try:
        return json.loads(base64.b64decode(b64))
    except (binascii.Error, ValueError) as exc:
        raise CredentialError(f"secret {source}: {exc}") from None
