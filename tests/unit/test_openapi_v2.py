"""The `/openapi/v2` document and its gnostic protobuf encoding.

The bytes are decoded with a small protobuf reader written here, independently of the encoder,
against the field numbers of gnostic's `openapiv2/OpenAPIv2.proto`. A field number the reader
does not expect fails the test, so a misnumbered field cannot pass unnoticed.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from kubeherd.api.resources import CATALOG
from kubeherd.apiserver.openapi_v2 import PROTOBUF_MEDIA_TYPE, encode_protobuf, swagger_document

# --- a minimal protobuf reader ------------------------------------------------------------------


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs: ints for varints, bytes for length-delimited fields."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(data, pos)
            out.append((number, value))
        elif wire == 2:
            size, pos = _read_varint(data, pos)
            out.append((number, data[pos:pos + size]))
            pos += size
        else:
            raise AssertionError(f"unexpected wire type {wire} for field {number}")
    assert pos == len(data), "message overruns its bytes"
    return out


# Message layouts, from OpenAPIv2.proto: field number -> (name, type, repeated). A type is
# "string", "bool" or the name of another message here.
_Layout = dict[int, tuple[str, str, bool]]
_MESSAGES: dict[str, _Layout] = {
    "Document": {1: ("swagger", "string", False), 2: ("info", "Info", False), 8: ("paths", "Paths", False),
                 9: ("definitions", "Definitions", False), 16: ("vendor_extension", "NamedAny", True)},
    "Info": {1: ("title", "string", False), 2: ("version", "string", False),
             3: ("description", "string", False), 7: ("vendor_extension", "NamedAny", True)},
    "Paths": {1: ("vendor_extension", "NamedAny", True), 2: ("path", "NamedPathItem", True)},
    "NamedPathItem": {1: ("name", "string", False), 2: ("value", "PathItem", False)},
    "PathItem": {2: ("get", "Operation", False), 3: ("put", "Operation", False),
                 4: ("post", "Operation", False), 5: ("delete", "Operation", False),
                 8: ("patch", "Operation", False), 9: ("parameters", "ParametersItem", True),
                 10: ("vendor_extension", "NamedAny", True)},
    "Operation": {1: ("tags", "string", True), 5: ("operation_id", "string", False),
                  8: ("parameters", "ParametersItem", True), 9: ("responses", "Responses", False),
                  13: ("vendor_extension", "NamedAny", True)},
    "ParametersItem": {1: ("parameter", "Parameter", False)},
    "Parameter": {2: ("non_body_parameter", "NonBodyParameter", False)},
    "NonBodyParameter": {3: ("query_parameter_sub_schema", "QueryParameterSubSchema", False),
                         4: ("path_parameter_sub_schema", "PathParameterSubSchema", False)},
    "QueryParameterSubSchema": {1: ("required", "bool", False), 2: ("in", "string", False),
                                4: ("name", "string", False), 6: ("type", "string", False),
                                20: ("unique_items", "bool", False)},
    "PathParameterSubSchema": {1: ("required", "bool", False), 2: ("in", "string", False),
                               4: ("name", "string", False), 5: ("type", "string", False),
                               19: ("unique_items", "bool", False)},
    "Responses": {1: ("response_code", "NamedResponseValue", True)},
    "NamedResponseValue": {1: ("name", "string", False), 2: ("value", "ResponseValue", False)},
    "ResponseValue": {1: ("response", "Response", False)},
    "Response": {1: ("description", "string", False), 2: ("schema", "SchemaItem", False)},
    "SchemaItem": {1: ("schema", "Schema", False)},
    "NamedAny": {1: ("name", "string", False), 2: ("value", "Any", False)},
    "Any": {2: ("yaml", "string", False)},
    "Definitions": {1: ("additional_properties", "NamedSchema", True)},
    "NamedSchema": {1: ("name", "string", False), 2: ("value", "Schema", False)},
    "Schema": {1: ("_ref", "string", False), 2: ("format", "string", False), 4: ("description", "string", False),
               19: ("required", "string", True), 21: ("additional_properties", "AdditionalPropertiesItem", False),
               22: ("type", "TypeItem", False), 23: ("items", "ItemsItem", False),
               25: ("properties", "Properties", False), 31: ("vendor_extension", "NamedAny", True)},
    "AdditionalPropertiesItem": {1: ("schema", "Schema", False), 2: ("boolean", "bool", False)},
    "TypeItem": {1: ("value", "string", True)},
    "ItemsItem": {1: ("schema", "Schema", True)},
    "Properties": {1: ("additional_properties", "NamedSchema", True)},
}


def _decode(data: bytes, message: str) -> dict[str, Any]:
    layout = _MESSAGES[message]
    out: dict[str, Any] = {}
    for number, raw in _fields(data):
        assert number in layout, f"{message} has no field {number} here"
        name, kind, repeated = layout[number]
        value: Any
        if kind == "bool":
            assert isinstance(raw, int)
            value = bool(raw)
        else:
            assert isinstance(raw, bytes)
            value = raw.decode() if kind == "string" else _decode(raw, kind)
        if repeated:
            out.setdefault(name, []).append(value)
        else:
            assert name not in out, f"{message}.{name} written twice"
            out[name] = value
    return out


# --- back to Swagger JSON, to compare with the document the encoder was given -------------------


def _extensions_json(msg: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: yaml.safe_load(e["value"]["yaml"]) for e in msg.get("vendor_extension", [])}


def _param_json(item: dict[str, Any]) -> dict[str, Any]:
    nb = item["parameter"]["non_body_parameter"]
    sub = nb.get("query_parameter_sub_schema") or nb["path_parameter_sub_schema"]
    out: dict[str, Any] = {"name": sub["name"], "in": sub["in"]}
    if sub.get("required"):
        out["required"] = True
    out["type"] = sub["type"]
    if sub.get("unique_items"):
        out["uniqueItems"] = True
    return out


def _schema_json(schema: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "_ref" in schema:
        out["$ref"] = schema["_ref"]
    for name in ("format", "description", "required"):
        if name in schema:
            out[name] = schema[name]
    extra = schema.get("additional_properties")
    if extra is not None:
        out["additionalProperties"] = _schema_json(extra["schema"]) if "schema" in extra else extra["boolean"]
    if "type" in schema:
        types = schema["type"]["value"]
        out["type"] = types[0] if len(types) == 1 else types
    if "items" in schema:
        [items] = schema["items"]["schema"]
        out["items"] = _schema_json(items)
    if "properties" in schema:
        out["properties"] = {p["name"]: _schema_json(p["value"])
                             for p in schema["properties"].get("additional_properties", [])}
    return {**out, **_extensions_json(schema)}


def _response_json(response: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"description": response["description"]}
    if "schema" in response:
        out["schema"] = _schema_json(response["schema"]["schema"])
    return out


def _operation_json(op: dict[str, Any]) -> dict[str, Any]:
    return {
        "tags": op["tags"],
        "operationId": op["operation_id"],
        "parameters": [_param_json(p) for p in op["parameters"]],
        "responses": {r["name"]: _response_json(r["value"]["response"]) for r in op["responses"]["response_code"]},
        **_extensions_json(op),
    }


def _document_json(doc: dict[str, Any]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for named in doc["paths"]["path"]:
        item = named["value"]
        out: dict[str, Any] = {"parameters": [_param_json(p) for p in item.get("parameters", [])]}
        for method in ("get", "put", "post", "delete", "patch"):
            if method in item:
                out[method] = _operation_json(item[method])
        paths[named["name"]] = out
    definitions = {d["name"]: _schema_json(d["value"]) for d in doc["definitions"].get("additional_properties", [])}
    return {"swagger": doc["swagger"], "info": {"title": doc["info"]["title"], "version": doc["info"]["version"]},
            "paths": paths, "definitions": definitions}


# --- kubectl's check (cli-runtime resource.supportsQueryParam), over the decoded message --------


def _kubectl_supports(doc: dict[str, Any], group: str, version: str, kind: str, param: str) -> bool | None:
    """True/False for the first patch operation of the kind; None when the kind is not found."""
    for named in doc["paths"]["path"]:
        patch = named["value"].get("patch")
        if patch is None or not _has_gvk(patch.get("vendor_extension", []), group, version, kind):
            continue
        names = [p["parameter"]["non_body_parameter"].get("query_parameter_sub_schema", {}).get("name")
                 for p in patch.get("parameters", [])]
        return param in names
    return None


def _has_gvk(extensions: list[dict[str, Any]], group: str, version: str, kind: str) -> bool:
    for ext in extensions:
        text = ext.get("value", {}).get("yaml", "")
        if not text or ext["name"] != "x-kubernetes-group-version-kind":
            continue
        value = yaml.safe_load(text)
        return isinstance(value, dict) and value == {"group": group, "version": version, "kind": kind}
    return False


# --- tests --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return swagger_document(CATALOG)


@pytest.fixture(scope="module")
def decoded(document: dict[str, Any]) -> dict[str, Any]:
    return _decode(encode_protobuf(document), "Document")


def test_media_type_is_parseable_by_go_mime() -> None:
    # What kube-apiserver answers with; the `@v1.0` form makes Go's mime.ParseMediaType fail.
    assert PROTOBUF_MEDIA_TYPE == "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    assert "@" not in PROTOBUF_MEDIA_TYPE


def test_document_header(document: dict[str, Any], decoded: dict[str, Any]) -> None:
    assert document["swagger"] == "2.0"
    assert decoded["swagger"] == "2.0"
    assert decoded["info"] == {"title": "Kubernetes", "version": "v1.33.0"}
    # Field 1 (swagger) first, as Go's marshaller writes it.
    assert encode_protobuf(document).startswith(b"\x0a\x032.0")


def test_pod_patch_has_gvk_and_field_validation(decoded: dict[str, Any]) -> None:
    paths = {p["name"]: p["value"] for p in decoded["paths"]["path"]}
    patch = paths["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"]
    extensions = {e["name"]: e["value"]["yaml"] for e in patch["vendor_extension"]}
    assert yaml.safe_load(extensions["x-kubernetes-group-version-kind"]) == {
        "group": "", "version": "v1", "kind": "Pod"}
    assert yaml.safe_load(extensions["x-kubernetes-action"]) == "patch"
    query = [p["parameter"]["non_body_parameter"]["query_parameter_sub_schema"] for p in patch["parameters"]]
    assert {"name": "fieldValidation", "in": "query", "type": "string", "unique_items": True} in query
    assert [q["name"] for q in query] == ["dryRun", "fieldManager", "fieldValidation", "pretty", "force"]
    path_params = [p["parameter"]["non_body_parameter"]["path_parameter_sub_schema"]
                   for p in paths["/api/v1/namespaces/{namespace}/pods/{name}"]["parameters"]]
    assert [(p["name"], p["in"], p["required"]) for p in path_params] == [
        ("namespace", "path", True), ("name", "path", True)]


def test_round_trip_matches_json_document(document: dict[str, Any], decoded: dict[str, Any]) -> None:
    assert _document_json(decoded) == document
    # Paths keep the JSON document's (sorted) order.
    assert [p["name"] for p in decoded["paths"]["path"]] == sorted(document["paths"])


def test_kubectl_finds_field_validation_for_every_patchable_kind(decoded: dict[str, Any]) -> None:
    for r in CATALOG.resources:
        if "patch" in r.verbs:
            assert _kubectl_supports(decoded, r.group, r.version, r.kind, "fieldValidation"), r
    assert _kubectl_supports(decoded, "apps", "v1", "Deployment", "fieldValidation")
    assert _kubectl_supports(decoded, "", "v1", "Namespace", "fieldValidation")  # kubectl's CRD fallback
    assert _kubectl_supports(decoded, "example.com", "v1", "Widget", "fieldValidation") is None


def test_operations_follow_verbs(document: dict[str, Any]) -> None:
    paths = document["paths"]
    assert set(paths["/api/v1/namespaces/{namespace}/bindings"]) == {"parameters", "post"}
    assert "/api/v1/namespaces/{namespace}/bindings/{name}" not in paths
    assert set(paths["/api/v1/namespaces/{namespace}/pods/{name}"]) == {
        "parameters", "get", "put", "patch", "delete"}
    assert paths["/api/v1/namespaces"]["parameters"] == []
    assert paths["/api/v1/namespaces/{namespace}/pods"]["get"]["x-kubernetes-action"] == "list"
    status = paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status"]["patch"]
    assert status["x-kubernetes-group-version-kind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    scale = paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["patch"]
    assert scale["x-kubernetes-group-version-kind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    assert "/api/v1/namespaces/{namespace}/pods/{name}/exec" not in paths  # no patch verb


def test_definitions_are_the_schemas_the_operations_reach(document: dict[str, Any], decoded: dict[str, Any]) -> None:
    definitions = document["definitions"]
    pod = definitions["io.k8s.api.core.v1.Pod"]
    assert pod["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "Pod", "version": "v1"}]
    assert pod["properties"]["spec"] == {
        "$ref": "#/definitions/io.k8s.api.core.v1.PodSpec",
        "description": "Specification of the desired behavior of the pod. More info: "
                       "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#spec-and-status"}
    # Upstream's v2 shapes for the two scalar unions.
    assert definitions["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] == {"format": "int-or-string",
                                                                              "type": "string"}
    assert definitions["io.k8s.apimachinery.pkg.api.resource.Quantity"] == {"type": "string"}
    # Every reference names a definition of the document (kubectl's parser refuses a dangling one).
    refs: set[str] = set()

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.add(node["$ref"].removeprefix("#/definitions/"))
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(document)
    assert refs and refs <= set(definitions)
    assert "io.k8s.api.apps.v1.DeploymentList" in definitions  # the list operation's response
    # Responses reference the kind, as upstream's do.
    get = document["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["get"]
    assert get["responses"]["200"] == {"description": "OK",
                                       "schema": {"$ref": "#/definitions/io.k8s.api.apps.v1.Deployment"}}
    assert get["responses"]["401"] == {"description": "Unauthorized"}
    names = [d["name"] for d in decoded["definitions"]["additional_properties"]]
    assert names == sorted(definitions)


@pytest.mark.parametrize("change", [
    lambda d: d["definitions"].update({"io.k8s.api.core.v1.Pod": {"type": "object", "allOf": []}}),
    lambda d: d.update({"host": "example.com"}),
    lambda d: d["paths"]["/api/v1/namespaces"]["post"]["parameters"].append(
        {"name": "body", "in": "body", "required": True}),
])
def test_unsupported_content_is_refused(change: Any) -> None:
    doc = swagger_document(CATALOG)
    change(doc)
    with pytest.raises(ValueError):
        encode_protobuf(doc)
