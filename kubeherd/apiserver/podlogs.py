"""The ``pods/log`` subresource: stream a container's log from the kubelet of the node that runs it.

Design, as upstream: the apiserver checks the request (``PodLogOptions`` from the query, the
container: the only one, or one named that the pod has; with several the name is required)
and then proxies ``GET /containerLogs/{namespace}/{pod}/{container}`` to the node's kubelet
(:mod:`kubeherd.apiserver.proxy`), streaming its ``text/plain`` answer back chunk by chunk while
following. What only the node knows (no previous instance, the container is still waiting to
start) comes back from the kubelet as an error text, which becomes a Status with its code.
The container choice is shared with exec and attach (:func:`pick_container`).

A request that asks to upgrade to WebSocket gets the log as messages instead, as upstream's
``wsstream.Reader``: subprotocol ``binary.k8s.io`` (or none) carries each chunk as a binary
message, ``base64.binary.k8s.io`` as a base64 text message; an empty message opens the stream
and a close frame (1000) ends it when the log does. What the client sends is ignored, except
that its close (or its going away) stops a followed log.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from kubeherd.api import errors
from kubeherd.apiserver.http import Hijack, Request, StreamResponse
from kubeherd.apiserver.proxy import (
    KubeletConnector,
    KubeletLocation,
    as_status_error,
    kubelet_request,
    kubelet_target,
)
from kubeherd.apiserver.websocket import (
    Handshake,
    WebSocket,
    choose_subprotocol,
    handshake,
    offered_subprotocols,
)
from kubeherd.client.aio import cancel_and_wait

# the log's WebSocket subprotocols, each with whether its messages are binary (else base64 text)
LOG_WEBSOCKET_PROTOCOLS = {"": True, "binary.k8s.io": True, "base64.binary.k8s.io": False}


@dataclass(frozen=True)
class PodLogRequest:
    namespace: str
    pod: str
    uid: str
    container: str
    previous: bool = False
    follow: bool = False
    tail_lines: int | None = None
    since_time: datetime.datetime | None = None
    timestamps: bool = False
    limit_bytes: int | None = None


def _int_arg(request: Request, name: str) -> int | None:
    text = request.arg(name)
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise errors.bad_request(f"{name}: invalid value {text!r}: must be an integer") from None


def _bool(request: Request, name: str) -> bool:
    return request.arg(name).lower() in ("true", "1")


def pick_container(pod: dict[str, Any], container: str) -> str:
    """The container a log, exec or attach request is for, with upstream's errors."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    names = [c["name"] for c in spec.get("containers") or []]
    init = [c["name"] for c in spec.get("initContainers") or []]
    ephemeral = [c["name"] for c in spec.get("ephemeralContainers") or []]
    if not container:
        if len(names) == 1:
            return names[0]
        if not names:
            raise errors.bad_request(f"a container name must be specified for pod {meta.get('name')}")
        raise errors.bad_request(f"a container name must be specified for pod {meta.get('name')}, "
                                 f"choose one of: [{' '.join(names)}]"
                                 + (f" or one of the init containers: [{' '.join(init)}]" if init else "")
                                 + (f" or one of the ephemeral containers: [{' '.join(ephemeral)}]"
                                    if ephemeral else ""))
    if container not in names + init + ephemeral:
        raise errors.bad_request(f"container {container} is not valid for pod {meta.get('name')}")
    return container


def parse_request(request: Request, pod: dict[str, Any]) -> PodLogRequest:
    meta = pod.get("metadata") or {}
    container = pick_container(pod, request.arg("container"))
    since_time = None
    since_seconds = _int_arg(request, "sinceSeconds")
    if request.arg("sinceTime"):
        try:
            since_time = datetime.datetime.fromisoformat(request.arg("sinceTime").replace("Z", "+00:00"))
        except ValueError:
            raise errors.bad_request(f"sinceTime: invalid value {request.arg('sinceTime')!r}") from None
        if since_seconds is not None:
            raise errors.bad_request("at most one of sinceTime or sinceSeconds may be specified")
    elif since_seconds is not None:
        if since_seconds < 1:
            raise errors.bad_request("sinceSeconds: must be greater than 0")
        since_time = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=since_seconds)
    tail = _int_arg(request, "tailLines")
    if tail is not None and tail < 0:
        raise errors.bad_request("tailLines: must be greater than or equal to 0")
    limit = _int_arg(request, "limitBytes")
    if limit is not None and limit < 1:
        raise errors.bad_request("limitBytes: must be greater than 0")
    return PodLogRequest(namespace=meta.get("namespace", ""), pod=meta.get("name", ""), uid=meta.get("uid", ""),
                         container=container, previous=_bool(request, "previous"), follow=_bool(request, "follow"),
                         tail_lines=tail, since_time=since_time, timestamps=_bool(request, "timestamps"),
                         limit_bytes=limit)


def kubelet_query(log: PodLogRequest) -> list[tuple[str, str]]:
    """The ``PodLogOptions`` as the kubelet's ``/containerLogs`` query (since as an absolute time)."""
    params: list[tuple[str, str]] = []
    for name, on in (("follow", log.follow), ("previous", log.previous), ("timestamps", log.timestamps)):
        if on:
            params.append((name, "true"))
    if log.since_time is not None:
        params.append(("sinceTime", log.since_time.isoformat().replace("+00:00", "Z")))
    if log.tail_lines is not None:
        params.append(("tailLines", str(log.tail_lines)))
    if log.limit_bytes is not None:
        params.append(("limitBytes", str(log.limit_bytes)))
    return params


async def pod_log(request: Request, pod: dict[str, Any], connector: KubeletConnector,
                  locate: Callable[[str], Awaitable[KubeletLocation]]) -> StreamResponse | Hijack:
    """Answer ``GET …/pods/{name}/log`` for ``pod`` (already read and authorized)."""
    log_request = parse_request(request, pod)
    opening = websocket_handshake(request) if request.upgrade == "websocket" else None
    node = (pod.get("spec") or {}).get("nodeName") or ""
    if not node:
        raise errors.bad_request(f"pod {log_request.pod} does not have a host assigned")
    location = await locate(node)
    target = kubelet_target(f"/containerLogs/{log_request.namespace}/{log_request.pod}/{log_request.container}",
                            kubelet_query(log_request))
    # the head is awaited here, so "no previous container" is an error status rather than an empty 200
    response = await kubelet_request(connector, location, "GET", target)
    if response.status != 200:
        raise as_status_error(response.status, await response.text())
    if opening is not None:
        chunks = response.chunks
        return Hijack(lambda stream: stream_log_messages(WebSocket(stream, opening), chunks))
    return StreamResponse(200, response.chunks, "text/plain")


def websocket_handshake(request: Request) -> Handshake:
    """The checked handshake of a log request over WebSocket; the 403 of upstream's ``wsstream``
    when no offered subprotocol is served."""
    offered = offered_subprotocols(request)
    chosen = choose_subprotocol(offered, set(LOG_WEBSOCKET_PROTOCOLS))
    if chosen is None:
        raise errors.APIError(403, "Forbidden", f"requested protocol(s) are not supported: [{' '.join(offered)}]; "
                              f"supports [{' '.join(p for p in LOG_WEBSOCKET_PROTOCOLS if p)}]", {})
    return handshake(request, chosen)


async def stream_log_messages(ws: WebSocket, chunks: AsyncIterator[bytes]) -> None:
    """Copy the log to ``ws`` message by message until it ends or the client leaves."""
    binary = LOG_WEBSOCKET_PROTOCOLS[ws.subprotocol]

    async def copy() -> None:
        await ws.send(b"" if binary else "")
        async for chunk in chunks:
            if chunk:
                await ws.send(chunk if binary else base64.b64encode(chunk).decode("ascii"))

    async def client_leaves() -> None:
        while await ws.receive() is not None:
            pass

    await ws.accept()
    copying, listening = asyncio.ensure_future(copy()), asyncio.ensure_future(client_leaves())
    try:
        await asyncio.wait({copying, listening}, return_when=asyncio.FIRST_COMPLETED)
        if copying.done():
            await ws.close()
            with contextlib.suppress(TimeoutError):  # the client answers our close with its own
                await asyncio.wait_for(asyncio.shield(listening), 5)
    finally:
        await cancel_and_wait((copying, listening))
        with contextlib.suppress(Exception):
            await chunks.aclose()  # type: ignore[attr-defined]
