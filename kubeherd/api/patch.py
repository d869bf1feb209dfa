"""Patch documents applied to an object: JSON merge patch (RFC 7386) and JSON Patch (RFC 6902).

JSON Patch is the `jsonpatch` package's job; merge patch is a dozen lines. Both raise
`PatchError` with a message the apiserver returns as a 4xx, never a partial result.
Strategic merge patch and server-side apply live in their own modules.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import jsonpointer

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


class PatchError(ValueError):
    """The patch document is malformed or cannot be applied to the object."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge key by key, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(target: dict[str, Any], operations: Any) -> dict[str, Any]:
    if not isinstance(operations, list):
        raise PatchError("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    for op in operations:
        if not isinstance(op, dict) or "op" not in op:
            raise PatchError("Unexpected kind: missing 'op' in JSON Patch operation")
        if op["op"] not in ("add", "remove", "replace", "move", "copy", "test"):
            raise PatchError(f"Unexpected kind: {op['op']}")
    try:
        result = jsonpatch.JsonPatch(operations).apply(target)
    except jsonpatch.JsonPatchTestFailed as exc:
        raise PatchError(f"the server rejected our request due to an error in our request: {exc}") from exc
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException, KeyError, IndexError, TypeError) as exc:
        raise PatchError(f"the server rejected our request due to an error in our request: {exc}") from exc
    if not isinstance(result, dict):
        raise PatchError("the patch turned the object into something that is not an object")
    return result
