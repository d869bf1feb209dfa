"""URL routing and discovery documents built from the catalog."""

from __future__ import annotations

import orjson

from kubeherd.api.resources import CATALOG
from kubeherd.apiserver.discovery import V2, V2BETA1, Discovery, aggregated_type
from kubeherd.apiserver.handlers import route


def test_routes() -> None:
    t = route(CATALOG, "GET", "/api/v1/namespaces/ns1/pods/p/log", False)
    assert t and (t.resource.plural, t.namespace, t.name, t.subresource, t.verb) == ("pods", "ns1", "p", "log", "get")
    t = route(CATALOG, "GET", "/api/v1/namespaces/ns1", False)
    assert t and (t.resource.plural, t.namespace, t.name) == ("namespaces", "", "ns1")
    t = route(CATALOG, "PUT", "/api/v1/namespaces/ns1/finalize", False)
    assert t and (t.resource.plural, t.name, t.subresource, t.verb) == ("namespaces", "ns1", "finalize", "update")
    t = route(CATALOG, "GET", "/apis/apps/v1/deployments", True)
    assert t and (t.resource.plural, t.namespace, t.verb) == ("deployments", "", "watch")
    t = route(CATALOG, "GET", "/apis/apps/v1/watch/namespaces/x/deployments/d", False)
    assert t and (t.name, t.verb) == ("d", "watch")
    t = route(CATALOG, "DELETE", "/api/v1/namespaces/x/configmaps", False)
    assert t and t.verb == "deletecollection"
    assert route(CATALOG, "GET", "/api/v1/namespaces/x/nodes", False) is None  # cluster-scoped
    assert route(CATALOG, "GET", "/api/v1/pods/p/bogus", False) is None
    assert route(CATALOG, "GET", "/apis/nope/v1/things", False) is None


def test_accept_header_picks_aggregated_form() -> None:
    assert aggregated_type(f"{V2},{V2BETA1},application/json") == V2
    assert aggregated_type(f"{V2BETA1},application/json") == V2BETA1
    assert aggregated_type("application/json") is None


def test_discovery_documents() -> None:
    d = Discovery(CATALOG)
    body, media = d.body("/apis", V2) or (b"", "")
    doc = orjson.loads(body)
    groups = [g["metadata"]["name"] for g in doc["items"]]
    assert groups[0] == "apps" and "batch" in groups and "autoscaling" in groups
    autoscaling = next(g for g in doc["items"] if g["metadata"]["name"] == "autoscaling")
    assert [v["version"] for v in autoscaling["versions"]] == ["v2", "v1"]  # first is preferred
    body, media = d.body("/api", V2BETA1) or (b"", "")
    core = orjson.loads(body)["items"][0]["versions"][0]["resources"]
    pods = next(r for r in core if r["resource"] == "pods")
    assert pods["shortNames"] == ["po"] and pods["categories"] == ["all"] and pods["scope"] == "Namespaced"
    assert {s["subresource"] for s in pods["subresources"]} >= {"status", "log", "exec", "eviction", "binding"}
    legacy, media = d.body("/api", "application/json") or (b"", "")
    assert media == "application/json" and orjson.loads(legacy)["kind"] == "APIVersions"
