"""ControllerRevisions: the history that StatefulSets and DaemonSets keep of their pod templates.

A revision stores, in `data`, a strategic merge patch that puts a template back:
`{"spec":{"template":{"$patch":"replace", ...template...}}}`. kubectl's `rollout undo` sends
that patch unchanged, and both kubectl (to print "skipped rollback (current template already
matches revision N)") and the controllers decide whether a revision matches a workload by
comparing these bytes. So the bytes are made the way Go's `encoding/json` makes them from a
typed object: keys sorted at every level, no spaces, `<`, `>` and `&` escaped, and the template
metadata carrying `"creationTimestamp":null` (a Go struct always writes that field). The
upstream 1.33 compatibility fixture (`test-c77f6d978`) hashes to the same name here.

Revision names and the `controller.kubernetes.io/hash` label are upstream's: FNV-1 (32 bit) of
the data bytes followed by the decimal collision count, written as a decimal string and mapped
onto the "safe" alphabet, appended to the owner's name. A name already taken by different
data means a collision: the count goes up and the name changes.

Every helper here is a pure function of objects read from the informers, or one API call; the
controllers decide which revisions are live and which to prune.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from kubeherd.api.schema.node import SchemaNode, definition
from kubeherd.client import APIClient, APIStatusError
from kubeherd.controllers.base import CONTROLLERREVISIONS, controller_of, owner_reference

Obj = dict[str, Any]

HASH_LABEL = "controller.kubernetes.io/hash"
# On pods (StatefulSet: the revision's name; DaemonSet: its hash) and on DaemonSet revisions.
POD_REVISION_LABEL = "controller-revision-hash"
_SAFE = "bcdfghjklmnpqrstvwxz2456789"
_GO_ESCAPES = ((b"<", b"\\u003c"), (b">", b"\\u003e"), (b"&", b"\\u0026"),
               ("\u2028".encode(), b"\\u2028"), ("\u2029".encode(), b"\\u2029"))
_MAX_PREFIX = 223


def go_json(value: Any) -> bytes:
    """`value` as Go's json.Marshal writes a map: sorted keys, compact, HTML-safe escapes."""
    out = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    for raw, escaped in _GO_ESCAPES:
        if raw in out:
            out = out.replace(raw, escaped)
    return out


def _go_shaped(value: Any, node: SchemaNode | None) -> Any:
    """Drop what a typed Go round trip drops: nulls, and empty maps and lists (all `omitempty` in
    the workload APIs); empty structs such as `resources: {}` or `emptyDir: {}` stay."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            sub = None if node is None else (node.values() if node.shape == "map" else node.field(key))
            shaped = _go_shaped(item, sub)
            if shaped is None or shaped == [] or (shaped == {} and sub is not None and sub.shape == "map"):
                continue
            out[key] = shaped
        return out
    if isinstance(value, list):
        items = None if node is None else node.items()
        return [_go_shaped(v, items) for v in value]
    return value


def go_template(template: Obj | None) -> Obj:
    """A pod template as a Go client writes it back: `creationTimestamp: null` in its metadata."""
    shaped = _go_shaped(dict(template or {}), definition("io.k8s.api.core.v1.PodTemplateSpec"))
    shaped["metadata"] = {**(shaped.get("metadata") or {}), "creationTimestamp": None}
    return shaped


def template_patch(owner: Obj) -> Obj:
    """The patch a revision of `owner` stores: replace `spec.template` with the current one."""
    template = go_template((owner.get("spec") or {}).get("template"))
    return orjson.loads(go_json({"spec": {"template": {**template, "$patch": "replace"}}}))


def fnv1_32(data: bytes) -> int:
    h = 0x811C9DC5
    for byte in data:
        h = (h * 0x01000193) & 0xFFFFFFFF
        h ^= byte
    return h


def safe_encode(text: str) -> str:
    """apimachinery's rand.SafeEncodeString: map each character onto an alphabet without vowels."""
    return "".join(_SAFE[ord(c) % len(_SAFE)] for c in text)


def hash_revision(data: Any, collision_count: int | None) -> str:
    digest_input = go_json(data)
    if collision_count is not None:
        digest_input += str(collision_count).encode()
    return safe_encode(str(fnv1_32(digest_input)))


def revision_name(prefix: str, hashed: str) -> str:
    return f"{prefix[:_MAX_PREFIX]}-{hashed}"


def new_revision(owner: Obj, revision: int, collision_count: int, hash_label: str = HASH_LABEL) -> Obj:
    """A ControllerRevision of `owner`'s current template (not yet created): labelled with the
    template's labels and the hash, annotated with the owner's annotations, controlled by it."""
    data = template_patch(owner)
    hashed = hash_revision(data, collision_count)
    template_labels = (((owner.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}
    meta = owner["metadata"]
    rev_meta: Obj = {"name": revision_name(meta["name"], hashed), "namespace": meta["namespace"],
                     "labels": {**template_labels, hash_label: hashed},
                     "ownerReferences": [owner_reference(owner)]}
    if meta.get("annotations"):
        rev_meta["annotations"] = dict(meta["annotations"])
    return {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": rev_meta, "data": data,
            "revision": revision}


def revision_number(rev: Obj) -> int:
    return int(rev.get("revision") or 0)


def sort_revisions(revisions: Iterable[Obj]) -> list[Obj]:
    """Oldest first: by revision number, then creation time, then name (upstream's order)."""
    return sorted(revisions, key=lambda r: (revision_number(r), r["metadata"].get("creationTimestamp") or "",
                                            r["metadata"]["name"]))


def next_revision(revisions: list[Obj]) -> int:
    return max((revision_number(r) for r in revisions), default=0) + 1


def equal_data(left: Any, right: Any) -> bool:
    return go_json(left) == go_json(right)


def equal_revision(left: Obj, right: Obj) -> bool:
    """Same stored template; differing hash labels settle it without comparing data."""
    lh = (left["metadata"].get("labels") or {}).get(HASH_LABEL)
    rh = (right["metadata"].get("labels") or {}).get(HASH_LABEL)
    if lh and rh and lh != rh:
        return False
    return equal_data(left.get("data"), right.get("data"))


def matches_owner(rev: Obj, owner: Obj) -> bool:
    """The revision stores `owner`'s current template."""
    return equal_data(rev.get("data"), template_patch(owner))


def revision_template(rev: Obj) -> Obj:
    """The pod template a revision restores."""
    template = dict(((rev.get("data") or {}).get("spec") or {}).get("template") or {})
    template.pop("$patch", None)
    meta = dict(template.get("metadata") or {})
    if meta.get("creationTimestamp") is None:
        meta.pop("creationTimestamp", None)
    template["metadata"] = meta
    return template


def owned_or_orphan(revisions: Iterable[Obj], owner: Obj, selector: Any) -> list[Obj]:
    """Revisions in the owner's namespace that match its selector and that it or nobody controls."""
    uid = owner["metadata"]["uid"]
    out = []
    for rev in revisions:
        if not selector.matches(rev["metadata"].get("labels") or {}):
            continue
        ref = controller_of(rev)
        if ref is None or ref.get("uid") == uid:
            out.append(rev)
    return out


async def set_owner_references(client: APIClient, rev: Obj, refs: list[Obj]) -> Obj | None:
    """Replace a revision's ownerReferences (guarded by its uid); None if it is gone or changed."""
    meta = rev["metadata"]
    patch = {"metadata": {"ownerReferences": refs or None, "uid": meta["uid"]}}
    try:
        return await client.patch(CONTROLLERREVISIONS, meta["name"], patch, meta["namespace"])
    except APIStatusError as exc:
        if exc.code in (404, 409, 422):
            return None
        raise


async def adopt(client: APIClient, owner: Obj, rev: Obj) -> Obj | None:
    refs = [*(rev["metadata"].get("ownerReferences") or []), owner_reference(owner)]
    return await set_owner_references(client, rev, refs)


async def release(client: APIClient, owner: Obj, rev: Obj) -> Obj | None:
    uid = owner["metadata"]["uid"]
    refs = [r for r in rev["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
    return await set_owner_references(client, rev, refs)


async def claim(client: APIClient, owner: Obj, selector: Any, revisions: Iterable[Obj]) -> list[Obj]:
    """The revisions `owner` controls after adopting matching orphans and releasing ones that no
    longer match (ControllerRevisionControllerRefManager)."""
    uid = owner["metadata"]["uid"]
    deleting = bool(owner["metadata"].get("deletionTimestamp"))
    claimed: list[Obj] = []
    for rev in revisions:
        ref = controller_of(rev)
        matches = selector.matches(rev["metadata"].get("labels") or {})
        if ref is not None and ref.get("uid") == uid:
            if matches:
                claimed.append(rev)
            elif not deleting:
                await release(client, owner, rev)
        elif ref is None and matches and not deleting and not rev["metadata"].get("deletionTimestamp"):
            adopted = await adopt(client, owner, rev)
            if adopted is not None:
                claimed.append(adopted)
    return claimed


async def create(client: APIClient, owner: Obj, rev: Obj, collision_count: int) -> tuple[Obj, int]:
    """Create `rev`, renaming it while its name is taken by other data; returns it (or the equal
    revision that already had the name) and the collision count finally used."""
    data = rev["data"]
    while True:
        hashed = hash_revision(data, collision_count)
        labels = {k: (hashed if k in (HASH_LABEL, POD_REVISION_LABEL) else v)
                  for k, v in (rev["metadata"].get("labels") or {}).items()}
        body = {**rev, "metadata": {**rev["metadata"], "labels": labels,
                                    "name": revision_name(owner["metadata"]["name"], hashed)}}
        try:
            return await client.create(CONTROLLERREVISIONS, body), collision_count
        except APIStatusError as exc:
            if exc.code != 409 or exc.reason != "AlreadyExists":
                raise
        existing = await client.get(CONTROLLERREVISIONS, body["metadata"]["name"], owner["metadata"]["namespace"])
        if equal_data(existing.get("data"), data):
            return existing, collision_count
        collision_count += 1


async def set_revision_number(client: APIClient, rev: Obj, number: int) -> Obj:
    if revision_number(rev) == number:
        return rev
    meta = rev["metadata"]
    return await client.patch(CONTROLLERREVISIONS, meta["name"], {"revision": number}, meta["namespace"])


async def delete(client: APIClient, rev: Obj) -> None:
    try:
        await client.delete(CONTROLLERREVISIONS, rev["metadata"]["name"], rev["metadata"]["namespace"])
    except APIStatusError as exc:
        if exc.code != 404:
            raise
