"""Sets of field paths, kept in the very shape of their `FieldsV1` serialization.

A managedFields entry says which fields one manager owns as a `FieldsV1` trie:

    {"f:metadata": {"f:labels": {".": {}, "f:app": {}}},
     "f:spec": {"f:containers": {'k:{"name":"web"}': {".": {}, "f:image": {}}}}}

Each key is a serialized path element: `f:<name>` (a struct field or map key), `k:<json object>`
(the item of an associative list with those key field values, keys sorted), `v:<json value>` (the
item of a set) or `i:<n>` (a list index, never produced by the current rules). A child whose value
is `{}` is a member of the set; a child holding `"."` is a member that also has members below it;
any other child only leads to members further down.

Why not parse that into a tree of objects, as structured-merge-diff does in Go? Every write to
every object reads and rewrites managedFields, and most entries are never touched by a given
write: operating on the dicts directly makes an unchanged entry cost nothing (no decode, no
re-encode), and the trie operations below are plain recursive dict walks. The invariants that make
the encoding unambiguous hold for every set these functions return:

* the root is never a member ("the whole object" is not tracked) and holds no `"."`;
* no child is a non-member with no children (that would read back as a member);
* sets are treated as immutable values: operations build new dicts and may share unchanged
  sub-dicts with their inputs, so nothing may be mutated once it has been returned.

Key order does not matter to the operations, but every set is kept in the order upstream
serializes in (`"."` first, then children by path element: field names byte-wise, list keys by
their values with numbers compared numerically), so that an entry is written as it is held:
`difference`, `intersection` and `recursive_difference` keep their first operand's order, `union`
re-sorts only the levels where it adds keys, the walkers in `typed` emit sorted sets, and
`canonical` sorts what a client sent.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import orjson

__all__ = [
    "FieldSet",
    "FieldsV1Error",
    "canonical",
    "difference",
    "element_string",
    "from_fields_v1",
    "has",
    "insert",
    "intersection",
    "is_member",
    "key_element",
    "paths",
    "path_string",
    "recursive_difference",
    "union",
    "value_element",
]

FieldSet = dict[str, Any]
_MEMBER: FieldSet = {}


class FieldsV1Error(ValueError):
    """A `fieldsV1` value that is not a field set."""


# --- path elements ---------------------------------------------------------------------------


def _go_json(value: Any) -> str:
    """JSON as Go's encoder writes it: compact, with <, > and & escaped."""
    if type(value) is str:
        return _go_json_string(value)
    return _go_escape(orjson.dumps(value).decode())


@functools.lru_cache(maxsize=8192)
def _go_json_string(value: str) -> str:
    return _go_escape(orjson.dumps(value).decode())


def _go_escape(text: str) -> str:
    if "<" in text or ">" in text or "&" in text or "\u2028" in text or "\u2029" in text:
        text = (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
                .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
    return text


def key_element(fields: Mapping[str, Any]) -> str:
    """`k:{...}` for an associative-list item with these key field values."""
    if len(fields) == 1:
        ((name, value),) = fields.items()
        return "k:{" + _go_json(name) + ":" + _go_json(value) + "}"
    return "k:{" + ",".join(_go_json(n) + ":" + _go_json(fields[n]) for n in sorted(fields)) + "}"


def value_element(value: Any) -> str:
    """`v:<json>` for an item of a set (a list of scalars)."""
    return "v:" + _go_json(value)


def is_member(entry: FieldSet | None) -> bool:
    """Whether a child entry marks its own path as a member."""
    return entry is not None and (not entry or "." in entry)


def children_of(entry: FieldSet) -> FieldSet:
    if "." in entry:
        return {k: v for k, v in entry.items() if k != "."}
    return entry


def make_entry(member: bool, children: FieldSet) -> FieldSet | None:
    if children:
        return {".": _MEMBER, **children} if member else children
    return _MEMBER if member else None


# --- set operations ---------------------------------------------------------------------------


def union(a: FieldSet, b: FieldSet) -> FieldSet:
    """Paths in `a` or in `b` (in canonical order when both are)."""
    if not b:
        return a
    if not a:
        return b
    if len(b) > len(a):
        a, b = b, a  # walk the smaller one
    out = dict(a)
    grew = False
    for key, eb in b.items():
        ea = out.get(key)
        if ea is None:
            out[key] = eb
            grew = True
        elif ea is not eb:
            merged = make_entry(is_member(ea) or is_member(eb), union(children_of(ea), children_of(eb)))
            assert merged is not None
            out[key] = merged
    if grew:
        ordered = {".": _MEMBER} if "." in out else {}
        for key in _sorted_keys(out):
            ordered[key] = out[key]
        return ordered
    return out


def intersection(a: FieldSet, b: FieldSet) -> FieldSet:
    """Paths in both `a` and `b`."""
    if not a or not b:
        return {}
    if len(b) < len(a):
        small, other = b, a
    else:
        small, other = a, b
    out: FieldSet = {}
    for key, es in small.items():
        eo = other.get(key)
        if eo is None:
            continue
        if es is eo:
            out[key] = es
            continue
        entry = make_entry(is_member(es) and is_member(eo), intersection(children_of(es), children_of(eo)))
        if entry is not None:
            out[key] = entry
    return out


def difference(a: FieldSet, b: FieldSet) -> FieldSet:
    """Paths in `a` and not in `b` (a parent minus its child keeps the parent)."""
    if not a or not b:
        return a
    out: FieldSet = {}
    for key, ea in a.items():
        eb = b.get(key)
        if eb is None:
            out[key] = ea
            continue
        if ea is eb:
            continue
        cb = children_of(eb)
        entry = make_entry(is_member(ea) and not is_member(eb),
                       difference(children_of(ea), cb) if cb else children_of(ea))
        if entry is not None:
            out[key] = entry
    return out


def recursive_difference(a: FieldSet, b: FieldSet) -> FieldSet:
    """Paths in `a` that are neither in `b` nor below a member of `b`."""
    if not a or not b:
        return a
    out: FieldSet = {}
    for key, ea in a.items():
        eb = b.get(key)
        if eb is None:
            out[key] = ea
            continue
        if is_member(eb):
            continue
        entry = make_entry(is_member(ea), recursive_difference(children_of(ea), eb))
        if entry is not None:
            out[key] = entry
    return out


def has(s: FieldSet, path: tuple[str, ...] | list[str]) -> bool:
    """Whether `path` (serialized path elements) is a member of `s`."""
    node = s
    for element in path[:-1]:
        entry = node.get(element)
        if entry is None:
            return False
        node = entry
    return bool(path) and is_member(node.get(path[-1]))


def insert(s: FieldSet, path: tuple[str, ...] | list[str]) -> None:
    """Add `path` to `s` in place: only for sets being built, never for returned ones."""
    node = s
    last = len(path) - 1
    for i, element in enumerate(path):
        entry = node.get(element)
        if i == last:
            if entry is None:
                node[element] = {}
            elif entry and "." not in entry:
                entry["."] = {}
            return
        if entry is None:
            entry = node[element] = {}
        elif not entry:
            entry = node[element] = {".": {}}
        node = entry


def paths(s: FieldSet, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every member path, in upstream's iteration order (a node's members before its children)."""
    keys = _sorted_keys(s)
    for key in keys:
        if is_member(s[key]):
            yield (*prefix, key)
    for key in keys:
        entry = s[key]
        if entry and (len(entry) > 1 or "." not in entry):
            yield from paths(children_of(entry), (*prefix, key))


# --- canonical order and the wire form ----------------------------------------------------------


def _value_rank(value: Any) -> tuple[Any, ...]:
    # upstream orders values: numbers (ints and floats together), strings, booleans, lists, maps, null
    if isinstance(value, bool):
        return (2, value)
    if isinstance(value, int | float):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    if isinstance(value, list):
        return (3, tuple(_value_rank(v) for v in value))
    if isinstance(value, dict):
        return (4, tuple((k, _value_rank(value[k])) for k in sorted(value)))
    return (5,)


_KIND_RANK = {"f": 0, "k": 1, "v": 2, "i": 3}


@functools.lru_cache(maxsize=4096)
def _element_order(key: str) -> tuple[Any, ...]:
    kind = _KIND_RANK.get(key[:1], 4)
    body = key[2:]
    try:
        if kind == 1:
            fields = orjson.loads(body)
            return (1, tuple((name, _value_rank(fields[name])) for name in sorted(fields)))
        if kind == 2:
            return (2, _value_rank(orjson.loads(body)))
        if kind == 3:
            return (3, int(body))
    except (orjson.JSONDecodeError, ValueError, TypeError):
        pass
    return (kind, body)


def _sorted_keys(s: Iterable[str]) -> list[str]:
    keys = [k for k in s if k != "."]
    if all(k.startswith("f:") for k in keys):
        keys.sort()
    else:
        keys.sort(key=_element_order)
    return keys


def sorted_elements(keys: Iterable[str]) -> list[str]:
    """Serialized path elements in upstream's order."""
    return _sorted_keys(keys)


def canonical(s: FieldSet) -> FieldSet:
    """`s` with every level in upstream's serialization order (a new dict)."""
    out: FieldSet = {}
    if "." in s:
        out["."] = _MEMBER
    for key in _sorted_keys(s):
        entry = s[key]
        out[key] = canonical(entry) if entry else _MEMBER
    return out


def from_fields_v1(raw: Any) -> FieldSet:
    """A set from a `fieldsV1` value sent by a client: checked, with equal path elements merged.

    Keys of an unknown kind are dropped, as upstream does (a later version may know them); a key
    that does not parse is an error.
    """
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise FieldsV1Error("fieldsV1 must be a JSON object")
    return _read(raw, True)


def _read(node: dict[str, Any], root: bool) -> FieldSet:
    out: FieldSet = {}
    for key, value in node.items():
        if key == ".":
            if not root:
                out["."] = _MEMBER
            continue
        if not isinstance(value, dict):
            raise FieldsV1Error(f"value of {key!r} must be a JSON object")
        if len(key) < 2 or key[1] != ":":
            raise FieldsV1Error(f"missing colon: {key}")
        kind = key[0]
        if kind not in "fkvi":
            continue
        if kind == "k":
            try:
                fields = orjson.loads(key[2:])
            except orjson.JSONDecodeError as exc:
                raise FieldsV1Error(f"invalid key {key!r}: {exc}") from exc
            if not isinstance(fields, dict):
                raise FieldsV1Error(f"invalid key {key!r}")
            key = key_element(fields)
        elif kind == "v":
            try:
                key = value_element(orjson.loads(key[2:]))
            except orjson.JSONDecodeError as exc:
                raise FieldsV1Error(f"invalid value {key!r}: {exc}") from exc
        elif kind == "i":
            try:
                key = "i:" + str(int(key[2:]))
            except ValueError as exc:
                raise FieldsV1Error(f"invalid index {key!r}") from exc
        child = _read(value, False) if value else _MEMBER
        previous = out.get(key)
        out[key] = child if previous is None else union({key: previous}, {key: child})[key]
    return out


# --- paths as upstream prints them ----------------------------------------------------------------


def _go_value(value: Any) -> str:
    if isinstance(value, str):
        return orjson.dumps(value).decode()
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def element_string(key: str) -> str:
    """One path element as upstream prints it: `.spec`, `[name="web"]`, `[=value]`, `[0]`."""
    kind, body = key[:1], key[2:]
    if kind == "f":
        return "." + body
    if kind == "k":
        fields = orjson.loads(body)
        return "[" + ",".join(f"{name}={_go_value(fields[name])}" for name in sorted(fields)) + "]"
    if kind == "v":
        return "[=" + _go_value(orjson.loads(body)) + "]"
    return "[" + body + "]"


def path_string(path: tuple[str, ...] | list[str]) -> str:
    """A whole path as upstream prints it in conflict messages: `.spec.replicas`."""
    return "".join(element_string(key) for key in path)
