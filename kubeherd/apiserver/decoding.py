"""Request bodies in, objects out: JSON, YAML or protobuf, checked against the kind's schema.

`fieldValidation` decides what happens to fields the schema does not declare and to duplicate
fields: `Strict` refuses the request (400, `strict decoding error: unknown field "spec.x"`),
`Warn` (the default, as upstream) drops them and answers with a `Warning: 299` header per field,
`Ignore` drops them silently. Values of the wrong type are a 400 whatever the setting, with the
message Go's JSON decoder would give, since that is where upstream finds them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
import yaml

from kubeherd.api import errors
from kubeherd.api.protobuf import PROTOBUF, ProtobufError, UnsupportedKindError, decode_request
from kubeherd.api.resources import Resource
from kubeherd.api.schema import SchemaNode, decode_error, kind_schema, prune_unknown, strict_errors
from kubeherd.apiserver.http import Request

MAX_BODY = 3 * 1024 * 1024
FIELD_VALIDATION = ("Strict", "Warn", "Ignore")


@dataclass
class FieldChecks:
    """The request's fieldValidation and the warnings collected for the response."""

    mode: str = "Warn"
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def from_request(cls, request: Request) -> FieldChecks:
        mode = request.arg("fieldValidation") or "Warn"
        if mode not in FIELD_VALIDATION:
            raise errors.bad_request(f'fieldValidation must be one of "Ignore", "Warn", or "Strict", got "{mode}"')
        return cls(mode)

    def headers(self) -> list[tuple[str, str]]:
        return [("Warning", f'299 - "{w.replace(chr(34), chr(92) + chr(34))}"') for w in self.warnings]

    def check(self, root: SchemaNode | None, obj: Any, raw: bytes | None, wrap: str = "") -> Any:
        """Apply the mode to `obj` (parsed from `raw` when there are bytes to look at for duplicates)."""
        if root is None or not isinstance(obj, dict):
            return obj
        problem = decode_error(root, obj)
        if problem:
            raise errors.bad_request(wrap + problem)
        if self.mode == "Ignore":
            return prune_unknown(root, obj)
        findings = strict_errors(root, raw if raw is not None else obj)
        if not findings:
            return obj
        if self.mode == "Strict":
            raise errors.bad_request(wrap + "strict decoding error: " + ", ".join(findings))
        self.warnings.extend(findings)
        return prune_unknown(root, obj)

    def check_patched(self, root: SchemaNode | None, patched: Any, patch: Any) -> Any:
        """`check` for the result of a merge or strategic patch. What the patch leaves alone was
        checked when it was stored, so only the top-level fields the patch names are looked at: a
        kubelet's status patch does not walk the pod's spec again. Any other patch: all of it."""
        if root is None or not isinstance(patched, dict) or not isinstance(patch, dict):
            return self.check(root, patched, None)
        touched = {key: patched[key] for key in patch if key in patched}
        checked = self.check(root, touched, None)
        if checked is touched:
            return patched
        return {key: checked[key] if key in touched else value for key, value in patched.items()
                if key not in touched or key in checked}


def schema_for(resource: Resource, subresource: str = "") -> SchemaNode | None:
    if subresource == "scale":
        return kind_schema("autoscaling", "v1", "Scale")
    return kind_schema(resource.group, resource.version, resource.kind)


def content_type(request: Request) -> str:
    return request.headers.get("content-type", "application/json").split(";")[0].strip().lower()


def parse(request: Request, resource: Resource | None = None, allow_empty: bool = False) -> tuple[Any, bytes | None]:
    """The decoded body and, for JSON, the raw bytes (duplicate fields are only visible there)."""
    if request.body_too_large:
        raise errors.too_large(MAX_BODY)
    if not request.body:
        if allow_empty:
            return None, None
        raise errors.bad_request("the request body is empty")
    kind = content_type(request)
    if kind in ("application/json", "", "*/*"):
        try:
            return orjson.loads(request.body), request.body
        except orjson.JSONDecodeError as exc:
            raise errors.bad_request(f"the body of the request could not be decoded as JSON: {exc}") from exc
    if kind in ("application/yaml", "application/x-yaml", "text/yaml"):
        try:
            return yaml.safe_load(request.body), None
        except yaml.YAMLError as exc:
            raise errors.bad_request(f"the body of the request could not be decoded as YAML: {exc}") from exc
    if kind == PROTOBUF:
        try:
            return decode_request(request.body, resource.api_version if resource else None,
                                  resource.kind if resource else None), None
        except UnsupportedKindError as exc:
            raise errors.unsupported_media_type(kind) from exc
        except ProtobufError as exc:
            raise errors.bad_request(f"the body of the request could not be decoded as protobuf: {exc}") from exc
    raise errors.unsupported_media_type(kind)


def decode_object(request: Request, resource: Resource, checks: FieldChecks, subresource: str = "") -> Any:
    """A create or update body, parsed and checked against the kind's schema."""
    obj, raw = parse(request, resource)
    kind = "Scale" if subresource == "scale" else resource.kind
    version = "v1" if subresource == "scale" else resource.version
    wrap = f'{kind} in version "{version}" cannot be handled as a {kind}: '
    return checks.check(schema_for(resource, subresource), obj, raw, wrap)
