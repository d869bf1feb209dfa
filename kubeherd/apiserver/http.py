"""A small HTTP/1.1 server on asyncio + httptools, owned by the apiserver.

Why not a framework: the apiserver must read client certificates, stream chunked watch
responses for hours, keep connections alive, and (for exec/attach/port-forward) take over the
raw socket after an `Upgrade`. The ASGI servers and aiohttp give no way to do the last; this
module gives all four in a few hundred lines, and httptools (uvicorn's parser) is the fastest
parser available (see DESIGN.md for the measurements).

Requests on one connection are answered in order (pipelining-safe). A handler returns either a
`Response` (whole body) or a `StreamResponse` (an async iterator of chunks, sent with chunked
transfer encoding); when the client goes away the stream's iterator is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, unquote

import httptools

log = logging.getLogger(__name__)

MAX_BODY = 3 * 1024 * 1024
MAX_HEADER_BYTES = 1024 * 1024


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    peer_cert: dict[str, Any] | None = None
    remote: str = ""
    body_too_large: bool = False
    keep_alive: bool = True
    user: Any = None  # set only by in-process callers, who are trusted with their identity

    def arg(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[-1] if values else default


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class StreamResponse:
    status: int
    chunks: AsyncIterator[bytes]
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)


Handler = Callable[[Request], Awaitable[Response | StreamResponse]]

_REASONS = {s.value: s.phrase for s in HTTPStatus}


def _head(status: int, content_type: str, headers: list[tuple[str, str]], extra: str, keep_alive: bool) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}", f"Content-Type: {content_type}"]
    lines.extend(f"{k}: {v}" for k, v in headers)
    lines.append(extra)
    if not keep_alive:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class _Connection(asyncio.Protocol):
    def __init__(self, handler: Handler, on_lost: Callable[[_Connection], None]) -> None:
        self.handler = handler
        self.on_lost = on_lost
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.queue: asyncio.Queue[Request | None] = asyncio.Queue()
        self.worker: asyncio.Task[None] | None = None
        self.can_write = asyncio.Event()
        self.can_write.set()
        self.closed = asyncio.Event()
        self.peer_cert: dict[str, Any] | None = None
        self.remote = ""
        # the request being parsed
        self._url = b""
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._size = 0
        self._too_large = False

    # --- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            self.peer_cert = ssl_object.getpeercert() or None
        peer = transport.get_extra_info("peername")
        self.remote = f"{peer[0]}:{peer[1]}" if peer else ""
        self.worker = asyncio.get_running_loop().create_task(self._serve())

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._abort(400, b"upgrades are not supported on this endpoint")
        except httptools.HttpParserError:
            self._abort(400, b"malformed HTTP request")

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()
        self.can_write.set()
        self.queue.put_nowait(None)
        self.on_lost(self)

    def pause_writing(self) -> None:
        self.can_write.clear()

    def resume_writing(self) -> None:
        self.can_write.set()

    # --- httptools callbacks
    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = {}
        self._body = []
        self._size = 0
        self._too_large = False

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        if key in self._headers:
            self._headers[key] += "," + text
        else:
            self._headers[key] = text

    def on_headers_complete(self) -> None:
        length = self._headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY:
            self._too_large = True

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > MAX_BODY:
            self._too_large = True
            self._body = []
        elif not self._too_large:
            self._body.append(body)

    def on_message_complete(self) -> None:
        parsed = httptools.parse_url(self._url)
        path = unquote(parsed.path.decode("latin-1")) if parsed.path else "/"
        query = parse_qs(parsed.query.decode("latin-1"), keep_blank_values=True) if parsed.query else {}
        request = Request(
            method=self.parser.get_method().decode("latin-1"),
            path=path,
            query=query,
            headers=self._headers,
            body=b"".join(self._body),
            peer_cert=self.peer_cert,
            remote=self.remote,
            body_too_large=self._too_large,
            keep_alive=self.parser.should_keep_alive(),
        )
        self.queue.put_nowait(request)

    # --- serving
    def _abort(self, status: int, message: bytes) -> None:
        if self.transport and not self.transport.is_closing():
            self.transport.write(_head(status, "text/plain", [], f"Content-Length: {len(message)}", False) + message)
            self.transport.close()

    async def _serve(self) -> None:
        while True:
            request = await self.queue.get()
            if request is None or self.transport is None or self.transport.is_closing():
                return
            keep_alive = request.keep_alive
            try:
                response = await self.handler(request)
            except Exception:
                log.exception("handler failed for %s %s", request.method, request.path)
                response = Response(500, b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
                                         b'"message":"internal error","reason":"InternalError","code":500}')
            if isinstance(response, StreamResponse):
                await self._stream(response)
                if not keep_alive:
                    self.transport.close()
                    return
                continue
            body = b"" if request.method == "HEAD" else response.body
            self.transport.write(
                _head(response.status, response.content_type, response.headers,
                      f"Content-Length: {len(response.body)}", keep_alive) + body
            )
            if not keep_alive:
                self.transport.close()
                return
            if not self.can_write.is_set():
                await self.can_write.wait()

    async def _stream(self, response: StreamResponse) -> None:
        assert self.transport is not None
        transport = self.transport
        transport.write(_head(response.status, response.content_type, response.headers,
                              "Transfer-Encoding: chunked", True))
        chunks = response.chunks
        closed_wait = asyncio.ensure_future(self.closed.wait())
        try:
            iterator = chunks.__aiter__()
            while True:
                next_chunk = asyncio.ensure_future(iterator.__anext__())
                done, _ = await asyncio.wait({next_chunk, closed_wait}, return_when=asyncio.FIRST_COMPLETED)
                if next_chunk not in done:
                    next_chunk.cancel()
                    with contextlib.suppress(BaseException):
                        await next_chunk
                    return
                try:
                    chunk = next_chunk.result()
                except StopAsyncIteration:
                    break
                if chunk:
                    transport.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                if not self.can_write.is_set():
                    await self.can_write.wait()
                if self.closed.is_set():
                    return
            if not transport.is_closing():
                transport.write(b"0\r\n\r\n")
        finally:
            closed_wait.cancel()
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()


class HTTPServer:
    def __init__(self, handler: Handler, ssl_context: ssl.SSLContext | None) -> None:
        self.handler = handler
        self.ssl_context = ssl_context
        self.server: asyncio.Server | None = None
        self.connections: set[_Connection] = set()

    def _protocol(self) -> _Connection:
        conn = _Connection(self.handler, self.connections.discard)
        self.connections.add(conn)
        return conn

    async def start(self, host: str, port: int) -> int:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(self._protocol, host, port, ssl=self.ssl_context,
                                               reuse_address=True, backlog=1024)
        sockets = self.server.sockets
        return int(sockets[0].getsockname()[1]) if sockets else port

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.close()
        if self.server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)
