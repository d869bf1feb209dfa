"""Lists: selectors, pagination and the resourceVersion / resourceVersionMatch rules.

Most lists are answered from the watch cache. A list that must see the past (a continue token
whose snapshot the cache has moved beyond, or `resourceVersionMatch=Exact` at an older
revision) reads the datastore at that revision, as upstream reads etcd, so every page of a
paginated list comes from one consistent snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kubeherd.api import errors, selectors
from kubeherd.api.resources import Resource
from kubeherd.apiserver.http import Request
from kubeherd.apiserver.registry import Registry
from kubeherd.storage.cache import CachedObject, decode
from kubeherd.storage.interface import Compacted, FutureRevision

Predicate = Callable[[CachedObject], bool]
STORE_PAGE = 1000


@dataclass(slots=True)
class ListQuery:
    label_selector: Any = None
    field_requirements: list[tuple[str, str, str]] = field(default_factory=list)
    limit: int = 0
    continue_token: str = ""
    resource_version: str = ""
    match: str = ""

    @classmethod
    def parse(cls, request: Request, resource: Resource, watch: bool = False) -> ListQuery:
        query = cls()
        label_text = request.arg("labelSelector")
        if label_text:
            try:
                query.label_selector = selectors.parse_label_selector(label_text)
            except ValueError as exc:
                raise errors.bad_request(str(exc)) from exc
        field_text = request.arg("fieldSelector")
        if field_text:
            try:
                parsed = selectors.convert_field_selector(
                    resource.group, resource.kind, selectors.parse_field_selector(field_text))
            except ValueError as exc:
                raise errors.bad_request(str(exc)) from exc
            query.field_requirements.extend(parsed.requirements)
        limit = request.arg("limit")
        if limit:
            try:
                query.limit = max(0, int(limit))
            except ValueError as exc:
                raise errors.bad_request(f"limit: invalid value {limit!r}: must be an integer") from exc
        query.continue_token = request.arg("continue")
        query.resource_version = request.arg("resourceVersion")
        query.match = request.arg("resourceVersionMatch")
        if query.match and query.match not in ("Exact", "NotOlderThan"):
            raise errors.invalid("meta.k8s.io", "ListOptions", "", [{
                "type": "FieldValueNotSupported", "field": "resourceVersionMatch",
                "message": f'Unsupported value: "{query.match}": supported values: "Exact", "NotOlderThan", ""'}])
        if query.match and not query.resource_version:
            raise errors.invalid("meta.k8s.io", "ListOptions", "", [{
                "type": "FieldValueForbidden", "field": "resourceVersionMatch",
                "message": "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"}])
        if query.continue_token and query.resource_version and query.resource_version != "0" and not watch:
            raise errors.invalid("meta.k8s.io", "ListOptions", "", [{
                "type": "FieldValueForbidden", "field": "resourceVersion",
                "message": "Forbidden: specifying resource version is not allowed when using continue"}])
        if query.resource_version and query.resource_version != "0":
            try:
                if int(query.resource_version) < 0:
                    raise ValueError
            except ValueError as exc:
                raise errors.bad_request(f'invalid resource version "{query.resource_version}"') from exc
        if query.match == "Exact" and query.resource_version == "0":
            raise errors.invalid("meta.k8s.io", "ListOptions", "", [{
                "type": "FieldValueForbidden", "field": "resourceVersionMatch",
                "message": 'Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"'}])
        return query

    @property
    def has_selectors(self) -> bool:
        return bool(self.field_requirements) or (self.label_selector is not None and not self.label_selector.empty)


@dataclass(slots=True)
class ListResult:
    items: list[CachedObject]
    revision: int
    continue_token: str = ""
    remaining: int | None = None


class Lister:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.cache = registry.cache
        self.store = registry.store

    def predicate(self, resource: Resource, query: ListQuery) -> Predicate:
        labels = query.label_selector
        requirements = query.field_requirements
        group, kind = resource.group, resource.kind
        if (labels is None or labels.empty) and not requirements:
            return lambda cached: True

        def matches(cached: CachedObject) -> bool:
            obj = cached.obj
            if labels is not None and not labels.matches((obj.get("metadata") or {}).get("labels") or {}):
                return False
            if requirements:
                fields = selectors.object_fields(group, kind, obj)
                for name, op, value in requirements:
                    actual = fields.get(name, "")
                    if (actual == value) != (op in ("=", "==")):
                        return False
            return True

        return matches

    async def list(self, resource: Resource, namespace: str, query: ListQuery) -> ListResult:
        prefix = resource.storage_prefix
        start_after = ""
        snapshot = 0
        if query.continue_token:
            snapshot, start_after = self.registry.decode_continue(query.continue_token, prefix)
        elif query.match == "Exact":
            snapshot = int(query.resource_version)
        elif query.resource_version == "":
            await self.cache.wait_fresh()
        elif query.resource_version != "0":
            wanted = int(query.resource_version)
            if wanted > self.cache.revision:
                try:
                    await self.cache.wait_for(wanted, timeout=3)
                except TimeoutError:
                    raise errors.timeout(f"Too large resource version: {wanted}, current: "
                                         f"{self.cache.revision}") from None
        predicate = self.predicate(resource, query)
        if snapshot and not self._cache_matches_snapshot(prefix, snapshot):
            return await self._list_from_store(resource, namespace, query, predicate, snapshot, start_after)
        revision = snapshot or self.cache.revision
        return self._list_from_cache(resource, namespace, query, predicate, revision, start_after)

    def _cache_matches_snapshot(self, prefix: str, snapshot: int) -> bool:
        """True when the cache's state of this resource is the state as of `snapshot`."""
        if snapshot > self.cache.revision:
            return False
        events = self.cache.resource(prefix).events
        return not events or events[-1].revision <= snapshot

    def _node_filter(self, resource: Resource, query: ListQuery) -> str | None:
        if resource.kind != "Pod" or resource.group:
            return None
        for name, op, value in query.field_requirements:
            if name == "spec.nodeName" and op in ("=", "=="):
                return value
        return None

    def _list_from_cache(self, resource: Resource, namespace: str, query: ListQuery, predicate: Predicate,
                         revision: int, start_after: str) -> ListResult:
        candidates: Iterable[CachedObject] = self.cache.resource(resource.storage_prefix).select(
            namespace, self._node_filter(resource, query))
        if start_after:
            candidates = [c for c in candidates if c.key > start_after]
        matched: list[CachedObject] = []
        limit = query.limit
        remaining_candidates = 0
        for index, cached in enumerate(candidates):
            if not predicate(cached):
                continue
            if limit and len(matched) == limit:
                remaining_candidates = len(candidates) - index if isinstance(candidates, list) else 1  # type: ignore[arg-type]
                break
            matched.append(cached)
        if limit and remaining_candidates:
            token = self.registry.encode_continue(revision, matched[-1].key, resource.storage_prefix)
            remaining = None if query.has_selectors else remaining_candidates
            return ListResult(matched, revision, token, remaining)
        return ListResult(matched, revision)

    async def _list_from_store(self, resource: Resource, namespace: str, query: ListQuery, predicate: Predicate,
                               snapshot: int, start_after: str) -> ListResult:
        prefix = resource.storage_prefix
        scan = f"{prefix}{namespace}/" if namespace and resource.namespaced else prefix
        matched: list[CachedObject] = []
        cursor = start_after
        more = True
        while more:
            try:
                page = await self.store.list(scan, start_after=cursor, limit=STORE_PAGE, revision=snapshot)
            except Compacted:
                if query.continue_token:
                    raise errors.gone("The provided continue parameter is too old to display a consistent list "
                                      "result. You can start a new list without the continue parameter.") from None
                raise errors.gone(f"The resourceVersion for the provided list is too old. ({snapshot})") from None
            except FutureRevision:
                raise errors.timeout(f"Too large resource version: {snapshot}, current: "
                                     f"{self.store.current_revision()}") from None
            more = page.more
            for kv in page.items:
                cursor = kv.key
                cached = decode(kv.key, kv.value, kv.mod_revision)
                if not predicate(cached):
                    continue
                if query.limit and len(matched) == query.limit:
                    token = self.registry.encode_continue(snapshot, matched[-1].key, prefix)
                    return ListResult(matched, snapshot, token, None)
                matched.append(cached)
        return ListResult(matched, snapshot)
