"""Pulling images from registries: real `docker-registry` servers on loopback, a server with its agent.

Two registries (Debian's ``docker-registry``, each started here on a free loopback port with
its own storage, stopped at the end): an open one over plain HTTP, and one over TLS (a CA made
here) that wants a password (htpasswd, bcrypt by ``htpasswd`` of apache2-utils). The server's
private registry file makes the open registry the mirror of ``docker.io`` and of
``registry.example:5000`` (no DNS is needed: containerd only asks the mirror, which has every
image asked for) and gives containerd the TLS registry's CA. Images are pushed from the
server's own containerd with ``ctr`` (its busybox, under new names), so nothing leaves the
machine.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubeherd.cli.killall import killall_sync
from tests.integration.conftest import KUBECTL_DIR, Cluster, start_server, stop_server

from .conftest import run, wait_for

BUSYBOX = "localhost/kubeherd/busybox:1.36"
USER, PASSWORD = "alice", "pull-s3cret"


@dataclass
class Registry:
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    tls_ca: Path | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def manifest_digest(self, repository: str, tag: str) -> str:
        """The digest the registry serves for ``repository:tag`` (asked over HTTP, as a client would)."""
        scheme = "https" if self.tls_ca else "http"
        request = urllib.request.Request(f"{scheme}://{self.host}/v2/{repository}/manifests/{tag}", method="HEAD",
                                         headers={"Accept": "application/vnd.oci.image.manifest.v1+json, "
                                                            "application/vnd.docker.distribution.manifest.v2+json"})
        if self.tls_ca:
            request.add_header("Authorization", "Basic " + _b64(f"{USER}:{PASSWORD}"))
        context = ssl.create_default_context(cafile=str(self.tls_ca)) if self.tls_ca else None
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            return str(response.headers["Docker-Content-Digest"])


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_tls(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a serving certificate for 127.0.0.1 signed by it: (ca, cert, key) PEM files."""
    now = datetime.datetime.now(datetime.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def builder(subject: str, issuer: str, key: ec.EllipticCurvePrivateKey) -> x509.CertificateBuilder:
        return (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer))
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1)))

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = builder("kubeherd-test-registry-ca", "kubeherd-test-registry-ca", ca_key).add_extension(
        x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(ca_key, hashes.SHA256())
    cert = (builder("registry", "kubeherd-test-registry-ca", key)
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = directory / "ca.pem", directory / "registry.pem", directory / "registry-key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


def start_registry(directory: Path, *, tls: tuple[Path, Path, Path] | None = None) -> Registry:
    assert shutil.which("docker-registry"), "docker-registry is missing: run scripts/install as root"
    directory.mkdir(parents=True)
    port = free_port()
    config: dict[str, Any] = {"version": 0.1, "log": {"level": "warn"},
                              "storage": {"filesystem": {"rootdirectory": str(directory / "storage")}},
                              "http": {"addr": f"127.0.0.1:{port}", "secret": "kubeherd-test"}}
    if tls is not None:
        htpasswd = run("htpasswd", "-Bbn", USER, PASSWORD).stdout.strip()
        (directory / "htpasswd").write_text(htpasswd + "\n")
        config["http"]["tls"] = {"certificate": str(tls[1]), "key": str(tls[2])}
        config["auth"] = {"htpasswd": {"realm": "kubeherd-test", "path": str(directory / "htpasswd")}}
    (directory / "config.yml").write_text(json.dumps(config))  # YAML is a superset of JSON
    log = directory / "registry.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(["docker-registry", "serve", str(directory / "config.yml")],
                                   stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    registry = Registry(port, process, log, tls[0] if tls else None)

    def answers() -> bool:
        assert process.poll() is None, log.read_text()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False

    wait_for(answers, timeout=20, message=f"docker-registry on {registry.host}")
    return registry


@dataclass
class Env:
    cluster: Cluster
    open: Registry
    private: Registry

    def ctr(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run("ctr", "-a", str(self.cluster.data_dir / "containerd" / "containerd.sock"), "-n", "k8s.io", *args)

    def push(self, registry: Registry, repository: str) -> str:
        """Push the node's busybox as ``<registry>/<repository>``; returns the registry's digest for it."""
        target = f"{registry.host}/{repository}"
        if registry.tls_ca:
            self.ctr("images", "push", "--hosts-dir", str(self.cluster.data_dir / "containerd" / "certs.d"),
                     "--user", f"{USER}:{PASSWORD}", target, BUSYBOX)
        else:
            self.ctr("images", "push", "--plain-http", target, BUSYBOX)
        name, _, tag = repository.rpartition(":")
        return registry.manifest_digest(name, tag)


@pytest.fixture(scope="module")
def env(built_images: dict[str, Path]) -> Iterator[Env]:
    tmp = Path(tempfile.mkdtemp(prefix="khr", dir="/tmp"))
    registries: list[Registry] = []
    cluster = None
    try:
        open_registry = start_registry(tmp / "open")
        registries.append(open_registry)
        private = start_registry(tmp / "private", tls=make_tls(tmp))
        registries.append(private)
        mirror = {"endpoint": [f"http://{open_registry.host}"]}
        (tmp / "registries.yaml").write_text(json.dumps({
            "mirrors": {"docker.io": mirror, "registry.example:5000": mirror},
            "configs": {private.host: {"tls": {"ca_file": str(private.tls_ca)}}},
        }))
        cluster = start_server(tmp, ["--private-registry", str(tmp / "registries.yaml")], agent=True)
        wait_for(lambda: "Ready" in cluster.kubectl("get", "nodes", check=False).stdout, timeout=60,
                 message="the node to be Ready")
        wait_for(lambda: cluster.kubectl("get", "serviceaccount", "default", check=False).returncode == 0,
                 timeout=30, message="the default service account")
        yield Env(cluster, open_registry, private)
    finally:
        if cluster is not None:
            if cluster.process.poll() is None:
                stop_server(cluster)
            _, left = killall_sync(cluster.data_dir)
            assert not left, left
        for registry in registries:
            registry.process.terminate()
            try:
                registry.process.wait(10)
            except subprocess.TimeoutExpired:
                registry.process.kill()
                registry.process.wait()
        run("rm", "-rf", str(tmp), check=False)


def apply(env: Env, doc: dict[str, Any]) -> None:
    env.cluster.kubectl("apply", "-f", "-", input=json.dumps(doc))


def pod(name: str, image: str, **spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "c", "image": image, "command": ["sleep", "3600"]}
    if "imagePullPolicy" in spec:
        container["imagePullPolicy"] = spec.pop("imagePullPolicy")
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [container], "terminationGracePeriodSeconds": 0, **spec}}


def container_status(env: Env, name: str) -> dict[str, Any]:
    statuses = env.cluster.kubectl_json("get", "pod", name).get("status", {}).get("containerStatuses") or [{}]
    return dict(statuses[0])


def waiting(env: Env, name: str) -> dict[str, Any]:
    return dict(container_status(env, name).get("state", {}).get("waiting") or {})


def running(env: Env, name: str) -> dict[str, Any] | None:
    status = container_status(env, name)
    return status if status.get("state", {}).get("running") else None


def events(env: Env, name: str) -> list[tuple[str, str, str]]:
    items = env.cluster.kubectl_json("get", "events", "--field-selector", f"involvedObject.name={name}")["items"]
    return [(e["type"], e["reason"], e["message"]) for e in items]


def event_reasons(described: str) -> list[str]:
    """The Reason column of the Events table that `kubectl describe` prints."""
    lines = described.split("\nEvents:\n", 1)[1].splitlines()[2:] if "\nEvents:\n" in described else []
    return [line.split()[1] for line in lines if len(line.split()) > 2]


def test_pull_from_a_loopback_registry_and_through_mirrors(env: Env) -> None:
    direct = f"{env.open.host}/kubeherd/busybox:1.36"
    digest = env.push(env.open, "kubeherd/busybox:1.36")
    env.push(env.open, "library/busybox-kh:1.36")  # docker.io/library/busybox-kh, as the mirror holds it
    env.push(env.open, "team/app:1.36")  # registry.example:5000/team/app
    apply(env, pod("direct", direct))
    apply(env, pod("hub", "docker.io/library/busybox-kh:1.36"))
    apply(env, pod("hub-short", "busybox-kh:1.36"))
    apply(env, pod("example", "registry.example:5000/team/app:1.36"))
    for name in ("direct", "hub", "hub-short", "example"):
        wait_for(lambda name=name: running(env, name), timeout=60, message=f"pod {name} to run")

    status = container_status(env, "direct")
    assert status["imageID"].endswith("@" + digest), status  # the digest the registry serves
    assert digest.startswith("sha256:")
    messages = [(reason, message) for _, reason, message in events(env, "direct")]
    assert ("Pulling", f'Pulling image "{direct}"') in messages
    pulled = [m for r, m in messages if r == "Pulled"]
    assert pulled and pulled[0].startswith(f'Successfully pulled image "{direct}" in ')
    assert "including waiting). Image size: " in pulled[0] and pulled[0].endswith(" bytes.")
    assert int(pulled[0].rsplit("Image size: ", 1)[1].split()[0]) > 100_000  # busybox, more than its manifest

    # the mirror was asked, on behalf of each upstream registry
    access = env.open.log.read_text()
    assert "/v2/library/busybox-kh/manifests/1.36?ns=docker.io" in access
    assert "/v2/team/app/manifests/1.36?ns=registry.example%3A5000" in access
    assert container_status(env, "example")["imageID"].endswith("@" + digest)


def test_a_registry_that_wants_a_password(env: Env) -> None:
    image = f"{env.private.host}/private/busybox:1.36"
    env.push(env.private, "private/busybox:1.36")
    # as `kubectl get pods -w` shows it: ErrImagePull (the runtime's error), then ImagePullBackOff
    watch = subprocess.Popen(
        [str(KUBECTL_DIR / "kubectl.1.33"), "get", "pods", "--field-selector", "metadata.name=no-secret", "-w", "-o",
         'jsonpath={.status.containerStatuses[0].state.waiting.reason}|{.status.containerStatuses[0].state.'
         'waiting.message}{"\\n"}'],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "KUBECONFIG": str(env.cluster.kubeconfig), "HOME": str(env.cluster.home)})
    try:
        apply(env, pod("no-secret", image))
        backoff = wait_for(lambda: (w := waiting(env, "no-secret")).get("reason") == "ImagePullBackOff" and w,
                           timeout=30, message="ImagePullBackOff")
    finally:
        watch.terminate()
        seen_states = [line.split("|", 1) for line in watch.communicate(timeout=10)[0].splitlines() if "|" in line]
    reasons = [reason for reason, _ in seen_states if reason]
    assert "ErrImagePull" in reasons and reasons.index("ErrImagePull") < reasons.index("ImagePullBackOff"), reasons
    failed = next(message for reason, message in seen_states if reason == "ErrImagePull")
    assert failed.startswith("rpc error: code = ") and "401 Unauthorized" in failed, failed
    assert backoff["message"].startswith(f'Back-off pulling image "{image}": ErrImagePull: rpc error: '), backoff
    assert env.cluster.kubectl_json("get", "pod", "no-secret")["status"]["phase"] == "Pending"
    seen = events(env, "no-secret")
    assert ("Normal", "Pulling", f'Pulling image "{image}"') in seen
    assert any(t == "Warning" and r == "Failed" and m.startswith(f'Failed to pull image "{image}": rpc error:')
               for t, r, m in seen), seen
    assert ("Warning", "Failed", "Error: ErrImagePull") in seen
    assert ("Normal", "BackOff", f'Back-off pulling image "{image}"') in seen
    assert ("Warning", "Failed", "Error: ImagePullBackOff") in seen
    described = env.cluster.kubectl("describe", "pod", "no-secret").stdout
    assert {"Pulling", "Failed", "BackOff"} <= set(event_reasons(described)), described
    assert "ImagePullBackOff" in described

    env.cluster.kubectl("create", "secret", "docker-registry", "regcred", f"--docker-server={env.private.host}",
                        f"--docker-username={USER}", f"--docker-password={PASSWORD}")
    apply(env, pod("with-secret", image, imagePullSecrets=[{"name": "regcred"}]))
    # the service account's pull secrets reach the pod too (admission copies them into it)
    apply(env, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "puller"},
                "imagePullSecrets": [{"name": "regcred"}]})
    apply(env, pod("via-account", image, serviceAccountName="puller", imagePullPolicy="Always"))
    for name in ("with-secret", "via-account"):
        wait_for(lambda name=name: running(env, name), timeout=60, message=f"pod {name} to run")
    assert any(r == "Pulled" and m.startswith(f'Successfully pulled image "{image}"')
               for _, r, m in events(env, "via-account"))
    described = env.cluster.kubectl("describe", "pod", "with-secret").stdout
    assert {"Pulling", "Pulled"} <= set(event_reasons(described)), described
    assert f'Successfully pulled image "{image}"' in described


def test_never_pull_and_invalid_references(env: Env) -> None:
    absent = "localhost/kubeherd/absent:1"
    apply(env, pod("never", absent, imagePullPolicy="Never"))
    apply(env, pod("present", BUSYBOX, imagePullPolicy="Never"))
    apply(env, pod("invalid", "kubeherd/Invalid:1"))
    wait_for(lambda: waiting(env, "never").get("reason") == "ErrImageNeverPull", timeout=30,
             message="ErrImageNeverPull")
    assert waiting(env, "never")["message"] == (f'Container image "{absent}" is not present with pull policy of '
                                                "Never")
    wait_for(lambda: waiting(env, "invalid").get("reason") == "InvalidImageName", timeout=30,
             message="InvalidImageName")
    assert waiting(env, "invalid")["message"] == (
        'Failed to apply default image tag "kubeherd/Invalid:1": couldn\'t parse image name "kubeherd/Invalid:1": '
        "invalid reference format: repository name (kubeherd/Invalid) must be lowercase")
    wait_for(lambda: running(env, "present"), timeout=30, message="the present image to run with Never")
    assert ("Normal", "Pulled", f'Container image "{BUSYBOX}" already present on machine') in events(env, "present")
    seen = events(env, "never")
    assert ("Warning", "ErrImageNeverPull", f'Container image "{absent}" is not present with pull policy of '
                                            "Never") in seen
    assert any(r == "InspectFailed" for _, r, _ in events(env, "invalid"))
    # `kubectl get pods` shows the waiting reasons as the status column
    table = env.cluster.kubectl("get", "pods", "never", "invalid").stdout
    assert "ErrImageNeverPull" in table and "InvalidImageName" in table
