"""Resource requests: route a URL to (resource, namespace, name, subresource, verb) and serve it.

Everything kind-specific is in the catalog, the strategies and the printers; this module is the
same for every kind. Reads come from the watch cache (lists are the cached bytes joined), writes
go through the registry.
"""

from __future__ import annotations

import asyncio
import datetime
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
import yaml

from kubeherd.api import errors, selectors
from kubeherd.api.patch import (
    APPLY_PATCH,
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
)
from kubeherd.api.resources import Catalog, Resource
from kubeherd.apiserver.admission import AdmissionPlugin
from kubeherd.apiserver.auth import Authenticator
from kubeherd.apiserver.decoding import FieldChecks, decode_object, parse, schema_for
from kubeherd.apiserver.eviction import evict
from kubeherd.apiserver.fieldmanager import (
    WriteManager,
    decode_apply_body,
    manager_name,
    validate_field_manager,
)
from kubeherd.apiserver.http import Hijack, Request, Response, StreamResponse
from kubeherd.apiserver.listing import Lister, ListQuery
from kubeherd.apiserver.registry import DeleteOptions, Registry, apply_patch, pins_version
from kubeherd.apiserver.reviews import REVIEW_KINDS, review
from kubeherd.apiserver.serviceaccount_tokens import ServiceAccountTokens
from kubeherd.apiserver.strategies import rfc3339, strategy_for
from kubeherd.apiserver.streaming import NodeSubresources
from kubeherd.apiserver.tables import TABLE_MEDIA, TableWriter, wants_table
from kubeherd.storage.cache import CachedObject, TooOld, Watcher

JSON = "application/json"
DEFAULT_WATCH_TIMEOUT = 1800


@dataclass(slots=True)
class Target:
    resource: Resource
    namespace: str
    name: str
    subresource: str
    verb: str
    proxy_path: str = ""  # what follows `{name}/proxy/` (nodes/proxy, pods/proxy, services/proxy)


def route(catalog: Catalog, method: str, path: str, watch_param: bool) -> Target | None:
    """Map a resource URL to its target; None if the path names no resource."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    watch_prefix = bool(rest) and rest[0] == "watch"
    if watch_prefix:
        rest = rest[1:]
    namespace = ""
    if len(rest) >= 3 and rest[0] == "namespaces" and not (len(rest) == 3 and rest[2] in ("status", "finalize")):
        namespace, rest = rest[1], rest[2:]
    proxy_path = ""
    if len(rest) > 3 and rest[2] == "proxy":
        rest, proxy_path = rest[:3], "/".join(rest[3:])
    if not rest or len(rest) > 3:
        return None
    resource = catalog.lookup(group, version, rest[0])
    if resource is None:
        return None
    if namespace and not resource.namespaced:
        return None
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    if subresource and resource.subresource(subresource) is None:
        return None
    verb = _verb(method, bool(name), (watch_prefix or watch_param) and subresource != "proxy")  # proxied query
    return Target(resource, namespace, name, subresource, verb, proxy_path)


def _verb(method: str, has_name: bool, watch: bool) -> str:
    if method in ("GET", "HEAD"):
        if watch:
            return "watch"
        return "get" if has_name else "list"
    return {"POST": "create", "PUT": "update", "PATCH": "patch",
            "DELETE": "delete" if has_name else "deletecollection"}.get(method, method.lower())


def decode_body(request: Request, allow_empty: bool = False) -> Any:
    """A body that is not an object of the resource's kind (DeleteOptions, Eviction, …)."""
    return parse(request, allow_empty=allow_empty)[0]


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise errors.bad_request(f"the body of the request could not be decoded as JSON: {exc}") from exc


def _yaml(body: bytes) -> Any:
    try:
        return yaml.safe_load(body)
    except yaml.YAMLError as exc:
        raise errors.bad_request(f"the body of the request could not be decoded as YAML: {exc}") from exc


def json_response(status: int, body: bytes, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, body, JSON, headers or [])


def _success_status(resource: Resource, name: str, uid: str) -> bytes:
    return orjson.dumps({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
        "details": {"name": name, "group": resource.group, "kind": resource.plural, "uid": uid},
    })


def scale_of(resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
    """The autoscaling/v1 Scale view of a scalable object."""
    meta = obj["metadata"]
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    selector = spec.get("selector") or {}
    if resource.kind == "ReplicationController":
        text = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    else:
        text = str(selectors.label_selector_from_dict(selector)) if selector else ""
    return {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                     if k in meta},
        "spec": {"replicas": spec.get("replicas", 1)},
        "status": {"replicas": status.get("replicas", 0), "selector": text},
    }


class ResourceHandler:
    def __init__(self, registry: Registry, bookmark_interval: float = 60.0,
                 authenticator: Authenticator | None = None) -> None:
        self.authenticator = authenticator
        self.registry = registry
        self.cache = registry.cache
        self.lister = Lister(registry)
        self.bookmark_interval = bookmark_interval
        self.node_subresources = NodeSubresources(registry)  # the server gives it kubelet credentials
        self.token_requests: ServiceAccountTokens | None = None  # serviceaccounts/{name}/token
        self.admission: list[AdmissionPlugin] = []  # mutating admission on create, in order

    async def handle(self, request: Request, target: Target) -> Response | StreamResponse | Hijack:
        verb = target.verb
        resource = target.resource
        allowed = resource.verbs
        if target.subresource:
            sub = resource.subresource(target.subresource)
            allowed = sub.verbs if sub else ()
        proxied = target.subresource == "proxy"  # every proxied method (OPTIONS too) is checked where served
        if verb not in allowed and not (verb == "watch" and "list" in allowed and target.name) and not proxied:
            raise errors.method_not_allowed()
        if verb == "list":
            return await self.list_collection(request, target)
        if verb == "watch":
            return await self.watch(request, target)
        if target.subresource and self.node_subresources.serves(resource, target.subresource):
            return await self.node_subresources.handle(request, resource, target.namespace, target.name,
                                                       target.subresource, target.proxy_path)
        if verb == "get":
            return await self.get(request, target)
        if verb == "create":
            return await self.create(request, target)
        if verb == "update":
            return await self.update(request, target)
        if verb == "patch":
            return await self.patch(request, target)
        if verb == "delete":
            return await self.delete(request, target)
        if verb == "deletecollection":
            return await self.delete_collection(request, target)
        raise errors.method_not_allowed()

    # ---------------------------------------------------------------- get
    async def get(self, request: Request, target: Target) -> Response:
        resource = target.resource
        cached = await self.registry.get(resource, target.namespace, target.name)
        if target.subresource == "scale":
            return json_response(200, orjson.dumps(scale_of(resource, cached.obj)))
        if target.subresource not in ("", "status", "ephemeralcontainers"):
            raise errors.method_not_allowed()
        raw = self.registry.encode(resource, cached)
        if wants_table(request.headers.get("accept", "")):
            writer = TableWriter(resource, request.arg("includeObject"))
            body = writer.table([writer.row(cached.obj, raw)], {"resourceVersion": str(cached.revision)})
            return Response(200, body, TABLE_MEDIA)
        return json_response(200, raw)

    # ---------------------------------------------------------------- list
    async def list_collection(self, request: Request, target: Target) -> Response:
        query = ListQuery.parse(request, target.resource)
        result = await self.lister.list(target.resource, target.namespace, query)
        meta: dict[str, Any] = {"resourceVersion": str(result.revision)}
        if result.continue_token:
            meta["continue"] = result.continue_token
            if result.remaining is not None:
                meta["remainingItemCount"] = result.remaining
        resource = target.resource
        if wants_table(request.headers.get("accept", "")):
            writer = TableWriter(resource, request.arg("includeObject"))
            rows = [writer.row(c.obj, self.registry.encode(resource, c)) for c in result.items]
            return Response(200, writer.table(rows, meta), TABLE_MEDIA)
        items = b",".join(self.registry.encode(resource, c) for c in result.items)
        body = (b'{"kind":"' + resource.list_kind.encode() + b'","apiVersion":"' + resource.api_version.encode()
                + b'","metadata":' + orjson.dumps(meta) + b',"items":[' + items + b"]}")
        return json_response(200, body)

    # ---------------------------------------------------------------- watch
    async def watch(self, request: Request, target: Target) -> StreamResponse:
        resource = target.resource
        query = ListQuery.parse(request, resource, watch=True)
        if target.name:
            query.field_requirements.append(("metadata.name", "=", target.name))
        predicate = self.lister.predicate(resource, query)
        timeout = DEFAULT_WATCH_TIMEOUT
        if request.arg("timeoutSeconds"):
            try:
                timeout = max(0, int(request.arg("timeoutSeconds")))
            except ValueError as exc:
                raise errors.bad_request("timeoutSeconds must be an integer") from exc
        bookmarks = request.arg("allowWatchBookmarks") in ("true", "1")
        send_initial = request.arg("sendInitialEvents") == "true"
        rv = request.arg("resourceVersion")
        table = TableWriter(resource, request.arg("includeObject")) \
            if wants_table(request.headers.get("accept", "")) else None
        prefix = resource.storage_prefix
        namespace = target.namespace
        initial: list[CachedObject] = []
        error: bytes | None = None
        if rv in ("", "0") or send_initial:
            if rv == "":
                await self.cache.wait_fresh()
            since = self.cache.revision
            initial = [c for c in self.cache.resource(prefix).select(namespace) if predicate(c)]
            watcher, backlog = self.cache.watch(prefix, since, predicate, namespace)
        else:
            try:
                since = int(rv)
            except ValueError as exc:
                raise errors.bad_request(f'invalid resource version "{rv}"') from exc
            if since > self.cache.revision:
                try:
                    await self.cache.wait_for(since, timeout=3)
                except TimeoutError:
                    raise errors.timeout(f"Too large resource version: {since}, current: "
                                         f"{self.cache.revision}") from None
            try:
                watcher, backlog = self.cache.watch(prefix, since, predicate, namespace)
            except TooOld as exc:
                watcher, backlog = None, []  # type: ignore[assignment]
                error = orjson.dumps({"type": "ERROR", "object": errors.gone(str(exc)).status()}) + b"\n"
        headers: list[tuple[str, str]] = []
        content_type = TABLE_MEDIA if table else JSON
        return StreamResponse(200, self._events(resource, watcher, backlog, initial, since, table, bookmarks,
                                                send_initial, timeout, error, namespace),
                              content_type, headers)

    async def _events(self, resource: Resource, watcher: Any, backlog: list[Any], initial: list[CachedObject],
                      since: int, table: TableWriter | None, bookmarks: bool, send_initial: bool, timeout: float,
                      error: bytes | None, namespace: str) -> AsyncIterator[bytes]:
        if error is not None:
            yield error
            return
        first_table = [True]

        def line(kind: str, cached: CachedObject) -> bytes:
            raw = self.registry.encode(resource, cached)
            if table is not None:
                with_columns = first_table[0]
                first_table[0] = False
                obj = table.table([table.row(cached.obj, raw)], {"resourceVersion": str(cached.revision)},
                                  with_columns)
            else:
                obj = raw
            return b'{"type":"' + kind.encode() + b'","object":' + obj + b"}\n"

        def bookmark(revision: int, initial_end: bool = False) -> bytes:
            meta: dict[str, Any] = {"resourceVersion": str(revision)}
            if initial_end:
                meta["annotations"] = {"k8s.io/initial-events-end": "true"}
            return orjson.dumps({"type": "BOOKMARK", "object": {
                "kind": resource.kind, "apiVersion": resource.api_version, "metadata": meta}}) + b"\n"

        deadline = time.monotonic() + timeout if timeout else None
        try:
            chunk = [line("ADDED", c) for c in initial]
            if send_initial and bookmarks:
                chunk.append(bookmark(since, initial_end=True))
            for event in backlog:
                if namespace and event.current.namespace != namespace:
                    continue
                item = _classify(watcher.predicate, event)
                if item is not None:
                    chunk.append(line(item[0], item[1]))
            if chunk:
                yield b"".join(chunk)
            last_bookmark = time.monotonic()
            while True:
                wait = self.bookmark_interval if bookmarks else None
                if deadline is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return
                    wait = remaining if wait is None else min(wait, remaining)
                try:
                    item = await asyncio.wait_for(watcher.queue.get(), wait) if wait is not None \
                        else await watcher.queue.get()
                except TimeoutError:
                    if bookmarks and time.monotonic() - last_bookmark >= self.bookmark_interval * 0.9:
                        last_bookmark = time.monotonic()
                        yield bookmark(self.cache.revision)
                    continue
                if item is None:
                    return
                out = [line(*item)]
                while not watcher.queue.empty():  # drain what is ready into one write
                    more = watcher.queue.get_nowait()
                    if more is None:
                        yield b"".join(out)
                        return
                    out.append(line(more[0], more[1]))
                yield b"".join(out)
        finally:
            if watcher is not None:
                self.cache.unwatch(resource.storage_prefix, watcher)

    # ---------------------------------------------------------------- writes
    async def create(self, request: Request, target: Target) -> Response:
        resource = target.resource
        if target.name and not target.subresource:
            raise errors.method_not_allowed()
        if target.subresource == "eviction":
            status, out = await evict(self.registry, resource, target.namespace, target.name, decode_body(request),
                                      request.arg("dryRun"))
            return json_response(status, out)
        if target.subresource == "binding" or (resource.kind == "Binding" and not resource.group):
            return await self._bind(target, decode_body(request), request.arg("dryRun") == "All")
        if target.subresource == "token" and self.token_requests is not None:
            answer, warnings = await self.token_requests.token_request(target.namespace, target.name,
                                                                       decode_body(request))
            return json_response(201, orjson.dumps(answer), [("Warning", f'299 - "{w}"') for w in warnings])
        if target.subresource:
            raise errors.method_not_allowed(f"the subresource {target.subresource} is not served yet")
        if resource.kind in REVIEW_KINDS:
            return json_response(201, orjson.dumps(review(resource, target.namespace, decode_body(request),
                                                          request.user, self.authenticator)))
        checks = FieldChecks.from_request(request)
        manager = WriteManager(_field_manager(request, "CreateOptions"))
        body = decode_object(request, resource, checks)
        dry_run = request.arg("dryRun") == "All"
        if isinstance(body, dict):
            for plugin in self.admission:
                await plugin.wait(resource, target.namespace, body)

        def admit(obj: dict[str, Any]) -> None:
            for plugin in self.admission:
                plugin.admit(resource, target.namespace, obj)

        obj, raw = await self.registry.create(resource, target.namespace, body, dry_run=dry_run, manager=manager,
                                              admit=admit)
        return json_response(201, raw, checks.headers())

    async def _bind(self, target: Target, body: Any, dry_run: bool) -> Response:
        """`pods/{name}/binding` and the `bindings` collection: assign a pending pod to a node.

        As upstream's BindingREST: one compare-and-swap write gives the pod its spec.nodeName, the
        Binding's annotations and the PodScheduled=True condition; a pod already assigned, or
        being deleted, is a 409 Conflict. This is how a scheduler binds; spec.nodeName cannot be
        changed by an update.
        """
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a Binding object")
        meta = body.get("metadata") or {}
        name = target.name or str(meta.get("name") or "")
        if target.name and meta.get("name") and meta["name"] != target.name:
            raise errors.bad_request("name in URL does not match name in Binding object")
        node = body.get("target") or {}
        causes = []
        if node.get("kind") not in (None, "", "Node"):
            causes.append({"type": "FieldValueNotSupported", "field": "target.kind",
                           "message": f'Unsupported value: "{node.get("kind")}": supported values: "Node", "<empty>"'})
        if not node.get("name"):
            causes.append({"type": "FieldValueRequired", "field": "target.name", "message": "Required value"})
        if causes:
            raise errors.invalid("", "Binding", name, causes)
        pods = self.registry.catalog.lookup("", "v1", "pods")
        assert pods is not None
        for attempt in range(5):
            current = await self.registry.get(pods, target.namespace, name)
            pod = orjson.loads(current.raw)
            pod_meta, spec = pod["metadata"], pod.setdefault("spec", {})
            for field, have in (("UID", pod_meta.get("uid")), ("ResourceVersion", pod_meta.get("resourceVersion"))):
                want = meta.get(field[0].lower() + field[1:])
                if want and want != have:
                    raise errors.conflict("", "pods", name, f"Precondition failed: {field} in precondition: {want}, "
                                                            f"{field} in object meta: {have}")
            if pod_meta.get("deletionTimestamp"):
                raise errors.conflict("", "pods", name, f"pod {name} is being deleted, cannot be assigned to a host")
            if spec.get("nodeName"):
                raise errors.conflict("", "pods", name, f'pod {name} is already assigned to node "{spec["nodeName"]}"')
            if spec.get("schedulingGates"):
                raise errors.conflict("", "pods", name, f"pod {name} has non-empty .spec.schedulingGates")
            spec["nodeName"] = node["name"]
            if meta.get("annotations"):
                pod_meta["annotations"] = {**(pod_meta.get("annotations") or {}), **meta["annotations"]}
            status = pod.setdefault("status", {})
            conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
            previous = next((c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"), None)
            since = previous.get("lastTransitionTime") if previous and previous.get("status") == "True" else None
            conditions.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                               "lastTransitionTime": since or rfc3339(datetime.datetime.now(datetime.UTC))})
            status["conditions"] = conditions
            if dry_run:
                break
            try:
                await self.registry.compare_and_swap(pods, current, pod)
                break
            except errors.APIError as exc:
                if exc.code != 409 or attempt == 4:
                    raise
        return json_response(201, orjson.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {},
                                                "status": "Success", "code": 201}))

    async def update(self, request: Request, target: Target) -> Response:
        resource = target.resource
        checks = FieldChecks.from_request(request)
        manager = WriteManager(_field_manager(request, "UpdateOptions"), target.subresource)
        body = decode_object(request, resource, checks, target.subresource)
        dry_run = request.arg("dryRun") == "All"
        if target.subresource == "scale":
            return await self._write_scale(request, target, body, dry_run, manager)
        if target.subresource == "finalize":
            return await self._finalize(target, body, dry_run)
        obj, raw, _ = await self.registry.update(resource, target.namespace, target.name, body,
                                                 subresource=target.subresource, dry_run=dry_run, manager=manager)
        return json_response(200, raw, checks.headers())

    async def patch(self, request: Request, target: Target) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == MERGE_PATCH:
            patch_type = "merge"
        elif content_type == JSON_PATCH:
            patch_type = "json"
        elif content_type == STRATEGIC_MERGE_PATCH:
            patch_type = "strategic"
        elif content_type == APPLY_PATCH:
            return await self._apply(request, target)
        else:
            raise errors.unsupported_media_type(content_type or "none")
        manager = WriteManager(_field_manager(request, "PatchOptions"), target.subresource)
        if request.body_too_large:
            raise errors.too_large(3 * 1024 * 1024)
        patch = _json(request.body)
        if patch_type == "merge" and not isinstance(patch, dict):
            raise errors.bad_request("json: cannot unmarshal into Go value of type map[string]interface {}: "
                                     "a merge patch must be a JSON object")
        dry_run = request.arg("dryRun") == "All"
        resource = target.resource
        checks = FieldChecks.from_request(request)
        root = schema_for(resource, target.subresource)
        if target.subresource == "scale":
            cached = await self.registry.get(resource, target.namespace, target.name)
            scale = scale_of(resource, cached.obj)
            patched = checks.check(root, apply_patch(resource, scale, patch_type, patch), None)
            if not pins_version(patch_type, patch):
                patched.get("metadata", {}).pop("resourceVersion", None)  # retried on conflict, as upstream
            return await self._write_scale(request, target, patched, dry_run, manager)
        obj, raw = await self.registry.patch(resource, target.namespace, target.name, patch_type, patch,
                                             subresource=target.subresource, dry_run=dry_run,
                                             check=lambda patched: checks.check_patched(root, patched, patch),
                                             manager=manager)
        return json_response(200, raw, checks.headers())

    async def _apply(self, request: Request, target: Target) -> Response:
        """Server-side apply (`application/apply-patch+yaml`): 201 when it creates the object."""
        resource = target.resource
        name = _field_manager(request, "PatchOptions", apply=True)
        if target.subresource not in ("", "status"):
            raise errors.unsupported_media_type(APPLY_PATCH)
        force = _bool_arg(request, "force")
        if request.body_too_large:
            raise errors.too_large(3 * 1024 * 1024)
        checks = FieldChecks.from_request(request)
        config, duplicates = decode_apply_body(request.body, strict=checks.mode != "Ignore")
        if duplicates:
            problem = "error converting YAML to JSON: yaml: unmarshal errors:\n  " + "\n  ".join(duplicates)
            if checks.mode == "Strict":
                raise errors.bad_request("error strict decoding YAML: " + problem)
            checks.warnings.append(problem.replace("\n", " "))
        root = schema_for(resource, target.subresource)

        def check(merged: dict[str, Any]) -> dict[str, Any]:
            out = checks.check(root, merged, None)
            if not (out.get("metadata") or {}).get("uid"):  # no uid yet: this apply creates the object
                for plugin in self.admission:
                    plugin.admit(resource, target.namespace, out)
            return out

        obj, raw, created = await self.registry.apply(
            resource, target.namespace, target.name, config, manager=WriteManager(name, target.subresource),
            force=force, dry_run=request.arg("dryRun") == "All", check=check)
        return json_response(201 if created else 200, raw, checks.headers())

    async def _write_scale(self, request: Request, target: Target, body: Any, dry_run: bool,
                           manager: WriteManager | None = None) -> Response:
        resource = target.resource
        if not isinstance(body, dict):
            raise errors.bad_request("the body must be a Scale object")
        replicas = (body.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise errors.invalid("autoscaling", "Scale", target.name, [{
                "type": "FieldValueInvalid", "field": "spec.replicas",
                "message": f"Invalid value: {orjson.dumps(replicas).decode()}: must be greater than or equal to 0"}])
        expected = (body.get("metadata") or {}).get("resourceVersion")
        patch: dict[str, Any] = {"spec": {"replicas": replicas}}
        if expected:
            patch["metadata"] = {"resourceVersion": expected}
        scale_manager = WriteManager(manager.name, "scale") if manager is not None else None
        obj, _ = await self.registry.patch(resource, target.namespace, target.name, "merge", patch, dry_run=dry_run,
                                           manager=scale_manager)
        return json_response(200, orjson.dumps(scale_of(resource, obj)))

    async def _finalize(self, target: Target, body: Any, dry_run: bool) -> Response:
        if not isinstance(body, dict):
            raise errors.bad_request("the body must be a Namespace object")
        finalizers = (body.get("spec") or {}).get("finalizers") or []
        obj, raw = await self.registry.finalize_namespace(target.name, list(finalizers), dry_run=dry_run)
        return json_response(200, raw)

    async def delete(self, request: Request, target: Target) -> Response:
        resource = target.resource
        if target.subresource:
            raise errors.method_not_allowed()
        body = decode_body(request, allow_empty=True)
        opts = DeleteOptions.parse(body, request.arg)
        obj, gone = await self.registry.delete(resource, target.namespace, target.name, opts)
        if not gone or strategy_for(resource).return_deleted_object:
            return json_response(200, orjson.dumps(obj))
        return json_response(200, _success_status(resource, target.name, obj["metadata"].get("uid", "")))

    async def delete_collection(self, request: Request, target: Target) -> Response:
        resource = target.resource
        body = decode_body(request, allow_empty=True)
        opts = DeleteOptions.parse(body, request.arg)
        query = ListQuery.parse(request, resource)
        result = await self.lister.list(resource, target.namespace, query)
        deleted: list[bytes] = []
        for cached in result.items:
            name = cached.obj["metadata"]["name"]
            try:
                obj, _ = await self.registry.delete(resource, cached.namespace, name, opts)
            except errors.APIError as exc:
                if exc.code == 404:
                    continue
                raise
            deleted.append(orjson.dumps(obj))
        body_out = (b'{"kind":"' + resource.list_kind.encode() + b'","apiVersion":"' + resource.api_version.encode()
                    + b'","metadata":{},"items":[' + b",".join(deleted) + b"]}")
        return json_response(200, body_out)


def _field_manager(request: Request, options_kind: str, *, apply: bool = False) -> str:
    """The write's manager name, after the checks upstream's Create/Update/PatchOptions make."""
    value = request.arg("fieldManager")
    force = request.arg("force") if "force" in request.query else None
    validate_field_manager(value, options_kind, apply=apply, force=force)
    in_process = request.user if not request.remote else None  # no user agent there: the identity tells
    return manager_name(value, request.headers.get("user-agent", ""), in_process)


_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_FALSE = ("", "0", "f", "F", "FALSE", "false", "False")


def _bool_arg(request: Request, name: str) -> bool:
    value = request.arg(name)
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise errors.bad_request(f'invalid value for {name}: strconv.ParseBool: parsing "{value}": invalid syntax')


def _classify(predicate: Any, event: Any) -> tuple[str, CachedObject] | None:
    """Replay one backlog event through a watcher's filter (same rules as live delivery)."""
    probe = Watcher(predicate)
    probe.offer(event)
    return None if probe.queue.empty() else probe.queue.get_nowait()
