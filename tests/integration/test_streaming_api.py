"""The apiserver's side of exec/attach/port-forward/logs/nodes-proxy, without a node.

The checks the apiserver makes before any kubelet is dialled (upstream's messages), the answers
that make kubectl fall back from WebSocket to SPDY, and the HTTP server's connection takeover
after an `Upgrade` request (tests/e2e/test_streaming.py runs the whole path on real containers).
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from typing import Any

from kubeherd.apiserver.http import Hijack, HTTPServer, RawStream, Request, Response

from .conftest import Cluster


def _pod(cluster: Cluster, name: str, containers: list[str], node: str = "") -> None:
    doc: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                           "spec": {"containers": [{"name": c, "image": "busybox"} for c in containers]}}
    if node:
        doc["spec"]["nodeName"] = node
    cluster.kubectl("apply", "-f", "-", input=json.dumps(doc))


def _raw(cluster: Cluster, request: bytes) -> bytes:
    """Send ``request`` over TLS with the admin's certificate; the whole answer."""
    from kubernetes import config

    api = config.new_client_from_config(str(cluster.kubeconfig))
    cfg = api.configuration
    context = ssl.create_default_context(cafile=cfg.ssl_ca_cert)
    context.load_cert_chain(cfg.cert_file, cfg.key_file)
    port = int(cluster.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as s:
        s.sendall(request)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    api.close()
    return b"".join(chunks)


def test_exec_checks_before_the_node(cluster: Cluster) -> None:
    _pod(cluster, "unbound", ["c"])
    _pod(cluster, "pair", ["a", "b"])
    pending = cluster.kubectl("exec", "unbound", "--", "true", check=False)
    assert "pod unbound does not have a host assigned" in pending.stderr, pending
    wrong = cluster.kubectl("exec", "unbound", "-c", "x", "--", "true", check=False)
    assert "container x is not valid for pod unbound" in wrong.stderr, wrong
    unnamed = cluster.kubectl("get", "--raw", "/api/v1/namespaces/default/pods/pair/log", check=False)
    assert "a container name must be specified for pod pair, choose one of: [a b]" in unnamed.stderr
    forward = _raw(cluster, b"POST /api/v1/namespaces/default/pods/unbound/portforward HTTP/1.1\r\nHost: x\r\n"
                            b"Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                            b"X-Stream-Protocol-Version: portforward.k8s.io\r\nContent-Length: 0\r\n\r\n")
    assert forward.startswith(b"HTTP/1.1 400 ") and b"does not have a host assigned" in forward


def test_exec_needs_an_upgrade_and_a_served_subprotocol(cluster: Cluster) -> None:
    _pod(cluster, "bound", ["c"], node="node-x")
    plain = cluster.kubectl("get", "--raw", "/api/v1/namespaces/default/pods/bound/exec?command=true&stdout=true",
                            check=False)
    assert "Upgrade request required" in plain.stderr, plain
    # WebSocket v5 (exec) and the port-forward tunnel are served by the apiserver's adapters: they get
    # as far as finding the node before answering the upgrade
    v5 = _raw(cluster, b"GET /api/v1/namespaces/default/pods/bound/exec?command=true&stdout=true HTTP/1.1\r\n"
                       b"Host: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                       b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       b"Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n")
    assert v5.startswith(b"HTTP/1.1 404 ") and b'nodes \\"node-x\\" not found' in v5, v5
    tunnel = _raw(cluster, b"GET /api/v1/namespaces/default/pods/bound/portforward HTTP/1.1\r\n"
                           b"Host: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                           b"Sec-WebSocket-Protocol: SPDY/3.1+portforward.k8s.io\r\n\r\n")
    assert tunnel.startswith(b"HTTP/1.1 404 ") and b"node-x" in tunnel, tunnel
    # a subprotocol neither the runtime nor the apiserver serves is refused before the node is looked up
    other = _raw(cluster, b"GET /api/v1/namespaces/default/pods/bound/exec?command=true&stdout=true HTTP/1.1\r\n"
                          b"Host: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                          b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          b"Sec-WebSocket-Protocol: v9.channel.k8s.io\r\n\r\n")
    assert other.startswith(b"HTTP/1.1 400 ") and b"v9.channel.k8s.io" in other, other
    # the node does not exist: the request gets that far, as a Status
    spdy = cluster.kubectl("exec", "bound", "--", "true", check=False)
    assert 'nodes \\"node-x\\" not found' in spdy.stderr or 'nodes "node-x" not found' in spdy.stderr, spdy


def _log_upgrade(cluster: Cluster, pod: str, extra: bytes) -> bytes:
    return _raw(cluster, f"GET /api/v1/namespaces/default/pods/{pod}/log HTTP/1.1\r\n".encode()
                + b"Host: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" + extra + b"\r\n")


def test_log_over_websocket_checks_the_handshake(cluster: Cluster) -> None:
    _pod(cluster, "logged", ["c"], node="node-y")
    key = b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    # upstream's wsstream serves "", binary.k8s.io and base64.binary.k8s.io, and answers others 403
    refused = _log_upgrade(cluster, "logged", key + b"Sec-WebSocket-Protocol: channel.k8s.io\r\n")
    assert refused.startswith(b"HTTP/1.1 403 "), refused
    assert b"requested protocol(s) are not supported: [channel.k8s.io]" in refused
    incomplete = _log_upgrade(cluster, "logged", b"Sec-WebSocket-Version: 13\r\n")
    assert incomplete.startswith(b"HTTP/1.1 400 ") and b"Sec-WebSocket-Key" in incomplete, incomplete
    # a served subprotocol gets as far as the node
    served = _log_upgrade(cluster, "logged", key + b"Sec-WebSocket-Protocol: base64.binary.k8s.io\r\n")
    assert served.startswith(b"HTTP/1.1 404 ") and b"node-y" in served, served


def test_node_proxy_of_a_node_without_kubelet(cluster: Cluster) -> None:
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "silent"}}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(node))
    result = cluster.kubectl("get", "--raw", "/api/v1/nodes/silent/proxy/healthz", check=False)
    assert "node silent reports no address or kubelet port" in result.stderr, result
    logs = cluster.kubectl("get", "--raw", "/api/v1/nodes/absent/proxy/pods", check=False)
    assert 'nodes "absent" not found' in logs.stderr


def test_http_server_hands_an_upgraded_connection_over() -> None:
    async def echo(stream: RawStream) -> None:
        stream.write(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
        while data := await stream.read():
            stream.write(data.upper())
            await stream.drain()

    async def handler(request: Request) -> Response | Hijack:
        if request.upgrade == "echo":
            return Hijack(echo)
        return Response(200, request.path.encode(), "text/plain")

    async def scenario() -> tuple[bytes, bytes]:
        server = HTTPServer(handler, None)
        port = await server.start("127.0.0.1", 0)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            # an ordinary request first, then the upgrade with bytes of the new protocol right behind its head
            writer.write(b"GET /plain HTTP/1.1\r\nHost: x\r\n\r\n"
                         b"GET /up HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nearly ")
            await writer.drain()
            writer.write(b"late")
            writer.write_eof()
            answer = await asyncio.wait_for(reader.read(-1), 10)
            writer.close()
            reader2, writer2 = await asyncio.open_connection("127.0.0.1", port)
            writer2.write(b"GET /x HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: other\r\n\r\n")
            refused = await asyncio.wait_for(reader2.read(-1), 10)
            writer2.close()
            return answer, refused
        finally:
            await server.stop()

    answer, refused = asyncio.run(scenario())
    head, _, rest = answer.partition(b"\r\n\r\n/plain")
    assert head.startswith(b"HTTP/1.1 200 "), answer
    assert rest.startswith(b"HTTP/1.1 101 ") and rest.endswith(b"\r\n\r\nEARLY LATE"), answer
    assert refused.startswith(b"HTTP/1.1 200 ") and b"Connection: close" in refused, refused
