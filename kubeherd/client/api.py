"""A small async API client over plain dicts: the verbs every component needs, for any kind.

Objects stay JSON-compatible dicts, as on the wire. A resource is named by `ResourceRef`
(api version, plural, namespaced); errors come back as `APIStatusError` carrying the server's
`Status`, so callers test `err.code == 404` or `err.reason == "AlreadyExists"`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson

from kubeherd.client.transport import Query, StreamError, Transport

Obj = dict[str, Any]

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"


@dataclass(frozen=True, slots=True)
class ResourceRef:
    api_version: str
    plural: str
    namespaced: bool = True
    kind: str = ""

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    def path(self, namespace: str = "", name: str = "", subresource: str = "") -> str:
        base = f"/apis/{self.api_version}" if "/" in self.api_version else f"/api/{self.api_version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
            if subresource:
                base += f"/{subresource}"
        return base


class APIStatusError(Exception):
    def __init__(self, code: int, status: Obj) -> None:
        super().__init__(f"{code} {status.get('reason', '')}: {status.get('message', '')}")
        self.code = code
        self.status = status

    @property
    def reason(self) -> str:
        return str(self.status.get("reason", ""))


def _raise_for(code: int, body: bytes) -> None:
    try:
        status = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        status = {"message": body[:500].decode("utf-8", "replace")}
    if not isinstance(status, dict):
        status = {"message": str(status)}
    raise APIStatusError(code, status)


class APIClient:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def request(self, method: str, path: str, query: Query | None = None, body: Any = None,
                      content_type: str = "application/json") -> Obj:
        """Any request to any path (discovery documents, collections, subresources): the body is
        sent as JSON, a JSON answer returned decoded; an error answer raises APIStatusError."""
        data = None if body is None else orjson.dumps(body)
        response = await self.transport.request(method, path, query, data, content_type)
        if response.status >= 300:
            _raise_for(response.status, response.body)
        return orjson.loads(response.body) if response.body else {}

    async def get(self, ref: ResourceRef, name: str, namespace: str = "", subresource: str = "") -> Obj:
        return await self.request("GET", ref.path(namespace, name, subresource))

    async def list(self, ref: ResourceRef, namespace: str = "", *, label_selector: str = "",
                   field_selector: str = "", limit: int = 0, continue_token: str = "",
                   resource_version: str = "") -> Obj:
        query: Query = {}
        if label_selector:
            query["labelSelector"] = label_selector
        if field_selector:
            query["fieldSelector"] = field_selector
        if limit:
            query["limit"] = str(limit)
        if continue_token:
            query["continue"] = continue_token
        if resource_version:
            query["resourceVersion"] = resource_version
        return await self.request("GET", ref.path(namespace), query)

    async def create(self, ref: ResourceRef, obj: Obj, namespace: str = "", subresource: str = "",
                     name: str = "") -> Obj:
        ns = namespace or obj.get("metadata", {}).get("namespace", "")
        return await self.request("POST", ref.path(ns, name, subresource), body=obj)

    async def update(self, ref: ResourceRef, obj: Obj, subresource: str = "") -> Obj:
        meta = obj["metadata"]
        return await self.request("PUT", ref.path(meta.get("namespace", ""), meta["name"], subresource), body=obj)

    async def update_status(self, ref: ResourceRef, obj: Obj) -> Obj:
        return await self.update(ref, obj, "status")

    async def patch(self, ref: ResourceRef, name: str, patch: Any, namespace: str = "", *,
                    content_type: str = MERGE, subresource: str = "") -> Obj:
        return await self.request("PATCH", ref.path(namespace, name, subresource), body=patch,
                                content_type=content_type)

    async def delete(self, ref: ResourceRef, name: str, namespace: str = "", *,
                     propagation: str = "", grace_period: int | None = None,
                     preconditions: Obj | None = None) -> Obj:
        options: Obj = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation:
            options["propagationPolicy"] = propagation
        if grace_period is not None:
            options["gracePeriodSeconds"] = grace_period
        if preconditions:
            options["preconditions"] = preconditions
        return await self.request("DELETE", ref.path(namespace, name), body=options)

    async def watch(self, ref: ResourceRef, namespace: str = "", *, resource_version: str = "",
                    label_selector: str = "", field_selector: str = "", timeout_seconds: int = 0,
                    bookmarks: bool = True) -> AsyncIterator[Obj]:
        """Watch events as dicts {type, object}; an ERROR event is yielded, not raised."""
        query: Query = {"watch": "true"}
        if resource_version:
            query["resourceVersion"] = resource_version
        if label_selector:
            query["labelSelector"] = label_selector
        if field_selector:
            query["fieldSelector"] = field_selector
        if timeout_seconds:
            query["timeoutSeconds"] = str(timeout_seconds)
        if bookmarks:
            query["allowWatchBookmarks"] = "true"
        try:
            async for line in self.transport.stream(ref.path(namespace), query):
                yield orjson.loads(line)
        except StreamError as exc:
            _raise_for(exc.status, exc.body)
