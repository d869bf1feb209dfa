"""The Swagger 2.0 document served at `/openapi/v2`, in JSON form and as gnostic protobuf.

kubectl 1.27 and 1.28 fetch `GET /openapi/v2` before `create`/`apply`/`replace` with the default
`--validate=strict`, asking only for protobuf (`Accept:
application/com.github.proto-openapi.spec.v2@v1.0+protobuf`). They decode the body as gnostic's
`openapi_v2.Document` and look for a `patch` operation whose `x-kubernetes-group-version-kind`
vendor extension names the object's kind and which declares a `fieldValidation` query parameter.
If one is found they send `?fieldValidation=Strict` and leave validation to the server; without
the document at all (a 404) they stop with "the server could not find the requested resource".
`kubectl explain --output=plaintext-openapiv2` (and the 1.27 explain when it cannot use v3) reads
the `definitions`: each kind's schema is found by its `x-kubernetes-group-version-kind`, fields
follow `$ref`s, and every reference must name a definition of the document. Newer kubectls read
`/openapi/v3` first (see `openapi.py`) and fall back to this document.

The document mirrors the v3 group-version documents: the same paths and operations for every
resource in the catalog, whose responses reference the kind's schema as upstream's do (the kind,
its list, `Status` for deletes), and `definitions` holding the 1.33 schemas those reach
(`kubeherd.api.schema`). The protobuf encoding is written by hand for the gnostic messages this
document uses; the field numbers are those of gnostic's `openapiv2/OpenAPIv2.proto`
(google/gnostic-models), and the encoder raises on anything it does not know how to encode
rather than dropping it silently.
"""

from __future__ import annotations

import functools
from typing import Any

import orjson
import yaml

from kubeherd.api.resources import Catalog, Resource
from kubeherd.api.schema import KUBERNETES_VERSION, definition_name, swagger_definitions

# What kube-apiserver (kube-openapi's handler) answers with, whether the client asked for this
# type or for the deprecated `com.github.proto-openapi.spec.v2@v1.0+protobuf`: client-go parses
# the response Content-Type with Go's `mime.ParseMediaType`, which rejects the `@` form.
PROTOBUF_MEDIA_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
PROTOBUF_DEPRECATED_MEDIA_TYPE = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"

_QUERY = ("dryRun", "fieldManager", "fieldValidation", "pretty")
DEFINITIONS_REF = "#/definitions/"
STATUS = "io.k8s.apimachinery.pkg.apis.meta.v1.Status"
# The response codes of each action, as upstream's operations declare them.
_RESPONSE_CODES = {
    "get": ("200",), "list": ("200",), "post": ("200", "201", "202"), "put": ("200", "201"),
    "patch": ("200", "201"), "delete": ("200", "202"),
}
_DESCRIPTIONS = {"200": "OK", "201": "Created", "202": "Accepted", "401": "Unauthorized"}


# --- the Swagger 2.0 document -------------------------------------------------------------------


def _query_param(name: str) -> dict[str, Any]:
    kind = "boolean" if name == "force" else "string"
    return {"name": name, "in": "query", "type": kind, "uniqueItems": True}


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "type": "string", "uniqueItems": True}


def _responses(action: str, schema: str | None) -> dict[str, Any]:
    """`schema`: the definition the response body is (None: the response has no schema)."""
    out: dict[str, Any] = {}
    for code in _RESPONSE_CODES[action]:
        out[code] = {"description": _DESCRIPTIONS[code]}
        if schema:
            out[code]["schema"] = {"$ref": DEFINITIONS_REF + schema}
    out["401"] = {"description": _DESCRIPTIONS["401"]}
    return out


def _response_schema(group: str, version: str, kind: str, action: str) -> str | None:
    if action == "delete":
        return STATUS
    return definition_name(group, version, kind + "List" if action == "list" else kind)


def _operation(group: str, version: str, kind: str, action: str, tag: str,
               extra: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "tags": [tag],
        "operationId": f"{action}{kind}",
        "parameters": [_query_param(p) for p in _QUERY + extra],
        "responses": _responses(action, _response_schema(group, version, kind, action)),
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": group, "version": version, "kind": kind},
    }


def _resource_paths(r: Resource) -> dict[str, dict[str, Any]]:
    base = f"/apis/{r.group}/{r.version}" if r.group else "/api/v1"
    scope = f"{base}/namespaces/{{namespace}}/{r.plural}" if r.namespaced else f"{base}/{r.plural}"
    tag = r.group or "core"

    def op(action: str, extra: tuple[str, ...] = ()) -> dict[str, Any]:
        return _operation(r.group, r.version, r.kind, action, tag, extra)

    params = [_path_param("namespace")] if r.namespaced else []
    collection: dict[str, Any] = {"parameters": params}
    item: dict[str, Any] = {"parameters": [*params, _path_param("name")]}
    if "list" in r.verbs:
        collection["get"] = op("list")
    if "create" in r.verbs:
        collection["post"] = op("post")
    if "get" in r.verbs:
        item["get"] = op("get")
    if "update" in r.verbs:
        item["put"] = op("put")
    if "patch" in r.verbs:
        item["patch"] = op("patch", ("force",))
    if "delete" in r.verbs:
        item["delete"] = op("delete")
    paths = {scope: collection}
    if len(item) > 1:
        paths[f"{scope}/{{name}}"] = item
    for sub in r.subresources:
        if "patch" in sub.verbs:
            # A subresource answers with its own kind (scale: autoscaling/v1 Scale), as upstream's
            # document says; kubectl only matches the kind of the object it is sending.
            patch = _operation(sub.group or r.group, sub.version or r.version, sub.kind, "patch", tag,
                               ("force",))
            paths[f"{scope}/{{name}}/{sub.name}"] = {"parameters": item["parameters"], "patch": patch}
    return paths


def response_schemas(paths: dict[str, Any]) -> list[str]:
    """The definitions the operations of `paths` answer with, in order of first mention."""
    found: dict[str, None] = {}
    for item in paths.values():
        for key, op in item.items():
            if key == "parameters":
                continue
            for response in op.get("responses", {}).values():
                ref = response.get("schema", {}).get("$ref", "")
                if ref:
                    found.setdefault(ref.removeprefix(DEFINITIONS_REF))
    return list(found)


def swagger_document(catalog: Catalog) -> dict[str, Any]:
    """The Swagger 2.0 document for every resource in the catalog, paths sorted as upstream's are,
    with the definitions its operations reach."""
    paths: dict[str, Any] = {}
    for r in catalog.resources:
        paths.update(_resource_paths(r))
    paths = dict(sorted(paths.items()))
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
        "paths": paths,
        "definitions": swagger_definitions(response_schemas(paths)),
    }


# --- protobuf wire format -----------------------------------------------------------------------

_VARINT = 0
_LEN = 2


_ONE_BYTE = tuple(bytes((i,)) for i in range(0x80))


def _varint(value: int) -> bytes:
    if value < 0x80:  # most keys and lengths: one byte
        return _ONE_BYTE[value]
    if value < 0x4000:
        return bytes((value & 0x7F | 0x80, value >> 7))
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


_LEN_TAGS = tuple(_varint(number << 3 | _LEN) for number in range(32))


def _len_field(number: int, payload: bytes) -> bytes:
    """A length-delimited field: an embedded message (always written, even empty) or a string."""
    size = len(payload)
    tag = _LEN_TAGS[number] if number < len(_LEN_TAGS) else _varint(number << 3 | _LEN)
    return b"".join((tag, _ONE_BYTE[size] if size < 0x80 else _varint(size), payload))


def _str(number: int, value: str) -> bytes:
    """A proto3 string field; the empty string is the default and is not written."""
    return _len_field(number, value.encode()) if value else b""


def _bool(number: int, value: bool) -> bytes:
    """A proto3 bool field; false is the default and is not written."""
    return _varint(number << 3 | _VARINT) + b"\x01" if value else b""


# --- gnostic openapi_v2 messages (field numbers from OpenAPIv2.proto) ---------------------------


def _check_keys(obj: dict[str, Any], known: set[str], what: str) -> None:
    unknown = {k for k in obj if not k.startswith("x-")} - known
    if unknown:
        raise ValueError(f"cannot encode {what} field(s) {sorted(unknown)}")


@functools.lru_cache(maxsize=1024)
def _yaml(value_json: bytes) -> str:
    # A few hundred extensions repeat a few dozen values ("atomic", ["name"], ...): dump each once.
    text = yaml.safe_dump(orjson.loads(value_json), default_flow_style=False, sort_keys=True)
    return text.removesuffix("...\n")  # PyYAML ends a bare scalar document with "..."; Go's doesn't


def _named_any(name: str, value: Any) -> bytes:
    # NamedAny { string name = 1; Any value = 2; }  Any { string yaml = 2; }
    return _str(1, name) + _len_field(2, _str(2, _yaml(orjson.dumps(value))))


def _extensions(number: int, obj: dict[str, Any]) -> bytes:
    return b"".join(_len_field(number, _named_any(k, v)) for k, v in sorted(obj.items()) if k.startswith("x-"))


def _parameter(param: dict[str, Any]) -> bytes:
    # ParametersItem { Parameter parameter = 1; }  Parameter { NonBodyParameter non_body_parameter = 2; }
    # NonBodyParameter { QueryParameterSubSchema query = 3; PathParameterSubSchema path = 4; }
    _check_keys(param, {"name", "in", "required", "description", "type", "uniqueItems"}, "parameter")
    where = param.get("in")
    head = (_bool(1, param.get("required", False)) + _str(2, where or "")
            + _str(3, param.get("description", "")) + _str(4, param["name"]))
    if where == "query":
        # QueryParameterSubSchema: required 1, in 2, description 3, name 4, type 6, unique_items 20,
        # vendor_extension 23.
        sub = head + _str(6, param.get("type", "")) + _bool(20, param.get("uniqueItems", False))
        sub += _extensions(23, param)
        choice = 3
    elif where == "path":
        # PathParameterSubSchema: required 1, in 2, description 3, name 4, type 5, unique_items 19,
        # vendor_extension 22.
        sub = head + _str(5, param.get("type", "")) + _bool(19, param.get("uniqueItems", False))
        sub += _extensions(22, param)
        choice = 4
    else:
        raise ValueError(f"cannot encode a parameter in {where!r}")
    return _len_field(1, _len_field(2, _len_field(choice, sub)))


_SCHEMA_KEYS = {"$ref", "format", "description", "required", "additionalProperties", "type", "items",
                "properties"}


def _schema(schema: dict[str, Any]) -> bytes:
    # Schema: _ref 1, format 2, description 4, required 19, additional_properties 21, type 22,
    # items 23, properties 25, vendor_extension 31.
    _check_keys(schema, _SCHEMA_KEYS, "schema")
    out = _str(1, schema.get("$ref", "")) + _str(2, schema.get("format", ""))
    out += _str(4, schema.get("description", ""))
    out += b"".join(_len_field(19, name.encode()) for name in schema.get("required", ()))
    extra = schema.get("additionalProperties")
    if isinstance(extra, bool):
        # AdditionalPropertiesItem { oneof { Schema schema = 1; bool boolean = 2; } }: a oneof
        # member is written even when false.
        out += _len_field(21, _varint(2 << 3 | _VARINT) + (b"\x01" if extra else b"\x00"))
    elif extra is not None:
        out += _len_field(21, _len_field(1, _schema(extra)))
    kind = schema.get("type")
    if kind:
        # TypeItem { repeated string value = 1; }
        out += _len_field(22, b"".join(_len_field(1, t.encode()) for t in ([kind] if isinstance(kind, str) else kind)))
    if "items" in schema:
        # ItemsItem { repeated Schema schema = 1; }
        out += _len_field(23, _len_field(1, _schema(schema["items"])))
    if "properties" in schema:
        out += _len_field(25, _named_schemas(schema["properties"]))  # Properties { additional_properties = 1 }
    return out + _extensions(31, schema)


def _named_schemas(schemas: dict[str, Any]) -> bytes:
    # repeated NamedSchema additional_properties = 1; NamedSchema { string name = 1; Schema value = 2; }
    return b"".join(_len_field(1, _str(1, name) + _len_field(2, _schema(sub))) for name, sub in schemas.items())


def _responses_message(responses: dict[str, Any]) -> bytes:
    # Responses { repeated NamedResponseValue response_code = 1; }
    # NamedResponseValue { string name = 1; ResponseValue value = 2; }
    # ResponseValue { Response response = 1; }
    # Response { string description = 1; SchemaItem schema = 2; vendor_extension = 5; }
    # SchemaItem { Schema schema = 1; }
    out = b""
    for code, response in responses.items():
        if code.startswith("x-"):
            continue
        _check_keys(response, {"description", "schema"}, "response")
        body = _str(1, response.get("description", ""))
        if "schema" in response:
            body += _len_field(2, _len_field(1, _schema(response["schema"])))
        body += _extensions(5, response)
        out += _len_field(1, _str(1, code) + _len_field(2, _len_field(1, body)))
    return out + _extensions(2, responses)


def _operation_message(op: dict[str, Any]) -> bytes:
    # Operation: tags 1, summary 2, description 3, operation_id 5, parameters 8, responses 9,
    # vendor_extension 13.
    _check_keys(op, {"tags", "summary", "description", "operationId", "parameters", "responses"},
                "operation")
    out = b"".join(_str(1, t) for t in op.get("tags", ()))
    out += _str(2, op.get("summary", "")) + _str(3, op.get("description", ""))
    out += _str(5, op.get("operationId", ""))
    out += b"".join(_len_field(8, _parameter(p)) for p in op.get("parameters", ()))
    if "responses" in op:
        out += _len_field(9, _responses_message(op["responses"]))
    return out + _extensions(13, op)


# PathItem: get 2, put 3, post 4, delete 5, options 6, head 7, patch 8, parameters 9,
# vendor_extension 10.
_METHODS = {"get": 2, "put": 3, "post": 4, "delete": 5, "options": 6, "head": 7, "patch": 8}


def _path_item(item: dict[str, Any]) -> bytes:
    _check_keys(item, {*_METHODS, "parameters"}, "path item")
    out = b""
    for method, number in _METHODS.items():
        if method in item:
            out += _len_field(number, _operation_message(item[method]))
    out += b"".join(_len_field(9, _parameter(p)) for p in item.get("parameters", ()))
    return out + _extensions(10, item)


def encode_protobuf(document: dict[str, Any]) -> bytes:
    """`document` (as `swagger_document` builds it) as a gnostic `openapi_v2.Document` message.

    Fields are written in field-number order, as Go's marshaller does. Only what the document
    uses is supported; anything else raises `ValueError`.
    """
    # Document: swagger 1, info 2, paths 8, definitions 9, vendor_extension 16.
    _check_keys(document, {"swagger", "info", "paths", "definitions"}, "document")
    out = _str(1, document["swagger"])
    if "info" in document:
        # Info: title 1, version 2, description 3, vendor_extension 7.
        info = document["info"]
        _check_keys(info, {"title", "version", "description"}, "info")
        out += _len_field(2, _str(1, info.get("title", "")) + _str(2, info.get("version", ""))
                          + _str(3, info.get("description", "")) + _extensions(7, info))
    if "paths" in document:
        # Paths: vendor_extension 1, path 2 (NamedPathItem { string name = 1; PathItem value = 2; }).
        paths = document["paths"]
        body = _extensions(1, paths)
        for name, item in paths.items():
            if not name.startswith("x-"):
                body += _len_field(2, _str(1, name) + _len_field(2, _path_item(item)))
        out += _len_field(8, body)
    if "definitions" in document:
        # Definitions { repeated NamedSchema additional_properties = 1; }
        out += _len_field(9, _named_schemas(document["definitions"]))
    return out + _extensions(16, document)
