"""The apiserver's connections to kubelets: where a node's kubelet is, and HTTP(S) to it.

Design, as upstream's kube-apiserver: a node's kubelet is reached at the address its Node object
reports (``InternalIP`` first, then ``Hostname``, ``ExternalIP``) and the port in
``status.daemonEndpoints.kubeletEndpoint.Port``, over TLS with the apiserver's kubelet-client
certificate (signed by the cluster CA; the kubelet's serving certificate is checked against the
same CA). One connection per request: the requests that go here (logs, ``nodes/proxy``, stream
upgrades) are long or rare, so pooling would buy nothing.

Three uses share this module: :func:`kubelet_request` for plain requests whose response is
streamed back (``pods/log``, ``nodes/proxy``), :func:`open_upgrade` + :func:`splice` for the
stream subresources, whose bytes are copied both ways without being parsed, and
:func:`node_proxy` for ``/api/v1/nodes/{name}/proxy/{path}``. :func:`exchange` (one request on an
open connection, the answer's body streamed) and :func:`splice` also carry ``pods/proxy`` and
``services/proxy`` (:mod:`kubeherd.apiserver.podproxy`), whose backends are pods, not kubelets.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

import httptools

from kubeherd.api import errors
from kubeherd.api.resources import Resource
from kubeherd.apiserver.http import Hijack, RawStream, Request, Response, StreamResponse
from kubeherd.apiserver.registry import Registry
from kubeherd.client.aio import cancel_and_wait

CONNECT_TIMEOUT = 10.0
READ_CHUNK = 64 * 1024
ADDRESS_TYPES = ("InternalIP", "Hostname", "ExternalIP")
# request headers that belong to the hop from the client, not to the kubelet
_NOT_FORWARDED = frozenset({"host", "authorization", "connection", "upgrade", "content-length",
                            "transfer-encoding", "keep-alive", "proxy-connection"})


@dataclass(frozen=True)
class KubeletLocation:
    node: str
    host: str
    port: int

    @property
    def authority(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


class KubeletConnector:
    """Opens TLS connections to kubelets as the apiserver's kubelet client."""

    def __init__(self, ssl_context: ssl.SSLContext) -> None:
        self.ssl_context = ssl_context

    @classmethod
    def from_files(cls, ca_path: str, cert_path: str, key_path: str) -> KubeletConnector:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_path)
        context.load_cert_chain(cert_path, key_path)
        context.set_alpn_protocols(["http/1.1"])
        return cls(context)

    async def connect(self, location: KubeletLocation) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            return await asyncio.wait_for(asyncio.open_connection(
                location.host, location.port, ssl=self.ssl_context, server_hostname=location.host,
                limit=READ_CHUNK * 4), CONNECT_TIMEOUT)
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            raise errors.APIError(502, "InternalError", f"error dialing backend: {exc or type(exc).__name__}",
                                  {}) from None


async def kubelet_location(registry: Registry, nodes: Resource, node_name: str) -> KubeletLocation:
    """Where ``node_name``'s kubelet listens, from its Node object (404 if there is no such node)."""
    cached = await registry.get(nodes, "", node_name)
    status = cached.obj.get("status") or {}
    addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
    host = next((addresses[t] for t in ADDRESS_TYPES if addresses.get(t)), "")
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port") or 0
    if not host or not port:
        raise errors.APIError(503, "ServiceUnavailable",
                              f"node {node_name} reports no address or kubelet port to reach it at", {})
    return KubeletLocation(node_name, str(host), int(port))


def request_head(method: str, target: str, location: KubeletLocation, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {location.authority}"]
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def forwarded_headers(request: Request) -> list[tuple[str, str]]:
    """The client's headers worth passing on (credentials and hop-by-hop headers are not).

    ``X-Stream-Protocol-Version`` goes as one line per offered version: the streaming servers
    read each line as one version, so a comma-joined line would match none."""
    out: list[tuple[str, str]] = []
    for name, value in request.headers.items():
        if name in _NOT_FORWARDED or name.startswith("impersonate-"):
            continue
        if name == "x-stream-protocol-version":
            out += [("X-Stream-Protocol-Version", v.strip()) for v in value.split(",") if v.strip()]
        else:
            out.append((name, value))
    return out


def kubelet_target(path: str, query: dict[str, list[str]] | list[tuple[str, str]]) -> str:
    pairs = [(k, v) for k, vs in query.items() for v in vs] if isinstance(query, dict) else query
    encoded = urlencode(pairs)
    return quote(path, safe="/:@!$&'()*+,;=-._~") + (f"?{encoded}" if encoded else "")


@dataclass
class KubeletResponse:
    """A response from a kubelet: its head, then the (de-chunked) body as it arrives."""

    status: int
    headers: dict[str, str]  # lower-case names, the last value of a repeated header
    chunks: AsyncIterator[bytes]
    header_list: list[tuple[str, str]] = field(default_factory=list)  # every header line, as sent

    async def text(self, limit: int = 64 * 1024) -> str:
        out = b""
        async for chunk in self.chunks:
            out += chunk
            if len(out) >= limit:
                break
        with contextlib.suppress(Exception):
            await self.chunks.aclose()  # type: ignore[attr-defined]
        return out[:limit].decode(errors="replace").strip()


@dataclass
class _ResponseParser:
    headers: dict[str, str] = field(default_factory=dict)
    header_list: list[tuple[str, str]] = field(default_factory=list)
    body: list[bytes] = field(default_factory=list)
    head_done: bool = False
    done: bool = False

    def on_header(self, name: bytes, value: bytes) -> None:
        key, text = name.decode("latin-1"), value.decode("latin-1")
        self.headers[key.lower()] = text
        self.header_list.append((key, text))

    def on_headers_complete(self) -> None:
        self.head_done = True

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.done = True


async def kubelet_request(connector: KubeletConnector, location: KubeletLocation, method: str, target: str,
                          headers: list[tuple[str, str]] | None = None, body: bytes = b"") -> KubeletResponse:
    """Send one request to a kubelet and return once its response head has arrived."""
    reader, writer = await connector.connect(location)
    sent = list(headers or []) + [("Connection", "close")]
    if body or method in ("POST", "PUT", "PATCH"):
        sent.append(("Content-Length", str(len(body))))

    def failed(what: str) -> errors.APIError:
        if what == "EOF":
            return errors.APIError(502, "InternalError", "the kubelet closed the connection without answering", {})
        return errors.APIError(502, "InternalError", f"error reading from the kubelet: {what}", {})

    return await exchange(reader, writer, request_head(method, target, location, sent) + body, failed,
                          head_only=method == "HEAD")


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes,
                   failed: Callable[[str], errors.APIError], head_only: bool = False) -> KubeletResponse:
    """Write ``request`` (head and body) on an open connection and return once the response head
    has arrived; its body is read as the returned chunks are. ``failed`` turns a connection that
    ends or breaks before the head into the caller's error. ``head_only``: the answer to a HEAD
    request, which has no body whatever its headers say."""
    writer.write(request)
    state = _ResponseParser()
    parser = httptools.HttpResponseParser(state)
    try:
        while not state.head_done:
            data = await reader.read(READ_CHUNK)
            if not data:
                raise failed("EOF")
            parser.feed_data(data)
    except (OSError, httptools.HttpParserError) as exc:
        writer.close()
        raise failed(str(exc) or type(exc).__name__) from None
    except BaseException:
        writer.close()
        raise

    async def chunks() -> AsyncIterator[bytes]:
        try:
            while not head_only:
                if state.body:
                    data = b"".join(state.body)
                    state.body.clear()
                    yield data
                if state.done:
                    return
                more = await reader.read(READ_CHUNK)
                if not more:  # a body delimited by the connection's end
                    return
                parser.feed_data(more)
        except (OSError, httptools.HttpParserError):
            return
        finally:
            writer.close()

    return KubeletResponse(parser.get_status_code(), state.headers, chunks(), state.header_list)


async def open_upgrade(connector: KubeletConnector, location: KubeletLocation, request: Request,
                       target: str) -> Hijack:
    """Dial the kubelet for an upgrade request now (so a dial error is still a Status), and
    return the hijack that sends the client's head on and then copies bytes both ways.

    The kubelet answers the upgrade itself (``101`` from the runtime's streaming server, or an
    error); that answer reaches the client unchanged, as upstream's upgrade-aware proxy does."""
    reader, writer = await connector.connect(location)
    headers = forwarded_headers(request) + [("Connection", "Upgrade"), ("Upgrade", request.headers.get("upgrade", ""))]
    if request.method in ("POST", "PUT"):
        headers.append(("Content-Length", "0"))
    head = request_head(request.method, target, location, headers)

    async def run(client: RawStream) -> None:
        writer.write(head)
        await splice(client, reader, writer)

    return Hijack(run)


async def splice(client: RawStream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy bytes both ways until the kubelet side ends (or the client goes and we cannot
    half-close towards the kubelet: TLS has no half-close)."""

    async def upstream() -> None:
        while data := await client.read():
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
            await asyncio.Event().wait()  # keep copying downstream until the kubelet ends

    async def downstream() -> None:
        while data := await reader.read(READ_CHUNK):
            client.write(data)
            await client.drain()

    tasks = [asyncio.ensure_future(upstream()), asyncio.ensure_future(downstream())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await cancel_and_wait(tasks)
        writer.close()
        client.close()


async def relay(response: KubeletResponse) -> Response | StreamResponse:
    """A kubelet's response as ours: status, content type and body streamed as it comes."""
    content_type = response.headers.get("content-type", "text/plain")
    return StreamResponse(response.status, response.chunks, content_type)


async def node_proxy(connector: KubeletConnector, location: KubeletLocation, request: Request,
                     subpath: str) -> Response | StreamResponse | Hijack:
    """``/api/v1/nodes/{name}/proxy/{subpath}``: the request, as it came, to the node's kubelet."""
    target = kubelet_target("/" + subpath.lstrip("/"), request.query)
    if request.upgrade:
        return await open_upgrade(connector, location, request, target)
    headers = [(k, v) for k, v in forwarded_headers(request) if k != "accept-encoding"]
    response = await kubelet_request(connector, location, request.method, target, headers, request.body)
    return await relay(response)


def as_status_error(status: int, text: str) -> errors.APIError:
    """A kubelet's error answer (plain text, as upstream's kubelet writes them) as a Status."""
    reasons = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict",
               429: "TooManyRequests", 503: "ServiceUnavailable", 504: "Timeout"}
    return errors.APIError(status, reasons.get(status, "InternalError"), text or f"the kubelet answered {status}", {})
