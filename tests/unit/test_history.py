"""Pure helpers of the StatefulSet and DaemonSet controllers: ControllerRevision bytes, hashes and
names (upstream's), daemon pod placement rules, and StatefulSet claim retention ownerReferences."""

from __future__ import annotations

from kubeherd.api.selectors import label_selector_from_dict
from kubeherd.controllers import history
from kubeherd.controllers import statefulset as ss
from kubeherd.controllers.daemonset import (
    add_daemon_tolerations,
    fits_node_affinity,
    node_should_run,
    scaled,
    target_node,
    with_node_affinity,
)

TEMPLATE = {
    "metadata": {"labels": {"app": "foo"}, "annotations": {"test": "value"}},
    "spec": {"containers": [{"name": "test", "image": "test", "imagePullPolicy": "Always", "resources": {},
                             "terminationMessagePath": "/dev/termination-log",
                             "terminationMessagePolicy": "File"}],
             "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
             "securityContext": {}, "schedulerName": "default-scheduler"},
}


def statefulset(template: dict | None = None) -> dict:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "test", "namespace": "default", "uid": "u-1"},
            "spec": {"selector": {"matchLabels": {"app": "foo"}}, "template": template or TEMPLATE}}


def test_revision_matches_upstream_name_hash_and_bytes() -> None:
    # kube-controller-manager 1.33 names this template's first revision test-c77f6d978
    rev = history.new_revision(statefulset(), 1, 0)
    assert rev["metadata"]["name"] == "test-c77f6d978"
    assert rev["metadata"]["labels"] == {"app": "foo", history.HASH_LABEL: "c77f6d978"}
    assert rev["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    data = history.go_json(rev["data"])
    assert data.startswith(b'{"spec":{"template":{"$patch":"replace","metadata":{"annotations":{"test":"value"},'
                           b'"creationTimestamp":null,"labels":{"app":"foo"}},"spec":{"containers":[{')
    assert history.revision_template(rev) == TEMPLATE


def test_collision_count_changes_the_name() -> None:
    names = {history.new_revision(statefulset(), 1, n)["metadata"]["name"] for n in range(3)}
    assert len(names) == 3
    assert history.revision_name("x" * 300, "abc") == "x" * 223 + "-abc"


def test_go_json_escapes_like_encoding_json() -> None:
    assert history.go_json({"b": "<a&b>", "a": 1}) == b'{"a":1,"b":"\\u003ca\\u0026b\\u003e"}'


def test_matching_ignores_key_order_and_nulls() -> None:
    sset = statefulset()
    rev = history.new_revision(sset, 1, 0)
    reordered = {"spec": dict(reversed(list(TEMPLATE["spec"].items()))), "metadata": {**TEMPLATE["metadata"],
                                                                                    "creationTimestamp": None}}
    assert history.matches_owner(rev, statefulset(reordered))
    changed = {**TEMPLATE, "metadata": {"labels": {"app": "foo"}}}
    assert not history.matches_owner(rev, statefulset(changed))
    other = history.new_revision(statefulset(changed), 2, 0)
    assert not history.equal_revision(rev, other)
    assert history.equal_revision(rev, history.new_revision(sset, 5, 0))


def test_owned_or_orphan_and_sorting() -> None:
    sset = statefulset()
    mine = history.new_revision(sset, 2, 0)
    orphan = {**history.new_revision(sset, 1, 1), "metadata": {**mine["metadata"], "name": "o", "ownerReferences": []}}
    foreign = {**mine, "metadata": {**mine["metadata"], "name": "f",
                                    "ownerReferences": [{"uid": "other", "controller": True}]}}
    unlabelled = {**mine, "metadata": {**mine["metadata"], "name": "u", "labels": {}}}
    selector = label_selector_from_dict(sset["spec"]["selector"])
    found = history.owned_or_orphan([mine, orphan, foreign, unlabelled], sset, selector)
    assert [r["metadata"]["name"] for r in history.sort_revisions(found)] == ["o", mine["metadata"]["name"]]
    assert history.next_revision(found) == 3


def node(name: str, labels: dict | None = None, taints: list | None = None) -> dict:
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": taints or []}}


def daemonset(spec: dict | None = None) -> dict:
    return {"metadata": {"name": "ds", "namespace": "default"},
            "spec": {"template": {"metadata": {"labels": {"a": "b"}},
                                  "spec": {"containers": [{"name": "c", "image": "i"}], **(spec or {})}}}}


def test_daemon_tolerations_are_added_and_replace_bounded_ones() -> None:
    spec = {"tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                             "tolerationSeconds": 60}], "hostNetwork": True}
    add_daemon_tolerations(spec)
    keys = [(t["key"], t["effect"]) for t in spec["tolerations"]]
    assert keys[0] == ("node.kubernetes.io/not-ready", "NoExecute")
    assert "tolerationSeconds" not in spec["tolerations"][0]
    assert ("node.kubernetes.io/network-unavailable", "NoSchedule") in keys
    assert len(keys) == 7


def test_node_should_run_follows_selectors_affinity_and_taints() -> None:
    ds = daemonset({"nodeSelector": {"disk": "ssd"}})
    assert node_should_run(node("a", {"disk": "ssd"}), ds) == (True, True)
    assert node_should_run(node("b"), ds) == (False, False)
    no_schedule = [{"key": "dedicated", "value": "x", "effect": "NoSchedule"}]
    no_execute = [{"key": "dedicated", "value": "x", "effect": "NoExecute"}]
    assert node_should_run(node("c", {"disk": "ssd"}, no_schedule), ds) == (False, True)
    assert node_should_run(node("c", {"disk": "ssd"}, no_execute), ds) == (False, False)
    tolerant = daemonset({"tolerations": [{"key": "dedicated", "operator": "Exists"}]})
    assert node_should_run(node("c", {}, no_execute), tolerant) == (True, True)
    # the daemon defaults tolerate cordoned and pressured nodes, but not an unreachable node's NoSchedule
    assert node_should_run(node("d", {}, [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]),
                           daemonset()) == (True, True)
    assert node_should_run(node("d", {}, [{"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"}]),
                           daemonset()) == (False, True)


def test_required_node_affinity_terms() -> None:
    term = {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]},
                                 {"key": "gpu", "operator": "DoesNotExist"},
                                 {"key": "cores", "operator": "Gt", "values": ["4"]}]}
    spec = {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
                                          {"nodeSelectorTerms": [term]}}}}
    assert fits_node_affinity(spec, node("n", {"zone": "a", "cores": "8"}))
    assert not fits_node_affinity(spec, node("n", {"zone": "a", "cores": "2"}))
    assert not fits_node_affinity(spec, node("n", {"zone": "a", "cores": "8", "gpu": "1"}))
    assert not fits_node_affinity({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
                                                                 {"nodeSelectorTerms": [{}]}}}}, node("n"))


def test_pods_are_pinned_by_match_fields_affinity() -> None:
    spec = {"affinity": {"podAffinity": {"x": 1}, "nodeAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1}],
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": []}]}}}}
    pinned = with_node_affinity(spec, "node-1")
    required = pinned["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert required == {"nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In",
                                                                "values": ["node-1"]}]}]}
    assert pinned["affinity"]["podAffinity"] == {"x": 1}
    assert pinned["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert target_node({"spec": pinned}) == "node-1"
    assert target_node({"spec": {**pinned, "nodeName": "node-2"}}) == "node-2"
    assert target_node({"spec": {}}) is None


def test_int_or_percent_rounds_up() -> None:
    assert scaled("10%", 5) == 1
    assert scaled("50%", 5) == 3
    assert scaled(2, 5) == 2
    assert scaled(None, 5) == 0


def test_template_bytes_drop_what_go_omits() -> None:
    template = {"metadata": {"labels": {"app": "foo"}, "annotations": {}},
                "spec": {"containers": [{"name": "c", "image": "i", "resources": {}, "env": []}],
                         "nodeSelector": None, "volumes": [{"name": "v", "emptyDir": {}}], "securityContext": {}}}
    data = history.go_json(history.template_patch(statefulset(template)))
    assert data == (b'{"spec":{"template":{"$patch":"replace","metadata":{"creationTimestamp":null,'
                    b'"labels":{"app":"foo"}},"spec":{"containers":[{"image":"i","name":"c","resources":{}}],'
                    b'"securityContext":{},"volumes":[{"emptyDir":{},"name":"v"}]}}}}')


def test_claim_owner_references_follow_the_retention_policy() -> None:
    def sset(when_deleted: str, when_scaled: str) -> dict:
        return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "uid": "set"},
                "spec": {"replicas": 2, "persistentVolumeClaimRetentionPolicy": {
                    "whenDeleted": when_deleted, "whenScaled": when_scaled}}}

    def pod(ordinal: int) -> dict:
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"db-{ordinal}", "uid": f"pod-{ordinal}"}}

    claim = {"metadata": {"name": "data-db-0", "ownerReferences": []}}
    cases = {("Retain", "Retain"): ([], []), ("Delete", "Retain"): (["set"], ["set"]),
             ("Retain", "Delete"): ([], ["pod-3"]), ("Delete", "Delete"): (["set"], ["pod-3"])}
    for (when_deleted, when_scaled), (kept, condemned) in cases.items():
        policy = sset(when_deleted, when_scaled)
        assert [r["uid"] for r in ss.claim_owner_refs(claim, policy, pod(0))] == kept
        assert [r["uid"] for r in ss.claim_owner_refs(claim, policy, pod(3))] == condemned
        fixed = {"metadata": {"name": "data-db-0", "ownerReferences": ss.claim_owner_refs(claim, policy, pod(0))}}
        assert ss.claim_owners_up_to_date(fixed, policy, pod(0))
        assert ss.claim_owners_up_to_date(claim, policy, pod(0)) == (kept == [])
    # a claim still owned by an earlier pod of the same name is left alone
    stale = {"metadata": {"name": "data-db-3", "ownerReferences": [
        {"apiVersion": "v1", "kind": "Pod", "name": "db-3", "uid": "old", "controller": True}]}}
    assert ss.claim_owners_up_to_date(stale, sset("Delete", "Delete"), pod(3))


def test_statefulset_pod_identity_and_claims() -> None:
    sset = {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "web", "namespace": "ns", "uid": "u"},
            "spec": {"replicas": 2, "serviceName": "svc", "ordinals": {"start": 5},
                     "selector": {"matchLabels": {"app": "web"}},
                     "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["RWO"]}}]}}
    template = {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "i"}], "volumes": [{"name": "data"}, {"name": "x"}]}}
    pod = ss.new_pod(sset, template, 6, "web-abc")
    assert pod["metadata"]["name"] == "web-6" and pod["spec"]["hostname"] == "web-6"
    assert pod["spec"]["subdomain"] == "svc"
    assert pod["metadata"]["labels"] == {"app": "web", ss.POD_NAME_LABEL: "web-6", ss.POD_INDEX_LABEL: "6",
                                         ss.REVISION_LABEL: "web-abc"}
    assert pod["spec"]["volumes"] == [{"name": "data", "persistentVolumeClaim": {"claimName": "data-web-6"}},
                                      {"name": "x"}]
    assert ss.identity_matches(sset, pod) and ss.storage_matches(sset, pod) and ss.in_ordinal_range(pod, sset)
    assert not ss.in_ordinal_range(ss.new_pod(sset, template, 7, "r"), sset)
    assert ss.parent_and_ordinal({"metadata": {"name": "a-b-12"}}) == ("a-b", 12)
    assert ss.ordinal_of({"metadata": {"name": "web"}}) == -1
