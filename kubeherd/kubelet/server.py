"""The kubelet's HTTPS server: what the apiserver (and only it) asks a node for.

Design, as upstream's kubelet server (``pkg/kubelet/server``):

* **TLS both ways.** The serving certificate is signed by the cluster CA (SANs: the node name,
  its addresses, loopback). Clients must present a certificate of the same CA: a certificate of
  another CA fails the handshake; no certificate is ``401``; a CA certificate whose subject is
  not authorized (upstream asks a SubjectAccessReview; here the ``system:masters`` group, which
  the apiserver's kubelet-client certificate has) is ``403``.
* **A plain asyncio server, not a framework**: exec, attach and port-forward take over the
  connection after the request head (the runtime's streaming server answers the upgrade, see
  :mod:`kubeherd.kubelet.streaming`), which needs the raw socket.
* **Endpoints** as upstream's: ``/healthz``, ``/pods`` (this node's pods), ``/containerLogs/{ns}/
  {pod}/{container}`` (``PodLogOptions`` in the query, streamed chunked while following),
  ``/exec``, ``/attach``, ``/portForward``. Others may be added with :meth:`KubeletServer.route`
  (the stats endpoints). Anything else is ``404``. Errors are plain text, as upstream's kubelet
  writes them; the apiserver turns them into Status objects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from kubeherd.client.aio import cancel_and_wait

from .httputil import HTTPRequest, HTTPResponse, RouteHandler, Streams, json_body, parse_head, text
from .status import RuntimeView
from .streaming import StreamingHandlers

log = logging.getLogger(__name__)
Obj = dict[str, Any]
MAX_BODY = 3 * 1024 * 1024
AUTHORIZED_GROUP = "system:masters"
_REASONS = {s.value: s.phrase for s in HTTPStatus}
MAX_HEAD = 64 * 1024


@dataclass(frozen=True)
class ServingTLS:
    """The kubelet's serving certificate and key, and the CA its clients' certificates must chain to."""

    cert_path: Path
    key_path: Path
    client_ca_path: Path

    def context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(self.cert_path), str(self.key_path))
        context.load_verify_locations(cafile=str(self.client_ca_path))
        context.verify_mode = ssl.CERT_OPTIONAL  # none → 401; a certificate of another CA → handshake fails
        context.set_alpn_protocols(["http/1.1"])
        return context


class NodeHost(Protocol):
    """What the server needs of the kubelet it serves."""

    cri: Any

    def bound_pods(self) -> list[Obj]: ...

    def pod(self, namespace: str, name: str) -> Obj | None: ...

    async def runtime_view(self, uid: str) -> RuntimeView: ...


def user_of(cert: dict[str, Any] | None) -> tuple[str, tuple[str, ...]]:
    name, groups = "", []
    for rdn in (cert or {}).get("subject", ()):
        for attr, value in rdn:
            if attr == "commonName":
                name = value
            elif attr == "organizationName":
                groups.append(value)
    return name, tuple(groups)


def subresource_of(path: str) -> str:
    """The ``nodes/<subresource>`` a kubelet path is authorized as, as upstream's kubelet."""
    first = path.strip("/").split("/", 1)[0]
    return {"stats": "stats", "metrics": "metrics", "logs": "log", "spec": "spec",
            "checkpoint": "checkpoint", "configz": "configz"}.get(first, "proxy")


_VERBS = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


class KubeletServer:
    def __init__(self, host: NodeHost, tls: ServingTLS, address: str = "0.0.0.0", port: int = 10250) -> None:
        self.host = host
        self.tls = tls
        self.address = address
        self.port = port
        self.server: asyncio.Server | None = None
        self.routes: dict[str, RouteHandler] = {}
        self._connections: set[asyncio.Task[Any]] = set()
        streaming = StreamingHandlers(host)
        self.route("healthz", self._healthz)
        self.route("pods", self._pods)
        self.route("containerLogs", streaming.container_logs)
        self.route("exec", streaming.exec)
        self.route("attach", streaming.attach)
        self.route("portForward", streaming.port_forward)

    def route(self, first_segment: str, handler: RouteHandler) -> None:
        """Serve paths whose first segment is ``first_segment``; the handler gets the rest, split."""
        self.routes[first_segment] = handler

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, self.address, self.port, ssl=self.tls.context(),
                                                 reuse_address=True, limit=MAX_HEAD)
        sockets = self.server.sockets
        self.port = int(sockets[0].getsockname()[1]) if sockets else self.port
        log.info("kubelet server listening on https://%s:%d", self.address, self.port)
        return self.port

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        for task in list(self._connections):
            task.cancel()
        for task in list(self._connections):
            with contextlib.suppress(BaseException):
                await task
        if self.server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)

    # ------------------------------------------------------------------ connections
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            user, groups = user_of(writer.get_extra_info("peercert"))
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                try:
                    request = parse_head(head[:-4])
                except ValueError as exc:
                    await self._write(writer, text(400, f"malformed request: {exc}"), close=True)
                    return
                request.user, request.groups = user, groups
                length = request.header("content-length")
                if request.header("transfer-encoding"):
                    await self._write(writer, text(411, "chunked request bodies are not accepted"), close=True)
                    return
                if length:
                    if not length.isdigit() or int(length) > MAX_BODY:
                        await self._write(writer, text(413, "request body too large"), close=True)
                        return
                    request.body = await reader.readexactly(int(length))
                close = "close" in request.header("connection").lower() or bool(request.upgrade)
                response = await self._handle(request, (reader, writer))
                if response is None:  # the connection was taken over and is finished
                    return
                await self._write(writer, response, close=close or response.chunks is not None, reader=reader)
                if close or response.chunks is not None:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            return
        finally:
            self._connections.discard(task)
            writer.close()

    async def _handle(self, request: HTTPRequest, streams: Streams) -> HTTPResponse | None:
        if not request.user:
            return text(401, "Unauthorized")
        if AUTHORIZED_GROUP not in request.groups:
            return text(403, f"Forbidden (user={request.user}, verb={_VERBS.get(request.method, 'get')}, "
                             f"resource=nodes, subresource={subresource_of(request.path)})")
        segments = [unquote(s) for s in urlsplit(request.target).path.strip("/").split("/")]
        handler = self.routes.get(segments[0])
        if handler is None:
            return text(404, "404 page not found")
        try:
            return await handler(request, segments[1:], streams)
        except Exception as exc:
            log.exception("kubelet server: %s %s failed", request.method, request.path)
            return text(500, str(exc) or type(exc).__name__)

    async def _write(self, writer: asyncio.StreamWriter, response: HTTPResponse, close: bool,
                     reader: asyncio.StreamReader | None = None) -> None:
        lines = [f"HTTP/1.1 {response.status} {_REASONS.get(response.status, 'Unknown')}",
                 f"Content-Type: {response.content_type}"]
        lines += [f"{k}: {v}" for k, v in response.headers]
        if response.chunks is None:
            lines.append(f"Content-Length: {len(response.body)}")
        else:
            lines.append("Transfer-Encoding: chunked")
        if close:
            lines.append("Connection: close")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        if response.chunks is None:
            writer.write(response.body)
            await writer.drain()
            return
        await self._stream(writer, response.chunks, reader)

    async def _stream(self, writer: asyncio.StreamWriter, chunks: AsyncIterator[bytes],
                      reader: asyncio.StreamReader | None) -> None:
        """Send chunks until they end or the client goes (a followed log may be silent for hours,
        so the client's end is watched, not only noticed at the next write)."""

        async def send() -> None:
            async for chunk in chunks:
                if chunk:
                    writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    await writer.drain()
            writer.write(b"0\r\n\r\n")
            await writer.drain()

        async def client_gone() -> None:
            if reader is None:
                await asyncio.Event().wait()
                return
            while await reader.read(4096):
                pass

        tasks = [asyncio.ensure_future(send()), asyncio.ensure_future(client_gone())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await cancel_and_wait(tasks)
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()

    # ------------------------------------------------------------------ simple endpoints
    async def _healthz(self, request: HTTPRequest, rest: list[str], streams: Streams) -> HTTPResponse:
        return HTTPResponse(200, b"ok")

    async def _pods(self, request: HTTPRequest, rest: list[str], streams: Streams) -> HTTPResponse:
        if rest and rest != [""]:
            return text(404, "404 page not found")
        return json_body({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": self.host.bound_pods()})
