"""The value operations of server-side apply, over objects seen through their schema (`atoms`).

`field_set` is what an applied configuration claims (upstream's `ToFieldSet`), checking it as the
typed conversion does (undeclared fields, scalar types, list items without keys, duplicates);
`compare` gives the fields added, modified and removed between two versions of an object
(`Compare`), the basis of every Update entry; `merge` lays an applied configuration over the live
object (`Merge`: list items merged by key in the configuration's order, live-only items kept where
they stood); `remove_items` drops fields (`RemoveItems`, used to prune what an applier stopped
applying); `ensure_named_fields` makes struct fields members (`EnsureNamedFieldsAreMembers`).

A stored JSON object may hold `null`, `{}` for a map or `[]` where a Go struct would have omitted
the field: `compare` reads those as absent, and a field Go always has as there (see `atoms`).

Every set these functions return is in canonical order (see `fieldpath`), built sorted as it is
walked. `compare` skips equal subtrees with one `==` (done in C) before descending, so the cost of
an update's bookkeeping follows the size of what changed, not the size of the object; the walkers
avoid generators and spare allocations, which in a server holding many objects are what drives
the cyclic garbage collector.
"""

from __future__ import annotations

from typing import Any

from kubeherd.api.managedfields.atoms import (
    DEDUCED,
    DEDUCED_TYPE,
    LIST,
    MAP,
    MISSING,
    SCALAR,
    UNTYPED,
    UNTYPED_TYPE,
    ItemError,
    Typ,
    TypedError,
    go_repr,
    item_element,
    item_elements,
    root_type,
    scalar_error,
    walk_kind,
)
from kubeherd.api.managedfields.fieldpath import (
    FieldSet,
    children_of,
    element_string,
    is_member,
    make_entry,
    sorted_elements,
)

__all__ = [
    "MISSING",
    "Comparison",
    "Typ",
    "TypedError",
    "compare",
    "ensure_named_fields",
    "field_set",
    "merge",
    "remove_items",
    "root_type",
]

_LEAF: FieldSet = {}  # shared: sets are never mutated once built

# --- field sets of applied configurations -------------------------------------------------------


def field_set(value: Any, t: Typ, *, validate: bool = False) -> FieldSet:
    """The fields `value` sets (what an applier claims); `TypedError` when `validate` finds the
    value does not fit the schema (undeclared fields, wrong scalar types, bad list items)."""
    errors: list[str] | None = [] if validate else None
    _member, children = _tfs(value, t, "", errors)
    if errors:
        raise TypedError(errors)
    return children


def _tfs(v: Any, t: Typ, path: str, errors: list[str] | None) -> tuple[bool, FieldSet]:
    """(whether the node itself is set, the set below it), in canonical order."""
    kind = t.kind
    if kind == DEDUCED:
        kind = MAP if isinstance(v, dict) else SCALAR
    elif kind == UNTYPED:
        return True, {}
    if kind == SCALAR:
        if errors is not None and t.kind == SCALAR:
            problem = scalar_error(t, v)
            if problem:
                errors.append(f"{path}: {problem}")
        return True, {}
    if kind == MAP:
        if v is None:
            return t.atomic, {}
        if not isinstance(v, dict):
            if errors is not None:
                errors.append(f"{path}: expected map, got &{{{go_repr(v)}}}")
            return True, {}
        if t.atomic:
            return True, {}
        children: FieldSet = {}
        struct = t.struct and t.kind == MAP
        for key in sorted(v):
            cv = v[key]
            ct = t.field(key) if struct else None
            declared = ct is not None
            if ct is None:
                ct = t.elem() if t.kind == MAP else DEDUCED_TYPE
                if ct is None:
                    if errors is not None:
                        errors.append(f"{path}.{key}: field not declared in schema")
                    continue
            member, sub = _tfs(cv, ct, f"{path}.{key}", errors)
            if cv is None or not declared or (type(cv) is dict and not cv):
                member = True
            entry = make_entry(member, sub)
            if entry is not None:
                children["f:" + key] = entry
        return False, children
    # lists
    if v is None:
        return t.atomic, {}
    if not isinstance(v, list):
        if errors is not None:
            errors.append(f"{path}: expected list, got &{{{go_repr(v)}}}")
        return True, {}
    if t.atomic:
        return True, {}
    elem = t.elem() or UNTYPED_TYPE
    elements: list[str] = []
    for i, item in enumerate(v):
        try:
            elements.append(item_element(item, t))
        except ItemError as exc:
            if errors is not None:
                errors.append(f"{path}: element {i}: {exc}")
                return False, {}
            return True, {}
    counts: dict[str, int] = {}
    for pe in elements:
        counts[pe] = counts.get(pe, 0) + 1
    found: FieldSet = {}
    for pe, item in zip(elements, v, strict=True):
        if counts[pe] > 1:
            if errors is not None and pe in found:
                errors.append(f"{path}: duplicate entries for key {element_string(pe)}")
            found[pe] = _LEAF
            continue
        _member, sub = _tfs(item, elem, path + element_string(pe), errors)
        found[pe] = {".": _LEAF, **sub} if sub else _LEAF
    return False, _ordered(found)


def _ordered(children: FieldSet) -> FieldSet:
    if len(children) < 2:
        return children
    return {pe: children[pe] for pe in sorted_elements(children)}


# --- comparisons ----------------------------------------------------------------------------------


def _norm(v: Any, t: Typ | None) -> Any:
    """A stored value as upstream's typed object would hold it: empty maps and lists, and nulls,
    are absent (Go's `omitempty`), but a field Go always serializes (a value-typed struct, a
    required list or map) is there, empty, even when the JSON leaves it out."""
    if v is None or v is MISSING:
        pass
    elif type(v) is dict:
        if v or (t is not None and t.kind == MAP and t.struct):
            return v
    elif type(v) is not list or v:
        return v
    if t is not None and t.present:
        return [] if t.kind == LIST else {}
    return MISSING


class Comparison:
    """The fields `rhs` adds, modifies and removes relative to `lhs` (never overlapping)."""

    __slots__ = ("added", "modified", "removed")

    def __init__(self, added: FieldSet, modified: FieldSet, removed: FieldSet) -> None:
        self.added = added
        self.modified = modified
        self.removed = removed

    def is_same(self) -> bool:
        return not (self.added or self.modified or self.removed)


def compare(lhs: Any, rhs: Any, t: Typ) -> Comparison:
    """What changed from `lhs` to `rhs` (whole objects), as upstream's Compare reports it."""
    a, m, d = _cmp(lhs, rhs, t)
    return Comparison(_strip_self(a), _strip_self(m), _strip_self(d))


def _strip_self(entry: FieldSet | None) -> FieldSet:
    if not entry:
        return {}
    return children_of(entry)


_NONE3: tuple[None, None, None] = (None, None, None)


def _cmp(lo: Any, ro: Any, t: Typ | None) -> tuple[FieldSet | None, FieldSet | None, FieldSet | None]:
    """(added, modified, removed) entries for one node, in canonical order."""
    if lo is MISSING:
        return (_all(ro, t) if ro is not MISSING else None), None, None
    if ro is MISSING:
        return None, None, _all(lo, t)
    if lo == ro:
        return _NONE3
    kind = walk_kind(t, lo, ro)
    if kind == SCALAR:
        return None, _LEAF, None
    added: FieldSet | None = None
    modified: FieldSet | None = None
    removed: FieldSet | None = None
    if kind == MAP:
        child = (t if t is not None else DEDUCED_TYPE).child
        for key, lv in lo.items():
            rv = ro.get(key, MISSING)
            if lv is rv or lv == rv:
                continue
            ct = child(key)
            lv = _norm(lv, ct)
            rv = _norm(rv, ct)
            if lv is MISSING and rv is MISSING:
                continue
            ca, cm, cd = _cmp(lv, rv, ct)
            if ca is not None:
                if added is None:
                    added = {}
                added["f:" + key] = ca
            if cm is not None:
                if modified is None:
                    modified = {}
                modified["f:" + key] = cm
            if cd is not None:
                if removed is None:
                    removed = {}
                removed["f:" + key] = cd
        for key, rv in ro.items():
            if key in lo:
                continue
            ct = child(key)
            rv = _norm(rv, ct)
            if rv is MISSING:
                continue
            lv = _norm(MISSING, ct)  # a field Go always has is there, empty, on the live side
            if lv is MISSING:
                if added is None:
                    added = {}
                added["f:" + key] = _all(rv, ct)
                continue
            ca, cm, cd = _cmp(lv, rv, ct)
            if ca is not None:
                if added is None:
                    added = {}
                added["f:" + key] = ca
            if cm is not None:
                if modified is None:
                    modified = {}
                modified["f:" + key] = cm
        return _sorted_fields(added), _sorted_fields(modified), _sorted_fields(removed)
    # associative lists
    assert t is not None
    lpes = item_elements(lo, t)
    rpes = item_elements(ro, t)
    if lpes is None or rpes is None:
        return None, _LEAF, None
    elem = t.elem()
    lgroups: dict[str, list[Any]] = {}
    for pe, item in zip(lpes, lo, strict=True):
        lgroups.setdefault(pe, []).append(item)
    rgroups: dict[str, list[Any]] = {}
    for pe, item in zip(rpes, ro, strict=True):
        rgroups.setdefault(pe, []).append(item)
    for pe in sorted_elements({**lgroups, **rgroups}):
        ll = lgroups.get(pe, ())
        rl = rgroups.get(pe, ())
        ca = cm = cd = None
        if len(ll) <= 1 and len(rl) <= 1:
            litem = ll[0] if ll else MISSING
            ritem = rl[0] if rl else MISSING
            if litem is ritem or litem == ritem:
                continue
            ca, cm, cd = _cmp(litem, ritem, elem)
        elif len(ll) >= 2 and len(rl) >= 2:
            if ll != rl:
                cm = _LEAF
        elif len(ll) >= 2:
            if rl:
                ca = _all(rl[0], elem)
            cd = _LEAF
        else:
            if ll:
                cd = _all(ll[0], elem)
            ca = _LEAF
        if ca is not None:
            if added is None:
                added = {}
            added[pe] = ca
        if cm is not None:
            if modified is None:
                modified = {}
            modified[pe] = cm
        if cd is not None:
            if removed is None:
                removed = {}
            removed[pe] = cd
    return added, modified, removed


def _sorted_fields(d: FieldSet | None) -> FieldSet | None:
    if d is None or len(d) < 2:
        return d
    return {k: d[k] for k in sorted(d)}


def _all(v: Any, t: Typ | None) -> FieldSet:
    """The entry of a node that is entirely added (or removed): itself and everything below,
    in canonical order."""
    if t is None:
        t = DEDUCED_TYPE
    kind = t.kind
    tv = type(v)
    if tv is dict:
        if kind in (LIST, SCALAR, UNTYPED) or t.atomic:
            return _LEAF
        present = t.present_fields() if t.struct else ()
        if not v and not present:
            return _LEAF
        entry: FieldSet = {".": _LEAF}
        child = t.child
        keys = sorted(v) if all(name in v for name in present) else sorted({*v, *present})
        for key in keys:
            cv = v.get(key)
            tcv = type(cv)
            if tcv is dict or tcv is list:
                ct = child(key)
                if not cv:
                    cv = _norm(cv, ct)
                    if cv is MISSING:
                        continue
                entry["f:" + key] = _all(cv, ct)
            elif cv is not None:
                entry["f:" + key] = _LEAF  # a scalar: the common case, no need for its type
            else:
                ct = child(key)
                if ct is not None and ct.present:
                    entry["f:" + key] = _all(_norm(None, ct), ct)
        return entry if len(entry) > 1 else _LEAF
    if tv is list and kind == LIST and not t.atomic:
        pes = item_elements(v, t)
        if pes is None:
            return _LEAF
        elem = t.elem()
        found: FieldSet = {}
        for pe, item in zip(pes, v, strict=True):
            found[pe] = _LEAF if pe in found else _all(item, elem)
        return {".": _LEAF, **_ordered(found)}
    return _LEAF


# --- merge ----------------------------------------------------------------------------------------


def _drop_nulls(v: Any) -> Any:
    if type(v) is dict:
        return {k: _drop_nulls(cv) for k, cv in v.items() if cv is not None}
    if type(v) is list:
        return [_drop_nulls(item) for item in v]
    return v


def merge(lhs: Any, rhs: Any, t: Typ) -> Any:
    """`rhs` (an applied configuration, already validated) laid over `lhs` (the live object)."""
    out = _merge(lhs, rhs, t)
    return {} if out is MISSING else out


def _merge(lo: Any, ro: Any, t: Typ | None) -> Any:
    if ro is MISSING:
        return lo
    if lo is MISSING or lo is None:
        return _drop_nulls(ro)
    if ro is None:
        # null replaces a leaf; a granular object or list that has content keeps it
        if walk_kind(t, lo) != SCALAR and lo:
            return lo
        return MISSING
    kind = walk_kind(t, lo, ro)
    if kind == SCALAR:
        return _drop_nulls(ro)
    typ = t if t is not None else DEDUCED_TYPE
    if kind == MAP:
        out: dict[str, Any] = {}
        for key, lv in lo.items():
            if key in ro:
                value = _merge(lv, ro[key], typ.child(key))
                if value is not MISSING:
                    out[key] = value
            else:
                out[key] = lv
        for key, rv in ro.items():
            if key not in lo and rv is not None:
                out[key] = _drop_nulls(rv)
        return out
    return _merge_list(lo, ro, typ)


def _merge_list(lo: list[Any], ro: list[Any], t: Typ) -> list[Any]:
    """Items merged by key: the configuration's order, live-only items kept where they stood."""
    lpes = item_elements(lo, t)
    rpes = item_elements(ro, t)
    if lpes is None or rpes is None:
        return _drop_nulls(ro)
    elem = t.elem()
    rvals: dict[str, Any] = dict(zip(rpes, ro, strict=True))
    lvals: dict[str, Any] = {}
    for pe, item in zip(lpes, lo, strict=True):
        lvals[pe] = MISSING if pe in lvals else item  # a duplicated live item is not merged into
    shared = [pe for pe in rpes if pe in lvals]
    shared.reverse()
    next_shared = shared.pop() if shared else None
    merged_rhs: set[str] = set()
    out: list[Any] = []
    li = ri = 0
    nl, nr = len(lpes), len(rpes)
    while li < nl or ri < nr:
        if li < nl and ri < nr:
            pe = lpes[li]
            if pe == rpes[ri]:
                merged_rhs.add(pe)
                value = _merge(lvals[pe], rvals[pe], elem)
                if value is not MISSING:
                    out.append(value)
                li += 1
                ri += 1
                next_shared = shared.pop() if shared else None
                continue
            if pe in rvals and next_shared is not None and next_shared != pe:
                li += 1
                continue
        if li < nl:
            pe = lpes[li]
            if pe not in rvals:
                out.append(lo[li])
                li += 1
                continue
            if pe in merged_rhs:
                li += 1
        if ri < nr:
            pe = rpes[ri]
            merged_rhs.add(pe)
            value = _merge(lvals.get(pe, MISSING), rvals[pe], elem)
            if value is not MISSING:
                out.append(value)
            ri += 1
            if next_shared is not None and next_shared == pe:
                next_shared = shared.pop() if shared else None
    return out


# --- removal --------------------------------------------------------------------------------------


def remove_items(value: Any, items: FieldSet, t: Typ) -> Any:
    """`value` without the members of `items` (and everything below them)."""
    if not items:
        return value
    out = _remove(value, items, t)
    return {} if out is MISSING else out


def _remove(v: Any, s: FieldSet, t: Typ | None) -> Any:
    kind = walk_kind(t, v)
    if kind == SCALAR:
        if t is not None and t.kind in (MAP, LIST) and t.atomic:
            return MISSING
        return v
    if not v:
        return MISSING
    typ = t if t is not None else DEDUCED_TYPE
    if kind == MAP:
        out: dict[str, Any] = {}
        for key, cv in v.items():
            entry = s.get("f:" + key)
            if entry is None:
                out[key] = cv
            elif is_member(entry):
                continue
            else:
                nv = _remove(cv, entry, typ.child(key))
                if nv is not MISSING:
                    out[key] = nv
        return out if out else MISSING
    pes = item_elements(v, typ)
    if pes is None:
        return MISSING
    elem = typ.elem()
    items: list[Any] = []
    for pe, item in zip(pes, v, strict=True):
        entry = s.get(pe)
        if entry is None:
            items.append(item)
        elif is_member(entry):
            continue
        else:
            nv = _remove(item, entry, elem)
            if nv is not MISSING:
                items.append(nv)
    return items if items else MISSING


def ensure_named_fields(s: FieldSet, t: Typ) -> FieldSet:
    """`s` plus, as members, the declared struct fields that have members below them."""
    out: FieldSet = {}
    for key, entry in s.items():
        if key == ".":
            out["."] = entry
            continue
        children = children_of(entry) if entry else entry
        if not children:
            out[key] = entry
            continue
        if key.startswith("f:"):
            name = key[2:]
            declared = t.field(name) if t.struct and t.kind == MAP else None
            ct = declared if declared is not None else (t.elem() if t.kind in (MAP, DEDUCED) else None)
            member = is_member(entry) or declared is not None
        else:
            ct = t.elem() if t.kind == LIST else None
            member = is_member(entry)
        sub = ensure_named_fields(children, ct) if ct is not None else children
        built = make_entry(member, sub)
        if built is not None:
            out[key] = built
    return out
