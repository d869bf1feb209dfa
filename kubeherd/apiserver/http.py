"""A small HTTP/1.1 server on asyncio + httptools, owned by the apiserver.

Why not a framework: the apiserver must read client certificates, stream chunked watch
responses for hours, keep connections alive, and (for exec/attach/port-forward) take over the
raw socket after an `Upgrade`. The ASGI servers and aiohttp give no way to do the last; this
module gives all four in a few hundred lines, and httptools (uvicorn's parser) is the fastest
parser available (see DESIGN.md for the measurements).

Requests on one connection are answered in order (pipelining-safe). A handler returns either a
`Response` (whole body) or a `StreamResponse` (an async iterator of chunks, sent with chunked
transfer encoding); when the client goes away the stream's iterator is closed.

Upgrades (SPDY/3.1, WebSocket): the parser stops at the end of an `Upgrade` request's head and
the request is marked with `Request.upgrade`. The handler still runs through the normal
authentication and authorization path; it may answer with a plain `Response` (the connection is
closed after it) or with a `Hijack`, whose coroutine then owns the connection as a `RawStream`
of bytes: it writes the `101` (or relays one) itself. Nothing is parsed on that connection again.
"""

from __future__ import annotations

import asyncio
import collections
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
    upgrade: str = ""  # the Upgrade header (lower case) of a request that asks to switch protocols
    raw_path: str = ""  # the request target as sent (still percent-encoded, with the query)

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


class RawStream:
    """An upgraded connection as a byte stream: what a `Hijack` handler reads and writes."""

    HIGH_WATER = 1024 * 1024

    def __init__(self, transport: asyncio.Transport, can_write: asyncio.Event, closed: asyncio.Event) -> None:
        self.transport = transport
        self._can_write = can_write
        self._closed = closed
        self._chunks: collections.deque[bytes] = collections.deque()
        self._buffered = 0
        self._eof = False
        self._readable = asyncio.Event()
        self._paused = False

    def feed(self, data: bytes) -> None:
        if data:
            self._chunks.append(data)
            self._buffered += len(data)
            self._readable.set()
            if self._buffered > self.HIGH_WATER and not self._paused:
                self._paused = True
                self.transport.pause_reading()

    def feed_eof(self) -> None:
        self._eof = True
        self._readable.set()

    async def read(self) -> bytes:
        """The next bytes the peer sent; ``b""`` once it closed its side."""
        while not self._chunks:
            if self._eof:
                return b""
            self._readable.clear()
            await self._readable.wait()
        data = self._chunks.popleft()
        self._buffered -= len(data)
        if self._paused and self._buffered <= self.HIGH_WATER // 4:
            self._paused = False
            self.transport.resume_reading()
        return data

    def write(self, data: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(data)

    async def drain(self) -> None:
        if not self._can_write.is_set():
            await self._can_write.wait()

    def write_eof(self) -> bool:
        """Half-close our side if the transport can (TLS cannot); False if it could not."""
        if self.transport.is_closing() or not self.transport.can_write_eof():
            return False
        self.transport.write_eof()
        return True

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def close(self) -> None:
        self.transport.close()


@dataclass(slots=True)
class Hijack:
    """The answer to an Upgrade request that takes the connection over (see the module doc)."""

    run: Callable[[RawStream], Awaitable[None]]


Handler = Callable[[Request], Awaitable[Response | StreamResponse | Hijack]]

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
        self.raw: RawStream | None = None  # set once the parser stopped at an Upgrade request
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
        if self.raw is not None:
            self.raw.feed(data)
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            # the request is queued (on_message_complete ran); what follows its head is the new protocol's
            assert self.transport is not None
            self.raw = RawStream(self.transport, self.can_write, self.closed)
            offset = exc.args[0] if exc.args and isinstance(exc.args[0], int) else len(data)
            self.raw.feed(data[offset:])
        except httptools.HttpParserError:
            self._abort(400, b"malformed HTTP request")

    def eof_received(self) -> bool | None:
        if self.raw is not None:
            self.raw.feed_eof()
            # keep our side open (the hijacking handler decides when to close); TLS cannot half-close
            return self.transport is None or self.transport.get_extra_info("sslcontext") is None
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()
        if self.raw is not None:
            self.raw.feed_eof()
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
        upgrade = self._headers.get("upgrade", "").lower() if self.parser.should_upgrade() else ""
        request = Request(
            method=self.parser.get_method().decode("latin-1"),
            path=path,
            query=query,
            headers=self._headers,
            body=b"".join(self._body),
            peer_cert=self.peer_cert,
            remote=self.remote,
            body_too_large=self._too_large,
            keep_alive=self.parser.should_keep_alive() and not upgrade,
            upgrade=upgrade,
            raw_path=self._url.decode("latin-1"),
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
            if isinstance(response, Hijack):
                await self._hijack(request, response)
                return
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

    async def _hijack(self, request: Request, hijack: Hijack) -> None:
        assert self.transport is not None
        if self.raw is None:  # a handler hijacked a request that asked for no upgrade
            self.transport.close()
            return
        try:
            await hijack.run(self.raw)
        except Exception:
            log.exception("upgraded connection failed for %s %s", request.method, request.path)
        finally:
            self.transport.close()

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
