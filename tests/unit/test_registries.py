"""registries.yaml (k3s's format) → containerd hosts.toml files and the kubelet's node credentials."""

from __future__ import annotations

import base64
import tomllib
from pathlib import Path

import pytest

from kubeherd.kubelet.registries import RegistriesConfig, RegistriesConfigError, write_hosts_config
from kubeherd.kubelet.runtime import ContainerdLayout, write_registries

EXAMPLE = """
mirrors:
  docker.io:
    endpoint: ["http://127.0.0.1:5000", "mirror.example:443"]
  "*":
    endpoint: ["https://cache.example"]
configs:
  "mirror.example:443":
    tls: {insecure_skip_verify: true}
    auth: {username: m, password: mirror-secret}
  "private.example:5000":
    tls: {ca_file: /etc/ca.pem, cert_file: /etc/c.pem, key_file: /etc/k.pem}
    auth: {auth: PRIV_AUTH}
  "https://registry-1.docker.io":
    auth: {username: hub, password: hub-secret}
""".replace("PRIV_AUTH", base64.b64encode(b"priv:pp").decode())


def load(tmp_path: Path, text: str) -> RegistriesConfig:
    path = tmp_path / "registries.yaml"
    path.write_text(text)
    return RegistriesConfig.load(path)


def hosts(certs_d: Path, name: str) -> dict:
    return tomllib.loads((certs_d / name / "hosts.toml").read_text())


def test_mirrors_and_tls_become_hosts_toml(tmp_path: Path) -> None:
    layout = ContainerdLayout(tmp_path / "data")
    (layout.certs_d / "stale.example").mkdir(parents=True)
    (layout.certs_d / "stale.example" / "hosts.toml").write_text('server = "https://stale.example"\n')
    write_registries(layout, load(tmp_path, EXAMPLE))
    docker = hosts(layout.certs_d, "docker.io")
    assert docker["server"] == "https://registry-1.docker.io"
    assert list(docker["host"]) == ["http://127.0.0.1:5000", "https://mirror.example:443"]  # in the file's order
    assert docker["host"]["http://127.0.0.1:5000"] == {"capabilities": ["pull", "resolve"]}
    assert docker["host"]["https://mirror.example:443"]["skip_verify"] is True
    # a registry with TLS settings only is its own host (containerd 1.6 ignores a file without one)
    private = hosts(layout.certs_d, "private.example:5000")
    assert private["server"] == "https://private.example:5000" and private["ca"] == "/etc/ca.pem"
    assert private["host"]["https://private.example:5000"] == {
        "capabilities": ["pull", "resolve"], "ca": "/etc/ca.pem", "client": [["/etc/c.pem", "/etc/k.pem"]]}
    assert hosts(layout.certs_d, "_default") == {"host": {"https://cache.example": {
        "capabilities": ["pull", "resolve"]}}}
    assert not (layout.certs_d / "stale.example").exists()
    # nothing of the credentials reaches containerd's files
    assert not any("-secret" in p.read_text() for p in layout.certs_d.rglob("hosts.toml"))
    # a second run with fewer registries removes what it wrote before
    write_hosts_config(layout.certs_d, RegistriesConfig.from_mapping({"mirrors": {"quay.io": {"endpoint": [
        "http://127.0.0.1:5001"]}}}))
    assert sorted(p.name for p in layout.certs_d.iterdir()) == ["quay.io"]


def test_node_credentials_follow_the_endpoints_containerd_tries(tmp_path: Path) -> None:
    config = load(tmp_path, EXAMPLE)
    assert config.endpoints("docker.io") == ["http://127.0.0.1:5000", "https://mirror.example:443",
                                             "https://registry-1.docker.io"]
    found = config.credentials_for("docker.io")
    assert [(server, auth.username, auth.password) for server, auth in found] == [
        ("https://mirror.example:443", "m", "mirror-secret"), ("https://registry-1.docker.io", "hub", "hub-secret")]
    assert [(s, a.username, a.password) for s, a in config.credentials_for("private.example:5000")] == [
        ("https://private.example:5000", "priv", "pp")]
    assert config.endpoints("ghcr.io") == ["https://cache.example", "https://ghcr.io"]  # the "*" mirror


def test_a_missing_file_configures_nothing(tmp_path: Path) -> None:
    config = RegistriesConfig.load(tmp_path / "absent.yaml")
    assert config == RegistriesConfig()
    assert config.endpoints("docker.io") == ["https://registry-1.docker.io"]


@pytest.mark.parametrize(("text", "message"), [
    ("mirrors: [a]", "mirrors must be a mapping"),
    ("mirrors: {docker.io: {endpoint: http://x}}", "mirrors.docker.io.endpoint must be a list"),
    ("mirrors: {docker.io: {endpoint: ['ftp://x']}}", "neither http:// nor https://"),
    ("configs: {r.example: {auth: {auth: bm8tY29sb24=}}}", "configs.r.example.auth.auth must be base64"),
    ("configs: {r.example: {tls: {cert_file: /c.pem}}}", "cert_file and key_file go together"),
    ("mirrors: {a: [", "not valid YAML"),
])
def test_errors_name_the_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(RegistriesConfigError) as info:
        load(tmp_path, text)
    assert message in str(info.value) and "registries.yaml" in str(info.value)
