"""exec, attach, cp, port-forward, logs and nodes/proxy through the kubelet's HTTPS server.

One `kubeherd server` with its agent serves the module. Every kubectl behaviour is checked with
the oldest client (1.27: SPDY only) and the newest (1.33: WebSocket first, falling back to SPDY),
and exec also with the Python client (WebSocket v4). The streams go kubectl → apiserver →
kubelet → containerd's streaming server, each hop splicing bytes.
"""

from __future__ import annotations

import datetime
import json
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubeherd.cli.killall import killall_sync
from tests.integration.conftest import KUBECTL_DIR, Cluster, start_server, stop_server

from .conftest import run, wait_for

BUSYBOX = "localhost/kubeherd/busybox:1.36"
VERSIONS = ("1.27", "1.33")


@pytest.fixture(scope="module")
def cluster(built_images: dict[str, Path]) -> Iterator[Cluster]:
    tmp = Path(tempfile.mkdtemp(prefix="kh", dir="/tmp"))
    c = start_server(tmp, agent=True)
    try:
        wait_for(lambda: "Ready" in c.kubectl("get", "nodes", check=False).stdout, timeout=60,
                 message="the node to be Ready")
        # `box` serves a page on :80 and echoes its stdin (attach) to stdout
        apply(c, pod("box", [{"name": "c", "stdin": True, "command": [
            "sh", "-c", "mkdir -p /www && echo hello-from-box > /www/index.html && httpd -p 80 -h /www && "
                        "echo box-started && cat"]}]))
        apply(c, pod("two", [{"name": "a", "command": ["sh", "-c", "echo from-a; sleep 3600"]},
                             {"name": "b", "command": ["sh", "-c", "echo from-b; sleep 3600"]}]))
        wait_for(lambda: phase(c, "box") == "Running" and phase(c, "two") == "Running", timeout=60,
                 message="the pods to run")
        yield c
    finally:
        if c.process.poll() is None:
            stop_server(c)
        _, left = killall_sync(c.data_dir)
        assert not left, left
        run("rm", "-rf", str(tmp), check=False)


def apply(cluster: Cluster, doc: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-f", "-", input=json.dumps(doc))


def pod(name: str, containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    for c in containers:
        c.setdefault("image", BUSYBOX)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": containers, "terminationGracePeriodSeconds": 1,
                     "automountServiceAccountToken": False, **spec}}


def phase(cluster: Cluster, name: str) -> str:
    out = cluster.kubectl("get", "pod", name, "-o", "jsonpath={.status.phase}", check=False)
    return out.stdout.strip()


def kubectl_argv(cluster: Cluster, version: str) -> list[str]:
    assert KUBECTL_DIR is not None
    return [str(KUBECTL_DIR / f"kubectl.{version}"), "--kubeconfig", str(cluster.kubeconfig)]


def node_name(cluster: Cluster) -> str:
    return str(cluster.kubectl_json("get", "nodes")["items"][0]["metadata"]["name"])


# ---------------------------------------------------------------------------------------- exec
@pytest.mark.parametrize("version", VERSIONS)
def test_exec_streams_and_exit_code(cluster: Cluster, version: str) -> None:
    result = cluster.kubectl("exec", "box", "--", "sh", "-c", "echo to-out; echo to-err >&2; exit 7",
                             version=version, check=False, timeout=30)
    assert result.returncode == 7, result
    assert result.stdout == "to-out\n"
    assert "to-err" in result.stderr
    ok = cluster.kubectl("exec", "box", "--", "true", version=version, check=False, timeout=30)
    assert ok.returncode == 0, ok


@pytest.mark.parametrize("version", VERSIONS)
def test_exec_stdin_is_piped_and_closed(cluster: Cluster, version: str) -> None:
    text = "".join(f"line {i}\n" for i in range(2000))  # more than one SPDY frame
    result = cluster.kubectl("exec", "-i", "box", "--", "cat", version=version, input=text, check=False, timeout=30)
    assert result.returncode == 0, result
    assert result.stdout == text  # all of it came back, and cat saw EOF (else this would time out)
    counted = cluster.kubectl("exec", "-i", "box", "--", "wc", "-l", version=version, input=text, timeout=30)
    assert counted.stdout.strip() == "2000"


@pytest.mark.parametrize("version", VERSIONS)
def test_exec_with_a_terminal(cluster: Cluster, version: str) -> None:
    command = " ".join(kubectl_argv(cluster, version) + ["exec", "-it", "box", "--", "sh", "-c", "'tty; exit 4'"])
    env = {"HOME": str(cluster.home), "PATH": "/usr/bin:/bin", "TERM": "xterm"}
    result = subprocess.run(["script", "-qec", command, "/dev/null"], capture_output=True, text=True, timeout=30,
                            env=env, stdin=subprocess.DEVNULL)
    assert "/dev/pts/" in result.stdout, result
    assert result.returncode == 4, result


def test_exec_errors_are_upstreams(cluster: Cluster) -> None:
    wrong = cluster.kubectl("exec", "box", "-c", "nope", "--", "true", check=False)
    assert wrong.returncode != 0
    assert "container nope is not valid for pod box" in wrong.stderr
    unnamed = cluster.kubectl("exec", "two", "--", "true", check=False)
    assert unnamed.returncode == 0  # kubectl picks the first container itself (and says so)
    apply(cluster, pod("nowhere", [{"name": "c", "command": ["sleep", "3600"]}],
                       nodeSelector={"no-such-label": "x"}))
    pending = cluster.kubectl("exec", "nowhere", "--", "true", check=False)
    assert "does not have a host assigned" in pending.stderr, pending
    cluster.kubectl("delete", "pod", "nowhere", "--wait=false")


def test_python_client_stream_exec(cluster: Cluster) -> None:
    from kubernetes import client, config
    from kubernetes.stream import stream

    api = client.CoreV1Api(config.new_client_from_config(str(cluster.kubeconfig)))
    try:
        out = stream(api.connect_get_namespaced_pod_exec, "box", "default", command=["sh", "-c", "echo py-out"],
                     stderr=True, stdin=False, stdout=True, tty=False)
        assert out == "py-out\n"
        resp = stream(api.connect_get_namespaced_pod_exec, "box", "default",
                      command=["sh", "-c", "read x; echo got-$x; exit 5"], stderr=True, stdin=True, stdout=True,
                      tty=False, _preload_content=False)
        resp.write_stdin("abc\n")
        resp.run_forever(timeout=20)
        assert resp.read_stdout() == "got-abc\n"
        assert resp.returncode == 5
        resp.close()
    finally:
        api.api_client.close()


# ---------------------------------------------------------------------------------------- cp, attach
@pytest.mark.parametrize("version", VERSIONS)
def test_cp_into_and_out_of_a_pod(cluster: Cluster, version: str, tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text(f"copied in by {version}\n" * 1000)
    cluster.kubectl("cp", str(source), f"box:/tmp/in-{version}.txt", version=version, timeout=30)
    inside = cluster.kubectl("exec", "box", "--", "cat", f"/tmp/in-{version}.txt", version=version)
    assert inside.stdout == source.read_text()
    target = tmp_path / "out.html"
    cluster.kubectl("cp", "box:/www/index.html", str(target), version=version, timeout=30)
    assert target.read_text() == "hello-from-box\n"


@pytest.mark.parametrize("version", VERSIONS)
def test_attach_with_stdin(cluster: Cluster, version: str) -> None:
    marker = f"attached-{version}-{time.monotonic_ns()}"
    feeder = subprocess.Popen(["sh", "-c", f"echo {marker}; sleep 3"], stdout=subprocess.PIPE)
    try:
        result = subprocess.run([*kubectl_argv(cluster, version), "attach", "-i", "box", "-c", "c"],
                                stdin=feeder.stdout, capture_output=True, text=True, timeout=30,
                                env={"HOME": str(cluster.home)})
    finally:
        feeder.wait()
    assert marker in result.stdout, result  # the container's `cat` echoed what we typed
    assert result.returncode == 0, result
    assert marker in cluster.kubectl("logs", "box").stdout


# ---------------------------------------------------------------------------------------- port-forward
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.0\r\nHost: box\r\n\r\n")
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("version", VERSIONS)
def test_port_forward_reaches_the_pod(cluster: Cluster, version: str) -> None:
    port = free_port()
    forward = subprocess.Popen([*kubectl_argv(cluster, version), "port-forward", "pod/box", f"{port}:80"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={"HOME": str(cluster.home)})
    try:
        assert forward.stdout is not None
        assert "Forwarding from 127.0.0.1" in forward.stdout.readline()
        for _ in range(3):  # one stream per connection, over the same session
            page = http_get(port)
            assert page.startswith(b"HTTP/1.") and page.endswith(b"hello-from-box\n"), page
    finally:
        forward.terminate()
        forward.wait(10)


# ---------------------------------------------------------------------------------------- logs
def test_logs_come_from_the_kubelet(cluster: Cluster) -> None:
    assert cluster.kubectl("logs", "two", "-c", "b").stdout == "from-b\n"
    unnamed = cluster.kubectl("logs", "two", "--all-containers", "--prefix").stdout
    assert "[pod/two/a] from-a" in unnamed and "[pod/two/b] from-b" in unnamed
    direct = cluster.kubectl("get", "--raw", "/api/v1/namespaces/default/pods/two/log", check=False)
    assert "a container name must be specified for pod two, choose one of: [a b]" in direct.stderr
    previous = cluster.kubectl("logs", "two", "-c", "a", "--previous", check=False)
    assert 'previous terminated container "a" in pod "two" not found' in previous.stderr
    apply(cluster, pod("talker", [{"name": "c", "command": ["sh", "-c", "echo one; sleep 2; echo two; sleep 1"]}],
                       restartPolicy="Never"))
    wait_for(lambda: "one" in cluster.kubectl("logs", "talker", check=False).stdout, timeout=30,
             message="talker's first line")
    followed = cluster.kubectl("logs", "-f", "talker", timeout=30)  # returns when the container exits
    assert followed.stdout == "one\ntwo\n"
    stamped = cluster.kubectl("logs", "talker", "--timestamps", "--tail", "1").stdout
    assert stamped.endswith(" two\n") and stamped[:4].isdigit(), stamped


def test_logs_of_a_container_waiting_to_start(cluster: Cluster) -> None:
    apply(cluster, pod("unpullable", [{"name": "c", "image": "localhost:1/missing:1", "command": ["true"]}]))
    wait_for(lambda: "waiting" in json.dumps(cluster.kubectl_json("get", "pod", "unpullable").get("status", {})),
             timeout=30, message="a waiting container status")
    result = cluster.kubectl("logs", "unpullable", check=False)
    assert result.returncode != 0
    assert 'container "c" in pod "unpullable" is waiting to start' in result.stderr, result
    cluster.kubectl("delete", "pod", "unpullable", "--wait=false")


# ---------------------------------------------------------------------------------------- nodes/proxy, kubelet TLS
def test_node_proxy(cluster: Cluster) -> None:
    node = node_name(cluster)
    assert cluster.kubectl("get", "--raw", f"/api/v1/nodes/{node}/proxy/healthz").stdout == "ok"
    pods = json.loads(cluster.kubectl("get", "--raw", f"/api/v1/nodes/{node}/proxy/pods").stdout)
    assert pods["kind"] == "PodList"
    assert {"box", "two"} <= {p["metadata"]["name"] for p in pods["items"]}
    missing = cluster.kubectl("get", "--raw", f"/api/v1/nodes/{node}/proxy/no-such-endpoint", check=False)
    assert missing.returncode != 0 and "NotFound" in missing.stderr, missing
    absent = cluster.kubectl("get", "--raw", "/api/v1/nodes/no-such-node/proxy/healthz", check=False)
    assert 'nodes "no-such-node" not found' in absent.stderr


def _kubelet_port(cluster: Cluster) -> int:
    node = cluster.kubectl_json("get", "nodes")["items"][0]
    return int(node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"])


def _client(tmp: Path, name: str, cn: str, groups: list[str],
            ca: tuple[x509.Certificate, Any] | None) -> ssl.SSLContext:
    """A TLS client context presenting a new certificate for ``cn``/``groups``, signed by ``ca``
    (self-signed without one)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([*(x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups),
                         x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    issuer_cert, issuer_key = ca if ca else (None, key)
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject)
            .issuer_name(issuer_cert.subject if issuer_cert else subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1)).sign(issuer_key, hashes.SHA256()))
    (tmp / f"{name}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp / f"{name}.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                        serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.load_cert_chain(str(tmp / f"{name}.crt"), str(tmp / f"{name}.key"))
    return context


def _tls_dir(cluster_dir: Path) -> Path:
    return cluster_dir / "server" / "tls"


def _kubelet_get(port: int, context: ssl.SSLContext, path: str) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


def test_kubelet_serves_only_clients_of_the_cluster_ca(cluster: Cluster, tmp_path: Path) -> None:
    port = _kubelet_port(cluster)
    tls = _tls_dir(cluster.data_dir)
    ca_cert = x509.load_pem_x509_certificate((tls / "ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key((tls / "ca.key").read_bytes(), None)
    # a certificate of another CA, even one claiming system:masters, fails the handshake
    stranger = _client(tmp_path, "stranger", "intruder", ["system:masters"], None)
    try:  # (with TLS 1.3 the refusal arrives after the client's side of the handshake: on the first read)
        refused = _kubelet_get(port, stranger, "/pods")
    except (ssl.SSLError, ConnectionError) as exc:
        refused = f"refused: {exc}"
    assert "HTTP/1.1" not in refused, refused  # the TLS layer closed it: no HTTP answer at all
    # no certificate: 401
    anonymous = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    anonymous.check_hostname, anonymous.verify_mode = False, ssl.CERT_NONE
    assert _kubelet_get(port, anonymous, "/pods").startswith("HTTP/1.1 401 ")
    # the cluster CA, but not an identity allowed to use the kubelet: 403
    someone = _client(tmp_path, "someone", "jane", ["developers"], (ca_cert, ca_key))
    answer = _kubelet_get(port, someone, "/pods")
    assert answer.startswith("HTTP/1.1 403 ") and "user=jane" in answer, answer
    # the apiserver's own client certificate is served, and the serving certificate is the cluster CA's
    apiserver = ssl.create_default_context(cafile=str(tls / "ca.crt"))
    apiserver.check_hostname = False
    apiserver.load_cert_chain(str(tls / "client-kubelet-client.crt"), str(tls / "client-kubelet-client.key"))
    assert _kubelet_get(port, apiserver, "/healthz").endswith("\r\n\r\nok")
