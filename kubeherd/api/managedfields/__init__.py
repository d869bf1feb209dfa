"""Server-side apply and field ownership: upstream's structured-merge-diff, for kubeherd's objects.

Three layers, each pure (no I/O):

* `fieldpath`: sets of field paths, held in their `FieldsV1` form, and the set algebra;
* `typed`: values read through the kind's schema (list and map semantics): the field set of an
  applied configuration, comparisons, merges and removals;
* `managers`: managedFields entries, and the structured update and apply that maintain them
  (ownership, conflicts, pruning).

The apiserver's `fieldmanager` wraps these with what upstream's field manager adds around them
(manager names, timestamps, the first apply to an unmanaged object, the cap on update entries,
client-side apply's annotation, subresources).
"""

from kubeherd.api.managedfields.fieldpath import (
    FieldSet,
    FieldsV1Error,
    canonical,
    difference,
    from_fields_v1,
    has,
    intersection,
    path_string,
    paths,
    recursive_difference,
    union,
)
from kubeherd.api.managedfields.managers import (
    APPLY,
    UPDATE,
    Conflict,
    Conflicts,
    DecodeError,
    Managed,
    ManagerKey,
    VersionedSet,
    apply,
    decode,
    encode,
    update,
)
from kubeherd.api.managedfields.typed import (
    MISSING,
    Comparison,
    Typ,
    TypedError,
    compare,
    ensure_named_fields,
    field_set,
    merge,
    remove_items,
    root_type,
)

__all__ = [
    "APPLY",
    "MISSING",
    "UPDATE",
    "Comparison",
    "Conflict",
    "Conflicts",
    "DecodeError",
    "FieldSet",
    "FieldsV1Error",
    "Managed",
    "ManagerKey",
    "Typ",
    "TypedError",
    "VersionedSet",
    "apply",
    "canonical",
    "compare",
    "decode",
    "difference",
    "encode",
    "ensure_named_fields",
    "field_set",
    "from_fields_v1",
    "has",
    "intersection",
    "merge",
    "path_string",
    "paths",
    "recursive_difference",
    "remove_items",
    "root_type",
    "union",
    "update",
]
