"""exec, attach, cp, port-forward, logs and nodes/proxy through the kubelet's HTTPS server.

One `kubeherd server` with its agent serves the module. Every kubectl behaviour is checked with
the oldest client (1.27: SPDY only) and the newest (1.33: WebSocket v5 for exec/attach and the
SPDY-over-WebSocket tunnel for port-forward, both served by the apiserver's adapters with no
fallback), exec also with the Python client and raw WebSocket clients of every channel
subprotocol, and logs over WebSocket. SPDY and WebSocket ≤ v4 go kubectl → apiserver → kubelet →
containerd's streaming server, each hop splicing bytes.
"""

from __future__ import annotations

import base64
import datetime
import json
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websocket
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.integration.conftest import KUBECTL_DIR, Cluster

from .conftest import agent_cluster, wait_for

BUSYBOX = "localhost/kubeherd/busybox:1.36"
VERSIONS = ("1.27", "1.33")


@pytest.fixture(scope="module")
def cluster(built_images: dict[str, Path]) -> Iterator[Cluster]:
    with agent_cluster() as c:
        # `box` serves a page on :80 and echoes its stdin (attach) to stdout
        apply(c, pod("box", [{"name": "c", "stdin": True, "command": [
            "sh", "-c", "mkdir -p /www && echo hello-from-box > /www/index.html && httpd -p 80 -h /www && "
                        "echo box-started && cat"]}]))
        apply(c, pod("two", [{"name": "a", "command": ["sh", "-c", "echo from-a; sleep 3600"]},
                             {"name": "b", "command": ["sh", "-c", "echo from-b; sleep 3600"]}]))
        wait_for(lambda: phase(c, "box") == "Running" and phase(c, "two") == "Running", timeout=60,
                 message="the pods to run")
        yield c


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
    # the size of kubectl's terminal reaches the container's (a resize message, after the start)
    inner = "tty; for i in 1 2 3 4 5 6 7 8 9 10; do [ \"$(stty size)\" = \"45 123\" ] && break; sleep 0.5; done; " \
            "echo size=$(stty size); exit 4"
    command = "stty cols 123 rows 45; " + " ".join(kubectl_argv(cluster, version) + [
        "exec", "-it", "box", "--", "sh", "-c", f"'{inner}'"])
    env = {"HOME": str(cluster.home), "PATH": "/usr/bin:/bin", "TERM": "xterm"}
    result = subprocess.run(["script", "-qec", command, "/dev/null"], capture_output=True, text=True, timeout=30,
                            env=env, stdin=subprocess.DEVNULL)
    assert "/dev/pts/" in result.stdout, result
    assert "size=45 123" in result.stdout, result
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
                      command=["sh", "-c", "cat; echo end-of-input; exit 5"], stderr=True, stdin=True, stdout=True,
                      tty=False, _preload_content=False)
        assert resp.subprotocol == "v5.channel.k8s.io"  # the apiserver's translator, not the runtime
        resp.write_stdin("abc\n")  # sent as a text message
        resp.write_stdin(b"def\n")
        resp.close_channel(0)  # v5's half-close of stdin: cat ends
        resp.run_forever(timeout=20)
        assert resp.read_stdout() == "abc\ndef\nend-of-input\n"
        assert resp.returncode == 5
        resp.close()
    finally:
        api.api_client.close()


def open_websocket(cluster: Cluster, path: str, protocols: list[str]) -> websocket.WebSocket:
    """A WebSocket to the apiserver as the admin (client certificate of the kubeconfig)."""
    from kubernetes import config

    api = config.new_client_from_config(str(cluster.kubeconfig))
    cfg = api.configuration
    try:
        return websocket.create_connection(
            cluster.url.replace("https://", "wss://") + path, timeout=20, subprotocols=[p for p in protocols if p] or None,
            sslopt={"ca_certs": cfg.ssl_ca_cert, "certfile": cfg.cert_file, "keyfile": cfg.key_file})
    finally:
        api.close()


def receive_all(ws: websocket.WebSocket) -> list[tuple[int, bytes]]:
    """Every data message (opcode, payload) until the server's close frame, which must say 1000."""
    messages = []
    while True:
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            assert data[:2] == b"\x03\xe8", data  # normal closure
            return messages
        if opcode in (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY):
            messages.append((opcode, data))


EXEC_QUERY = ("command=sh&command=-c&command=read+x%3B+echo+got-%24x%3B+echo+oops+%3E%262%3B+exit+3"
              "&stdin=true&stdout=true&stderr=true")


@pytest.mark.parametrize("protocol", ["channel.k8s.io", "base64.channel.k8s.io", "v4.channel.k8s.io",
                                      "v4.base64.channel.k8s.io", "v5.channel.k8s.io"])
def test_exec_over_websocket_channel_protocols(cluster: Cluster, protocol: str) -> None:
    ws = open_websocket(cluster, f"/api/v1/namespaces/default/pods/box/exec?{EXEC_QUERY}", [protocol])
    assert ws.subprotocol == protocol
    encoded = "base64" in protocol
    if encoded:  # the channel as an ASCII digit, the data base64
        ws.send("0" + base64.b64encode(b"abc\n").decode())
    else:
        ws.send_binary(b"\x00abc\n")
    received: dict[int, bytes] = {}
    for _, data in receive_all(ws):
        channel, payload = (data[0] - ord("0"), base64.b64decode(data[1:])) if encoded else (data[0], data[1:])
        received[channel] = received.get(channel, b"") + payload
    ws.close()
    assert received[1] == b"got-abc\n" and received[2] == b"oops\n", received
    if protocol.startswith(("v4", "v5")):  # a Status, the exit code in its causes
        status = json.loads(received[3])
        assert status["reason"] == "NonZeroExitCode", status
        assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    else:  # v1: the error as text
        assert received[3].endswith(b"exit code 3"), received


def test_exec_over_websocket_v5_closes_stdin(cluster: Cluster) -> None:
    query = "command=sh&command=-c&command=wc+-c%3B+exit+0&stdin=true&stdout=true"
    ws = open_websocket(cluster, f"/api/v1/namespaces/default/pods/box/exec?{query}", ["v5.channel.k8s.io"])
    ws.send_binary(b"\x00" + b"x" * 300_000)
    ws.send_binary(b"\xff\x00")  # close stdin: wc sees its end
    received: dict[int, bytes] = {}
    for _, data in receive_all(ws):
        received[data[0]] = received.get(data[0], b"") + data[1:]
    ws.close()
    assert received[1].strip() == b"300000", received
    assert json.loads(received[3])["status"] == "Success"


def test_newest_kubectl_needs_no_fallback(cluster: Cluster) -> None:
    """kubectl 1.33 says at -v=4 which protocol it got, and when it falls back to SPDY."""
    result = cluster.kubectl("exec", "-i", "box", "-v=4", "--", "sh", "-c", "cat; exit 6", input="piped\n",
                             check=False, timeout=30)
    assert result.returncode == 6, result
    assert result.stdout == "piped\n"
    assert "The subprotocol is v5.channel.k8s.io" in result.stderr, result.stderr
    assert "fallback" not in result.stderr.lower(), result.stderr
    port = free_port()
    forward = subprocess.Popen([*kubectl_argv(cluster, "1.33"), "port-forward", "pod/box", f"{port}:80", "-v=4"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={"HOME": str(cluster.home)})
    try:
        assert forward.stdout is not None
        assert "Forwarding from 127.0.0.1" in forward.stdout.readline()
        for _ in range(3):
            assert http_get(port).endswith(b"hello-from-box\n")
    finally:
        forward.terminate()
        _, err = forward.communicate(timeout=10)
    assert "negotiated protocol: portforward.k8s.io" in err, err
    assert "fallback" not in err.lower(), err


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


@pytest.mark.parametrize("protocol", ["binary.k8s.io", "base64.binary.k8s.io", ""])
def test_logs_over_websocket(cluster: Cluster, protocol: str) -> None:
    ws = open_websocket(cluster, "/api/v1/namespaces/default/pods/two/log?container=a", [protocol])
    assert ws.subprotocol == (protocol or None)
    messages = receive_all(ws)  # the log ended: the server closed
    ws.close()
    text = protocol.startswith("base64")
    assert {opcode for opcode, _ in messages} == {websocket.ABNF.OPCODE_TEXT if text else websocket.ABNF.OPCODE_BINARY}
    log = b"".join(base64.b64decode(data) if text else data for _, data in messages)
    assert log == b"from-a\n"


def test_followed_logs_over_websocket_stay_open(cluster: Cluster) -> None:
    ws = open_websocket(cluster, "/api/v1/namespaces/default/pods/box/log?follow=true", ["binary.k8s.io"])
    seen = b""
    while b"box-started" not in seen:
        seen += ws.recv()
    marker = f"written-later-{time.monotonic_ns()}".encode()
    cluster.kubectl("exec", "box", "--", "sh", "-c", f"echo {marker.decode()} > /proc/1/fd/1")
    while marker not in seen:  # the stream is still open and carries what the container writes now
        opcode, data = ws.recv_data(control_frame=True)
        assert opcode == websocket.ABNF.OPCODE_BINARY, (opcode, data)
        seen += data
    ws.close()  # the client ends a followed log


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
