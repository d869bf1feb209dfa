"""Field sets, their FieldsV1 form, the schema-driven operations of server-side apply, and the
managedFields bookkeeping around them (upstream's structured-merge-diff and field manager rules)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from kubeherd.api import errors
from kubeherd.api.managedfields import (
    APPLY,
    UPDATE,
    Conflicts,
    DecodeError,
    FieldsV1Error,
    ManagerKey,
    TypedError,
    VersionedSet,
    canonical,
    compare,
    decode,
    difference,
    encode,
    ensure_named_fields,
    field_set,
    from_fields_v1,
    has,
    intersection,
    merge,
    path_string,
    paths,
    recursive_difference,
    remove_items,
    root_type,
    union,
)
from kubeherd.api.managedfields import apply as structured_apply
from kubeherd.api.managedfields import update as structured_update
from kubeherd.api.managedfields.fieldpath import key_element, value_element
from kubeherd.api.resources import CATALOG
from kubeherd.apiserver import fieldmanager
from kubeherd.apiserver.fieldmanager import WriteManager

DEPLOYMENT = root_type("apps", "v1", "Deployment")
CONFIGMAP = root_type("", "v1", "ConfigMap")
SERVICE = root_type("", "v1", "Service")
deployments = CATALOG.lookup("apps", "v1", "deployments")
configmaps = CATALOG.lookup("", "v1", "configmaps")
assert deployments is not None and configmaps is not None


def deployment(**changes: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "nginx:1.25",
                                                       "ports": [{"containerPort": 80}]}]}}},
    }
    obj["spec"].update(changes)
    return obj


# --- sets ---------------------------------------------------------------------------------------------


def test_fields_v1_reads_members_children_and_the_dot() -> None:
    s = from_fields_v1({"f:metadata": {"f:labels": {".": {}, "f:app": {}}}, "f:spec": {"f:replicas": {}}})
    assert has(s, ("f:metadata", "f:labels"))  # "." marks the node itself
    assert has(s, ("f:metadata", "f:labels", "f:app"))
    assert not has(s, ("f:metadata",))  # a node with children only is not a member
    assert has(s, ("f:spec", "f:replicas"))
    assert list(paths(s)) == [("f:metadata", "f:labels"), ("f:metadata", "f:labels", "f:app"),
                              ("f:spec", "f:replicas")]


def test_fields_v1_rejects_garbage_and_drops_unknown_element_kinds() -> None:
    with pytest.raises(FieldsV1Error):
        from_fields_v1({"nocolon": {}})
    with pytest.raises(FieldsV1Error):
        from_fields_v1({"f:a": 1})
    with pytest.raises(FieldsV1Error):
        from_fields_v1({"k:{notjson": {}})
    assert from_fields_v1({"x:future": {}, "f:a": {}}) == {"f:a": {}}
    # equal keys written differently are one path element
    assert from_fields_v1({'k:{"b": 1, "a": "x"}': {}}) == {'k:{"a":"x","b":1}': {}}


def test_canonical_order_is_upstreams() -> None:
    s = {"f:b": {}, ".": {}, "f:a": {}}
    assert list(canonical(s)) == [".", "f:a", "f:b"]
    ports = {key_element({"containerPort": p, "protocol": "TCP"}): {} for p in (8080, 443, 80)}
    assert [json.loads(k[2:])["containerPort"] for k in canonical(ports)] == [80, 443, 8080]  # numerically
    mixed = {value_element(v): {} for v in ("b", 10, "a", 2)}
    assert list(canonical(mixed)) == ['v:2', 'v:10', 'v:"a"', 'v:"b"']  # numbers before strings
    assert key_element({"name": "a<b"}) == 'k:{"name":"a\\u003cb"}'  # Go's JSON escaping


def test_set_algebra_follows_upstream() -> None:
    a = {"f:x": {}, "f:y": {"f:z": {}}}
    b = {"f:y": {".": {}, "f:w": {}}}
    assert union(a, b) == {"f:x": {}, "f:y": {".": {}, "f:w": {}, "f:z": {}}}
    assert intersection(a, b) == {}
    assert intersection(union(a, b), b) == b
    assert difference(union(a, b), b) == {"f:x": {}, "f:y": {"f:z": {}}}
    # a parent minus its child is the parent; a child minus a parent member keeps the child
    assert difference({"f:p": {".": {}, "f:c": {}}}, {"f:p": {"f:c": {}}}) == {"f:p": {}}
    assert difference({"f:p": {"f:c": {}}}, {"f:p": {}}) == {"f:p": {"f:c": {}}}
    # recursive difference drops a member's whole subtree
    assert recursive_difference({"f:p": {"f:c": {}}, "f:q": {}}, {"f:p": {}}) == {"f:q": {}}
    # results stay in canonical order
    assert list(union({"f:b": {}}, {"f:a": {}, "f:c": {}})) == ["f:a", "f:b", "f:c"]


def test_path_strings_as_conflicts_print_them() -> None:
    assert path_string(("f:spec", "f:replicas")) == ".spec.replicas"
    assert path_string(("f:spec", "f:containers", 'k:{"name":"web"}', "f:image")) == \
        '.spec.containers[name="web"].image'
    assert path_string(("f:ports", 'k:{"port":80,"protocol":"TCP"}')) == '.ports[port=80,protocol="TCP"]'
    assert path_string(("f:finalizers", 'v:"a"')) == '.finalizers[="a"]'


# --- typed values -------------------------------------------------------------------------------------


def test_field_set_of_an_applied_configuration() -> None:
    s = field_set(deployment(), DEPLOYMENT)
    assert has(s, ("f:spec", "f:replicas"))
    assert has(s, ("f:spec", "f:selector"))  # atomic: one member, nothing below
    assert not has(s, ("f:spec", "f:selector", "f:matchLabels"))
    assert has(s, ("f:metadata", "f:labels", "f:app")) and not has(s, ("f:metadata", "f:labels"))
    containers = ("f:spec", "f:template", "f:spec", "f:containers")
    assert has(s, (*containers, 'k:{"name":"web"}'))  # list items are members
    # a missing list-map key takes its schema default
    assert has(s, (*containers, 'k:{"name":"web"}', "f:ports", 'k:{"containerPort":80,"protocol":"TCP"}'))
    assert not has(s, (*containers,))
    # an empty map and a null are set; a map key outside the schema is itself a member
    cm = field_set({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"labels": {}}, "data": {"k": "v"}},
                   CONFIGMAP)
    assert has(cm, ("f:metadata", "f:labels")) and has(cm, ("f:data", "f:k"))


def test_field_set_validates_like_the_typed_conversion() -> None:
    with pytest.raises(TypedError) as err:
        field_set(deployment(bogus=1), DEPLOYMENT, validate=True)
    assert str(err.value) == ".spec.bogus: field not declared in schema"
    with pytest.raises(TypedError) as err:
        field_set(deployment(replicas="two"), DEPLOYMENT, validate=True)
    assert str(err.value) == ".spec.replicas: expected numeric (int or float), got string"
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"name": "x"}]}}
    with pytest.raises(TypedError) as err:
        field_set(svc, SERVICE, validate=True)
    assert 'element 0: associative list with keys has an element that omits key field "port"' in str(err.value)
    twice = deployment()
    twice["spec"]["template"]["spec"]["containers"].append({"name": "web", "image": "x"})
    with pytest.raises(TypedError) as err:
        field_set(twice, DEPLOYMENT, validate=True)
    assert 'duplicate entries for key [name="web"]' in str(err.value)


def test_compare_reports_added_modified_removed_with_upstreams_dot_marks() -> None:
    created = compare({}, deployment(), DEPLOYMENT)
    added = created.added
    # structs Go always has (spec, template, its spec) and required lists carry no "."
    assert "." not in added["f:spec"] and "." not in added["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert added["f:metadata"]["f:labels"]["."] == {}  # an optional map that appeared
    web = added["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"web"}']
    assert web["."] == {} and web["f:resources"] == {}  # a container's resources struct is always there
    changed = compare(deployment(), deployment(replicas=3, paused=True), DEPLOYMENT)
    assert changed.modified == {"f:spec": {"f:replicas": {}}}
    assert changed.added == {"f:spec": {"f:paused": {}}}
    assert changed.removed == {}
    assert compare(deployment(replicas=3), deployment(), DEPLOYMENT).modified == {"f:spec": {"f:replicas": {}}}
    # null, {} for a map and [] are absent, as in a Go object
    with_empties = deployment()
    with_empties["metadata"]["annotations"] = {}
    with_empties["spec"]["template"]["metadata"]["creationTimestamp"] = None
    assert compare(deployment(), with_empties, DEPLOYMENT).is_same()


def test_merge_keeps_live_items_in_place_and_follows_the_configuration_order() -> None:
    live = {"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [
        {"name": "a", "image": "a1"}, {"name": "b", "image": "b1"}, {"name": "c", "image": "c1"}]}}
    config = {"spec": {"containers": [{"name": "c", "image": "c2"}, {"name": "d", "image": "d1"},
                                      {"name": "a", "image": "a2"}]}}
    merged = merge(live, config, root_type("", "v1", "Pod"))
    assert [(c["name"], c["image"]) for c in merged["spec"]["containers"]] == [
        ("b", "b1"), ("c", "c2"), ("d", "d1"), ("a", "a2")]
    # atomic lists and atomic maps are replaced whole, granular maps merge, null removes a leaf
    live_d = deployment()
    config_d = {"spec": {"selector": {"matchExpressions": []}, "replicas": None},
                "metadata": {"labels": {"tier": "fe"}}}
    out = merge(live_d, config_d, DEPLOYMENT)
    assert out["spec"]["selector"] == {"matchExpressions": []}
    assert "replicas" not in out["spec"]
    assert out["metadata"]["labels"] == {"app": "web", "tier": "fe"}


def test_remove_items_and_named_fields() -> None:
    obj = deployment()
    gone = remove_items(obj, {"f:metadata": {"f:labels": {"f:app": {}}}, "f:spec": {"f:replicas": {}}}, DEPLOYMENT)
    assert "labels" not in gone["metadata"] and "replicas" not in gone["spec"]  # emptied maps go too
    assert gone["spec"]["selector"] == obj["spec"]["selector"]
    ensured = ensure_named_fields({"f:spec": {"f:template": {"f:metadata": {"f:labels": {"f:app": {}}}}}},
                                  DEPLOYMENT)
    assert has(ensured, ("f:spec",)) and has(ensured, ("f:spec", "f:template", "f:metadata", "f:labels"))
    assert not has(ensured, ("f:spec", "f:template", "f:metadata", "f:labels", "f:app", "x"))


# --- structured update and apply ------------------------------------------------------------------------


def key(manager: str, operation: str = APPLY, version: str = "apps/v1") -> ManagerKey:
    return ManagerKey(manager, operation, "" if operation == APPLY else version)


def test_update_takes_changed_fields_from_everyone_and_drops_removed_ones() -> None:
    managers = {key("applier"): VersionedSet(field_set(deployment(), DEPLOYMENT), "apps/v1", True)}
    new = deployment(replicas=5)
    del new["metadata"]["labels"]
    structured_update(deployment(), new, DEPLOYMENT, "apps/v1", managers, key("scaler", UPDATE))
    assert managers[key("scaler", UPDATE)].fields == {"f:spec": {"f:replicas": {}}}
    applier = managers[key("applier")].fields
    assert not has(applier, ("f:spec", "f:replicas")) and "f:labels" not in applier["f:metadata"]


def test_apply_conflicts_unless_forced_and_prunes_what_it_stopped_applying() -> None:
    managers: dict[ManagerKey, VersionedSet] = {}
    first = structured_apply({}, deployment(), field_set(deployment(), DEPLOYMENT), DEPLOYMENT, "apps/v1",
                             managers, key("a"), False)
    assert first is not None
    other = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 9}}
    with pytest.raises(Conflicts) as err:
        structured_apply(first, other, field_set(other, DEPLOYMENT), DEPLOYMENT, "apps/v1", dict(managers),
                         key("b"), False)
    assert str(err.value) == 'Apply failed with 1 conflict: conflict with "a": .spec.replicas'
    assert err.value.causes() == [{"reason": "FieldManagerConflict", "message": 'conflict with "a"',
                                   "field": ".spec.replicas"}]
    forced = structured_apply(first, other, field_set(other, DEPLOYMENT), DEPLOYMENT, "apps/v1", managers,
                              key("b"), True)
    assert forced["spec"]["replicas"] == 9
    assert not has(managers[key("a")].fields, ("f:spec", "f:replicas"))
    # the same value applied by two managers is shared, not a conflict
    shared = structured_apply(forced, other, field_set(other, DEPLOYMENT), DEPLOYMENT, "apps/v1", managers,
                              key("c"), False)
    assert shared is None  # nothing changed in the object
    assert has(managers[key("c")].fields, ("f:spec", "f:replicas"))
    # "a" stops applying its labels: they go; "b" and "c" still hold replicas, so it stays
    smaller = deployment()
    del smaller["metadata"]["labels"]
    del smaller["spec"]["replicas"]
    pruned = structured_apply(forced, smaller, field_set(smaller, DEPLOYMENT), DEPLOYMENT, "apps/v1", managers,
                              key("a"), False)
    assert "labels" not in pruned["metadata"] and pruned["spec"]["replicas"] == 9


def test_entries_encode_sorted_and_decode_checked() -> None:
    managed = decode([
        {"manager": "u2", "operation": "Update", "apiVersion": "v1", "time": "2024-01-02T00:00:00Z",
         "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:b": {}}}},
        {"manager": "u1", "operation": "Update", "apiVersion": "v1", "time": "2024-01-01T00:00:00Z",
         "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:a": {}}}},
        {"manager": "ap", "operation": "Apply", "apiVersion": "v1", "time": "2024-01-03T00:00:00Z",
         "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:c": {}}}, "subresource": "status"},
    ], trusted=False)
    out = encode(managed)
    assert [e["manager"] for e in out] == ["ap", "u1", "u2"]
    assert list(out[0]) == ["manager", "operation", "apiVersion", "time", "fieldsType", "fieldsV1", "subresource"]
    for bad in ([{"operation": "Patch", "apiVersion": "v1", "fieldsType": "FieldsV1"}],
                [{"operation": "Update", "fieldsType": "FieldsV1"}],
                [{"operation": "Update", "apiVersion": "v1"}],
                [{"operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV2"}]):
        with pytest.raises(DecodeError):
            decode(bad, trusted=False)


# --- the field manager --------------------------------------------------------------------------------------


def test_manager_names_follow_upstream() -> None:
    assert fieldmanager.prefix_from_user_agent("kubectl/v1.33.0 (linux/amd64) kubernetes/abc") == "kubectl"
    assert fieldmanager.prefix_from_user_agent("a\x00b/1") == "ab"
    assert len(fieldmanager.prefix_from_user_agent("x" * 300)) == 128
    assert fieldmanager.manager_name("mine", "kubectl/v1") == "mine"
    assert fieldmanager.manager_name("", "kubectl/v1") == "kubectl"

    class User:
        name = "system:kube-scheduler"

    assert fieldmanager.manager_name("", "", User()) == "kube-scheduler"
    User.name = "system:node:n1"
    assert fieldmanager.manager_name("", "", User()) == "kubelet"
    with pytest.raises(errors.APIError) as err:
        fieldmanager.validate_field_manager("", "PatchOptions", apply=True)
    assert err.value.code == 422 and err.value.message == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch')
    with pytest.raises(errors.APIError):
        fieldmanager.validate_field_manager("bad\nname", "CreateOptions")


def test_create_and_update_record_update_entries_and_skip_no_ops() -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}
    fieldmanager.track_create(configmaps, obj, WriteManager("maker"))
    [entry] = obj["metadata"]["managedFields"]
    assert entry["manager"] == "maker" and entry["operation"] == UPDATE and entry["time"]
    assert entry["fieldsV1"] == {"f:data": {".": {}, "f:a": {}}}
    same = copy.deepcopy(obj)
    fieldmanager.track_update(configmaps, obj, same, WriteManager("other"), same["metadata"]["managedFields"])
    assert same == obj  # nothing changed hands: the stored entries stay byte for byte
    new = copy.deepcopy(obj)
    new["data"]["a"] = "2"
    fieldmanager.track_update(configmaps, obj, new, WriteManager("other"), new["metadata"]["managedFields"])
    maker, other = new["metadata"]["managedFields"]
    assert other["manager"] == "other" and other["fieldsV1"] == {"f:data": {"f:a": {}}}
    assert maker["manager"] == "maker" and maker["fieldsV1"] == {"f:data": {}}  # it keeps the map it added
    assert maker["time"] == entry["time"]


def test_untracked_objects_stay_untracked_until_applied() -> None:
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}
    new = copy.deepcopy(obj)
    new["data"]["a"] = "2"
    fieldmanager.track_update(configmaps, obj, new, WriteManager("someone"), None)
    assert "managedFields" not in new["metadata"]
    applied = fieldmanager.apply(configmaps, new, {"apiVersion": "v1", "kind": "ConfigMap",
                                                   "metadata": {"name": "c"}, "data": {"b": "3"}},
                                 WriteManager("applier"), False)
    assert [(e["manager"], e["operation"]) for e in applied["metadata"]["managedFields"]] == [
        ("applier", "Apply"), ("before-first-apply", "Update")]


def test_update_managers_are_capped_into_ancient_changes() -> None:
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k0": "v"}}
    fieldmanager.track_create(configmaps, obj, WriteManager("m0"))
    for i in range(1, 13):
        new = copy.deepcopy(obj)
        new["data"][f"k{i}"] = "v"
        fieldmanager.track_update(configmaps, obj, new, WriteManager(f"m{i}"), new["metadata"].get("managedFields"))
        obj = new
    managers = [e["manager"] for e in obj["metadata"]["managedFields"]]
    assert len(managers) == 10 and "ancient-changes" in managers
    ancient = next(e for e in obj["metadata"]["managedFields"] if e["manager"] == "ancient-changes")
    assert len(ancient["fieldsV1"]["f:data"]) >= 2


def test_kubectl_apply_over_client_side_apply_is_forced_on_matching_fields() -> None:
    last = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"},
            "data": {"a": "1"}}
    live = copy.deepcopy(last)
    live["metadata"]["annotations"] = {fieldmanager.LAST_APPLIED: json.dumps(last)}
    fieldmanager.track_create(configmaps, live, WriteManager("kubectl-client-side-apply"))
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"},
              "data": {"a": "2"}}
    with pytest.raises(errors.APIError) as err:
        fieldmanager.apply(configmaps, live, config, WriteManager("someone"), False)
    assert err.value.code == 409
    out = fieldmanager.apply(configmaps, live, config, WriteManager("kubectl"), False)
    assert out["data"] == {"a": "2"}
    # the annotation now holds the applied configuration, as upstream writes it
    assert out["metadata"]["annotations"][fieldmanager.LAST_APPLIED] == (
        '{"apiVersion":"v1","data":{"a":"2"},"kind":"ConfigMap","metadata":{"name":"c","namespace":"default"}}\n')


def test_scale_writes_move_replicas_to_a_scale_entry() -> None:
    old = deployment()
    fieldmanager.track_create(deployments, old, WriteManager("creator"))
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 7
    fieldmanager.track_update(deployments, old, new, WriteManager("scaler", "scale"), None)
    scale = [e for e in new["metadata"]["managedFields"] if e.get("subresource") == "scale"]
    assert scale == [{"manager": "scaler", "operation": "Update", "apiVersion": "apps/v1",
                      "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}, "subresource": "scale"}]
    creator = next(e for e in new["metadata"]["managedFields"] if e["manager"] == "creator")
    assert "f:replicas" not in creator["fieldsV1"]["f:spec"]


def test_status_writes_own_only_status_and_main_writes_never_do() -> None:
    old = deployment()
    old["status"] = {"replicas": 1}
    fieldmanager.track_create(deployments, old, WriteManager("creator"))
    creator = old["metadata"]["managedFields"][0]["fieldsV1"]
    assert "f:status" not in creator
    new = copy.deepcopy(old)
    new["status"] = {"replicas": 2, "readyReplicas": 2}
    fieldmanager.track_update(deployments, old, new, WriteManager("ctrl", "status"), None)
    status = next(e for e in new["metadata"]["managedFields"] if e.get("subresource") == "status")
    assert status["manager"] == "ctrl" and set(status["fieldsV1"]) == {"f:status"}
