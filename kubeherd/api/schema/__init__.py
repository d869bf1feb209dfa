"""The schemas of the built-in kinds (Kubernetes 1.33), declared once and used everywhere.

Upstream declares every API type once, as a Go struct, and derives from it decoding (unknown and
duplicate fields, type errors), strategic-merge keys, server-side-apply list and map semantics and
the OpenAPI documents. kubeherd has no Go structs; it takes the same declarations from upstream's
published OpenAPI definitions, shipped per Kubernetes version by the pinned `kubernetes-validate`
package (see `_definitions` for why that source, what is normalized, and how big and fast it is),
and derives the same things from them:

* `SchemaNode` / `kind_schema` / `definition` (`node.py`): a resolved, navigable view of a kind's
  schema with the `x-kubernetes-*` extensions, for strategic merge patch, server-side apply and
  validation.
* `strict_errors`, `unknown_fields`, `duplicate_fields`, `prune_unknown`, `type_errors`,
  `decode_error` (`decode.py`): what upstream's typed JSON decoder reports, in its words, for
  `fieldValidation=Strict|Warn|Ignore` and for the 400 decode errors.
* `openapi_v3_components`, `swagger_definitions` (`openapi.py`): the schemas of the
  `/openapi/v3` and `/openapi/v2` documents, so `kubectl explain` prints what it prints against
  upstream.

Nothing here does I/O except reading the package data file once, on first use.
"""

from kubeherd.api.schema._definitions import KUBERNETES_VERSION
from kubeherd.api.schema.decode import (
    MAX_STRICT_ERRORS,
    decode_error,
    duplicate_fields,
    parse_pairs,
    prune_unknown,
    strict_errors,
    type_errors,
    unknown_fields,
)
from kubeherd.api.schema.node import SchemaNode, definition, kind_schema
from kubeherd.api.schema.openapi import (
    definition_name,
    openapi_v3_components,
    reachable,
    swagger_definitions,
    v2_schema,
    v3_schema,
)

__all__ = [
    "KUBERNETES_VERSION",
    "MAX_STRICT_ERRORS",
    "SchemaNode",
    "decode_error",
    "definition",
    "definition_name",
    "duplicate_fields",
    "kind_schema",
    "openapi_v3_components",
    "parse_pairs",
    "prune_unknown",
    "reachable",
    "strict_errors",
    "swagger_definitions",
    "type_errors",
    "unknown_fields",
    "v2_schema",
    "v3_schema",
]
