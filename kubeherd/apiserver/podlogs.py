"""The ``pods/log`` subresource: stream a container's log from the node that runs it.

Design: upstream's apiserver proxies ``GET …/pods/p/log`` to the kubelet's HTTPS server. Here
the kubelet of ``kubeherd server`` runs in the apiserver's process, so the apiserver asks it
directly through :class:`LogSource`, a one-method protocol that ``cli`` wires to the kubelet;
the apiserver imports nothing of the kubelet. A node without a registered source (a remote
agent, a simulated node) answers a clear error instead; the remote path (kubelet HTTPS
server + proxy) is the same interface with an HTTP client behind it.

This module owns the request side: parsing ``PodLogOptions`` from the query, choosing the
container as upstream does (the only one, or the ``kubectl.kubernetes.io/default-container``
annotation is a client concern; with several containers the name is required), and
answering ``text/plain``, chunked while following.
"""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from kubeherd.api import errors
from kubeherd.apiserver.http import Request, StreamResponse


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


class LogSource(Protocol):
    """A node's container logs: checks the request, then returns the stream of chunks.

    Raises :class:`kubeherd.api.errors.APIError` for what the user can act on (no previous
    instance, container not started yet) before any byte is sent."""

    async def container_log(self, request: PodLogRequest) -> AsyncIterator[bytes]: ...


# node name → its log source; filled by whoever runs a kubelet in this process
_sources: dict[str, LogSource] = {}


def register_log_source(node_name: str, source: LogSource) -> None:
    _sources[node_name] = source


def unregister_log_source(node_name: str) -> None:
    _sources.pop(node_name, None)


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


def parse_request(request: Request, pod: dict[str, Any]) -> PodLogRequest:
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    names = [c["name"] for c in spec.get("containers") or []]
    others = [c["name"] for c in (spec.get("initContainers") or []) + (spec.get("ephemeralContainers") or [])]
    container = request.arg("container")
    if not container:
        if len(names) != 1:
            raise errors.bad_request(f"a container name must be specified for pod {meta.get('name')}, "
                                     f"choose one of: [{' '.join(names)}]"
                                     + (f" or one of the init containers: [{' '.join(others)}]" if others else ""))
        container = names[0]
    elif container not in names and container not in others:
        raise errors.bad_request(f"container {container} is not valid for pod {meta.get('name')}")
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


async def pod_log(request: Request, pod: dict[str, Any]) -> StreamResponse:
    """Answer ``GET …/pods/{name}/log`` for ``pod`` (already read and authorized)."""
    log_request = parse_request(request, pod)
    node = (pod.get("spec") or {}).get("nodeName") or ""
    if not node:
        raise errors.bad_request(f"pod {log_request.pod} does not have a host assigned")
    source = _sources.get(node)
    if source is None:
        raise errors.bad_request(f"no log source for node {node}: the node's kubelet does not serve logs "
                                 "to this server")
    # awaited here, so "no previous container" is an error status rather than an empty 200
    chunks = await source.container_log(log_request)
    return StreamResponse(200, chunks, "text/plain")
