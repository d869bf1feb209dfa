"""The kubelet's streaming endpoints: container logs, and exec/attach/port-forward as a splice.

Design (NODE-PROTOCOLS.md §3): the kubelet terminates no stream protocol. For ``/exec``,
``/attach`` and ``/portForward`` it finds the running container (or the pod's sandbox), asks
the runtime for a single-use streaming URL (CRI ``Exec``/``Attach``/``PortForward``), sends
the client's request head there (same method, the runtime's path, the upgrade headers as they
came: ``Connection``, ``Upgrade``, ``X-Stream-Protocol-Version`` line by line,
``Sec-WebSocket-*``), and copies bytes both ways. The runtime's answer, a ``101`` or an error,
goes back to the client unchanged; SPDY/3.1 and WebSocket are spoken end to end by the client
and containerd.

``/containerLogs/{ns}/{pod}/{container}`` reads the CRI log file of the container instance
(:func:`kubeherd.kubelet.logs.read_log`) with ``PodLogOptions`` from the query. Errors are
upstream's kubelet texts and codes.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from kubeherd.client.aio import cancel_and_wait

from .cri import ContainerState, CRIError
from .httputil import HTTPRequest, HTTPResponse, Streams, text
from .logs import LogOptions, parse_time, read_log

if TYPE_CHECKING:
    from .server import NodeHost

READ_CHUNK = 64 * 1024
# request headers that stay on the hop from the apiserver
_HOP_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "authorization", "keep-alive"})
_TRUE = ("1", "true", "True", "TRUE", "t", "T")


def _flag(request: HTTPRequest, *names: str) -> bool:
    return any(request.arg(n) in _TRUE for n in names)


def _int(request: HTTPRequest, name: str) -> int | None:
    value = request.arg(name)
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name}: invalid value {value!r}: must be an integer") from None


def log_options(request: HTTPRequest) -> LogOptions:
    """``PodLogOptions`` from a ``/containerLogs`` query (``sinceSeconds`` is made a time here)."""
    since_time = None
    if request.arg("sinceTime"):
        since_time = parse_time(request.arg("sinceTime"))
        if since_time is None:
            raise ValueError(f"sinceTime: invalid value {request.arg('sinceTime')!r}")
    seconds = _int(request, "sinceSeconds")
    if seconds is not None:
        since_time = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=seconds)
    return LogOptions(follow=_flag(request, "follow") and not _flag(request, "previous"),
                      tail_lines=_int(request, "tailLines"), since_time=since_time,
                      timestamps=_flag(request, "timestamps"), limit_bytes=_int(request, "limitBytes"))


def waiting_message(pod: dict[str, Any], container: str) -> str:
    """Why ``container`` has no log yet, in upstream's words."""
    name = (pod.get("metadata") or {}).get("name", "")
    status = pod.get("status") or {}
    statuses = (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or [])
    current: dict[str, Any] = next((s for s in statuses if s.get("name") == container), {})
    reason = ((current.get("state") or {}).get("waiting") or {}).get("reason") or "ContainerCreating"
    reason = {"ErrImagePull": "image can't be pulled",
              "ImagePullBackOff": "trying and failing to pull image"}.get(reason, reason)
    return f'container "{container}" in pod "{name}" is waiting to start: {reason}'


class StreamingHandlers:
    def __init__(self, host: NodeHost) -> None:
        self.host = host

    # ------------------------------------------------------------------ logs
    async def container_logs(self, request: HTTPRequest, rest: list[str], streams: Streams) -> HTTPResponse:
        if len(rest) != 3 or not all(rest):
            return text(400, "the path must be /containerLogs/{namespace}/{pod}/{container}")
        namespace, name, container = rest
        pod = self.host.pod(namespace, name)
        if pod is None:
            return text(404, f'pod "{name}" does not exist')
        spec = pod.get("spec") or {}
        names = {c.get("name") for key in ("containers", "initContainers", "ephemeralContainers")
                 for c in spec.get(key) or []}
        if container not in names:
            return text(404, f'container "{container}" not found in pod "{name}"')
        try:
            options = log_options(request)
        except ValueError as exc:
            return text(400, str(exc))
        previous = _flag(request, "previous")
        view = await self.host.runtime_view(pod["metadata"]["uid"])
        instance = view.previous(container) if previous else view.latest(container)
        if instance is None:
            if previous:
                return text(400, f'previous terminated container "{container}" in pod "{name}" not found')
            return text(400, waiting_message(pod, container))
        container_id = instance.id
        cri = self.host.cri

        async def running() -> bool:
            try:
                return bool((await cri.container_status(container_id)).state == ContainerState.CONTAINER_RUNNING)
            except CRIError:
                return False

        chunks: AsyncIterator[bytes] = read_log(Path(instance.log_path), options, running)
        return HTTPResponse(200, content_type="text/plain", chunks=chunks)

    # ------------------------------------------------------------------ exec / attach / port-forward
    async def exec(self, request: HTTPRequest, rest: list[str], streams: Streams) -> HTTPResponse | None:
        return await self._remote_command(request, rest, streams, attach=False)

    async def attach(self, request: HTTPRequest, rest: list[str], streams: Streams) -> HTTPResponse | None:
        return await self._remote_command(request, rest, streams, attach=True)

    async def _remote_command(self, request: HTTPRequest, rest: list[str], streams: Streams,
                              attach: bool) -> HTTPResponse | None:
        if len(rest) not in (3, 4):
            return text(404, "404 page not found")
        namespace, name, container = rest[0], rest[1], rest[-1]
        uid = rest[2] if len(rest) == 4 else ""
        pod = self.host.pod(namespace, name)
        if pod is None:
            return text(404, "pod does not exist")
        stdin = _flag(request, "input", "stdin")
        stdout = _flag(request, "output", "stdout")
        stderr = _flag(request, "error", "stderr")
        tty = _flag(request, "tty")
        if not (stdin or stdout or stderr):
            return text(400, "you must specify at least 1 of stdin, stdout, stderr")
        stderr = stderr and not tty  # a terminal has one output stream
        pod_uid = pod["metadata"]["uid"]
        if uid and uid != pod_uid:
            return text(500, f'container not found ("{container}")')
        view = await self.host.runtime_view(pod_uid)
        instance = view.latest(container)
        if instance is None or instance.state != ContainerState.CONTAINER_RUNNING:
            return text(500, f'container not found ("{container}")')
        try:
            if attach:
                url = await self.host.cri.attach(instance.id, stdin=stdin, tty=tty, stdout=stdout, stderr=stderr)
            else:
                command = request.query.get("command", [])
                if not command:
                    return text(400, "you must specify a command")
                url = await self.host.cri.exec(instance.id, command, tty=tty, stdin=stdin, stdout=stdout,
                                               stderr=stderr)
        except CRIError as exc:
            return text(404 if exc.not_found else 500, exc.details)
        await splice_to_runtime(url, request, streams)
        return None

    async def port_forward(self, request: HTTPRequest, rest: list[str], streams: Streams) -> HTTPResponse | None:
        if len(rest) not in (2, 3):
            return text(404, "404 page not found")
        namespace, name = rest[0], rest[1]
        pod = self.host.pod(namespace, name)
        if pod is None:
            return text(404, "pod does not exist")
        pod_uid = pod["metadata"]["uid"]
        full_name = f"{name}_{namespace}"
        if len(rest) == 3 and rest[2] != pod_uid:
            return text(500, f'pod not found ("{full_name}")')
        ports: list[int] = []
        for value in request.query.get("port", []):
            for port in filter(None, (p.strip() for p in value.split(","))):
                if not port.isdigit() or not 0 < int(port) < 65536:
                    return text(400, f"invalid port {port!r}")
                ports.append(int(port))
        view = await self.host.runtime_view(pod_uid)
        if not view.sandbox_ready:
            return text(500, f'pod not found ("{full_name}")')
        try:
            url = await self.host.cri.port_forward(view.sandbox_id, ports)
        except CRIError as exc:
            return text(404 if exc.not_found else 500, exc.details)
        await splice_to_runtime(url, request, streams)
        return None


async def splice_to_runtime(url: str, request: HTTPRequest, streams: Streams) -> None:
    """Send ``request``'s head to the runtime's streaming ``url``, then copy bytes both ways."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"unsupported streaming URL {url!r}")
    client_reader, client_writer = streams
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
    lines = [f"{request.method} {parts.path}{'?' + parts.query if parts.query else ''} HTTP/1.1",
             f"Host: {parts.netloc}"]
    for header, value in request.headers:
        if header.lower() in _HOP_HEADERS:
            continue
        if header.lower() == "x-stream-protocol-version":
            lines += [f"{header}: {v.strip()}" for v in value.split(",") if v.strip()]
        else:
            lines.append(f"{header}: {value}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    await splice(client_reader, client_writer, reader, writer)


async def splice(a_reader: asyncio.StreamReader, a_writer: asyncio.StreamWriter,
                 b_reader: asyncio.StreamReader, b_writer: asyncio.StreamWriter) -> None:
    """Copy both ways; an end of one direction is passed on as a half-close where the transport
    allows it (TLS does not: then the whole connection ends), and both end when both have."""

    async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(READ_CHUNK):
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof() and not writer.is_closing():
                writer.write_eof()
                return True  # half-closed: the other direction goes on
        return False

    tasks = {asyncio.ensure_future(pump(a_reader, b_writer)), asyncio.ensure_future(pump(b_reader, a_writer))}
    try:
        pending = tasks
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            if any(not task.result() for task in done if not task.cancelled() and task.exception() is None):
                break
    finally:
        await cancel_and_wait(tasks)
        b_writer.close()
        a_writer.close()
