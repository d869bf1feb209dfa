"""Strategic merge patch as kube-apiserver applies it.

Three groups of cases:

* upstream's own table (`k8s.io/apimachinery/pkg/util/strategicpatch/patch_test.go`, release
  1.33): every patch it applies, to the object it applies it to, and the result it expects,
  written here as Python data against the same fake schema (`MergeItem`);
* the patches kubectl and the official clients actually send (`apply`, `edit`, `rollout
  restart`, `cordon`, `label`), against Pod/Deployment/Node-shaped schemas;
* malformed patches, each with upstream's exact message and the HTTP status upstream answers.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import pytest

from kubeherd.api.strategic import PatchMeta, StrategicPatchError, strategic_merge_patch

Obj = dict[str, Any]


@dataclass(eq=False)
class Meta:
    """A dict-backed `PatchMeta`: a field's patch strategy and merge key, and the schemas of its
    properties (`props`), list elements (`item`) or map values (`value`)."""

    patch_strategy: str = ""
    patch_merge_key: str = ""
    props: dict[str, Meta] = field(default_factory=dict)
    item: Meta | None = None
    value: Meta | None = None

    def field(self, name: str) -> Meta | None:
        return self.props.get(name)

    def items(self) -> Meta | None:
        return self.item

    def values(self) -> Meta | None:
        return self.value


def merge_list(item: Meta, key: str = "", strategy: str = "merge") -> Meta:
    return Meta(strategy, key, item=item)


def struct(**props: Meta) -> Meta:
    return Meta(props=dict(props))


def with_strategy(base: Meta, strategy: str) -> Meta:
    return Meta(strategy, base.patch_merge_key, base.props, base.item, base.value)


SCALAR = Meta()
STRING_MAP = Meta(value=SCALAR)


def patched(original: Obj, patch: Any, meta: PatchMeta | None) -> Obj:
    """Apply and check that neither input was touched."""
    before = copy.deepcopy((original, patch))
    result = strategic_merge_patch(original, patch, meta)
    assert (original, patch) == before
    return result


def error_of(original: Obj, patch: Any, meta: PatchMeta | None) -> StrategicPatchError:
    with pytest.raises(StrategicPatchError) as caught:
        strategic_merge_patch(original, patch, meta)
    return caught.value


# --------------------------------------------------------------------------- upstream's table

# patch_test.go's MergeItem: the same struct tags, as a schema.
MERGE_ITEM = Meta()
_RETAIN_KEYS_ITEM = struct(
    name=SCALAR, value=SCALAR, other=SCALAR, simpleMap=STRING_MAP,
    mergingIntList=merge_list(SCALAR), mergingList=merge_list(MERGE_ITEM, "name"),
    nonMergingList=Meta(item=MERGE_ITEM),
)
MERGE_ITEM.props.update(
    name=SCALAR, value=SCALAR, other=SCALAR,
    mergingList=merge_list(MERGE_ITEM, "name"),
    nonMergingList=Meta(item=MERGE_ITEM),
    mergingIntList=merge_list(SCALAR),
    nonMergingIntList=Meta(item=SCALAR),
    mergeItemPtr=merge_list(MERGE_ITEM, "name"),
    simpleMap=STRING_MAP,
    replacingItem=Meta("replace"),
    retainKeysMap=with_strategy(_RETAIN_KEYS_ITEM, "retainKeys"),
    retainKeysMergingList=merge_list(MERGE_ITEM, "name", "merge,retainKeys"),
)

# (case, object, patch, result). The "two-way" case applies the two-way patch to the original,
# the "three-way" case applies the three-way patch to the live object: both are patches kubectl
# generates, and the results are upstream's expectations (including list order: upstream
# compares the patched JSON byte for byte).
UPSTREAM_CASES: list[tuple[str, Obj, Obj, Obj]] = [
    ('nested patch merge with empty list (two-way)',
     {'name': 'hi'},
     {'mergingList': [{'name': 'hello'}, {'$patch': 'delete', 'name': 'doesntexist'}]},
     {'name': 'hi', 'mergingList': [{'name': 'hello'}]}),
    ('nested patch merge with empty list (three-way)',
     {'name': 'hi', 'mergingList': [{'name': 'hello2'}]},
     {'$setElementOrder/mergingList': [{'name': 'hello'}, {'name': 'doesntexist'}],
      'mergingList': [{'name': 'hello'}]},
     {'name': 'hi', 'mergingList': [{'name': 'hello'}, {'name': 'hello2'}]}),
    ('delete items in lists of scalars (two-way)',
     {'mergingIntList': [1, 2, 3]},
     {'$setElementOrder/mergingIntList': [1, 2], '$deleteFromPrimitiveList/mergingIntList': [3]},
     {'mergingIntList': [1, 2]}),
    ('delete items in lists of scalars (three-way)',
     {'mergingIntList': [1, 2, 3, 4]},
     {'$setElementOrder/mergingIntList': [1, 2], '$deleteFromPrimitiveList/mergingIntList': [3]},
     {'mergingIntList': [1, 2, 4]}),
    ('delete all duplicate items in lists of scalars (two-way)',
     {'mergingIntList': [1, 2, 3, 3]},
     {'$setElementOrder/mergingIntList': [1, 2], '$deleteFromPrimitiveList/mergingIntList': [3]},
     {'mergingIntList': [1, 2]}),
    ('delete all duplicate items in lists of scalars (three-way)',
     {'mergingIntList': [1, 2, 3, 3, 4]},
     {'$setElementOrder/mergingIntList': [1, 2], '$deleteFromPrimitiveList/mergingIntList': [3]},
     {'mergingIntList': [1, 2, 4]}),
    ('add and delete items in lists of scalars (two-way)',
     {'mergingIntList': [1, 2, 3]},
     {'$setElementOrder/mergingIntList': [1, 2, 4],
      '$deleteFromPrimitiveList/mergingIntList': [3],
      'mergingIntList': [4]},
     {'mergingIntList': [1, 2, 4]}),
    ('add and delete items in lists of scalars (three-way)',
     {'mergingIntList': [1, 2, 3, 4]},
     {'$setElementOrder/mergingIntList': [1, 2, 4], '$deleteFromPrimitiveList/mergingIntList': [3]},
     {'mergingIntList': [1, 2, 4]}),
    ('merge lists of maps (two-way)',
     {'mergingList': [{'name': 1}, {'name': 2, 'value': 2}]},
     {'$setElementOrder/mergingList': [{'name': 4}, {'name': 1}, {'name': 2}, {'name': 3}],
      'mergingList': [{'name': 4, 'value': 4}, {'name': 3, 'value': 3}]},
     {'mergingList': [{'name': 4, 'value': 4}, {'name': 1}, {'name': 2, 'value': 2},
                      {'name': 3, 'value': 3}]}),
    ('merge lists of maps (three-way)',
     {'mergingList': [{'name': 1, 'other': 'a'}, {'name': 2, 'value': 2, 'other': 'b'}]},
     {'$setElementOrder/mergingList': [{'name': 4}, {'name': 1}, {'name': 2}, {'name': 3}],
      'mergingList': [{'name': 4, 'value': 4}, {'name': 3, 'value': 3}]},
     {'mergingList': [{'name': 4, 'value': 4}, {'name': 1, 'other': 'a'},
                      {'name': 2, 'value': 2, 'other': 'b'}, {'name': 3, 'value': 3}]}),
    ('add field to map in merging list (two-way)',
     {'mergingList': [{'name': 1}, {'name': 2, 'value': 2}]},
     {'$setElementOrder/mergingList': [{'name': 1}, {'name': 2}], 'mergingList': [{'name': 1, 'value': 1}]},
     {'mergingList': [{'name': 1, 'value': 1}, {'name': 2, 'value': 2}]}),
    ('add field to map in merging list (three-way)',
     {'mergingList': [{'name': 1, 'other': 'a'}, {'name': 2, 'value': 2, 'other': 'b'}]},
     {'$setElementOrder/mergingList': [{'name': 1}, {'name': 2}], 'mergingList': [{'name': 1, 'value': 1}]},
     {'mergingList': [{'name': 1, 'value': 1, 'other': 'a'}, {'name': 2, 'value': 2, 'other': 'b'}]}),
    ('add field to map in merging list (two-way) #2',
     {'mergingList': [{'name': 1}, {'name': 2, 'value': 2}]},
     {'$setElementOrder/mergingList': [{'name': 1}, {'name': 2}], 'mergingList': [{'name': 1, 'value': 1}]},
     {'mergingList': [{'name': 1, 'value': 1}, {'name': 2, 'value': 2}]}),
    ('add field to map in merging list (three-way) #2',
     {'mergingList': [{'name': 1, 'other': 'a'}, {'name': 2, 'value': 2, 'other': 'b'}]},
     {'$setElementOrder/mergingList': [{'name': 1}, {'name': 2}], 'mergingList': [{'name': 1, 'value': 1}]},
     {'mergingList': [{'name': 1, 'value': 1, 'other': 'a'}, {'name': 2, 'value': 2, 'other': 'b'}]}),
    ('add duplicate field to map in merging list (two-way)',
     {'mergingList': [{'name': 1}, {'name': 2, 'value': 2}]},
     {'$setElementOrder/mergingList': [{'name': 1}, {'name': 2}], 'mergingList': [{'name': 1, 'value': 1}]},
     {'mergingList': [{'name': 1, 'value': 1}, {'name': 2, 'value': 2}]}),
    ('add duplicate field to map in merging list (three-way)',
     {'mergingList': [{'name': 1, 'value': 1, 'other': 'a'}, {'name': 2, 'value': 2, 'other': 'b'}]},
     {},
     {'mergingList': [{'name': 1, 'value': 1, 'other': 'a'}, {'name': 2, 'value': 2, 'other': 'b'}]}),
    ('add an item that already exists in current object in merging list (two-way)',
     {'mergingList': [{'name': 1, 'value': 'a'}, {'name': 2}]},
     {'$setElementOrder/mergingList': [{'name': 1}, {'name': 2}, {'name': 3}], 'mergingList': [{'name': 3}]},
     {'mergingList': [{'name': 1, 'value': 'a'}, {'name': 2}, {'name': 3}]}),
    ('add an item that already exists in current object in merging list (three-way)',
     {'mergingList': [{'name': 1, 'value': 'a', 'other': 'x'}, {'name': 2}, {'name': 3}]},
     {},
     {'mergingList': [{'name': 1, 'value': 'a', 'other': 'x'}, {'name': 2}, {'name': 3}]}),
    ('replace map field value in merging list (two-way)',
     {'mergingList': [{'name': 1, 'value': 1}, {'name': 2, 'value': 2}]},
     {'$setElementOrder/mergingList': [{'name': 1}, {'name': 2}], 'mergingList': [{'name': 1, 'value': 'a'}]},
     {'mergingList': [{'name': 1, 'value': 'a'}, {'name': 2, 'value': 2}]}),
    ('replace map field value in merging list (three-way)',
     {'mergingList': [{'name': 1, 'value': 1, 'other': 'a'}, {'name': 2, 'value': 2, 'other': 'b'}]},
     {'$setElementOrder/mergingList': [{'name': 1}, {'name': 2}], 'mergingList': [{'name': 1, 'value': 'a'}]},
     {'mergingList': [{'name': 1, 'value': 'a', 'other': 'a'}, {'name': 2, 'value': 2, 'other': 'b'}]}),
    ('delete map from merging list (two-way)',
     {'mergingList': [{'name': 1}, {'name': 2}]},
     {'$setElementOrder/mergingList': [{'name': 2}], 'mergingList': [{'name': 1, '$patch': 'delete'}]},
     {'mergingList': [{'name': 2}]}),
    ('delete map from merging list (three-way)',
     {'mergingList': [{'name': 1}, {'name': 2, 'other': 'b'}]},
     {'$setElementOrder/mergingList': [{'name': 2}], 'mergingList': [{'name': 1, '$patch': 'delete'}]},
     {'mergingList': [{'name': 2, 'other': 'b'}]}),
    ('delete missing map from merging list (two-way)',
     {'mergingList': [{'name': 1}, {'name': 2}]},
     {'$setElementOrder/mergingList': [{'name': 2}], 'mergingList': [{'name': 1, '$patch': 'delete'}]},
     {'mergingList': [{'name': 2}]}),
    ('delete missing map from merging list (three-way)',
     {'mergingList': [{'name': 2, 'other': 'b'}]},
     {'$setElementOrder/mergingList': [{'name': 2}], 'mergingList': [{'name': 1, '$patch': 'delete'}]},
     {'mergingList': [{'name': 2, 'other': 'b'}]}),
    ('add map and delete map from merging list (two-way)',
     {'mergingList': [{'name': 1}, {'name': 2}]},
     {'$setElementOrder/mergingList': [{'name': 2}, {'name': 3}],
      'mergingList': [{'name': 3}, {'name': 1, '$patch': 'delete'}]},
     {'mergingList': [{'name': 2}, {'name': 3}]}),
    ('add map and delete map from merging list (three-way)',
     {'mergingList': [{'name': 1}, {'name': 2, 'other': 'b'}, {'name': 4, 'other': 'c'}]},
     {'$setElementOrder/mergingList': [{'name': 2}, {'name': 3}],
      'mergingList': [{'name': 3}, {'name': 1, '$patch': 'delete'}]},
     {'mergingList': [{'name': 2, 'other': 'b'}, {'name': 4, 'other': 'c'}, {'name': 3}]}),
    ('delete field from map in merging list (two-way)',
     {'mergingList': [{'name': 1, 'value': 1}, {'name': 2, 'value': 2}]},
     {'$setElementOrder/mergingList': [{'name': 1}, {'name': 2}],
      'mergingList': [{'name': 1, 'value': None}]},
     {'mergingList': [{'name': 1}, {'name': 2, 'value': 2}]}),
    ('delete field from map in merging list (three-way)',
     {'mergingList': [{'name': 1, 'value': 1, 'other': 'a'}, {'name': 2, 'value': 2, 'other': 'b'}]},
     {'$setElementOrder/mergingList': [{'name': 1}, {'name': 2}],
      'mergingList': [{'name': 1, 'value': None}]},
     {'mergingList': [{'name': 1, 'other': 'a'}, {'name': 2, 'value': 2, 'other': 'b'}]}),
    ('delete missing field from map in merging list (two-way)',
     {'mergingList': [{'name': 1, 'value': 1}, {'name': 2, 'value': 2}]},
     {'$setElementOrder/mergingList': [{'name': 1}, {'name': 2}],
      'mergingList': [{'name': 1, 'value': None}]},
     {'mergingList': [{'name': 1}, {'name': 2, 'value': 2}]}),
    ('delete missing field from map in merging list (three-way)',
     {'mergingList': [{'name': 1, 'other': 'a'}, {'name': 2, 'value': 2, 'other': 'b'}]},
     {'$setElementOrder/mergingList': [{'name': 1}, {'name': 2}],
      'mergingList': [{'name': 1, 'value': None}]},
     {'mergingList': [{'name': 1, 'other': 'a'}, {'name': 2, 'value': 2, 'other': 'b'}]}),
    ('replace non merging list nested in merging list (two-way)',
     {'mergingList': [{'name': 1, 'nonMergingList': [{'name': 1}, {'name': 2, 'value': 2}]}, {'name': 2}]},
     {'$setElementOrder/mergingList': [{'name': 1}, {'name': 2}],
      'mergingList': [{'name': 1, 'nonMergingList': [{'name': 1, 'value': 1}]}]},
     {'mergingList': [{'name': 1, 'nonMergingList': [{'name': 1, 'value': 1}]}, {'name': 2}]}),
    ('replace non merging list nested in merging list (three-way)',
     {'mergingList': [{'name': 1, 'other': 'a', 'nonMergingList': [{'name': 1}, {'name': 2, 'value': 2}]},
                      {'name': 2, 'other': 'b'}]},
     {'$setElementOrder/mergingList': [{'name': 1}, {'name': 2}],
      'mergingList': [{'name': 1, 'nonMergingList': [{'name': 1, 'value': 1}]}]},
     {'mergingList': [{'name': 1, 'other': 'a', 'nonMergingList': [{'name': 1, 'value': 1}]},
                      {'name': 2, 'other': 'b'}]}),
    ('add field to map in merging list nested in merging list (two-way)',
     {'mergingList': [{'name': 1, 'mergingList': [{'name': 1}, {'name': 2, 'value': 2}]}, {'name': 2}]},
     {'$setElementOrder/mergingList': [{'name': 1}, {'name': 2}],
      'mergingList': [{'$setElementOrder/mergingList': [{'name': 1}, {'name': 2}],
                       'name': 1,
                       'mergingList': [{'name': 1, 'value': 1}]}]},
     {'mergingList': [{'name': 1, 'mergingList': [{'name': 1, 'value': 1}, {'name': 2, 'value': 2}]},
                      {'name': 2}]}),
    ('add field to map in merging list nested in merging list (three-way)',
     {'mergingList': [{'name': 1, 'other': 'a', 'mergingList': [{'name': 1}, {'name': 2, 'value': 2}]},
                      {'name': 2, 'other': 'b'}]},
     {'$setElementOrder/mergingList': [{'name': 1}, {'name': 2}],
      'mergingList': [{'$setElementOrder/mergingList': [{'name': 1}, {'name': 2}],
                       'name': 1,
                       'mergingList': [{'name': 1, 'value': 1}]}]},
     {'mergingList': [{'name': 1,
                       'other': 'a',
                       'mergingList': [{'name': 1, 'value': 1}, {'name': 2, 'value': 2}]},
                      {'name': 2, 'other': 'b'}]}),
    ('add map to merging list by pointer (two-way)',
     {'mergeItemPtr': [{'name': 1}]},
     {'$setElementOrder/mergeItemPtr': [{'name': 1}, {'name': 2}], 'mergeItemPtr': [{'name': 2}]},
     {'mergeItemPtr': [{'name': 1}, {'name': 2}]}),
    ('add map to merging list by pointer (three-way)',
     {'mergeItemPtr': [{'name': 1, 'other': 'a'}, {'name': 3}]},
     {'$setElementOrder/mergeItemPtr': [{'name': 1}, {'name': 2}], 'mergeItemPtr': [{'name': 2}]},
     {'mergeItemPtr': [{'name': 1, 'other': 'a'}, {'name': 2}, {'name': 3}]}),
    ('add field to map in merging list by pointer (two-way)',
     {'mergeItemPtr': [{'name': 1, 'mergeItemPtr': [{'name': 1}, {'name': 2, 'value': 2}]}, {'name': 2}]},
     {'$setElementOrder/mergeItemPtr': [{'name': 1}, {'name': 2}],
      'mergeItemPtr': [{'$setElementOrder/mergeItemPtr': [{'name': 1}, {'name': 2}],
                        'name': 1,
                        'mergeItemPtr': [{'name': 1, 'value': 1}]}]},
     {'mergeItemPtr': [{'name': 1, 'mergeItemPtr': [{'name': 1, 'value': 1}, {'name': 2, 'value': 2}]},
                       {'name': 2}]}),
    ('add field to map in merging list by pointer (three-way)',
     {'mergeItemPtr': [{'name': 1,
                        'other': 'a',
                        'mergeItemPtr': [{'name': 1, 'other': 'a'}, {'name': 2, 'value': 2, 'other': 'b'}]},
                       {'name': 2, 'other': 'b'}]},
     {'$setElementOrder/mergeItemPtr': [{'name': 1}, {'name': 2}],
      'mergeItemPtr': [{'$setElementOrder/mergeItemPtr': [{'name': 1}, {'name': 2}],
                        'name': 1,
                        'mergeItemPtr': [{'name': 1, 'value': 1}]}]},
     {'mergeItemPtr': [{'name': 1,
                        'other': 'a',
                        'mergeItemPtr': [{'name': 1, 'value': 1, 'other': 'a'},
                                         {'name': 2, 'value': 2, 'other': 'b'}]},
                       {'name': 2, 'other': 'b'}]}),
    ('merge lists of scalars (two-way)',
     {'mergingIntList': [1, 2]},
     {'$setElementOrder/mergingIntList': [1, 2, 3], 'mergingIntList': [3]},
     {'mergingIntList': [1, 2, 3]}),
    ('merge lists of scalars (three-way)',
     {'mergingIntList': [1, 2, 4]},
     {'$setElementOrder/mergingIntList': [1, 2, 3], 'mergingIntList': [3]},
     {'mergingIntList': [1, 2, 3, 4]}),
    ('add duplicate field to map in merging int list (two-way)',
     {'mergingIntList': [1, 2]},
     {'$setElementOrder/mergingIntList': [1, 2, 3], 'mergingIntList': [3]},
     {'mergingIntList': [1, 2, 3]}),
    ('add duplicate field to map in merging int list (three-way)',
     {'mergingIntList': [1, 2, 3]},
     {},
     {'mergingIntList': [1, 2, 3]}),
    ('add an item in a list of primitives and preserve order (two-way)',
     {'mergingIntList': [1, 2]},
     {'$setElementOrder/mergingIntList': [3, 1, 2], 'mergingIntList': [3]},
     {'mergingIntList': [3, 1, 2]}),
    ('add an item in a list of primitives and preserve order (three-way)',
     {'mergingIntList': [1, 4, 2]},
     {'$setElementOrder/mergingIntList': [3, 1, 2], 'mergingIntList': [3]},
     {'mergingIntList': [3, 1, 4, 2]}),
    ('delete an item in a list of primitives and preserve order (two-way)',
     {'mergingIntList': [1, 2, 3]},
     {'$setElementOrder/mergingIntList': [2, 1], '$deleteFromPrimitiveList/mergingIntList': [3]},
     {'mergingIntList': [2, 1]}),
    ('delete an item in a list of primitives and preserve order (three-way)',
     {'mergingIntList': [1, 2, 3]},
     {'$setElementOrder/mergingIntList': [2, 1], '$deleteFromPrimitiveList/mergingIntList': [3]},
     {'mergingIntList': [2, 1]}),
    ('add an item in a list and preserve order (two-way)',
     {'mergingList': [{'name': 1}, {'name': 2, 'value': 2}]},
     {'$setElementOrder/mergingList': [{'name': 3}, {'name': 1}, {'name': 2}],
      'mergingList': [{'name': 3, 'value': 3}]},
     {'mergingList': [{'name': 3, 'value': 3}, {'name': 1}, {'name': 2, 'value': 2}]}),
    ('add an item in a list and preserve order (three-way)',
     {'mergingList': [{'name': 1, 'other': 'a'}, {'name': 2, 'value': 2, 'other': 'b'}]},
     {'$setElementOrder/mergingList': [{'name': 3}, {'name': 1}, {'name': 2}],
      'mergingList': [{'name': 3, 'value': 3}]},
     {'mergingList': [{'name': 3, 'value': 3}, {'name': 1, 'other': 'a'},
                      {'name': 2, 'value': 2, 'other': 'b'}]}),
    ('add multiple items in a list and preserve order (two-way)',
     {'mergingList': [{'name': 1}, {'name': 2, 'value': 2}]},
     {'$setElementOrder/mergingList': [{'name': 1}, {'name': 4}, {'name': 2}, {'name': 3}],
      'mergingList': [{'name': 4, 'value': 4}, {'name': 3, 'value': 3}]},
     {'mergingList': [{'name': 1}, {'name': 4, 'value': 4}, {'name': 2, 'value': 2},
                      {'name': 3, 'value': 3}]}),
    ('add multiple items in a list and preserve order (three-way)',
     {'mergingList': [{'name': 1, 'other': 'a'}, {'name': 2, 'value': 2, 'other': 'b'}]},
     {'$setElementOrder/mergingList': [{'name': 1}, {'name': 4}, {'name': 2}, {'name': 3}],
      'mergingList': [{'name': 4, 'value': 4}, {'name': 3, 'value': 3}]},
     {'mergingList': [{'name': 1, 'other': 'a'}, {'name': 4, 'value': 4},
                      {'name': 2, 'value': 2, 'other': 'b'}, {'name': 3, 'value': 3}]}),
    ('delete an item in a list and preserve order (two-way)',
     {'mergingList': [{'name': 1}, {'name': 3, 'value': 3}, {'name': 2, 'value': 2}]},
     {'$setElementOrder/mergingList': [{'name': 2}, {'name': 1}],
      'mergingList': [{'name': 3, '$patch': 'delete'}]},
     {'mergingList': [{'name': 2, 'value': 2}, {'name': 1}]}),
    ('delete an item in a list and preserve order (three-way)',
     {'mergingList': [{'name': 1, 'other': 'a'}, {'name': 2, 'value': 2, 'other': 'b'},
                      {'name': 3, 'value': 3}]},
     {'$setElementOrder/mergingList': [{'name': 2}, {'name': 1}],
      'mergingList': [{'name': 3, '$patch': 'delete'}]},
     {'mergingList': [{'name': 2, 'value': 2, 'other': 'b'}, {'name': 1, 'other': 'a'}]}),
    ('change an item in a list and preserve order (two-way)',
     {'mergingList': [{'name': 1}, {'name': 3, 'value': 3}, {'name': 2, 'value': 2}]},
     {'$setElementOrder/mergingList': [{'name': 2}, {'name': 3}, {'name': 1}],
      'mergingList': [{'name': 3, 'value': 'x'}]},
     {'mergingList': [{'name': 2, 'value': 2}, {'name': 3, 'value': 'x'}, {'name': 1}]}),
    ('change an item in a list and preserve order (three-way)',
     {'mergingList': [{'name': 1, 'other': 'a'}, {'name': 2, 'value': 2, 'other': 'b'},
                      {'name': 3, 'value': 3}]},
     {'$setElementOrder/mergingList': [{'name': 2}, {'name': 3}, {'name': 1}],
      'mergingList': [{'name': 3, 'value': 'x'}]},
     {'mergingList': [{'name': 2, 'value': 2, 'other': 'b'}, {'name': 3, 'value': 'x'},
                      {'name': 1, 'other': 'a'}]}),
    ('add and delete an item in a list and preserve order (two-way)',
     {'mergingList': [{'name': 1}, {'name': 3, 'value': 3}, {'name': 2, 'value': 2}]},
     {'$setElementOrder/mergingList': [{'name': 4}, {'name': 2}, {'name': 1}],
      'mergingList': [{'name': 4, 'value': 4}, {'name': 3, '$patch': 'delete'}]},
     {'mergingList': [{'name': 4, 'value': 4}, {'name': 2, 'value': 2}, {'name': 1}]}),
    ('add and delete an item in a list and preserve order (three-way)',
     {'mergingList': [{'name': 1, 'other': 'a'}, {'name': 2, 'value': 2, 'other': 'b'},
                      {'name': 3, 'value': 3}]},
     {'$setElementOrder/mergingList': [{'name': 4}, {'name': 2}, {'name': 1}],
      'mergingList': [{'name': 4, 'value': 4}, {'name': 3, '$patch': 'delete'}]},
     {'mergingList': [{'name': 4, 'value': 4}, {'name': 2, 'value': 2, 'other': 'b'},
                      {'name': 1, 'other': 'a'}]}),
    ('set elements order in a list (two-way)',
     {'mergingList': [{'name': 1}, {'name': 3, 'value': 3}, {'name': 4, 'value': 4},
                      {'name': 2, 'value': 2}]},
     {'$setElementOrder/mergingList': [{'name': 4}, {'name': 2}, {'name': 3}, {'name': 1}]},
     {'mergingList': [{'name': 4, 'value': 4}, {'name': 2, 'value': 2}, {'name': 3, 'value': 3},
                      {'name': 1}]}),
    ('set elements order in a list (three-way)',
     {'mergingList': [{'name': 1, 'other': 'a'}, {'name': 3, 'value': 3}, {'name': 4, 'value': 4},
                      {'name': 2, 'value': 2}]},
     {'$setElementOrder/mergingList': [{'name': 4}, {'name': 2}, {'name': 3}, {'name': 1}]},
     {'mergingList': [{'name': 4, 'value': 4}, {'name': 2, 'value': 2}, {'name': 3, 'value': 3},
                      {'name': 1, 'other': 'a'}]}),
    ('set elements order in a list with server-only items (two-way)',
     {'mergingList': [{'name': 1}, {'name': 3, 'value': 3}, {'name': 4, 'value': 4},
                      {'name': 2, 'value': 2}]},
     {'$setElementOrder/mergingList': [{'name': 4}, {'name': 2}, {'name': 3}, {'name': 1}]},
     {'mergingList': [{'name': 4, 'value': 4}, {'name': 2, 'value': 2}, {'name': 3, 'value': 3},
                      {'name': 1}]}),
    ('set elements order in a list with server-only items (three-way)',
     {'mergingList': [{'name': 1, 'other': 'a'}, {'name': 3, 'value': 3}, {'name': 4, 'value': 4},
                      {'name': 2, 'value': 2}, {'name': 9}]},
     {'$setElementOrder/mergingList': [{'name': 4}, {'name': 2}, {'name': 3}, {'name': 1}]},
     {'mergingList': [{'name': 4, 'value': 4}, {'name': 2, 'value': 2}, {'name': 3, 'value': 3},
                      {'name': 1, 'other': 'a'}, {'name': 9}]}),
    ('set elements order in a list with server-only items 2 (two-way)',
     {'mergingList': [{'name': 1}, {'name': 2, 'value': 2}, {'name': 3, 'value': 3},
                      {'name': 4, 'value': 4}]},
     {'$setElementOrder/mergingList': [{'name': 2}, {'name': 1}, {'name': 4}, {'name': 3}]},
     {'mergingList': [{'name': 2, 'value': 2}, {'name': 1}, {'name': 4, 'value': 4},
                      {'name': 3, 'value': 3}]}),
    ('set elements order in a list with server-only items 2 (three-way)',
     {'mergingList': [{'name': 1, 'other': 'a'}, {'name': 2, 'value': 2}, {'name': 9},
                      {'name': 3, 'value': 3}, {'name': 4, 'value': 4}]},
     {'$setElementOrder/mergingList': [{'name': 2}, {'name': 1}, {'name': 4}, {'name': 3}]},
     {'mergingList': [{'name': 2, 'value': 2}, {'name': 1, 'other': 'a'}, {'name': 9},
                      {'name': 4, 'value': 4}, {'name': 3, 'value': 3}]}),
    ('set elements order in a list with server-only items 3 (two-way)',
     {'mergingList': [{'name': 1}, {'name': 2, 'value': 2}, {'name': 3, 'value': 3},
                      {'name': 4, 'value': 4}]},
     {'$setElementOrder/mergingList': [{'name': 2}, {'name': 1}, {'name': 4}, {'name': 3}]},
     {'mergingList': [{'name': 2, 'value': 2}, {'name': 1}, {'name': 4, 'value': 4},
                      {'name': 3, 'value': 3}]}),
    ('set elements order in a list with server-only items 3 (three-way)',
     {'mergingList': [{'name': 1, 'other': 'a'}, {'name': 2, 'value': 2}, {'name': 7}, {'name': 9},
                      {'name': 8}, {'name': 3, 'value': 3}, {'name': 4, 'value': 4}]},
     {'$setElementOrder/mergingList': [{'name': 2}, {'name': 1}, {'name': 4}, {'name': 3}]},
     {'mergingList': [{'name': 2, 'value': 2}, {'name': 1, 'other': 'a'}, {'name': 7}, {'name': 9},
                      {'name': 8}, {'name': 4, 'value': 4}, {'name': 3, 'value': 3}]}),
    ('add an item in a int list and preserve order (two-way)',
     {'mergingIntList': [1, 2]},
     {'$setElementOrder/mergingIntList': [3, 1, 2], 'mergingIntList': [3]},
     {'mergingIntList': [3, 1, 2]}),
    ('add an item in a int list and preserve order (three-way)',
     {'mergingIntList': [1, 2]},
     {'$setElementOrder/mergingIntList': [3, 1, 2], 'mergingIntList': [3]},
     {'mergingIntList': [3, 1, 2]}),
    ('add multiple items in a int list and preserve order (two-way)',
     {'mergingIntList': [1, 2]},
     {'$setElementOrder/mergingIntList': [1, 4, 2, 3], 'mergingIntList': [4, 3]},
     {'mergingIntList': [1, 4, 2, 3]}),
    ('add multiple items in a int list and preserve order (three-way)',
     {'mergingIntList': [1, 2]},
     {'$setElementOrder/mergingIntList': [1, 4, 2, 3], 'mergingIntList': [4, 3]},
     {'mergingIntList': [1, 4, 2, 3]}),
    ('delete an item in a int list and preserve order (two-way)',
     {'mergingIntList': [1, 3, 2]},
     {'$setElementOrder/mergingIntList': [2, 1], '$deleteFromPrimitiveList/mergingIntList': [3]},
     {'mergingIntList': [2, 1]}),
    ('delete an item in a int list and preserve order (three-way)',
     {'mergingIntList': [1, 2, 3]},
     {'$setElementOrder/mergingIntList': [2, 1], '$deleteFromPrimitiveList/mergingIntList': [3]},
     {'mergingIntList': [2, 1]}),
    ('add and delete an item in a int list and preserve order (two-way)',
     {'mergingIntList': [1, 3, 2]},
     {'$setElementOrder/mergingIntList': [4, 2, 1],
      'mergingIntList': [4],
      '$deleteFromPrimitiveList/mergingIntList': [3]},
     {'mergingIntList': [4, 2, 1]}),
    ('add and delete an item in a int list and preserve order (three-way)',
     {'mergingIntList': [1, 2, 3]},
     {'$setElementOrder/mergingIntList': [4, 2, 1],
      'mergingIntList': [4],
      '$deleteFromPrimitiveList/mergingIntList': [3]},
     {'mergingIntList': [4, 2, 1]}),
    ('set elements order in a int list (two-way)',
     {'mergingIntList': [1, 3, 4, 2]},
     {'$setElementOrder/mergingIntList': [4, 2, 3, 1]},
     {'mergingIntList': [4, 2, 3, 1]}),
    ('set elements order in a int list (three-way)',
     {'mergingIntList': [1, 3, 4, 2]},
     {'$setElementOrder/mergingIntList': [4, 2, 3, 1]},
     {'mergingIntList': [4, 2, 3, 1]}),
    ('set elements order in a int list with server-only items (two-way)',
     {'mergingIntList': [1, 3, 4, 2]},
     {'$setElementOrder/mergingIntList': [4, 2, 3, 1]},
     {'mergingIntList': [4, 2, 3, 1]}),
    ('set elements order in a int list with server-only items (three-way)',
     {'mergingIntList': [1, 3, 4, 2, 9]},
     {'$setElementOrder/mergingIntList': [4, 2, 3, 1]},
     {'mergingIntList': [4, 2, 3, 1, 9]}),
    ('set elements order in a int list with server-only items 2 (two-way)',
     {'mergingIntList': [1, 2, 3, 4]},
     {'$setElementOrder/mergingIntList': [2, 1, 4, 3]},
     {'mergingIntList': [2, 1, 4, 3]}),
    ('set elements order in a int list with server-only items 2 (three-way)',
     {'mergingIntList': [1, 2, 9, 3, 4]},
     {'$setElementOrder/mergingIntList': [2, 1, 4, 3]},
     {'mergingIntList': [2, 1, 9, 4, 3]}),
    ('set elements order in a int list with server-only items 3 (two-way)',
     {'mergingIntList': [1, 2, 3, 4]},
     {'$setElementOrder/mergingIntList': [2, 1, 4, 3]},
     {'mergingIntList': [2, 1, 4, 3]}),
    ('set elements order in a int list with server-only items 3 (three-way)',
     {'mergingIntList': [1, 2, 7, 9, 8, 3, 4]},
     {'$setElementOrder/mergingIntList': [2, 1, 4, 3]},
     {'mergingIntList': [2, 1, 7, 9, 8, 4, 3]}),
    ('behavior of set element order for a merging list with duplicate (two-way)',
     {'mergingList': [{'name': 1}, {'name': 2, 'value': 'dup1'}, {'name': 3}, {'name': 2, 'value': 'dup2'},
                      {'name': 4}]},
     {'$setElementOrder/mergingList': [{'name': 2}, {'name': 1}, {'name': 4}, {'name': 3}, {'name': 2}]},
     {'mergingList': [{'name': 2, 'value': 'dup1'}, {'name': 2, 'value': 'dup2'}, {'name': 1}, {'name': 4},
                      {'name': 3}]}),
    ('behavior of set element order for a merging list with duplicate (three-way)',
     {'mergingList': [{'name': 1}, {'name': 2, 'value': 'dup1'}, {'name': 3}, {'name': 2, 'value': 'dup2'},
                      {'name': 4}]},
     {'$setElementOrder/mergingList': [{'name': 2}, {'name': 1}, {'name': 4}, {'name': 3}, {'name': 2}]},
     {'mergingList': [{'name': 2, 'value': 'dup1'}, {'name': 2, 'value': 'dup2'}, {'name': 1}, {'name': 4},
                      {'name': 3}]}),
    ('behavior of set element order for a merging int list with duplicate (two-way)',
     {'mergingIntList': [1, 2, 3, 2, 4]},
     {'$setElementOrder/mergingIntList': [2, 1, 4, 3, 2]},
     {'mergingIntList': [2, 2, 1, 4, 3]}),
    ('behavior of set element order for a merging int list with duplicate (three-way)',
     {'mergingIntList': [1, 2, 3, 2, 4]},
     {'$setElementOrder/mergingIntList': [2, 1, 4, 3, 2]},
     {'mergingIntList': [2, 2, 1, 4, 3]}),
    ('retainKeys map should clear defaulted field (two-way)',
     {},
     {'retainKeysMap': {'other': 'bar'}},
     {'retainKeysMap': {'other': 'bar'}}),
    ('retainKeys map should clear defaulted field (three-way)',
     {'retainKeysMap': {'value': 'foo'}},
     {'retainKeysMap': {'$retainKeys': ['other'], 'other': 'bar'}},
     {'retainKeysMap': {'other': 'bar'}}),
    ('retainKeys map adds a field (two-way)',
     {'retainKeysMap': {'name': 'foo'}},
     {'retainKeysMap': {'$retainKeys': ['name', 'value'], 'value': 'bar'}},
     {'retainKeysMap': {'name': 'foo', 'value': 'bar'}}),
    ('retainKeys map adds a field (three-way)',
     {'retainKeysMap': {'name': 'foo'}},
     {'retainKeysMap': {'$retainKeys': ['name', 'value'], 'value': 'bar'}},
     {'retainKeysMap': {'name': 'foo', 'value': 'bar'}}),
    ('retainKeys map adds a field and clear a field (two-way)',
     {'retainKeysMap': {'name': 'foo'}},
     {'retainKeysMap': {'$retainKeys': ['name', 'value'], 'value': 'bar'}},
     {'retainKeysMap': {'name': 'foo', 'value': 'bar'}}),
    ('retainKeys map adds a field and clear a field (three-way)',
     {'retainKeysMap': {'name': 'foo', 'other': 'a'}},
     {'retainKeysMap': {'$retainKeys': ['name', 'value'], 'value': 'bar'}},
     {'retainKeysMap': {'name': 'foo', 'value': 'bar'}}),
    ('retainKeys map deletes a field (two-way)',
     {'retainKeysMap': {'name': 'foo', 'value': 'bar'}},
     {'retainKeysMap': {'$retainKeys': ['name'], 'value': None}},
     {'retainKeysMap': {'name': 'foo'}}),
    ('retainKeys map deletes a field (three-way)',
     {'retainKeysMap': {'name': 'foo', 'value': 'bar'}},
     {'retainKeysMap': {'$retainKeys': ['name'], 'value': None}},
     {'retainKeysMap': {'name': 'foo'}}),
    ('retainKeys map deletes a field and clears a field (two-way)',
     {'retainKeysMap': {'name': 'foo', 'value': 'bar'}},
     {'retainKeysMap': {'$retainKeys': ['name'], 'value': None}},
     {'retainKeysMap': {'name': 'foo'}}),
    ('retainKeys map deletes a field and clears a field (three-way)',
     {'retainKeysMap': {'name': 'foo', 'value': 'bar', 'other': 'a'}},
     {'retainKeysMap': {'$retainKeys': ['name'], 'value': None}},
     {'retainKeysMap': {'name': 'foo'}}),
    ('retainKeys map clears a field (two-way)',
     {'retainKeysMap': {'name': 'foo', 'value': 'bar'}},
     {},
     {'retainKeysMap': {'name': 'foo', 'value': 'bar'}}),
    ('retainKeys map clears a field (three-way)',
     {'retainKeysMap': {'name': 'foo', 'value': 'bar', 'other': 'a'}},
     {'retainKeysMap': {'$retainKeys': ['name', 'value']}},
     {'retainKeysMap': {'name': 'foo', 'value': 'bar'}}),
    ('retainKeys map nested map with no change (two-way)',
     {'retainKeysMap': {'name': 'foo', 'simpleMap': {'key1': 'a'}}},
     {'retainKeysMap': {'$retainKeys': ['name', 'simpleMap', 'value'], 'value': 'bar'}},
     {'retainKeysMap': {'name': 'foo', 'value': 'bar', 'simpleMap': {'key1': 'a'}}}),
    ('retainKeys map nested map with no change (three-way)',
     {'retainKeysMap': {'name': 'foo', 'simpleMap': {'key1': 'a'}}},
     {'retainKeysMap': {'$retainKeys': ['name', 'simpleMap', 'value'], 'value': 'bar'}},
     {'retainKeysMap': {'name': 'foo', 'value': 'bar', 'simpleMap': {'key1': 'a'}}}),
    ('retainKeys map adds a field in a nested map (two-way)',
     {'retainKeysMap': {'name': 'foo', 'value': 'bar', 'simpleMap': {'key1': 'a'}}},
     {'retainKeysMap': {'$retainKeys': ['name', 'simpleMap', 'value'], 'simpleMap': {'key2': 'b'}}},
     {'retainKeysMap': {'name': 'foo', 'value': 'bar', 'simpleMap': {'key1': 'a', 'key2': 'b'}}}),
    ('retainKeys map adds a field in a nested map (three-way)',
     {'retainKeysMap': {'name': 'foo', 'value': 'bar', 'simpleMap': {'key1': 'a', 'key3': 'c'}}},
     {'retainKeysMap': {'$retainKeys': ['name', 'simpleMap', 'value'], 'simpleMap': {'key2': 'b'}}},
     {'retainKeysMap': {'name': 'foo', 'value': 'bar', 'simpleMap': {'key1': 'a', 'key2': 'b', 'key3': 'c'}}}),
    ('retainKeys map deletes a field in a nested map (two-way)',
     {'retainKeysMap': {'name': 'foo', 'value': 'bar', 'simpleMap': {'key1': 'a', 'key2': 'b'}}},
     {'retainKeysMap': {'$retainKeys': ['name', 'simpleMap', 'value'], 'simpleMap': {'key2': None}}},
     {'retainKeysMap': {'name': 'foo', 'value': 'bar', 'simpleMap': {'key1': 'a'}}}),
    ('retainKeys map deletes a field in a nested map (three-way)',
     {'retainKeysMap': {'name': 'foo', 'value': 'bar', 'simpleMap': {'key1': 'a', 'key2': 'b', 'key3': 'c'}}},
     {'retainKeysMap': {'$retainKeys': ['name', 'simpleMap', 'value'], 'simpleMap': {'key2': None}}},
     {'retainKeysMap': {'name': 'foo', 'value': 'bar', 'simpleMap': {'key1': 'a', 'key3': 'c'}}}),
    ('retainKeys map changes a field in a nested map (two-way)',
     {'retainKeysMap': {'name': 'foo', 'value': 'bar', 'simpleMap': {'key1': 'a', 'key2': 'b'}}},
     {'retainKeysMap': {'$retainKeys': ['name', 'simpleMap', 'value'], 'simpleMap': {'key1': 'x'}}},
     {'retainKeysMap': {'name': 'foo', 'value': 'bar', 'simpleMap': {'key1': 'x', 'key2': 'b'}}}),
    ('retainKeys map changes a field in a nested map (three-way)',
     {'retainKeysMap': {'name': 'foo', 'value': 'bar', 'simpleMap': {'key1': 'a', 'key2': 'b', 'key3': 'c'}}},
     {'retainKeysMap': {'$retainKeys': ['name', 'simpleMap', 'value'], 'simpleMap': {'key1': 'x'}}},
     {'retainKeysMap': {'name': 'foo', 'value': 'bar', 'simpleMap': {'key1': 'x', 'key2': 'b', 'key3': 'c'}}}),
    ('retainKeys map replaces non-merging list (two-way)',
     {'retainKeysMap': {'name': 'foo', 'value': 'bar', 'nonMergingList': [{'name': 'a'}, {'name': 'b'}]}},
     {'retainKeysMap': {'$retainKeys': ['name', 'nonMergingList', 'value'],
                        'nonMergingList': [{'name': 'a'}, {'name': 'c'}, {'name': 'b'}]}},
     {'retainKeysMap': {'name': 'foo',
                        'value': 'bar',
                        'nonMergingList': [{'name': 'a'}, {'name': 'c'}, {'name': 'b'}]}}),
    ('retainKeys map replaces non-merging list (three-way)',
     {'retainKeysMap': {'name': 'foo', 'value': 'bar', 'nonMergingList': [{'name': 'a'}, {'name': 'b'}]}},
     {'retainKeysMap': {'$retainKeys': ['name', 'nonMergingList', 'value'],
                        'nonMergingList': [{'name': 'a'}, {'name': 'c'}, {'name': 'b'}]}},
     {'retainKeysMap': {'name': 'foo',
                        'value': 'bar',
                        'nonMergingList': [{'name': 'a'}, {'name': 'c'}, {'name': 'b'}]}}),
    ('retainKeys map nested non-merging list with no change (two-way)',
     {'retainKeysMap': {'name': 'foo', 'nonMergingList': [{'name': 'a'}, {'name': 'b'}]}},
     {'retainKeysMap': {'$retainKeys': ['name', 'nonMergingList', 'value'], 'value': 'bar'}},
     {'retainKeysMap': {'name': 'foo', 'value': 'bar', 'nonMergingList': [{'name': 'a'}, {'name': 'b'}]}}),
    ('retainKeys map nested non-merging list with no change (three-way)',
     {'retainKeysMap': {'name': 'foo', 'nonMergingList': [{'name': 'a'}, {'name': 'b'}]}},
     {'retainKeysMap': {'$retainKeys': ['name', 'nonMergingList', 'value'], 'value': 'bar'}},
     {'retainKeysMap': {'name': 'foo', 'value': 'bar', 'nonMergingList': [{'name': 'a'}, {'name': 'b'}]}}),
    ('retainKeys map deletes nested non-merging list (two-way)',
     {'retainKeysMap': {'name': 'foo', 'nonMergingList': [{'name': 'a'}, {'name': 'b'}]}},
     {'retainKeysMap': {'$retainKeys': ['name', 'value'], 'value': 'bar', 'nonMergingList': None}},
     {'retainKeysMap': {'name': 'foo', 'value': 'bar'}}),
    ('retainKeys map deletes nested non-merging list (three-way)',
     {'retainKeysMap': {'name': 'foo', 'nonMergingList': [{'name': 'a'}, {'name': 'b'}]}},
     {'retainKeysMap': {'$retainKeys': ['name', 'value'], 'value': 'bar', 'nonMergingList': None}},
     {'retainKeysMap': {'name': 'foo', 'value': 'bar'}}),
    ('retainKeys map nested merging int list with no change (two-way)',
     {'retainKeysMap': {'name': 'foo', 'mergingIntList': [1, 2]}},
     {'retainKeysMap': {'$retainKeys': ['mergingIntList', 'name', 'value'], 'value': 'bar'}},
     {'retainKeysMap': {'name': 'foo', 'value': 'bar', 'mergingIntList': [1, 2]}}),
    ('retainKeys map nested merging int list with no change (three-way)',
     {'retainKeysMap': {'name': 'foo', 'mergingIntList': [1, 2, 3]}},
     {'retainKeysMap': {'$retainKeys': ['mergingIntList', 'name', 'value'],
                        '$setElementOrder/mergingIntList': [1, 2],
                        'value': 'bar'}},
     {'retainKeysMap': {'name': 'foo', 'value': 'bar', 'mergingIntList': [1, 2, 3]}}),
    ('retainKeys map adds an item in nested merging int list (two-way)',
     {'retainKeysMap': {'name': 'foo', 'mergingIntList': [1, 2]}},
     {'retainKeysMap': {'$setElementOrder/mergingIntList': [1, 2, 4],
                        '$retainKeys': ['mergingIntList', 'name'],
                        'mergingIntList': [4]}},
     {'retainKeysMap': {'name': 'foo', 'mergingIntList': [1, 2, 4]}}),
    ('retainKeys map adds an item in nested merging int list (three-way)',
     {'retainKeysMap': {'name': 'foo', 'mergingIntList': [1, 2, 3]}},
     {'retainKeysMap': {'$setElementOrder/mergingIntList': [1, 2, 4],
                        '$retainKeys': ['mergingIntList', 'name'],
                        'mergingIntList': [4]}},
     {'retainKeysMap': {'name': 'foo', 'mergingIntList': [1, 2, 4, 3]}}),
    ('retainKeys map deletes an item in nested merging int list (two-way)',
     {'retainKeysMap': {'name': 'foo', 'mergingIntList': [1, 2, 3]}},
     {'retainKeysMap': {'$retainKeys': ['mergingIntList', 'name'],
                        '$deleteFromPrimitiveList/mergingIntList': [2],
                        '$setElementOrder/mergingIntList': [1, 3]}},
     {'retainKeysMap': {'name': 'foo', 'mergingIntList': [1, 3]}}),
    ('retainKeys map deletes an item in nested merging int list (three-way)',
     {'retainKeysMap': {'name': 'foo', 'mergingIntList': [1, 2, 3, 4]}},
     {'retainKeysMap': {'$retainKeys': ['mergingIntList', 'name'],
                        '$deleteFromPrimitiveList/mergingIntList': [2],
                        '$setElementOrder/mergingIntList': [1, 3]}},
     {'retainKeysMap': {'name': 'foo', 'mergingIntList': [1, 3, 4]}}),
    ('retainKeys map adds an item and deletes an item in nested merging int list (two-way)',
     {'retainKeysMap': {'name': 'foo', 'mergingIntList': [1, 2, 3]}},
     {'retainKeysMap': {'$retainKeys': ['mergingIntList', 'name'],
                        'mergingIntList': [5],
                        '$deleteFromPrimitiveList/mergingIntList': [2],
                        '$setElementOrder/mergingIntList': [1, 3, 5]}},
     {'retainKeysMap': {'name': 'foo', 'mergingIntList': [1, 3, 5]}}),
    ('retainKeys map adds an item and deletes an item in nested merging int list (three-way)',
     {'retainKeysMap': {'name': 'foo', 'mergingIntList': [1, 2, 3, 4]}},
     {'retainKeysMap': {'$retainKeys': ['mergingIntList', 'name'],
                        'mergingIntList': [5],
                        '$deleteFromPrimitiveList/mergingIntList': [2],
                        '$setElementOrder/mergingIntList': [1, 3, 5]}},
     {'retainKeysMap': {'name': 'foo', 'mergingIntList': [1, 3, 5, 4]}}),
    ('retainKeys map deletes nested merging int list (two-way)',
     {'retainKeysMap': {'name': 'foo', 'mergingIntList': [1, 2, 3]}},
     {'retainKeysMap': {'$retainKeys': ['name'], 'mergingIntList': None}},
     {'retainKeysMap': {'name': 'foo'}}),
    ('retainKeys map deletes nested merging int list (three-way)',
     {'retainKeysMap': {'name': 'foo', 'mergingIntList': [1, 2, 3]}},
     {'retainKeysMap': {'$retainKeys': ['name'], 'mergingIntList': None}},
     {'retainKeysMap': {'name': 'foo'}}),
    ('retainKeys map nested merging list with no change (two-way)',
     {'retainKeysMap': {'name': 'foo', 'mergingList': [{'name': 'a'}, {'name': 'b'}]}},
     {'retainKeysMap': {'$retainKeys': ['mergingList', 'name', 'value'], 'value': 'bar'}},
     {'retainKeysMap': {'name': 'foo', 'value': 'bar', 'mergingList': [{'name': 'a'}, {'name': 'b'}]}}),
    ('retainKeys map nested merging list with no change (three-way)',
     {'retainKeysMap': {'name': 'foo', 'mergingList': [{'name': 'a'}, {'name': 'b'}, {'name': 'c'}]}},
     {'retainKeysMap': {'$retainKeys': ['mergingList', 'name', 'value'],
                        '$setElementOrder/mergingList': [{'name': 'a'}, {'name': 'b'}],
                        'value': 'bar'}},
     {'retainKeysMap': {'name': 'foo',
                        'value': 'bar',
                        'mergingList': [{'name': 'a'}, {'name': 'b'}, {'name': 'c'}]}}),
    ('retainKeys map adds an item in nested merging list (two-way)',
     {'retainKeysMap': {'name': 'foo', 'mergingList': [{'name': 'a'}, {'name': 'b'}]}},
     {'retainKeysMap': {'$retainKeys': ['mergingList', 'name'],
                        '$setElementOrder/mergingList': [{'name': 'a'}, {'name': 'b'}, {'name': 'c'}],
                        'mergingList': [{'name': 'c'}]}},
     {'retainKeysMap': {'name': 'foo', 'mergingList': [{'name': 'a'}, {'name': 'b'}, {'name': 'c'}]}}),
    ('retainKeys map adds an item in nested merging list (three-way)',
     {'retainKeysMap': {'name': 'foo', 'mergingList': [{'name': 'a'}, {'name': 'b'}, {'name': 'x'}]}},
     {'retainKeysMap': {'$retainKeys': ['mergingList', 'name'],
                        '$setElementOrder/mergingList': [{'name': 'a'}, {'name': 'b'}, {'name': 'c'}],
                        'mergingList': [{'name': 'c'}]}},
     {'retainKeysMap': {'name': 'foo',
                        'mergingList': [{'name': 'a'}, {'name': 'b'}, {'name': 'c'}, {'name': 'x'}]}}),
    ('retainKeys map changes an item in nested merging list (two-way)',
     {'retainKeysMap': {'name': 'foo', 'mergingList': [{'name': 'a'}, {'name': 'b', 'value': 'foo'}]}},
     {'retainKeysMap': {'$retainKeys': ['mergingList', 'name'],
                        '$setElementOrder/mergingList': [{'name': 'a'}, {'name': 'b'}],
                        'mergingList': [{'name': 'b', 'value': 'bar'}]}},
     {'retainKeysMap': {'name': 'foo', 'mergingList': [{'name': 'a'}, {'name': 'b', 'value': 'bar'}]}}),
    ('retainKeys map changes an item in nested merging list (three-way)',
     {'retainKeysMap': {'name': 'foo',
                        'mergingList': [{'name': 'a'}, {'name': 'b', 'value': 'foo'}, {'name': 'x'}]}},
     {'retainKeysMap': {'$retainKeys': ['mergingList', 'name'],
                        '$setElementOrder/mergingList': [{'name': 'a'}, {'name': 'b'}],
                        'mergingList': [{'name': 'b', 'value': 'bar'}]}},
     {'retainKeysMap': {'name': 'foo',
                        'mergingList': [{'name': 'a'}, {'name': 'b', 'value': 'bar'}, {'name': 'x'}]}}),
    ('retainKeys map deletes nested merging list (two-way)',
     {'retainKeysMap': {'name': 'foo', 'mergingList': [{'name': 'a'}, {'name': 'b'}]}},
     {'retainKeysMap': {'$retainKeys': ['name', 'value'], 'value': 'bar', 'mergingList': None}},
     {'retainKeysMap': {'name': 'foo', 'value': 'bar'}}),
    ('retainKeys map deletes nested merging list (three-way)',
     {'retainKeysMap': {'name': 'foo', 'mergingList': [{'name': 'a'}, {'name': 'b'}]}},
     {'retainKeysMap': {'$retainKeys': ['name', 'value'], 'value': 'bar', 'mergingList': None}},
     {'retainKeysMap': {'name': 'foo', 'value': 'bar'}}),
    ('retainKeys map deletes an item in nested merging list (two-way)',
     {'retainKeysMap': {'name': 'foo', 'mergingList': [{'name': 'a'}, {'name': 'b'}]}},
     {'retainKeysMap': {'$retainKeys': ['mergingList', 'name'],
                        '$setElementOrder/mergingList': [{'name': 'a'}],
                        'mergingList': [{'name': 'b', '$patch': 'delete'}]}},
     {'retainKeysMap': {'name': 'foo', 'mergingList': [{'name': 'a'}]}}),
    ('retainKeys map deletes an item in nested merging list (three-way)',
     {'retainKeysMap': {'name': 'foo', 'mergingList': [{'name': 'a'}, {'name': 'b'}, {'name': 'x'}]}},
     {'retainKeysMap': {'$retainKeys': ['mergingList', 'name'],
                        '$setElementOrder/mergingList': [{'name': 'a'}],
                        'mergingList': [{'name': 'b', '$patch': 'delete'}]}},
     {'retainKeysMap': {'name': 'foo', 'mergingList': [{'name': 'a'}, {'name': 'x'}]}}),
    ('retainKeys list of maps clears a field (two-way)',
     {'retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo', 'value': 'a'}]},
     {},
     {'retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo', 'value': 'a'}]}),
    ('retainKeys list of maps clears a field (three-way)',
     {'retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo', 'value': 'a', 'other': 'x'}]},
     {'$setElementOrder/retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo'}],
      'retainKeysMergingList': [{'$retainKeys': ['name', 'value'], 'name': 'foo'}]},
     {'retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo', 'value': 'a'}]}),
    ('retainKeys list of maps changes a field and clear a field (two-way)',
     {'retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo', 'value': 'old'}]},
     {'$setElementOrder/retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo'}],
      'retainKeysMergingList': [{'$retainKeys': ['name', 'value'], 'name': 'foo', 'value': 'new'}]},
     {'retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo', 'value': 'new'}]}),
    ('retainKeys list of maps changes a field and clear a field (three-way)',
     {'retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo', 'value': 'old', 'other': 'x'}]},
     {'$setElementOrder/retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo'}],
      'retainKeysMergingList': [{'$retainKeys': ['name', 'value'], 'name': 'foo', 'value': 'new'}]},
     {'retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo', 'value': 'new'}]}),
    ('retainKeys list of maps adds a field (two-way)',
     {'retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo'}]},
     {'$setElementOrder/retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo'}],
      'retainKeysMergingList': [{'$retainKeys': ['name', 'value'], 'name': 'foo', 'value': 'a'}]},
     {'retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo', 'value': 'a'}]}),
    ('retainKeys list of maps adds a field (three-way)',
     {'retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo'}]},
     {'$setElementOrder/retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo'}],
      'retainKeysMergingList': [{'$retainKeys': ['name', 'value'], 'name': 'foo', 'value': 'a'}]},
     {'retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo', 'value': 'a'}]}),
    ('retainKeys list of maps adds a field and clear a field (two-way)',
     {'retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo'}]},
     {'$setElementOrder/retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo'}],
      'retainKeysMergingList': [{'$retainKeys': ['name', 'value'], 'name': 'foo', 'value': 'a'}]},
     {'retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo', 'value': 'a'}]}),
    ('retainKeys list of maps adds a field and clear a field (three-way)',
     {'retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo', 'other': 'x'}]},
     {'$setElementOrder/retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo'}],
      'retainKeysMergingList': [{'$retainKeys': ['name', 'value'], 'name': 'foo', 'value': 'a'}]},
     {'retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo', 'value': 'a'}]}),
    ('retainKeys list of maps deletes a field (two-way)',
     {'retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo', 'value': 'a'}]},
     {'$setElementOrder/retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo'}],
      'retainKeysMergingList': [{'$retainKeys': ['name'], 'name': 'foo', 'value': None}]},
     {'retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo'}]}),
    ('retainKeys list of maps deletes a field (three-way)',
     {'retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo', 'value': 'a'}]},
     {'$setElementOrder/retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo'}],
      'retainKeysMergingList': [{'$retainKeys': ['name'], 'name': 'foo', 'value': None}]},
     {'retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo'}]}),
    ('retainKeys list of maps deletes a field and clear a field (two-way)',
     {'retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo', 'value': 'a'}]},
     {'$setElementOrder/retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo'}],
      'retainKeysMergingList': [{'$retainKeys': ['name'], 'name': 'foo', 'value': None}]},
     {'retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo'}]}),
    ('retainKeys list of maps deletes a field and clear a field (three-way)',
     {'retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo', 'value': 'a', 'other': 'x'}]},
     {'$setElementOrder/retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo'}],
      'retainKeysMergingList': [{'$retainKeys': ['name'], 'name': 'foo', 'value': None}]},
     {'retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo'}]}),
    ('delete and reorder in one list, reorder in another (two-way)',
     {'mergingList': [{'name': 'a', 'value': 'a'}, {'name': 'b', 'value': 'b'}],
      'mergeItemPtr': [{'name': 'c', 'value': 'c'}, {'name': 'd', 'value': 'd'}]},
     {'$setElementOrder/mergingList': [{'name': 'b'}],
      '$setElementOrder/mergeItemPtr': [{'name': 'd'}, {'name': 'c'}],
      'mergingList': [{'$patch': 'delete', 'name': 'a'}]},
     {'mergingList': [{'name': 'b', 'value': 'b'}],
      'mergeItemPtr': [{'name': 'd', 'value': 'd'}, {'name': 'c', 'value': 'c'}]}),
    ('delete and reorder in one list, reorder in another (three-way)',
     {'mergingList': [{'name': 'a', 'value': 'a'}, {'name': 'b', 'value': 'b'}],
      'mergeItemPtr': [{'name': 'c', 'value': 'c'}, {'name': 'd', 'value': 'd'}]},
     {'$setElementOrder/mergingList': [{'name': 'b'}],
      '$setElementOrder/mergeItemPtr': [{'name': 'd'}, {'name': 'c'}],
      'mergingList': [{'$patch': 'delete', 'name': 'a'}]},
     {'mergingList': [{'name': 'b', 'value': 'b'}],
      'mergeItemPtr': [{'name': 'd', 'value': 'd'}, {'name': 'c', 'value': 'c'}]}),
    ('$setElementOrder contains item that is not present in the list to be merged',
     {'mergingList': [{'name': 1}, {'name': 3}]},
     {'$setElementOrder/mergingList': [{'name': 3}, {'name': 2}, {'name': 1}],
      'mergingList': [{'name': 3, 'value': 3}, {'name': 1, 'value': 1}]},
     {'mergingList': [{'name': 3, 'value': 3}, {'name': 1, 'value': 1}]}),
    ('$setElementOrder contains item that is not present in the int list to be merged',
     {'mergingIntList': [1, 3]},
     {'$setElementOrder/mergingIntList': [3, 2, 1]},
     {'mergingIntList': [3, 1]}),
    ('$deleteFromPrimitiveList of nonexistent item in primitive list should not add the item to the list',
     {'mergingIntList': [1, 2]},
     {'$deleteFromPrimitiveList/mergingIntList': [3]},
     {'mergingIntList': [1, 2]}),
    ('$deleteFromPrimitiveList on empty primitive list should not add the item to the list',
     {'mergingIntList': None},
     {'$deleteFromPrimitiveList/mergingIntList': [3]},
     {'mergingIntList': None}),
    ('$deleteFromPrimitiveList on nonexistent primitive list should not add the primitive list',
     {'foo': ['bar']},
     {'$deleteFromPrimitiveList/mergingIntList': [3]},
     {'foo': ['bar']}),
    ('$deleteFromPrimitiveList should delete item from a list with merge patch strategy',
     {'mergingIntList': [1, 2, 3]},
     {'$deleteFromPrimitiveList/mergingIntList': [2]},
     {'mergingIntList': [1, 3]}),
    ('$deleteFromPrimitiveList should delete item from a list without merge patch strategy',
     {'nonMergingIntList': [1, 2, 3]},
     {'$deleteFromPrimitiveList/nonMergingIntList': [2]},
     {'nonMergingIntList': [1, 3]}),
    ('replace RawExtension field, rest unchanched (two-way)',
     {'name': 'my-object',
      'value': 'some-value',
      'other': 'current-other',
      'replacingItem': {'Some': 'Generic', 'Yaml': 'Inside', 'The': 'RawExtension', 'Field': 'Period'}},
     {'mergingList': [{'name': 1}, {'name': 2}, {'name': 3}],
      'replacingItem': {'Newly': 'Modified', 'Yaml': 'Inside', 'The': 'RawExtension'}},
     {'name': 'my-object',
      'value': 'some-value',
      'other': 'current-other',
      'mergingList': [{'name': 1}, {'name': 2}, {'name': 3}],
      'replacingItem': {'Newly': 'Modified', 'Yaml': 'Inside', 'The': 'RawExtension'}}),
    ('replace RawExtension field, rest unchanched (three-way)',
     {'name': 'my-object',
      'value': 'some-value',
      'other': 'current-other',
      'mergingList': [{'name': 1}, {'name': 2}, {'name': 3}],
      'replacingItem': {'Some': 'Generic', 'Yaml': 'Inside', 'The': 'RawExtension', 'Field': 'Period'}},
     {'replacingItem': {'Newly': 'Modified', 'Yaml': 'Inside', 'The': 'RawExtension'}},
     {'name': 'my-object',
      'value': 'some-value',
      'other': 'current-other',
      'mergingList': [{'name': 1}, {'name': 2}, {'name': 3}],
      'replacingItem': {'Newly': 'Modified', 'Yaml': 'Inside', 'The': 'RawExtension'}}),
    ('replace RawExtension field and merge list (two-way)',
     {'name': 'my-object',
      'value': 'some-value',
      'other': 'current-other',
      'mergingList': [{'name': 1}],
      'replacingItem': {'Some': 'Generic', 'Yaml': 'Inside', 'The': 'RawExtension', 'Field': 'Period'}},
     {'$setElementOrder/mergingList': [{'name': 1}, {'name': 2}],
      'mergingList': [{'name': 2}],
      'replacingItem': {'Newly': 'Modified', 'Yaml': 'Inside', 'The': 'RawExtension'}},
     {'name': 'my-object',
      'value': 'some-value',
      'other': 'current-other',
      'mergingList': [{'name': 1}, {'name': 2}],
      'replacingItem': {'Newly': 'Modified', 'Yaml': 'Inside', 'The': 'RawExtension'}}),
    ('replace RawExtension field and merge list (three-way)',
     {'name': 'my-object',
      'value': 'some-value',
      'other': 'current-other',
      'mergingList': [{'name': 1}, {'name': 3}],
      'replacingItem': {'Some': 'Generic', 'Yaml': 'Inside', 'The': 'RawExtension', 'Field': 'Period'}},
     {'$setElementOrder/mergingList': [{'name': 1}, {'name': 2}],
      'mergingList': [{'name': 2}],
      'replacingItem': {'Newly': 'Modified', 'Yaml': 'Inside', 'The': 'RawExtension'}},
     {'name': 'my-object',
      'value': 'some-value',
      'other': 'current-other',
      'mergingList': [{'name': 1}, {'name': 2}, {'name': 3}],
      'replacingItem': {'Newly': 'Modified', 'Yaml': 'Inside', 'The': 'RawExtension'}}),
    ('unique scalars when merging lists',
     {'mergingIntList': [1, 2]},
     {'mergingIntList': [2, 3]},
     {'mergingIntList': [1, 2, 3]}),
    ('delete map from nested map',
     {'simpleMap': {'key1': 1, 'key2': 1}},
     {'simpleMap': {'$patch': 'delete'}},
     {'simpleMap': {}}),
    ('delete all items from merging list',
     {'mergingList': [{'name': 1}, {'name': 2}]},
     {'mergingList': [{'$patch': 'replace'}]},
     {'mergingList': []}),
    ('merge empty merging lists',
     {'mergingList': []},
     {'mergingList': []},
     {'mergingList': []}),
    ('delete all keys from map',
     {'name': 1, 'value': 1},
     {'$patch': 'replace'},
     {}),
    ('add key and delete all keys from map',
     {'name': 1, 'value': 1},
     {'other': 'a', '$patch': 'replace'},
     {'other': 'a'}),
    ('delete all duplicate entries in a merging list',
     {'mergingList': [{'name': 1}, {'name': 1}, {'name': 2, 'value': 'a'}, {'name': 3}, {'name': 3}]},
     {'mergingList': [{'name': 1, '$patch': 'delete'}, {'name': 3, '$patch': 'delete'}]},
     {'mergingList': [{'name': 2, 'value': 'a'}]}),
    ('retainKeys map can add a field when no retainKeys directive present',
     {'retainKeysMap': {'name': 'foo'}},
     {'retainKeysMap': {'value': 'bar'}},
     {'retainKeysMap': {'name': 'foo', 'value': 'bar'}}),
    ('retainKeys map can change a field when no retainKeys directive present',
     {'retainKeysMap': {'name': 'foo', 'value': 'a'}},
     {'retainKeysMap': {'value': 'b'}},
     {'retainKeysMap': {'name': 'foo', 'value': 'b'}}),
    ('retainKeys map can delete a field when no retainKeys directive present',
     {'retainKeysMap': {'name': 'foo', 'value': 'a'}},
     {'retainKeysMap': {'value': None}},
     {'retainKeysMap': {'name': 'foo'}}),
    ('retainKeys map merge an empty map',
     {'retainKeysMap': {'name': 'foo', 'value': 'a'}},
     {'retainKeysMap': {}},
     {'retainKeysMap': {'name': 'foo', 'value': 'a'}}),
    ('retainKeys list can add a field when no retainKeys directive present',
     {'retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo'}]},
     {'retainKeysMergingList': [{'name': 'foo', 'value': 'a'}]},
     {'retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo', 'value': 'a'}]}),
    ('retainKeys list can change a field when no retainKeys directive present',
     {'retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo', 'value': 'a'}]},
     {'retainKeysMergingList': [{'name': 'foo', 'value': 'b'}]},
     {'retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo', 'value': 'b'}]}),
    ('retainKeys list can delete a field when no retainKeys directive present',
     {'retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo', 'value': 'a'}]},
     {'retainKeysMergingList': [{'name': 'foo', 'value': None}]},
     {'retainKeysMergingList': [{'name': 'bar'}, {'name': 'foo'}]}),
    ('preserve the order from the patch in a merging list',
     {'mergingList': [{'name': 1}, {'name': 2, 'value': 'b'}, {'name': 3}]},
     {'mergingList': [{'name': 3, 'value': 'c'}, {'name': 1, 'value': 'a'}, {'name': 2, 'other': 'x'}]},
     {'mergingList': [{'name': 3, 'value': 'c'}, {'name': 1, 'value': 'a'},
                      {'name': 2, 'value': 'b', 'other': 'x'}]}),
    ('preserve the order from the patch in a merging list 2',
     {'mergingList': [{'name': 1}, {'name': 2, 'value': 'b'}, {'name': 3}]},
     {'mergingList': [{'name': 3, 'value': 'c'}, {'name': 1, 'value': 'a'}]},
     {'mergingList': [{'name': 2, 'value': 'b'}, {'name': 3, 'value': 'c'}, {'name': 1, 'value': 'a'}]}),
    ('preserve the order from the patch in a merging int list',
     {'mergingIntList': [1, 2, 3]},
     {'mergingIntList': [3, 1, 2]},
     {'mergingIntList': [3, 1, 2]}),
    ('preserve the order from the patch in a merging int list #2',
     {'mergingIntList': [1, 2, 3]},
     {'mergingIntList': [3, 1]},
     {'mergingIntList': [2, 3, 1]}),
]


@pytest.mark.parametrize(("original", "patch", "expected"),
                         [pytest.param(o, p, e, id=name) for name, o, p, e in UPSTREAM_CASES])
def test_upstream_table(original: Obj, patch: Obj, expected: Obj) -> None:
    assert patched(original, patch, MERGE_ITEM) == expected


def test_missing_merge_key_is_refused() -> None:
    err = error_of({"mergingList": [{"name": 1, "value": "a"}]}, {"mergingList": [{"value": "b"}]}, MERGE_ITEM)
    assert str(err) == "map: map[value:b] does not contain declared merge key: name"
    assert (err.code, err.reason) == (500, "")


def test_set_element_order_must_agree_with_the_patch_list() -> None:
    err = error_of(
        {"mergingList": [{"name": 1}, {"name": 3}, {"name": 2}]},
        {"$setElementOrder/mergingList": [{"name": 1}, {"name": 2}, {"name": 3}],
         "mergingList": [{"name": 3, "value": 3}, {"name": 1, "value": 1}]},
        MERGE_ITEM)
    assert str(err) == ("The order in patch list:\n[map[name:3 value:3] map[name:1 value:1]]\n doesn't match "
                        "$setElementOrder list:\n[map[name:1] map[name:2] map[name:3]]\n")
    err = error_of({"mergingIntList": [1, 3, 2]},
                   {"$setElementOrder/mergingIntList": [1, 2, 3], "mergingIntList": [3, 1]}, MERGE_ITEM)
    assert str(err) == "The order in patch list:\n[3 1]\n doesn't match $setElementOrder list:\n[1 2 3]\n"


def test_unknown_fields_merge_like_json_merge_patch() -> None:
    # upstream's TestUnknownField, applied: nulls in content new to the object mean nothing
    # (except inside lists of primitives), nulls already in the object stay.
    base: Obj = {"array": [1, 2, 3], "complex": {"nested": True}, "name": "foo", "scalar": True}
    assert patched(base, {"complex_nullable": {"key": {"keynotnull": "value", "keynull": None}}}, MERGE_ITEM) == {
        **base, "complex_nullable": {"key": {"keynotnull": "value"}}}
    assert patched({}, {"complex": {"nested": None}}, MERGE_ITEM) == {"complex": {}}
    assert patched({}, {"complex_nullable": [{"inner_one": {"key_one": "foo", "key_two": None}}]}, MERGE_ITEM) == {
        "complex_nullable": [{"inner_one": {"key_one": "foo"}}]}
    assert patched({}, {"complex_nullable": ["key1", None, "key2"]}, MERGE_ITEM) == {
        "complex_nullable": ["key1", None, "key2"]}
    assert patched({"complex": {"key": None}, "thing": None}, {"nested": {"value": 5}}, MERGE_ITEM) == {
        "complex": {"key": None}, "nested": {"value": 5}, "thing": None}
    assert patched({**base, "array": [1, 2, 3]}, {"complex": None, "scalar": None}, MERGE_ITEM) == {
        "array": [1, 2, 3], "name": "foo"}
    # Upstream's Go-struct lookup fails here ("unable to find api field"); kubeherd merges an
    # unknown field without a schema, as upstream does when it has no schema at all.
    assert patched(base, {"complex": {"nested": False}, "array": [4]}, MERGE_ITEM) == {
        **base, "complex": {"nested": False}, "array": [4]}


# --------------------------------------------------------------------------- Pods, Deployments, Nodes

OBJECT_META = struct(
    name=SCALAR, namespace=SCALAR, labels=STRING_MAP, annotations=STRING_MAP,
    finalizers=merge_list(SCALAR),
    ownerReferences=merge_list(struct(uid=SCALAR, name=SCALAR, kind=SCALAR, apiVersion=SCALAR), "uid"),
)
CONTAINER = struct(
    name=SCALAR, image=SCALAR, imagePullPolicy=SCALAR, command=Meta(item=SCALAR), args=Meta(item=SCALAR),
    env=merge_list(struct(name=SCALAR, value=SCALAR, valueFrom=struct(fieldRef=struct(fieldPath=SCALAR))), "name"),
    ports=merge_list(struct(containerPort=SCALAR, protocol=SCALAR, name=SCALAR), "containerPort"),
    volumeMounts=merge_list(struct(name=SCALAR, mountPath=SCALAR, readOnly=SCALAR), "mountPath"),
    resources=struct(limits=STRING_MAP, requests=STRING_MAP),
)
VOLUME = struct(name=SCALAR, emptyDir=struct(medium=SCALAR, sizeLimit=SCALAR),
                configMap=struct(name=SCALAR, defaultMode=SCALAR), secret=struct(secretName=SCALAR))
POD_SPEC = struct(
    containers=merge_list(CONTAINER, "name"), initContainers=merge_list(CONTAINER, "name"),
    volumes=merge_list(VOLUME, "name", "merge,retainKeys"),
    tolerations=Meta(item=struct(key=SCALAR, operator=SCALAR, value=SCALAR, effect=SCALAR)),
    imagePullSecrets=merge_list(struct(name=SCALAR), "name"),
    nodeSelector=STRING_MAP, nodeName=SCALAR, restartPolicy=SCALAR,
)
POD = struct(apiVersion=SCALAR, kind=SCALAR, metadata=OBJECT_META, spec=POD_SPEC)
DEPLOYMENT = struct(
    apiVersion=SCALAR, kind=SCALAR, metadata=OBJECT_META,
    spec=struct(
        replicas=SCALAR,
        selector=struct(matchLabels=STRING_MAP),
        template=struct(metadata=OBJECT_META, spec=POD_SPEC),
        strategy=with_strategy(struct(type=SCALAR, rollingUpdate=struct(maxSurge=SCALAR, maxUnavailable=SCALAR)),
                               "retainKeys"),
    ),
)
NODE = struct(metadata=OBJECT_META, spec=struct(unschedulable=SCALAR, podCIDR=SCALAR,
                                                taints=Meta(item=struct(key=SCALAR, effect=SCALAR))))


def deployment(containers: list[Obj], **pod_spec: Any) -> Obj:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": containers, "restartPolicy": "Always", **pod_spec}},
        },
    }


def pod_spec(obj: Obj) -> Obj:
    spec: Obj = obj["spec"]["template"]["spec"]
    return spec


NGINX = {"name": "nginx", "image": "nginx:1.25", "imagePullPolicy": "IfNotPresent",
         "ports": [{"containerPort": 80, "protocol": "TCP"}]}
SIDE = {"name": "side", "image": "busybox:1.36", "command": ["sleep", "infinity"]}


def test_apply_changes_an_image_and_removes_a_container() -> None:
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "nginx"}],
        "containers": [{"image": "nginx:1.26", "name": "nginx"}, {"$patch": "delete", "name": "side"}]}}}}
    result = patched(deployment([NGINX, SIDE]), patch, DEPLOYMENT)
    assert result == deployment([{**NGINX, "image": "nginx:1.26"}])


def test_apply_adds_a_container_where_set_element_order_says() -> None:
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "nginx"}, {"name": "side"}],
        "containers": [{"name": "side", "image": "busybox:1.36", "command": ["sleep", "infinity"]}]}}}}
    assert pod_spec(patched(deployment([NGINX]), patch, DEPLOYMENT))["containers"] == [NGINX, SIDE]


def test_a_new_element_without_set_element_order_goes_first() -> None:
    # upstream's ordering: patch elements keep the patch's order and an element the server never
    # had is placed before the remaining server-only ones, so `kubectl patch` prepends.
    patch = {"spec": {"template": {"spec": {"containers": [SIDE]}}}}
    assert pod_spec(patched(deployment([NGINX]), patch, DEPLOYMENT))["containers"] == [SIDE, NGINX]
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.26"}, SIDE]}}}}
    assert pod_spec(patched(deployment([NGINX]), patch, DEPLOYMENT))["containers"] == [
        {**NGINX, "image": "nginx:1.26"}, SIDE]


def test_rollout_restart_annotates_the_template() -> None:
    patch = {"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": "2026-11-25T10:00:00Z"}}}}}
    result = patched(deployment([NGINX]), patch, DEPLOYMENT)
    assert result["spec"]["template"]["metadata"] == {
        "labels": {"app": "web"}, "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-25T10:00:00Z"}}
    again = {"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": "2026-11-25T11:00:00Z"}}}}}
    assert patched(result, again, DEPLOYMENT)["spec"]["template"]["metadata"]["annotations"] == {
        "kubectl.kubernetes.io/restartedAt": "2026-11-25T11:00:00Z"}
    assert pod_spec(patched(result, again, DEPLOYMENT)) == pod_spec(result)


def test_cordon_and_uncordon() -> None:
    node = {"metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}}, "spec": {"podCIDR": "10.244.1.0/24"}}
    cordoned = patched(node, {"spec": {"unschedulable": True}}, NODE)
    assert cordoned == {**node, "spec": {"podCIDR": "10.244.1.0/24", "unschedulable": True}}
    assert patched(cordoned, {"spec": {"unschedulable": None}}, NODE) == node


def test_labels_overwrite_and_remove() -> None:
    pod = {"metadata": {"name": "p", "labels": {"app": "web", "tier": "fe"}}, "spec": {"containers": [NGINX]}}
    result = patched(pod, {"metadata": {"labels": {"app": "api", "tier": None, "new": "x"}}}, POD)
    assert result["metadata"]["labels"] == {"app": "api", "new": "x"}
    assert result["spec"] == pod["spec"]


def test_env_vars_merge_by_name() -> None:
    app = {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "app"}],
        "containers": [{"$setElementOrder/env": [{"name": "A"}, {"name": "C"}],
                        "env": [{"name": "C", "value": "3"}, {"$patch": "delete", "name": "B"}],
                        "name": "app"}]}}}}
    result = patched(deployment([app]), patch, DEPLOYMENT)
    assert pod_spec(result)["containers"] == [
        {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}, {"name": "C", "value": "3"}]}]
    change = {"spec": {"template": {"spec": {"containers": [{"name": "app", "env": [{"name": "A", "value": "9"}]}]}}}}
    assert pod_spec(patched(deployment([app]), change, DEPLOYMENT))["containers"][0]["env"] == [
        {"name": "A", "value": "9"}, {"name": "B", "value": "2"}]


def test_server_added_element_keeps_its_slot_when_apply_swaps_one_out() -> None:
    # Live object has an env var kubectl never applied (INJECTED, last). kubectl replaces B by C.
    # Upstream deletes B and appends C inside the live list's own storage and then orders the
    # server-only element by that storage, so INJECTED lands between A and C.
    app = {"name": "app", "env": [{"name": "A"}, {"name": "B"}, {"name": "INJECTED"}]}
    patch = {"spec": {"template": {"spec": {"containers": [{
        "name": "app",
        "$setElementOrder/env": [{"name": "A"}, {"name": "C"}],
        "env": [{"name": "C"}, {"$patch": "delete", "name": "B"}]}]}}}}
    assert pod_spec(patched(deployment([app]), patch, DEPLOYMENT))["containers"][0]["env"] == [
        {"name": "A"}, {"name": "INJECTED"}, {"name": "C"}]


def test_volume_mounts_merge_by_mount_path_and_ports_by_container_port() -> None:
    app = {"name": "app", "volumeMounts": [{"name": "data", "mountPath": "/data"}, {"name": "cfg", "mountPath": "/etc/cfg"}],
           "ports": [{"containerPort": 80, "protocol": "TCP"}]}
    patch = {"spec": {"template": {"spec": {"containers": [{
        "name": "app",
        "$setElementOrder/volumeMounts": [{"mountPath": "/etc/cfg"}],
        "volumeMounts": [{"$patch": "delete", "mountPath": "/data"}],
        "$setElementOrder/ports": [{"containerPort": 80}, {"containerPort": 443}],
        "ports": [{"containerPort": 443, "protocol": "TCP"}]}]}}}}
    container = pod_spec(patched(deployment([app]), patch, DEPLOYMENT))["containers"][0]
    assert container["volumeMounts"] == [{"name": "cfg", "mountPath": "/etc/cfg"}]
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 443, "protocol": "TCP"}]
    readonly = {"spec": {"template": {"spec": {"containers": [{
        "name": "app", "volumeMounts": [{"mountPath": "/data", "readOnly": True}]}]}}}}
    assert pod_spec(patched(deployment([app]), readonly, DEPLOYMENT))["containers"][0]["volumeMounts"] == [
        {"name": "data", "mountPath": "/data", "readOnly": True}, {"name": "cfg", "mountPath": "/etc/cfg"}]


def test_finalizers_merge_as_a_set() -> None:
    obj = {"metadata": {"name": "p", "finalizers": ["a.io/x", "b.io/y"]}}
    assert patched(obj, {"metadata": {"finalizers": ["c.io/z"]}}, POD)["metadata"]["finalizers"] == [
        "c.io/z", "a.io/x", "b.io/y"]
    assert patched(obj, {"metadata": {"finalizers": ["a.io/x"]}}, POD)["metadata"]["finalizers"] == [
        "a.io/x", "b.io/y"]
    assert patched(obj, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.io/x"]}}, POD)["metadata"][
        "finalizers"] == ["b.io/y"]
    # what `kubectl apply` sends when the manifest swaps b.io/y for c.io/z
    applied = {"metadata": {"$setElementOrder/finalizers": ["a.io/x", "c.io/z"], "finalizers": ["c.io/z"],
                            "$deleteFromPrimitiveList/finalizers": ["b.io/y"]}}
    assert patched(obj, applied, POD)["metadata"]["finalizers"] == ["a.io/x", "c.io/z"]


def test_lists_without_a_merge_strategy_are_replaced() -> None:
    obj = deployment([{"name": "app", "command": ["a", "b"]}],
                     tolerations=[{"key": "k1", "operator": "Exists"}, {"key": "k2", "operator": "Exists"}])
    patch = {"spec": {"template": {"spec": {
        "tolerations": [{"key": "k3", "operator": "Equal", "value": "v", "effect": "NoSchedule"}],
        "containers": [{"name": "app", "command": ["c"]}]}}}}
    spec = pod_spec(patched(obj, patch, DEPLOYMENT))
    assert spec["tolerations"] == [{"key": "k3", "operator": "Equal", "value": "v", "effect": "NoSchedule"}]
    assert spec["containers"] == [{"name": "app", "command": ["c"]}]


def test_deployment_strategy_retain_keys() -> None:
    obj = deployment([NGINX])
    recreate = {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": None, "type": "Recreate"}}}
    assert patched(obj, recreate, DEPLOYMENT)["spec"]["strategy"] == {"type": "Recreate"}
    assert patched(obj, {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}, DEPLOYMENT)[
        "spec"]["strategy"] == {"type": "Recreate"}
    # without the directive the map merges (and validation would then refuse the object)
    assert patched(obj, {"spec": {"strategy": {"type": "Recreate"}}}, DEPLOYMENT)["spec"]["strategy"] == {
        "type": "Recreate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
    err = error_of(obj, {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 1}}}}, DEPLOYMENT)
    assert (str(err), err.code, err.reason) == ("invalid patch format of retainKeys", 400, "BadRequest")


def test_volume_source_switch_with_retain_keys() -> None:
    obj = deployment([NGINX], volumes=[{"name": "data", "emptyDir": {}}, {"name": "tls", "secret": {"secretName": "t"}}])
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/volumes": [{"name": "data"}, {"name": "tls"}],
        "volumes": [{"$retainKeys": ["configMap", "name"], "configMap": {"name": "cfg"}, "name": "data"}]}}}}
    assert pod_spec(patched(obj, patch, DEPLOYMENT))["volumes"] == [
        {"name": "data", "configMap": {"name": "cfg"}}, {"name": "tls", "secret": {"secretName": "t"}}]


def test_patch_replace_and_delete_directives() -> None:
    obj = deployment([NGINX, SIDE])
    replace_list = {"spec": {"template": {"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "x"}]}}}}
    assert pod_spec(patched(obj, replace_list, DEPLOYMENT))["containers"] == [{"name": "only", "image": "x"}]
    replace_map = {"spec": {"selector": {"$patch": "replace", "matchLabels": {"app": "api"}}}}
    assert patched(obj, replace_map, DEPLOYMENT)["spec"]["selector"] == {"matchLabels": {"app": "api"}}
    # a deleted map stays as an empty map; one the object lacks does not appear
    delete_map = {"metadata": {"labels": {"$patch": "delete"}, "annotations": {"$patch": "delete"}}}
    assert patched(obj, delete_map, DEPLOYMENT)["metadata"] == {"name": "web", "namespace": "default", "labels": {}}
    assert patched({"a": 1}, {"$patch": "replace", "b": 2}, DEPLOYMENT) == {"b": 2}
    assert patched({"a": 1}, {"$patch": "delete"}, DEPLOYMENT) == {}


def test_result_never_contains_directives() -> None:
    # Content new to the object is copied from the patch; upstream's typed decoder then drops
    # the directive keys it carries. Elements with `$patch` are dropped from brand-new lists.
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "nginx"}, {"name": "new"}],
        "containers": [{"name": "new", "$setElementOrder/env": [{"name": "X"}],
                        "env": [{"name": "X", "value": "1"}, {"$patch": "delete", "name": "Y"}]}],
        "initContainers": [{"name": "init", "image": "i"}, {"$patch": "delete", "name": "gone"}],
        "nodeSelector": {"$patch": "replace", "disk": "ssd"},
        "$retainKeys": ["containers", "initContainers", "nodeSelector", "restartPolicy"]}}}}
    spec = pod_spec(patched(deployment([NGINX]), patch, DEPLOYMENT))
    assert spec == {
        "containers": [NGINX, {"name": "new", "env": [{"name": "X", "value": "1"}, {"name": "Y"}]}],
        "initContainers": [{"name": "init", "image": "i"}],
        "restartPolicy": "Always",
    }


def test_custom_resources_and_unknown_kinds_merge_without_a_schema() -> None:
    obj = {"spec": {"items": [{"name": "a"}, {"name": "b"}], "config": {"x": 1, "y": 2}}}
    patch = {"spec": {"items": [{"name": "c"}], "config": {"y": None, "z": 3}}}
    assert patched(obj, patch, None) == {"spec": {"items": [{"name": "c"}], "config": {"x": 1, "z": 3}}}
    assert patched(obj, {"spec": {"config": {"$patch": "replace", "k": 1}}}, None) == {
        "spec": {"items": [{"name": "a"}, {"name": "b"}], "config": {"k": 1}}}
    assert patched(obj, {"spec": {"$deleteFromPrimitiveList/tags": ["a"]}}, None) == obj
    assert patched({"tags": ["a", "b"]}, {"$deleteFromPrimitiveList/tags": ["a"]}, None) == {"tags": ["b"]}


def test_empty_set_element_order_puts_new_elements_last() -> None:
    # With nothing to order by, upstream's sort moves elements the object did not have behind
    # the ones it had (its comparator calls an unknown element "less" than any other).
    obj = {"spec": {"template": {"spec": {"containers": [NGINX]}}}}
    patch = {"spec": {"template": {"spec": {"$setElementOrder/containers": [], "containers": [SIDE]}}}}
    assert patched(obj, patch, DEPLOYMENT) == {"spec": {"template": {"spec": {"containers": [NGINX, SIDE]}}}}


def test_null_and_empty_patches() -> None:
    obj = deployment([NGINX])
    assert patched(obj, None, DEPLOYMENT) == obj
    assert patched(obj, {}, DEPLOYMENT) == obj
    assert patched(obj, {"spec": {"replicas": None}}, DEPLOYMENT)["spec"].get("replicas", "absent") == "absent"
    assert patched(obj, {"spec": {"template": None}}, DEPLOYMENT)["spec"].keys() == {"replicas", "selector", "strategy"}
    # a value of another type replaces whatever was there
    assert patched(obj, {"spec": {"selector": "x"}}, DEPLOYMENT)["spec"]["selector"] == "x"
    # upstream quirk: a null deletion list deletes the list itself
    assert patched({"metadata": {"finalizers": ["a"]}}, {"metadata": {"$deleteFromPrimitiveList/finalizers": None}},
                   POD) == {"metadata": {}}


# --------------------------------------------------------------------------- malformed patches


@pytest.mark.parametrize(("original", "patch", "message", "code"), [
    pytest.param({}, [], "json: cannot unmarshal array into Go value of type map[string]interface {}", 400,
                 id="patch is an array"),
    pytest.param({}, "x", "json: cannot unmarshal string into Go value of type map[string]interface {}", 400,
                 id="patch is a string"),
    pytest.param({"spec": {"template": {"spec": {"containers": [NGINX]}}}},
                 {"spec": {"template": {"spec": {"containers": [{"image": "nginx:1.26"}]}}}},
                 "map: map[image:nginx:1.26] does not contain declared merge key: name", 500, id="no merge key"),
    pytest.param({"spec": {"template": {"spec": {"containers": [NGINX]}}}},
                 {"spec": {"template": {"spec": {"containers": [{"$patch": "delete", "image": "x"}]}}}},
                 "map: map[$patch:delete image:x] does not contain declared merge key: name", 500,
                 id="delete without merge key"),
    pytest.param({"spec": {"template": {"spec": {"containers": [NGINX]}}}},
                 {"spec": {"template": {"spec": {"containers": [{"$patch": "merge"}]}}}},
                 "merging lists cannot yet be specified in the patch", 500, id="merge directive in list"),
    pytest.param({"spec": {"template": {"spec": {"containers": [NGINX]}}}},
                 {"spec": {"template": {"spec": {"containers": [{"$patch": "nope", "name": "x"}]}}}},
                 "unknown patch type: nope in map: map[$patch:nope name:x]", 500, id="unknown list directive"),
    pytest.param({"metadata": {"labels": {"a": "b"}}}, {"metadata": {"labels": {"$patch": "merge", "c": "d"}}},
                 "unknown patch type: merge in map: map[$patch:merge c:d]", 500, id="merge directive on map"),
    pytest.param({"metadata": {"labels": {"a": "b"}}}, {"metadata": {"labels": {"$patch": 1}}},
                 "unknown patch type: %!s(int64=1) in map: map[$patch:1]", 500, id="non-string directive"),
    pytest.param({}, {"$setElementOrder": []}, "invalid patch format of setElementOrder list", 400,
                 id="set element order without list name"),
    pytest.param({}, {"$setElementOrderX/a": []}, "invalid patch format of setElementOrder list", 400,
                 id="set element order misspelt"),
    pytest.param({"a": [1]}, {"$deleteFromPrimitiveList": [1]}, "invalid patch format of primitive list", 400,
                 id="delete list without list name"),
    pytest.param({"metadata": {"finalizers": ["a"]}}, {"metadata": {"$setElementOrder/finalizers": "a"}},
                 "expected a []interface {}, but received a string", 500, id="set element order not a list"),
    pytest.param({"metadata": {"labels": {"a": "b"}}}, {"metadata": {"$setElementOrder/labels": ["a"]}},
                 "expected a []interface {}, but received a map[string]interface {}", 500,
                 id="set element order of a map"),
    pytest.param({"spec": {"strategy": {"type": "Recreate"}}}, {"spec": {"strategy": {"$retainKeys": "type"}}},
                 "invalid patch format of retainKeys", 400, id="retain keys not a list"),
    pytest.param({"metadata": {"finalizers": ["a"]}}, {"metadata": {"finalizers": [1]}},
                 "list element types are not identical: [[a] [1]]", 500, id="mixed element types"),
    pytest.param({"metadata": {"finalizers": ["a"]}}, {"metadata": {"finalizers": [["b"]]}},
                 "list element types are not identical: [[a] [[b]]]", 500, id="list in a string list"),
    pytest.param({"spec": {"template": {"spec": {"containers": [NGINX]}}}},
                 {"spec": {"template": {"spec": {"containers": ["nginx"]}}}},
                 "list element types are not identical: [[map[image:nginx:1.25 imagePullPolicy:IfNotPresent "
                 "name:nginx ports:[map[containerPort:80 protocol:TCP]]]] [nginx]]", 500,
                 id="string in a list of maps"),
    pytest.param({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": 1.5}]}}}},
                 {"spec": {"template": {"spec": {"containers": [{"image": 1000000.0}]}}}},
                 "map: map[image:1e+06] does not contain declared merge key: name", 500, id="floats print as Go does"),
    pytest.param({"spec": {"template": {"spec": {"containers": [NGINX]}}}},
                 {"spec": {"template": {"spec": {"containers": [
                     {"args": [], "env": [{"value": None}], "stdin": True, "a": 0.00001, "b": 123456.0, "c": -2.5e-07}]}}}},
                 "map: map[a:1e-05 args:[] b:123456 c:-2.5e-07 env:[map[value:<nil>]] stdin:true] does not contain "
                 "declared merge key: name", 500, id="values print as Go's %v prints them"),
])
def test_malformed_patches(original: Obj, patch: Any, message: str, code: int) -> None:
    err = error_of(original, patch, DEPLOYMENT)
    assert (str(err), err.code) == (message, code)
    assert err.status_message == message


def test_lists_of_lists_are_unprocessable() -> None:
    err = error_of({"metadata": {"finalizers": [["a"]]}}, {"metadata": {"finalizers": [["b"]]}}, POD)
    assert (str(err), err.code, err.reason) == ("lists of lists are not supported", 422, "Invalid")
    # upstream's 422 carries a generic message instead of the error's
    assert err.status_message == "the server rejected our request due to an error in our request"


def test_unexpected_patch_strategy() -> None:
    schema = struct(items=merge_list(SCALAR, "", "merge,replace"))
    err = error_of({"items": [1]}, {"items": [2]}, schema)
    assert str(err) == "unexpected patch strategy: [merge replace]"


def test_maps_of_structs_cannot_be_merged_into() -> None:
    # upstream looks fields up in Go structs; inside a map's values (CSR `spec.extra`,
    # JSONSchemaProps `properties`) the lookup fails when both sides hold a map or a list there.
    schema = struct(extra=Meta(value=Meta(item=SCALAR)))
    err = error_of({"extra": {"k": ["a"]}}, {"extra": {"k": ["b"]}}, schema)
    assert (str(err), err.code) == ("merging an object in json but data type is not struct, instead is: map", 500)
    assert patched({"extra": {"k": ["a"]}}, {"extra": {"k": None, "j": ["b"]}}, schema) == {"extra": {"j": ["b"]}}


# --------------------------------------------------------------------------- the real 1.33 schemas


def test_real_deployment_schema() -> None:
    from kubeherd.api.schema.node import kind_schema

    schema = kind_schema("apps", "v1", "Deployment")
    assert schema is not None
    obj = deployment([NGINX, SIDE], volumes=[{"name": "data", "emptyDir": {}}])
    patch = {"spec": {
        "strategy": {"$retainKeys": ["type"], "rollingUpdate": None, "type": "Recreate"},
        "template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-25T10:00:00Z"}},
                     "spec": {"$setElementOrder/containers": [{"name": "nginx"}],
                              "containers": [{"image": "nginx:1.26", "name": "nginx"},
                                             {"$patch": "delete", "name": "side"}],
                              "volumes": [{"$retainKeys": ["configMap", "name"], "configMap": {"name": "c"},
                                           "name": "data"}]}}}}
    result = patched(obj, patch, schema)
    assert result["spec"]["strategy"] == {"type": "Recreate"}
    assert pod_spec(result)["containers"] == [{**NGINX, "image": "nginx:1.26"}]
    assert pod_spec(result)["volumes"] == [{"name": "data", "configMap": {"name": "c"}}]
    assert result["spec"]["template"]["metadata"]["annotations"] == {
        "kubectl.kubernetes.io/restartedAt": "2026-11-25T10:00:00Z"}


def test_real_pod_and_node_schemas() -> None:
    from kubeherd.api.schema.node import kind_schema

    pod_schema, node_schema = kind_schema("", "v1", "Pod"), kind_schema("", "v1", "Node")
    assert pod_schema is not None and node_schema is not None
    pod = {"metadata": {"name": "p", "finalizers": ["a"]},
           "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80}],
                                    "volumeMounts": [{"name": "v", "mountPath": "/v"}]}],
                    "tolerations": [{"key": "a", "operator": "Exists"}]}}
    patch = {"metadata": {"finalizers": ["b"]},
             "spec": {"tolerations": [{"key": "b", "operator": "Exists"}],
                      "containers": [{"name": "c", "ports": [{"containerPort": 443}],
                                      "volumeMounts": [{"mountPath": "/v", "readOnly": True}]}]}}
    result = patched(pod, patch, pod_schema)
    assert result["metadata"]["finalizers"] == ["b", "a"]
    assert result["spec"]["tolerations"] == [{"key": "b", "operator": "Exists"}]
    assert result["spec"]["containers"] == [{"name": "c", "image": "i",
                                             "ports": [{"containerPort": 443}, {"containerPort": 80}],
                                             "volumeMounts": [{"name": "v", "mountPath": "/v", "readOnly": True}]}]
    node = {"metadata": {"name": "n"}, "spec": {"podCIDR": "10.0.0.0/24"}}
    assert patched(node, {"spec": {"unschedulable": True}}, node_schema)["spec"] == {
        "podCIDR": "10.0.0.0/24", "unschedulable": True}
