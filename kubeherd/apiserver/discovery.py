"""Discovery documents, built once from the catalog: aggregated (v2 and v2beta1) and legacy.

kubectl reads short names, categories, verbs and scopes only from here. The aggregated form
is answered only when the Accept header asks for it, with the exact Content-Type client-go
checks; otherwise the legacy APIVersions / APIGroupList / APIResourceList documents.
"""

from __future__ import annotations

from typing import Any

import orjson

from kubeherd.api.resources import Catalog, Resource

V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"


def aggregated_type(accept: str) -> str | None:
    """The aggregated media type the client prefers, or None for the legacy documents."""
    for part in accept.split(","):
        params = {p.strip() for p in part.split(";")}
        if "as=APIGroupDiscoveryList" in params and "g=apidiscovery.k8s.io" in params:
            if "v=v2" in params:
                return V2
            if "v=v2beta1" in params:
                return V2BETA1
    return None


def _aggregated_resource(r: Resource) -> dict[str, Any]:
    item: dict[str, Any] = {
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": "Namespaced" if r.namespaced else "Cluster",
        "singularResource": r.singular_name,
        "verbs": sorted(r.verbs),
    }
    if r.short_names:
        item["shortNames"] = list(r.short_names)
    if r.categories:
        item["categories"] = list(r.categories)
    if r.subresources:
        item["subresources"] = [
            {
                "subresource": s.name,
                "responseKind": {"group": s.group if s.group is not None else r.group,
                                 "version": s.version or r.version, "kind": s.kind},
                "verbs": sorted(s.verbs),
            }
            for s in r.subresources
        ]
    return item


def _legacy_resources(resources: list[Resource]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for r in resources:
        item: dict[str, Any] = {
            "name": r.plural, "singularName": r.singular_name, "namespaced": r.namespaced,
            "kind": r.kind, "verbs": sorted(r.verbs),
        }
        if r.short_names:
            item["shortNames"] = list(r.short_names)
        if r.categories:
            item["categories"] = list(r.categories)
        out.append(item)
        for s in r.subresources:
            sub: dict[str, Any] = {"name": f"{r.plural}/{s.name}", "singularName": "", "namespaced": r.namespaced,
                                   "kind": s.kind, "verbs": sorted(s.verbs)}
            if s.group is not None:
                sub["group"] = s.group
                sub["version"] = s.version
            out.append(sub)
    return out


class Discovery:
    """Pre-encoded discovery bodies; the catalog is fixed for the server's lifetime."""

    def __init__(self, catalog: Catalog, server_address: str = "") -> None:
        self.catalog = catalog
        self.bodies: dict[tuple[str, str], bytes] = {}
        addresses = [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}] if server_address else []
        core = self._aggregated_group("")
        named = [self._aggregated_group(g) for g in catalog.groups()]
        for media, api_version in ((V2, "apidiscovery.k8s.io/v2"), (V2BETA1, "apidiscovery.k8s.io/v2beta1")):
            for path, items in (("/api", [core]), ("/apis", named)):
                self.bodies[(path, media)] = orjson.dumps(
                    {"kind": "APIGroupDiscoveryList", "apiVersion": api_version, "metadata": {}, "items": items})
        self.bodies[("/api", "")] = orjson.dumps({
            "kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": addresses})
        groups = [self._legacy_group(g) for g in catalog.groups()]
        self.bodies[("/apis", "")] = orjson.dumps({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        for group in catalog.groups():
            self.bodies[(f"/apis/{group}", "")] = orjson.dumps(
                {"kind": "APIGroup", "apiVersion": "v1", **self._legacy_group(group)})
        for group, versions in catalog.group_versions.items():
            for version in versions:
                gv = f"{group}/{version}" if group else version
                path = f"/apis/{gv}" if group else "/api/v1"
                self.bodies[(path, "")] = orjson.dumps({
                    "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
                    "resources": _legacy_resources(catalog.in_group_version(group, version)),
                })

    def _aggregated_group(self, group: str) -> dict[str, Any]:
        versions = [
            {"version": v, "resources": [_aggregated_resource(r) for r in self.catalog.in_group_version(group, v)],
             "freshness": "Current"}
            for v in self.catalog.group_versions[group]
        ]
        return {"metadata": {"name": group, "creationTimestamp": None}, "versions": versions}

    def _legacy_group(self, group: str) -> dict[str, Any]:
        versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in self.catalog.group_versions[group]]
        return {"name": group, "versions": versions, "preferredVersion": versions[0]}

    def body(self, path: str, accept: str) -> tuple[bytes, str] | None:
        """The document at `path` for this Accept header, with its Content-Type."""
        if path in ("/api", "/apis"):
            media = aggregated_type(accept)
            if media:
                return self.bodies[(path, media)], media
        found = self.bodies.get((path, ""))
        return (found, "application/json") if found is not None else None
