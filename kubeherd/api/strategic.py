"""Strategic merge patch (``application/strategic-merge-patch+json``) as kube-apiserver applies it.

A strategic merge patch is a JSON merge patch whose lists know how to merge: a field's schema
says (``x-kubernetes-patch-strategy`` / ``-patch-merge-key``) whether its list is merged element
by element on a key, merged as a set, or replaced whole, and the patch may carry directives
(``$patch``, ``$setElementOrder/<list>``, ``$deleteFromPrimitiveList/<list>``, ``$retainKeys``).
kubectl computes these patches client-side (``apply``, ``edit``, ``rollout restart``, ``drain``)
and expects the server to apply them exactly as upstream does, so this module follows the
server path of ``k8s.io/apimachinery/pkg/util/strategicpatch`` (``StrategicMergeMapPatch``: merge
parallel lists, ignore unmatched nulls) rule for rule, quirks included:

* New elements of a merged list do not go to the end: the result keeps the patch's order for
  the elements the patch names and slots the elements only the server has in between by their
  old positions, so an element the server never had comes *before* the remaining server-only
  ones. ``$setElementOrder/<list>`` overrides the patch's order; the server-only elements are
  then placed by the live list *as upstream's in-place deletes and appends left it* (a Go slice
  shared with the caller), which decides where a server-added element lands when kubectl swaps
  one element for another.
* ``$patch: delete`` on a map leaves an empty map in place (only a map the original lacks
  disappears); ``$patch: merge`` is accepted nowhere (maps: "unknown patch type", lists:
  "merging lists cannot yet be specified in the patch").
* ``$retainKeys`` is honoured wherever it appears; the schema's ``retainKeys`` strategy only
  tells *kubectl* to send it.
* Primitive lists merge as a de-duplicated set; ``$deleteFromPrimitiveList`` works on any list.
* Error messages are upstream's, with Go's ``%v`` rendering of the offending values, and each
  error carries the HTTP status the apiserver answers with (`StrategicPatchError.code`).

Schemas come in through the small `PatchMeta` protocol (``kubeherd.api.schema`` nodes satisfy
it). Two deliberate differences from upstream, both about what upstream leaves to the typed
decoder that runs after the patch:

* Upstream looks fields up in Go structs and fails with "unable to find api field" when both
  the object and the patch hold a map or a list under a field the struct lacks. Here an unknown
  field (``field()`` returns None), like ``meta=None`` altogether, is merged without a schema:
  maps merge, lists are replaced, directives still work. That is also what upstream does for a
  schema-less lookup (kubectl's OpenAPI path). A *map-typed* field (``values()`` set) keeps
  upstream's failure: merging maps or lists found inside a map's values is an internal error
  ("merging an object in json but data type is not struct, instead is: map").
* Upstream copies new content from the patch verbatim, so directive keys nested in it reach the
  typed decoder, which drops them. The result here never contains directive keys: they are
  removed at the end, which is what the stored object looks like upstream.

Not reproduced: upstream's panics (lists of maps without a merge key used as set keys, nil
list elements), its case-insensitive Go field matching, and two effects that depend on Go slice
capacity or sort internals: de-duplicating a primitive list inside its own storage, and the order
its stable sort gives elements missing from the order list in lists longer than 20 (shorter ones
match). No two-way patch creation either: kubectl computes patches client-side.

Custom resources: upstream refuses strategic merge patch for them before any of this runs (the
apiserver answers 415 Unsupported Media Type for that content type); callers must do the same
rather than call `strategic_merge_patch` with ``meta=None`` for a custom resource.

The functions are pure: inputs are never mutated (the merge works on a private copy).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol

__all__ = [
    "PatchMeta",
    "StrategicPatchError",
    "strategic_merge_patch",
]

DIRECTIVE = "$patch"
DELETE = "delete"
REPLACE = "replace"
MERGE = "merge"
RETAIN_KEYS = "retainKeys"
RETAIN_KEYS_DIRECTIVE = "$retainKeys"
SET_ELEMENT_ORDER_PREFIX = "$setElementOrder"
DELETE_FROM_PRIMITIVE_LIST_PREFIX = "$deleteFromPrimitiveList"

# upstream's sentinel errors (k8s.io/apimachinery/pkg/util/mergepatch/errors.go)
ERR_BAD_JSON_DOC = "invalid JSON document"
ERR_NO_LIST_OF_LISTS = "lists of lists are not supported"
ERR_BAD_PATCH_FORMAT_FOR_PRIMITIVE_LIST = "invalid patch format of primitive list"
ERR_BAD_PATCH_FORMAT_FOR_RETAIN_KEYS = "invalid patch format of retainKeys"
ERR_BAD_PATCH_FORMAT_FOR_SET_ELEMENT_ORDER_LIST = "invalid patch format of setElementOrder list"
ERR_UNSUPPORTED_FORMAT = "strategic merge patch format is not supported"
_GENERIC_INVALID = "the server rejected our request due to an error in our request"

Obj = dict[str, Any]


class PatchMeta(Protocol):
    """What the patch needs to know about a field's schema.

    ``field(name)`` is a property's schema (None: the field is unknown, merge it without a
    schema); for a list field, ``items()`` is the elements' schema; for a map-typed field
    (``additionalProperties``), ``values()`` is the values' schema. ``patch_strategy`` and
    ``patch_merge_key`` are the field's ``x-kubernetes-patch-strategy`` ("", "merge",
    "replace", "retainKeys", "merge,retainKeys") and ``x-kubernetes-patch-merge-key`` ("").
    """

    @property
    def patch_strategy(self) -> str: ...

    @property
    def patch_merge_key(self) -> str: ...

    def field(self, name: str) -> PatchMeta | None: ...

    def items(self) -> PatchMeta | None: ...

    def values(self) -> PatchMeta | None: ...


class StrategicPatchError(ValueError):
    """A patch upstream refuses; ``str()`` is upstream's error text.

    ``code``/``reason``/``status_message`` are the Status kube-apiserver answers with: the
    malformed-directive errors are 400 BadRequest, lists of lists 422 Invalid (upstream replaces
    the text with a generic one there), anything else a 500 with an empty reason, as upstream's
    ``interpretStrategicMergePatchError`` leaves it.
    """

    def __init__(self, message: str, code: int = 500) -> None:
        super().__init__(message)
        self.code = code
        self.reason = {400: "BadRequest", 422: "Invalid"}.get(code, "")
        self.status_message = _GENERIC_INVALID if code == 422 else message


def strategic_merge_patch(original: Obj, patch: Any, meta: PatchMeta | None) -> Obj:
    """Apply ``patch`` to ``original`` the way kube-apiserver does; returns a new object.

    ``patch`` is the decoded request body; JSON ``null`` is an empty patch, anything other than
    an object is refused as upstream's JSON decoder refuses it.
    """
    if patch is None:
        patch = {}
    if not isinstance(patch, dict):
        raise StrategicPatchError(
            f"json: cannot unmarshal {_json_kind(patch)} into Go value of type map[string]interface {{}}", 400)
    if not isinstance(original, dict):
        raise StrategicPatchError(ERR_BAD_JSON_DOC, 400)
    result = _merge_map(_copy(original), _copy(patch), meta)
    _strip_directives(result)
    return result


# --------------------------------------------------------------------------- maps


def _merge_map(original: Obj | None, patch: Obj, meta: PatchMeta | None) -> Obj:
    if DIRECTIVE in patch:
        return _map_directive(patch[DIRECTIVE], patch)
    if original is None:
        original = {}
    _apply_retain_keys(original, patch)
    _merge_ordered_lists(original, patch, meta)

    for key, patch_value in list(patch.items()):
        is_delete_list = key.startswith(DELETE_FROM_PRIMITIVE_LIST_PREFIX)
        if is_delete_list:
            key = _extract_key(key, DELETE_FROM_PRIMITIVE_LIST_PREFIX)

        if patch_value is None:
            original.pop(key, None)
            continue
        if key not in original or type(original[key]) is not type(patch_value):
            if not is_delete_list:
                _discard_nulls(patch_value)
                _set_without_directives(original, key, patch_value)
            continue

        current = original[key]
        if isinstance(current, dict):
            sub, strategy, _ = _lookup(meta, key)
            original[key] = patch_value if strategy == REPLACE else _merge_map(current, patch_value, sub)
        elif isinstance(current, list):
            sub, strategy, merge_key = _lookup(meta, key)
            original[key] = _merge_list_field(current, patch_value, _items(sub), strategy, merge_key,
                                              is_delete_list)
        else:
            original[key] = patch_value
    return original


def _map_directive(directive: Any, patch: Obj) -> Obj:
    if directive == REPLACE:
        del patch[DIRECTIVE]
        return patch
    if directive == DELETE:
        return {}
    raise StrategicPatchError(f"unknown patch type: {_go_s(directive)} in map: {_go_v(patch)}")


def _apply_retain_keys(original: Obj, patch: Obj) -> None:
    """``$retainKeys``: every key the patch sets must be listed; keys not listed are cleared."""
    if RETAIN_KEYS_DIRECTIVE not in patch:
        return
    retain = patch.pop(RETAIN_KEYS_DIRECTIVE)
    if not isinstance(retain, list):
        raise StrategicPatchError(ERR_BAD_PATCH_FORMAT_FOR_RETAIN_KEYS, 400)
    keep = {k for k in retain if isinstance(k, str)}
    for key, value in patch.items():
        if value is None or key.startswith((DELETE_FROM_PRIMITIVE_LIST_PREFIX, SET_ELEMENT_ORDER_PREFIX)):
            continue
        if key not in keep:
            raise StrategicPatchError(ERR_BAD_PATCH_FORMAT_FOR_RETAIN_KEYS, 400)
    for key in [k for k in original if k not in keep]:
        del original[key]


def _merge_ordered_lists(original: Obj, patch: Obj, meta: PatchMeta | None) -> None:
    """Merge each list that has a ``$setElementOrder`` and put it in that order.

    The order list wins for the elements it names; server-only elements keep their relative
    order and are slotted in by their old positions. The list is removed from the patch.
    """
    for directive in [k for k in patch if k.startswith(SET_ELEMENT_ORDER_PREFIX)]:
        order = patch.pop(directive)
        if not isinstance(order, list):
            raise _bad_arg_type("[]interface {}", order)
        key = _extract_key(directive, SET_ELEMENT_ORDER_PREFIX)
        original_list = _list_or_none(original, key)
        patch_list = _list_or_none(patch, key)
        sub, strategy, merge_key = _lookup(meta, key)
        _validate_order(patch_list or [], order, merge_key)

        view = original_list
        if original_list is not None and patch_list is not None:
            merged, view = _merge_list_with_view(original_list, patch_list, _items(sub), strategy, merge_key,
                                                 False)
        elif original_list is not None:
            merged = original_list
        elif patch_list is not None:
            merged = _without_directives(patch_list)
        else:
            continue

        in_order, server_only = _partition(merged, order, merge_key)
        kind = _element_type(view or [], patch_list or [])
        original[key] = _normalize_order(in_order, server_only, order, view or [], merge_key, kind)
        patch.pop(key, None)


def _list_or_none(obj: Obj, key: str) -> list[Any] | None:
    if key not in obj:
        return None
    value = obj[key]
    if not isinstance(value, list):
        raise _bad_arg_type("[]interface {}", value)
    return value


def _validate_order(patch_list: list[Any], order: list[Any], merge_key: str) -> None:
    """The patch list's elements must appear in ``order`` in the same relative order."""
    if not order or not patch_list:
        return
    elements = _split_deletions(patch_list)[0] if merge_key else patch_list
    p = o = 0
    while p < len(elements) and o < len(order):
        if _has_directive(elements[p]):
            p += 1
            continue
        if _merge_key_values_equal(elements[p], order[o], merge_key):
            p += 1
        o += 1
    if p < len(elements) and o >= len(order):
        raise StrategicPatchError(
            f"The order in patch list:\n{_go_v(patch_list)}\n doesn't match "
            f"{SET_ELEMENT_ORDER_PREFIX} list:\n{_go_v(order)}\n")


# --------------------------------------------------------------------------- lists


def _merge_list_field(original: list[Any], patch: list[Any], items: PatchMeta | None, strategy: str,
                      merge_key: str, is_delete_list: bool) -> list[Any]:
    return _merge_list_with_view(original, patch, items, strategy, merge_key, is_delete_list)[0]


def _merge_list_with_view(original: list[Any], patch: list[Any], items: PatchMeta | None, strategy: str,
                          merge_key: str, is_delete_list: bool) -> tuple[list[Any], list[Any]]:
    """The merged list, and what upstream's caller sees of the original list afterwards.

    Upstream deletes elements from the original list in place and appends new ones to it, so
    the same Go slice, read again by the caller, shows the survivors shifted left and then the
    appended elements over the freed slots. ``$setElementOrder`` orders server-only elements by
    that view; this returns it so the order matches upstream's element for element.
    """
    if strategy != MERGE and not is_delete_list:
        return patch, original
    if not original and not patch:
        return original, original
    kind = _element_type(original, patch)
    if kind is not dict:
        if is_delete_list:
            doomed = {_hkey(v) for v in patch}
            return [v for v in original if _hkey(v) not in doomed], original
        merged = _dedupe(original + patch)
        view = original
    else:
        if not merge_key:
            raise StrategicPatchError(
                f"cannot merge lists without merge key for {'struct' if items is not None else 'map'}")
        view = list(original)
        survivors, patch, replaced = _apply_element_directives(original, patch, merge_key, view)
        original = survivors
        merged = _merge_elements(original, patch, merge_key, items, None if replaced else view)
    in_patch, server_only = _partition(merged, patch, merge_key)
    return _normalize_order(in_patch, server_only, patch, original, merge_key, kind), view


def _apply_element_directives(original: list[Any], patch: list[Any], merge_key: str,
                              view: list[Any]) -> tuple[list[Any], list[Any], bool]:
    """Handle ``{"$patch": "delete", key: v}`` and ``{"$patch": "replace"}`` list elements.

    Returns the list to merge into, the patch without directive elements, and whether the list
    was replaced. Deletions are mirrored into ``view`` as upstream's in-place removal leaves it.
    """
    plain: list[Any] = []
    replace = False
    for element in patch:
        if DIRECTIVE not in element:
            plain.append(element)
            continue
        directive = element[DIRECTIVE]
        if directive == DELETE:
            if merge_key not in element:
                raise _no_merge_key(element, merge_key)
            value = element[merge_key]
            while (index := _find(original, merge_key, value)) >= 0:
                original = original[:index] + original[index + 1:]
                view[index:len(original)] = original[index:]
        elif directive == REPLACE:
            replace = True
        elif directive == MERGE:
            raise StrategicPatchError("merging lists cannot yet be specified in the patch")
        else:
            raise StrategicPatchError(f"unknown patch type: {_go_s(directive)} in map: {_go_v(element)}")
    if replace:
        return plain, [], True
    return original, plain, False


def _merge_elements(original: list[Any], patch: list[Any], merge_key: str, items: PatchMeta | None,
                    view: list[Any] | None) -> list[Any]:
    """Merge each patch element into the element with its key, or append it (into ``view``'s
    freed slots too, as upstream's append into the shared slice does)."""
    merged = list(original)
    index = _KeyIndex(merged, merge_key)
    for element in patch:
        if merge_key not in element:
            raise _no_merge_key(element, merge_key)
        i = index.find(element[merge_key])
        if i >= 0:
            merged[i] = _merge_map(merged[i], element, items)
            if view is not None and i < len(view):
                view[i] = merged[i]
        else:
            if view is not None and len(merged) < len(view):
                view[len(merged)] = element
            index.add(element, len(merged))
            merged.append(element)
    return merged


def _find(elements: list[Any], merge_key: str, value: Any) -> int:
    return _KeyIndex(elements, merge_key).find(value)


class _KeyIndex:
    """Finds the first element whose merge key has a value, as upstream's linear scan does
    (including its failure on a non-map element met before the match), in constant time."""

    def __init__(self, elements: list[Any], merge_key: str) -> None:
        self._merge_key = merge_key
        self._first: dict[Any, int] = {}
        self._non_map = -1
        for i, element in enumerate(elements):
            if not isinstance(element, dict):
                self._non_map = i
                break
            self.add(element, i)

    def add(self, element: Obj, i: int) -> None:
        if self._merge_key in element:
            self._first.setdefault(_hkey(element[self._merge_key]), i)

    def find(self, value: Any) -> int:
        i = self._first.get(_hkey(value), -1)
        if i < 0 and self._non_map >= 0:
            raise StrategicPatchError(f"value for key {self._non_map} is not a map")
        return i


def _partition(elements: list[Any], by: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    """Split ``elements`` into those present in ``by`` and the rest, keeping their order."""
    present: list[Any] = []
    absent: list[Any] = []
    if not merge_key:
        wanted = {_hkey(v) for v in by}
        for v in elements:
            (present if _hkey(v) in wanted else absent).append(v)
        return present, absent
    index = _KeyIndex(by, merge_key)
    for v in elements:
        if not isinstance(v, dict):
            raise _bad_arg_type("map[string]interface {}", v)
        if merge_key not in v:
            raise _no_merge_key(v, merge_key)
        (present if index.find(v[merge_key]) >= 0 else absent).append(v)
    return present, absent


def _normalize_order(in_patch: list[Any], server_only: list[Any], patch_order: list[Any],
                     server_order: list[Any], merge_key: str, kind: type) -> list[Any]:
    """Sort the patch's elements by ``patch_order`` and the server-only ones by ``server_order``,
    then interleave them: a server-only element goes first only while it is known to precede
    the next patch element in ``server_order``."""
    in_patch = _sort_by(in_patch, patch_order, merge_key, kind)
    server_only = _sort_by(server_only, server_order, merge_key, kind)
    position = _Positions(server_order, merge_key, kind)
    result: list[Any] = []
    i = j = 0
    while i < len(server_only) or j < len(in_patch):
        if j >= len(in_patch):
            result.append(server_only[i])
            i += 1
        elif i >= len(server_only):
            result.append(in_patch[j])
            j += 1
        else:
            left, right = position(server_only[i]), position(in_patch[j])
            if left >= 0 and right >= 0 and left < right:
                result.append(server_only[i])
                i += 1
            else:
                result.append(in_patch[j])
                j += 1
    return result


def _sort_by(elements: list[Any], order: list[Any], merge_key: str, kind: type) -> list[Any]:
    deletions: list[Any] = []
    if kind is dict:
        for element in (*elements, *order):
            if not isinstance(element, dict):
                raise _bad_arg_type("map[string]interface {}", element)
            if merge_key not in element:
                raise _no_merge_key(element, merge_key)
        elements, deletions = _split_deletions(elements)
    position = _Positions(order, merge_key, kind)
    indexes = [position(e) for e in elements]
    if all(i >= 0 for i in indexes):
        ranked = sorted(zip(indexes, range(len(elements)), elements, strict=True), key=lambda t: t[:2])
        return [e for _, _, e in ranked] + deletions
    # Upstream's comparator calls an element missing from `order` smaller than anything, which is
    # not an ordering; reproduce what its stable (insertion) sort does with it.
    items = list(zip(indexes, elements, strict=True))
    for n in range(1, len(items)):
        j = n
        while j > 0 and (items[j][0] < 0 or items[j - 1][0] < 0 or items[j][0] < items[j - 1][0]):
            items[j], items[j - 1] = items[j - 1], items[j]
            j -= 1
    return [e for _, e in items] + deletions


class _Positions:
    """Index of an element in a list, matched by merge key (maps) or by value (primitives)."""

    def __init__(self, elements: list[Any], merge_key: str, kind: type) -> None:
        self._value: Callable[[Any], Any] = (
            (lambda e: e.get(merge_key) if isinstance(e, dict) else None) if kind is dict else (lambda e: e))
        self._index: dict[Any, int] = {}
        for i, element in enumerate(elements):
            self._index.setdefault(_hkey(self._value(element)), i)

    def __call__(self, element: Any) -> int:
        return self._index.get(_hkey(self._value(element)), -1)


def _split_deletions(elements: list[Any]) -> tuple[list[Any], list[Any]]:
    keep: list[Any] = []
    deletions: list[Any] = []
    for element in elements:
        if not isinstance(element, dict):
            raise _bad_arg_type("map[string]interface {}", element)
        (deletions if element.get(DIRECTIVE) == DELETE else keep).append(element)
    return keep, deletions


def _element_type(*lists: list[Any]) -> type:
    """The one type all elements share; lists of lists and mixed lists are refused."""
    found: type | None = None
    for elements in lists:
        for element in elements:
            if found is None:
                found = type(element)
                if found is list:
                    raise StrategicPatchError(ERR_NO_LIST_OF_LISTS, 422)
            elif type(element) is not found:
                raise StrategicPatchError(
                    f"list element types are not identical: [{' '.join(_go_v(e) for e in lists)}]")
    if found is None:
        raise StrategicPatchError("no elements in any of the given slices")
    return found


def _dedupe(elements: list[Any]) -> list[Any]:
    seen: set[Any] = set()
    result = []
    for element in elements:
        key = _hkey(element)
        if key not in seen:
            seen.add(key)
            result.append(element)
    return result


def _merge_key_values_equal(left: Any, right: Any, merge_key: str) -> bool:
    if not merge_key:
        return _go_eq(left, right)
    for side in (left, right):
        if not isinstance(side, dict):
            raise _bad_arg_type("map[string]interface {}", side)
        if merge_key not in side:
            raise _no_merge_key(side, merge_key)
    return _go_eq(left[merge_key], right[merge_key])


# --------------------------------------------------------------------------- schema look-ups


def _lookup(meta: PatchMeta | None, key: str) -> tuple[PatchMeta | None, str, str]:
    """A field's schema, its strategy other than retainKeys, and its merge key."""
    if meta is None:
        return None, "", ""
    sub = meta.field(key)
    if sub is None:
        if meta.values() is not None:
            raise StrategicPatchError("merging an object in json but data type is not struct, instead is: map")
        return None, "", ""
    return sub, _strategy(sub.patch_strategy), sub.patch_merge_key


def _items(meta: PatchMeta | None) -> PatchMeta | None:
    return None if meta is None else meta.items()


def _strategy(declared: str) -> str:
    strategies = declared.split(",") if declared else []
    if len(strategies) <= 1:
        single = strategies[0] if strategies else ""
        return "" if single == RETAIN_KEYS else single
    if len(strategies) == 2 and RETAIN_KEYS in strategies:
        return strategies[1] if strategies[0] == RETAIN_KEYS else strategies[0]
    raise StrategicPatchError(f"unexpected patch strategy: [{' '.join(strategies)}]")


def _extract_key(directive: str, prefix: str) -> str:
    head, sep, tail = directive.partition("/")
    if not sep or head != prefix:
        raise StrategicPatchError(
            ERR_BAD_PATCH_FORMAT_FOR_PRIMITIVE_LIST if prefix == DELETE_FROM_PRIMITIVE_LIST_PREFIX
            else ERR_BAD_PATCH_FORMAT_FOR_SET_ELEMENT_ORDER_LIST, 400)
    return tail


# --------------------------------------------------------------------------- directives and nulls


def _has_directive(value: Any) -> bool:
    return isinstance(value, dict) and DIRECTIVE in value


def _set_without_directives(target: Obj, key: str, value: Any) -> None:
    """Store patch content the original lacks; a map carrying ``$patch`` is dropped whole."""
    if _has_directive(value):
        target.pop(key, None)
    else:
        target[key] = _without_directives(value)


def _without_directives(value: Any) -> Any:
    if isinstance(value, dict):
        for key in list(value):
            if _has_directive(value[key]):
                del value[key]
            else:
                value[key] = _without_directives(value[key])
        return value
    if isinstance(value, list):
        return [_without_directives(v) for v in value if not _has_directive(v)]
    return value


def _discard_nulls(value: Any) -> None:
    """Nulls in content new to the object mean nothing (lists of primitives keep theirs)."""
    if isinstance(value, dict):
        for key in list(value):
            if value[key] is None:
                del value[key]
            else:
                _discard_nulls(value[key])
    elif isinstance(value, list):
        for v in value:
            _discard_nulls(v)


def _is_directive_key(key: str) -> bool:
    return key in (DIRECTIVE, RETAIN_KEYS_DIRECTIVE) or key.startswith(
        (SET_ELEMENT_ORDER_PREFIX, DELETE_FROM_PRIMITIVE_LIST_PREFIX))


def _strip_directives(value: Any) -> None:
    """Drop directive keys copied verbatim from the patch (upstream's typed decoder drops them)."""
    if isinstance(value, dict):
        for key in list(value):
            if _is_directive_key(key):
                del value[key]
            else:
                _strip_directives(value[key])
    elif isinstance(value, list):
        for v in value:
            _strip_directives(v)


# --------------------------------------------------------------------------- Go value semantics


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _hkey(value: Any) -> Any:
    """A hashable stand-in with Go's interface equality: ``1``, ``1.0`` and ``true`` differ."""
    if isinstance(value, dict):
        return ("map", tuple(sorted((k, _hkey(v)) for k, v in value.items())))
    if isinstance(value, list):
        return ("list", tuple(_hkey(v) for v in value))
    return (type(value).__name__, value)


def _go_eq(left: Any, right: Any) -> bool:
    return bool(_hkey(left) == _hkey(right))


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "string"


def _go_type(value: Any) -> str:
    """``reflect.TypeOf`` of a decoded JSON value, as ``%s`` prints it."""
    if value is None:
        return "%!s(<nil>)"
    return {dict: "map[string]interface {}", list: "[]interface {}", str: "string", bool: "bool",
            int: "int64", float: "float64"}.get(type(value), type(value).__name__)


def _go_float(value: float) -> str:
    """Go's ``%v`` for a float64 (``%g``, shortest digits): exponent form below 1e-4 and from 1e6."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    sign, digit_tuple, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + exponent
    e = point - 1
    prefix = "-" if sign else ""
    if e < -4 or e >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if e < 0 else '+'}{abs(e):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return prefix + digits + "0" * (point - len(digits))
    return f"{prefix}{digits[:point]}.{digits[point:]}"


def _go_v(value: Any) -> str:
    """Go's ``%v`` of a decoded JSON value (maps print with sorted keys)."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_v(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go_v(v) for v in value) + "]"
    return str(value)


def _go_s(value: Any) -> str:
    """Go's ``%s`` of a decoded JSON value: non-strings print as ``%!s(type=value)``."""
    if isinstance(value, str):
        return value
    if value is None:
        return "%!s(<nil>)"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_s(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go_s(v) for v in value) + "]"
    return f"%!s({_go_type(value)}={_go_v(value)})"


def _bad_arg_type(expected: str, actual: Any) -> StrategicPatchError:
    return StrategicPatchError(f"expected a {expected}, but received a {_go_type(actual)}")


def _no_merge_key(element: Obj, merge_key: str) -> StrategicPatchError:
    return StrategicPatchError(f"map: {_go_v(element)} does not contain declared merge key: {merge_key}")
