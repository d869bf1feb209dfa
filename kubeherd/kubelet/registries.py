"""Private registries: k3s's ``registries.yaml``, as containerd host configs and node credentials.

The file has k3s's format, so a k3s user's file works unchanged::

    mirrors:
      docker.io:
        endpoint: ["http://127.0.0.1:5000", "https://mirror.example"]
      "*":                                   # every registry without a mirror entry of its own
        endpoint: ["https://cache.example"]
    configs:
      "mirror.example":
        auth: {username: u, password: p}     # or auth: <base64 u:p>, or identity_token
        tls: {ca_file: /etc/ssl/ca.pem, cert_file: c.pem, key_file: k.pem, insecure_skip_verify: false}

``kubeherd server --private-registry FILE`` names it (k3s's flag); the default is
``/etc/kubeherd/registries.yaml`` as root (k3s: ``/etc/rancher/k3s/registries.yaml``) and
``~/.kubeherd/registries.yaml`` otherwise. A missing file means no configuration.

Design decisions:

* **Mirrors and TLS → ``certs.d/<host>/hosts.toml``** under our containerd's ``config_path``.
  containerd reads those files at every pull, so a server restart applies a changed file even
  to a containerd it adopts. A registry's TLS settings follow it wherever it is contacted: as
  its own server and as a mirror of another registry. Endpoints without a scheme are https;
  ``http://`` endpoints are plain HTTP. The ``"*"`` mirror becomes containerd's ``_default``.
* containerd 1.6 ignores a ``hosts.toml`` without a single ``[host."…"]`` table, so a registry
  that only has TLS settings is written as its own host (with the same settings on ``server``,
  the fallback containerd appends).
* **Credentials stay out of containerd.** containerd 1.6 reads registry auth from config.toml
  only at start, and ours outlives the server. The kubelet keeps ``configs.*.auth`` as its node
  keyring instead (as upstream's kubelet keeps a node-wide ``config.json``) and passes them in
  ``PullImage``, each scoped to its registry by ``server_address``: containerd sends it only
  to that host, a mirror or the registry itself.
* ``certs.d`` is regenerated at every server start, like the rest of containerd's config: a
  host directory the file no longer names loses its ``hosts.toml``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)

DOCKER_HUB = "docker.io"
DOCKER_HUB_SERVER = "registry-1.docker.io"
WILDCARD = "*"
DEFAULT_HOST_DIR = "_default"  # containerd's directory for "every other registry"
MARKER = "# Written by kubeherd from its private registry configuration; edits are overwritten."


class RegistriesConfigError(ValueError):
    """A registries.yaml that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class RegistryAuth:
    username: str = ""
    password: str = ""
    identity_token: str = ""


@dataclass(frozen=True)
class RegistryTLS:
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    insecure_skip_verify: bool = False


@dataclass(frozen=True)
class RegistriesConfig:
    """The parsed file: mirror endpoints by registry host, and per-host auth and TLS."""

    mirrors: dict[str, list[str]] = field(default_factory=dict)
    auths: dict[str, RegistryAuth] = field(default_factory=dict)
    tls: dict[str, RegistryTLS] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> RegistriesConfig:
        """Read ``path``; a missing file is an empty configuration."""
        path = Path(path)
        try:
            text = path.read_text()
        except FileNotFoundError:
            return cls()
        except OSError as exc:
            raise RegistriesConfigError(f"{path}: {exc.strerror or exc}") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise RegistriesConfigError(f"{path}: not valid YAML: {exc}") from None
        return cls.from_mapping(data or {}, source=str(path))

    @classmethod
    def from_mapping(cls, data: Any, source: str = "registries") -> RegistriesConfig:
        if not isinstance(data, Mapping):
            raise RegistriesConfigError(f"{source}: must be a mapping with `mirrors` and `configs`")
        for key in data:
            if key not in ("mirrors", "configs"):
                log.warning("%s: %r is not used (known: mirrors, configs)", source, key)
        mirrors: dict[str, list[str]] = {}
        for host, spec in _mapping(data.get("mirrors"), f"{source}: mirrors").items():
            spec = _mapping(spec, f"{source}: mirrors.{host}")
            if spec.get("rewrite"):
                log.warning("%s: mirrors.%s.rewrite is not supported and is ignored", source, host)
            endpoints = spec.get("endpoint") or []
            if isinstance(endpoints, str) or not isinstance(endpoints, list):
                raise RegistriesConfigError(f"{source}: mirrors.{host}.endpoint must be a list of URLs")
            mirrors[str(host)] = [_endpoint_url(str(e), f"{source}: mirrors.{host}.endpoint") for e in endpoints]
        auths: dict[str, RegistryAuth] = {}
        tls: dict[str, RegistryTLS] = {}
        for host, spec in _mapping(data.get("configs"), f"{source}: configs").items():
            host = _host_key(str(host))
            where = f"{source}: configs.{host}"
            spec = _mapping(spec, where)
            if spec.get("auth"):
                auths[host] = _auth(_mapping(spec["auth"], f"{where}.auth"), f"{where}.auth")
            if spec.get("tls"):
                t = _mapping(spec["tls"], f"{where}.tls")
                tls[host] = RegistryTLS(ca_file=str(t.get("ca_file") or ""), cert_file=str(t.get("cert_file") or ""),
                                        key_file=str(t.get("key_file") or ""),
                                        insecure_skip_verify=bool(t.get("insecure_skip_verify")))
                if bool(tls[host].cert_file) != bool(tls[host].key_file):
                    raise RegistriesConfigError(f"{where}.tls: cert_file and key_file go together")
        return cls(mirrors, auths, tls)

    def endpoints(self, registry: str) -> list[str]:
        """The URLs containerd tries for an image of ``registry``, in order: its mirrors (or
        the ``*`` mirrors), then the registry itself."""
        mirrors = self.mirrors.get(registry)
        if mirrors is None:
            mirrors = self.mirrors.get(WILDCARD, [])
        return [*mirrors, default_server(registry)]

    def credentials_for(self, registry: str) -> list[tuple[str, RegistryAuth]]:
        """The node's credentials for pulling from ``registry`` (the image's host): for each
        endpoint containerd tries that has ``auth`` configured, ``(server_address, auth)``."""
        found = []
        for url in self.endpoints(registry):
            host = url.split("://", 1)[1].split("/", 1)[0]
            auth = self.auths.get(host)
            if auth is None and host == DOCKER_HUB_SERVER:
                auth = self.auths.get(DOCKER_HUB)
            if auth is not None:
                found.append((f"https://{host}", auth))
        return found


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise RegistriesConfigError(f"{where} must be a mapping")
    return value


def _host_key(host: str) -> str:
    """A ``configs`` key as a bare host[:port] (k3s accepts URLs there too)."""
    return host.split("://", 1)[-1].split("/", 1)[0] if "://" in host else host.rstrip("/")


def _endpoint_url(endpoint: str, where: str) -> str:
    endpoint = endpoint.strip().rstrip("/")
    if not endpoint:
        raise RegistriesConfigError(f"{where}: an endpoint is empty")
    if "://" not in endpoint:
        endpoint = "https://" + endpoint
    scheme = endpoint.split("://", 1)[0]
    if scheme not in ("http", "https"):
        raise RegistriesConfigError(f"{where}: {endpoint!r} is neither http:// nor https://")
    return endpoint


def _auth(spec: Mapping[str, Any], where: str) -> RegistryAuth:
    username, password = str(spec.get("username") or ""), str(spec.get("password") or "")
    if spec.get("auth"):
        try:
            username, sep, password = base64.b64decode(str(spec["auth"]), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            sep = ""
        if not sep:
            raise RegistriesConfigError(f"{where}.auth must be base64 of username:password")
    token = str(spec.get("identity_token") or spec.get("token") or "")
    return RegistryAuth(username, password, token)


def default_server(registry: str) -> str:
    """The URL containerd uses for ``registry`` itself (Docker Hub's API lives elsewhere)."""
    if registry == DOCKER_HUB:
        return f"https://{DOCKER_HUB_SERVER}"
    return f"https://{registry}"


def _toml(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def _tls_lines(tls: RegistryTLS | None, indent: str) -> list[str]:
    if tls is None:
        return []
    lines = []
    if tls.insecure_skip_verify:
        lines.append(f"{indent}skip_verify = true")
    if tls.ca_file:
        lines.append(f"{indent}ca = {_toml(tls.ca_file)}")
    if tls.cert_file and tls.key_file:
        lines.append(f"{indent}client = [[{_toml(tls.cert_file)}, {_toml(tls.key_file)}]]")
    return lines


def hosts_toml(registry: str, config: RegistriesConfig) -> str:
    """The ``hosts.toml`` for one registry host (or ``*``)."""
    lines = [MARKER]
    mirrors = list(config.mirrors.get(registry) or [])
    if registry != WILDCARD:
        server = default_server(registry)
        lines.append(f"server = {_toml(server)}")
        lines += _tls_lines(config.tls.get(registry), "")
        if not mirrors:  # containerd 1.6 ignores a file without a [host] table
            mirrors = [server]
    for url in mirrors:
        host = url.split("://", 1)[1].split("/", 1)[0]
        lines += ["", f"[host.{_toml(url)}]", '  capabilities = ["pull", "resolve"]']
        lines += _tls_lines(config.tls.get(host) or (config.tls.get(registry) if url == default_server(registry)
                                                      else None), "  ")
    return "\n".join(lines) + "\n"


def write_hosts_config(certs_d: Path, config: RegistriesConfig) -> list[Path]:
    """Write one ``hosts.toml`` per configured registry under ``certs_d`` (atomically), and
    remove the ones we wrote before for registries the configuration no longer names."""
    registries = sorted(set(config.mirrors) | set(config.tls))
    wanted: dict[str, str] = {}
    for registry in registries:
        wanted[DEFAULT_HOST_DIR if registry == WILDCARD else registry] = hosts_toml(registry, config)
    written = []
    for name, text in wanted.items():
        d = certs_d / name
        d.mkdir(parents=True, exist_ok=True)
        path = d / "hosts.toml"
        if not path.exists() or path.read_text() != text:
            tmp = d / ".hosts.toml.tmp"
            tmp.write_text(text)
            os.replace(tmp, path)
        written.append(path)
    if certs_d.is_dir():
        for d in certs_d.iterdir():
            if d.name not in wanted and (d / "hosts.toml").is_file():
                (d / "hosts.toml").unlink()
                try:
                    d.rmdir()
                except OSError:
                    log.debug("keeping %s: it holds other files", d)
    return written


def default_registries_file() -> Path:
    """Where ``--private-registry`` points when not given (k3s: /etc/rancher/k3s/registries.yaml)."""
    if os.geteuid() == 0:
        return Path("/etc/kubeherd/registries.yaml")
    return Path.home() / ".kubeherd" / "registries.yaml"
