"""The small HTTP/1.1 vocabulary of the kubelet's server: requests, responses, head parsing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import orjson


@dataclass
class HTTPRequest:
    method: str
    target: str
    path: str
    query: dict[str, list[str]]
    headers: list[tuple[str, str]]  # as received, in order (streaming servers read repeated lines)
    body: bytes = b""
    user: str = ""
    groups: tuple[str, ...] = ()

    def header(self, name: str) -> str:
        name = name.lower()
        return ",".join(v for k, v in self.headers if k.lower() == name)

    def arg(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[-1] if values else default

    @property
    def upgrade(self) -> str:
        return self.header("upgrade").lower() if "upgrade" in self.header("connection").lower() else ""


@dataclass
class HTTPResponse:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    chunks: AsyncIterator[bytes] | None = None  # streamed (chunked) instead of body
    headers: list[tuple[str, str]] = field(default_factory=list)


def text(status: int, message: str) -> HTTPResponse:
    return HTTPResponse(status, (message.rstrip("\n") + "\n").encode())


def json_body(obj: Any) -> HTTPResponse:
    return HTTPResponse(200, orjson.dumps(obj), "application/json")


Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]
# a handler answers with a response, or returns None after taking the connection over
RouteHandler = Callable[[HTTPRequest, list[str], Streams], Awaitable[HTTPResponse | None]]


def parse_head(head: bytes) -> HTTPRequest:
    lines = head.decode("latin-1").split("\r\n")
    method, target, version = lines[0].split(" ", 2)
    if not version.startswith("HTTP/1."):
        raise ValueError(f"unsupported protocol {version!r}")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"malformed header line {line!r}")
        headers.append((name.strip(), value.strip()))
    parts = urlsplit(target)
    return HTTPRequest(method, target, unquote(parts.path) or "/",
                       parse_qs(parts.query, keep_blank_values=True), headers)


