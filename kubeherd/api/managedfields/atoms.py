"""How structured-merge-diff sees a kind's schema: scalars, lists and maps, atomic or granular.

`Typ` is upstream's schema "atom" for one place in a kind's 1.33 OpenAPI schema, built once per
schema node and cached, with the rules of upstream's OpenAPI-to-SMD conversion:

* lists are atomic unless `x-kubernetes-list-type` says `set` or `map` (keyed by
  `x-kubernetes-list-map-keys`); without a list type, a `merge` patch strategy with a merge key
  makes them maps and one without a key makes them sets;
* objects are granular unless `x-kubernetes-map-type: atomic`; maps are granular;
* RawExtension is one atomic value; free-form JSON (FieldsV1, preserve-unknown-fields, kinds
  with no schema) is "deduced": objects granular, lists atomic;
* a list-map key missing from an item takes its schema default where upstream declares one
  (`protocol: TCP` of container and service ports) and is an error otherwise (`item_element`).

It also knows what a Go object always has, which JSON may leave out: non-pointer struct fields
(`metadata`, `spec`, `status`, a pod template's `metadata` and `spec`, a container's
`resources`...; `_PRESENT` lists them) and fields without `omitempty` (the schema's required
lists and maps, such as a pod's `containers`). `Typ.present` marks those; `typed.compare` reads
them as empty when absent, which keeps the `.` markers of an Update entry where upstream puts them.
"""

from __future__ import annotations

from typing import Any

from kubeherd.api.managedfields.fieldpath import key_element, value_element
from kubeherd.api.schema import SchemaNode, kind_schema

__all__ = [
    "DEDUCED",
    "DEDUCED_TYPE",
    "LIST",
    "MAP",
    "MISSING",
    "SCALAR",
    "UNTYPED",
    "UNTYPED_TYPE",
    "ItemError",
    "Typ",
    "TypedError",
    "go_repr",
    "item_element",
    "item_elements",
    "root_type",
    "scalar_error",
    "walk_kind",
]

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()  # an absent value

SCALAR, LIST, MAP, UNTYPED, DEDUCED = range(5)

_RAW_EXTENSION = "io.k8s.apimachinery.pkg.runtime.RawExtension"
# List-map keys with a schema default (upstream's `+default` markers on key fields).
_KEY_DEFAULTS: dict[str, dict[str, Any]] = {
    "io.k8s.api.core.v1.ContainerPort": {"protocol": "TCP"},
    "io.k8s.api.core.v1.ServicePort": {"protocol": "TCP"},
}
# Struct-typed fields that are Go values, not pointers: a typed object always has them.
_PRESENT: dict[str, frozenset[str]] = {
    "io.k8s.api.core.v1.PodTemplateSpec": frozenset({"metadata", "spec"}),
    "io.k8s.api.batch.v1.JobTemplateSpec": frozenset({"metadata", "spec"}),
    "io.k8s.api.apps.v1.DeploymentSpec": frozenset({"template", "strategy"}),
    "io.k8s.api.apps.v1.ReplicaSetSpec": frozenset({"template"}),
    "io.k8s.api.apps.v1.StatefulSetSpec": frozenset({"template", "updateStrategy"}),
    "io.k8s.api.apps.v1.DaemonSetSpec": frozenset({"template", "updateStrategy"}),
    "io.k8s.api.batch.v1.JobSpec": frozenset({"template"}),
    "io.k8s.api.batch.v1.CronJobSpec": frozenset({"jobTemplate"}),
    "io.k8s.api.core.v1.Container": frozenset({"resources"}),
    "io.k8s.api.core.v1.PersistentVolumeClaimSpec": frozenset({"resources"}),
    "io.k8s.api.core.v1.ServiceStatus": frozenset({"loadBalancer"}),
    "io.k8s.api.networking.v1.IngressStatus": frozenset({"loadBalancer"}),
    "io.k8s.api.core.v1.NodeStatus": frozenset({"daemonEndpoints", "nodeInfo"}),
    "io.k8s.api.core.v1.NodeDaemonEndpoints": frozenset({"kubeletEndpoint"}),
}
_ROOT_PRESENT = frozenset({"metadata", "spec", "status"})


class TypedError(ValueError):
    """Values that do not fit the schema, one `<path>: <message>` string per problem."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__(errors[0] if len(errors) == 1 else "errors:\n  " + "\n  ".join(errors))


class Typ:
    """How structured-merge-diff sees one place in a schema (built once per schema node)."""

    __slots__ = ("kind", "atomic", "keys", "scalar", "struct", "name", "node", "root", "present",
                 "key_defaults", "_fields", "_elem", "_present_fields", "_child_types")

    def __init__(self, kind: int, node: SchemaNode | None = None, *, atomic: bool = False,
                 keys: tuple[str, ...] = (), scalar: str = "untyped", struct: bool = False,
                 root: bool = False, present: bool = False) -> None:
        self.kind = kind
        self.node = node
        self.atomic = atomic
        self.keys = keys
        self.scalar = scalar
        self.struct = struct
        self.root = root
        self.present = present
        self.name = node.name if node is not None else ""
        self.key_defaults: dict[str, Any] = {}
        self._fields: dict[str, Typ | None] = {}
        self._elem: Typ | None | bool = False  # False: not computed yet
        self._present_fields: tuple[str, ...] | None = None
        self._child_types: dict[str, Typ | None] = {}

    def field(self, name: str) -> Typ | None:
        """The type of declared field `name`; None if the object declares no such field."""
        try:
            return self._fields[name]
        except KeyError:
            pass
        child = None
        if self.struct and self.node is not None:
            sub = self.node.field(name)
            if sub is not None:
                shape = sub.shape
                if self.root:
                    present = name in _ROOT_PRESENT and shape == "struct"
                else:
                    present = (name in _PRESENT.get(self.name, ()) and shape == "struct") or (
                        name in self.node.required and shape in ("struct", "map", "array"))
                child = _typ(sub, present)
        if child is not None or len(self._fields) < 1024:  # undeclared names are data: bound them
            self._fields[name] = child
        return child

    def elem(self) -> Typ | None:
        """The type of list items or map values; None where nothing undeclared is allowed."""
        if self._elem is False:
            elem: Typ | None = None
            if self.kind == DEDUCED:
                elem = DEDUCED_TYPE
            elif self.node is not None:
                if self.kind == LIST:
                    items = self.node.items()
                    elem = _typ(items) if items is not None else UNTYPED_TYPE
                elif self.kind == MAP:
                    if self.struct:
                        elem = DEDUCED_TYPE if self.node.preserve_unknown else None
                    else:
                        values = self.node.values()
                        elem = _typ(values) if values is not None else DEDUCED_TYPE
            self._elem = elem
        return self._elem  # type: ignore[return-value]

    def child(self, name: str) -> Typ | None:
        """The type of key `name` of an object: its declared field, else the map value type."""
        try:
            return self._child_types[name]
        except KeyError:
            pass
        declared = self.field(name) if self.struct else None
        found = declared if declared is not None else self.elem()
        if self.struct and len(self._child_types) < 1024:  # map keys are data: do not cache them all
            self._child_types[name] = found
        return found

    def present_fields(self) -> tuple[str, ...]:
        if self._present_fields is None:
            names = _ROOT_PRESENT if self.root else _PRESENT.get(self.name, frozenset())
            self._present_fields = tuple(n for n in sorted(names) if (t := self.field(n)) is not None and t.present)
        return self._present_fields

    def __repr__(self) -> str:
        return f"<Typ {('scalar', 'list', 'map', 'untyped', 'deduced')[self.kind]} {self.name}>"


UNTYPED_TYPE = Typ(UNTYPED)
DEDUCED_TYPE = Typ(DEDUCED)
_CACHE: dict[tuple[int, bool], Typ] = {}
_ROOTS: dict[tuple[str, str, str], Typ] = {}


def _typ(node: SchemaNode, present: bool = False) -> Typ:
    key = (id(node), present)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    shape = node.shape
    if shape == "struct":
        t = Typ(MAP, node, atomic=node.map_type == "atomic", struct=True, present=present)
    elif shape == "map":
        t = Typ(MAP, node, atomic=node.map_type == "atomic", present=present)
    elif shape == "array":
        atomic, keys = _list_relationship(node)
        t = Typ(LIST, node, atomic=atomic, keys=keys, present=present)
        items = node.items()
        if keys and items is not None:
            t.key_defaults = _KEY_DEFAULTS.get(items.name, {})
    elif shape == "any":
        t = UNTYPED_TYPE if node.name == _RAW_EXTENSION else DEDUCED_TYPE
    else:
        scalar = {"integer": "numeric", "number": "numeric", "string": "string", "bytes": "string",
                  "boolean": "boolean"}.get(shape, "untyped")
        t = Typ(SCALAR, node, scalar=scalar)
    _CACHE[key] = t
    return t


def _list_relationship(node: SchemaNode) -> tuple[bool, tuple[str, ...]]:
    """(atomic, map keys) as upstream's OpenAPI-to-SMD conversion decides them."""
    if node.list_type:
        if node.list_type == "map":
            return False, tuple(node.list_map_keys)
        return node.list_type != "set", ()
    if node.patch_strategy in ("merge", "merge,retainKeys"):
        return False, ((node.patch_merge_key,) if node.patch_merge_key else ())
    return True, ()


def root_type(group: str, version: str, kind: str) -> Typ:
    """The type of a whole object of a kind; deduced (all free-form) for kinds without a schema."""
    key = (group, version, kind)
    cached = _ROOTS.get(key)
    if cached is None:
        node = kind_schema(group, version, kind)
        cached = Typ(MAP, node, struct=True, root=True) if node is not None else DEDUCED_TYPE
        _ROOTS[key] = cached
    return cached


# --- list items -------------------------------------------------------------------------------


class ItemError(ValueError):
    pass


def _go_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    return "<nil>"


def item_element(item: Any, t: Typ) -> str:
    """The serialized path element of an associative list's item; `ItemError` if it has none."""
    if t.keys:
        if item is None:
            raise ItemError("associative list with keys may not have a null element")
        if not isinstance(item, dict):
            raise ItemError("associative list with keys may not have non-map elements")
        if len(t.keys) == 1:
            name = t.keys[0]
            value = item.get(name, MISSING)
            if value is MISSING:
                value = t.key_defaults.get(name, MISSING)
                if value is MISSING:
                    raise ItemError(f'associative list with keys has an element that omits key field "{name}" '
                                     f"(and doesn't have default value)")
            return key_element({name: value})
        fields: dict[str, Any] = {}
        for name in t.keys:
            value = item.get(name, MISSING)
            if value is MISSING:
                value = t.key_defaults.get(name, MISSING)
                if value is MISSING:
                    raise ItemError(f'associative list with keys has an element that omits key field "{name}" '
                                     f"(and doesn't have default value)")
            fields[name] = value
        return key_element(fields)
    if isinstance(item, dict):
        raise ItemError("associative list without keys has an element that's a map type")
    if isinstance(item, list):
        raise ItemError("not supported: associative list with lists as elements")
    if item is None:
        raise ItemError("associative list without keys has an element that's an explicit null")
    return value_element(item)


def item_elements(items: list[Any], t: Typ) -> list[str] | None:
    """The path elements of a list's items, or None when some item has none (read as atomic)."""
    try:
        return [item_element(item, t) for item in items]
    except ItemError:
        return None


# --- values against types ---------------------------------------------------------------------


def scalar_error(t: Typ, value: Any) -> str | None:
    """The typed conversion's complaint about a scalar of the wrong type, None if it fits."""
    if value is None:
        return None
    if t.scalar == "numeric":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"expected numeric (int or float), got {_go_type(value)}"
    elif t.scalar == "string":
        if not isinstance(value, str):
            return f"expected string, got &value.valueUnstructured{{Value:{go_repr(value)}}}"
    elif t.scalar == "boolean":
        if not isinstance(value, bool):
            return f"expected boolean, got &{{{go_repr(value)}}}"
    elif isinstance(value, dict | list):
        return f"expected any scalar, got &{{{go_repr(value)}}}"
    return None


def go_repr(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value + '"'
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_repr(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_repr(v) for v in value) + "]"
    return "<nil>" if value is None else str(value)


def walk_kind(t: Typ | None, a: Any, b: Any = MISSING) -> int:
    """LIST or MAP when the value(s) are walked into, else SCALAR (a leaf); no `b`: one value.

    Written without generators: this runs for every node a write compares, and allocations
    there are what drives the cyclic garbage collector in a server holding many objects."""
    if t is None:
        t = DEDUCED_TYPE
    kind = t.kind
    if kind in (MAP, DEDUCED):
        if t.atomic or type(a) is not dict or (b is not MISSING and type(b) is not dict):
            return SCALAR
        return MAP
    if kind == LIST:
        if t.atomic or type(a) is not list or (b is not MISSING and type(b) is not list):
            return SCALAR
        return LIST
    return SCALAR
