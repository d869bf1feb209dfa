"""The 1.33 schemas: navigation, extensions, upstream's strict and decode errors, OpenAPI renderings.

Expected messages are upstream's: the strict-decoding paths and wording of sigs.k8s.io/json, the
`json: cannot unmarshal ...` texts of Go's decoder, and the base64 / time.Parse errors of Go's
standard library, as kube-apiserver returns them.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from kubeherd.api.schema import (
    MAX_STRICT_ERRORS,
    SchemaNode,
    decode_error,
    definition,
    definition_name,
    duplicate_fields,
    kind_schema,
    openapi_v3_components,
    prune_unknown,
    strict_errors,
    swagger_definitions,
    type_errors,
    unknown_fields,
    v2_schema,
    v3_schema,
)
from kubeherd.api.schema._goformats import RFC3339_MICRO, base64_error, time_error


def _kind(group: str, version: str, kind: str) -> SchemaNode:
    node = kind_schema(group, version, kind)
    assert node is not None
    return node


@pytest.fixture(scope="module")
def pod() -> SchemaNode:
    return _kind("", "v1", "Pod")


@pytest.fixture(scope="module")
def deployment() -> SchemaNode:
    return _kind("apps", "v1", "Deployment")


def _path(node: SchemaNode, *steps: str) -> SchemaNode:
    """Follow field names; "[]" steps into list items, "{}" into map values."""
    current: SchemaNode | None = node
    for step in steps:
        assert current is not None, steps
        current = current.items() if step == "[]" else current.values() if step == "{}" else current.field(step)
    assert current is not None, steps
    return current


# --- navigation and extensions ------------------------------------------------------------------


def test_kind_lookup(pod: SchemaNode) -> None:
    assert pod.name == "io.k8s.api.core.v1.Pod" and pod.type == "object"
    assert pod.description.startswith("Pod is a collection of containers")
    assert pod.field_names == ("apiVersion", "kind", "metadata", "spec", "status")
    assert kind_schema("apps", "v1", "Deployment") is not None
    assert kind_schema("", "v1", "Deployment") is None
    assert kind_schema("example.com", "v1", "Widget") is None
    assert kind_schema("", "v1", "Pod") is pod  # built once
    assert definition_name("batch", "v1", "CronJobList") == "io.k8s.api.batch.v1.CronJobList"


def test_containers(pod: SchemaNode) -> None:
    containers = _path(pod, "spec", "containers")
    assert containers.type == "array" and containers.name == ""
    assert containers.description.startswith("List of containers belonging to the pod.")
    assert (containers.patch_strategy, containers.patch_merge_key) == ("merge", "name")
    assert (containers.list_type, containers.list_map_keys) == ("map", ("name",))
    container = containers.items()
    assert container is not None and container.name == "io.k8s.api.core.v1.Container"
    assert container.required == ("name",)
    image = _path(pod, "spec", "containers", "[]", "image")
    assert image.type == "string" and image.description.startswith("Container image name.")
    assert container.field("nope") is None and image.field("x") is None and image.items() is None


def test_reference_keeps_field_description_and_extensions(deployment: SchemaNode) -> None:
    strategy = _path(deployment, "spec", "strategy")
    assert strategy.name == "io.k8s.api.apps.v1.DeploymentStrategy"
    assert strategy.description == "The deployment strategy to use to replace existing pods with new ones."
    assert strategy.patch_strategy == "retainKeys"
    # The definition itself has its own description and no strategy.
    node = definition("io.k8s.api.apps.v1.DeploymentStrategy")
    assert node is not None and node.patch_strategy == ""
    assert node.description == "DeploymentStrategy describes how to replace existing pods with new ones."
    # Children come from the definition.
    assert _path(deployment, "spec", "strategy", "rollingUpdate").name == "io.k8s.api.apps.v1.RollingUpdateDeployment"


@pytest.mark.parametrize(("steps", "attr", "expected"), [
    (("spec", "volumes"), "patch_strategy", "merge,retainKeys"),
    (("spec", "tolerations"), "list_type", "atomic"),
    (("spec", "nodeSelector"), "map_type", "atomic"),
    (("metadata", "finalizers"), "list_type", "set"),
    (("metadata", "finalizers"), "patch_strategy", "merge"),
    (("metadata", "ownerReferences"), "patch_merge_key", "uid"),
    (("spec", "containers", "[]", "ports"), "list_map_keys", ("containerPort", "protocol")),
    (("spec", "containers", "[]", "ports"), "patch_merge_key", "containerPort"),
    (("spec", "containers", "[]", "volumeMounts"), "patch_merge_key", "mountPath"),
    (("spec", "containers", "[]", "env"), "patch_merge_key", "name"),
    (("spec", "imagePullSecrets"), "patch_merge_key", "name"),
    # a definition-level extension applies wherever the definition is used
    (("spec", "containers", "[]", "env", "[]", "valueFrom", "configMapKeyRef"), "map_type", "atomic"),
    (("status", "conditions"), "patch_merge_key", "type"),
])
def test_extensions(pod: SchemaNode, steps: tuple[str, ...], attr: str, expected: Any) -> None:
    assert getattr(_path(pod, *steps), attr) == expected


def test_maps_and_special_types(pod: SchemaNode, deployment: SchemaNode) -> None:
    labels = _path(pod, "metadata", "labels")
    assert labels.type == "object" and labels.field("app") is None
    assert _path(pod, "metadata", "labels", "{}").type == "string"
    max_surge = _path(deployment, "spec", "strategy", "rollingUpdate", "maxSurge")
    assert (max_surge.type, max_surge.int_or_string, max_surge.preserve_unknown) == ("", True, False)
    cpu = _path(pod, "spec", "containers", "[]", "resources", "limits", "{}")
    assert (cpu.type, cpu.int_or_string, cpu.shape) == ("", False, "quantity")
    assert _path(pod, "metadata", "creationTimestamp").type == "string"
    fields_v1 = _path(pod, "metadata", "managedFields", "[]", "fieldsV1")
    assert fields_v1.preserve_unknown and fields_v1.field("f:spec") is None
    data = _path(_kind("apps", "v1", "ControllerRevision"), "data")
    assert data.name == "io.k8s.apimachinery.pkg.runtime.RawExtension" and data.preserve_unknown
    crd = _kind("apiextensions.k8s.io", "v1", "CustomResourceDefinition")
    schema = _path(crd, "spec", "versions", "[]", "schema", "openAPIV3Schema")
    assert not schema.preserve_unknown  # a Go struct: its unknown fields are reported
    assert _path(schema, "properties", "{}").name == schema.name  # self-reference
    assert _path(schema, "default").preserve_unknown and _path(schema, "default").type == ""


# --- strict decoding ------------------------------------------------------------------------------

POD: dict[str, Any] = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "p", "labels": {"any": "key"}, "annotations": {"a": "b"}},
    "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}]}]},
}


def test_a_valid_object_has_no_findings(pod: SchemaNode) -> None:
    assert unknown_fields(pod, POD) == []
    assert strict_errors(pod, json.dumps(POD).encode()) == []
    assert type_errors(pod, POD) == [] and decode_error(pod, POD) is None
    assert prune_unknown(pod, POD) == POD


def test_unknown_fields(pod: SchemaNode) -> None:
    obj = copy.deepcopy(POD)
    obj["spec"]["x"] = 1
    obj["spec"]["containers"][0]["foo"] = {"deep": True}
    obj["spec"]["containers"][0]["ports"][0]["bar"] = 1
    obj["metadata"]["Name"] = "case matters"
    obj["top"] = 1
    assert unknown_fields(pod, obj) == [
        'unknown field "metadata.Name"',
        'unknown field "spec.containers[0].ports[0].bar"',
        'unknown field "spec.containers[0].foo"',
        'unknown field "spec.x"',
        'unknown field "top"',
    ]


def test_unknown_fields_inside_maps_and_raw_json() -> None:
    crd = _kind("apiextensions.k8s.io", "v1", "CustomResourceDefinition")
    obj = {"spec": {"versions": [{"name": "v1", "schema": {"openAPIV3Schema": {
        "type": "object", "properties": {"spec": {"type": "object", "descripton": "typo"}},
        "default": {"anything": {"goes": 1}}}}}]}}
    assert unknown_fields(crd, obj) == [
        'unknown field "spec.versions[0].schema.openAPIV3Schema.properties.spec.descripton"']
    revision = _kind("apps", "v1", "ControllerRevision")
    assert unknown_fields(revision, {"data": {"whatever": {"x": 1}}, "revision": 1}) == []
    # meta/v1 Patch is an empty Go struct, not raw JSON
    patch = definition("io.k8s.apimachinery.pkg.apis.meta.v1.Patch")
    assert patch is not None and unknown_fields(patch, {"a": 1}) == ['unknown field "a"']


def test_unknown_fields_skip_values_of_the_wrong_type(deployment: SchemaNode) -> None:
    assert unknown_fields(deployment, {"spec": {"template": [{"x": 1}], "selector": "a=b"}}) == []


def test_duplicate_fields(pod: SchemaNode) -> None:
    body = (b'{"kind":"Pod","kind":"Pod","metadata":{"name":"a","labels":{"x":"1","x":"2"}},'
            b'"spec":{"containers":[{"name":"a","name":"b"}],"unknown":{"y":1,"y":2}}}')
    expected = ['duplicate field "kind"', 'duplicate field "metadata.labels.x"',
                'duplicate field "spec.containers[0].name"']
    assert duplicate_fields(body, pod) == expected
    # Without a schema every object is checked, the unknown one included.
    assert duplicate_fields(body) == [*expected, 'duplicate field "spec.unknown.y"']
    assert duplicate_fields('{"a": {"b": 1, "b": 2}, "a": 3}') == ['duplicate field "a.b"', 'duplicate field "a"']
    with pytest.raises(ValueError):
        duplicate_fields(b"{not json")


def test_strict_errors_in_decoder_order(pod: SchemaNode) -> None:
    body = b'{"spec":{"x":1,"containers":[{"name":"a","name":"b","x":2}],"x":3},"kind":"Pod","kind":"Pod"}'
    assert strict_errors(pod, body) == [
        'unknown field "spec.x"',  # reported once
        'duplicate field "spec.containers[0].name"',
        'unknown field "spec.containers[0].x"',
        'duplicate field "kind"',
    ]


def test_strict_errors_are_capped(pod: SchemaNode) -> None:
    body = json.dumps({"spec": {f"f{i}": i for i in range(150)}}).encode()
    found = strict_errors(pod, body)
    assert len(found) == MAX_STRICT_ERRORS and found[0] == 'unknown field "spec.f0"'


def test_paths_are_go_quoted(pod: SchemaNode) -> None:
    assert unknown_fields(pod, {"spec": {'we"ird\n': 1}}) == ['unknown field "spec.we\\"ird\\n"']


def test_prune_unknown(pod: SchemaNode) -> None:
    obj = copy.deepcopy(POD)
    obj["spec"]["containers"][0]["foo"] = 1
    obj["spec"]["x"] = {"y": 1}
    obj["metadata"]["managedFields"] = [{"manager": "m", "fieldsV1": {"f:spec": {}}, "junk": 1}]
    before = copy.deepcopy(obj)
    pruned = prune_unknown(pod, obj)
    assert obj == before  # not mutated
    assert pruned["spec"] == POD["spec"]
    assert pruned["metadata"]["managedFields"] == [{"manager": "m", "fieldsV1": {"f:spec": {}}}]


# --- decode errors --------------------------------------------------------------------------------


def test_replicas_as_a_string(deployment: SchemaNode) -> None:
    obj = {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": "two"}}
    assert type_errors(deployment, obj) == [
        "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"]
    assert decode_error(deployment, obj) == type_errors(deployment, obj)[0]


@pytest.mark.parametrize(("spec", "message"), [
    ({"containers": "x"},
     "json: cannot unmarshal string into Go struct field PodSpec.spec.containers of type []v1.Container"),
    ({"containers": ["x"]},
     "json: cannot unmarshal string into Go struct field PodSpec.spec.containers of type v1.Container"),
    ({"containers": [{"name": 5}]},
     "json: cannot unmarshal number into Go struct field Container.spec.containers.name of type string"),
    ({"containers": [{"args": [True]}]},
     "json: cannot unmarshal bool into Go struct field Container.spec.containers.args of type string"),
    ({"containers": [{"ports": [{"containerPort": 3000000000}]}]},
     "json: cannot unmarshal number 3000000000 into Go struct field ContainerPort.spec.containers.ports.containerPort"
     " of type int32"),
    ({"activeDeadlineSeconds": 1.5},
     "json: cannot unmarshal number 1.5 into Go struct field PodSpec.spec.activeDeadlineSeconds of type int64"),
    ({"hostNetwork": "yes"},
     "json: cannot unmarshal string into Go struct field PodSpec.spec.hostNetwork of type bool"),
    ({"nodeSelector": ["a"]},
     "json: cannot unmarshal array into Go struct field PodSpec.spec.nodeSelector of type map[string]string"),
    ({"affinity": 1}, "json: cannot unmarshal number into Go struct field PodSpec.spec.affinity of type v1.Affinity"),
    ({"containers": [{"livenessProbe": {"httpGet": {"port": True}}}]},
     "json: cannot unmarshal bool into Go struct field HTTPGetAction.spec.containers.livenessProbe.httpGet.port"
     " of type int32"),
    ({"containers": [{"resources": {"limits": {"cpu": "lots"}}}]},
     "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"),
])
def test_decode_errors(pod: SchemaNode, spec: dict[str, Any], message: str) -> None:
    assert type_errors(pod, {"spec": spec}) == [message]


def test_decode_errors_in_maps_and_metadata(pod: SchemaNode) -> None:
    assert type_errors(pod, {"metadata": {"labels": {"a": 1}}}) == [
        "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string"]
    assert type_errors(pod, {"metadata": {"creationTimestamp": 5}}) == [
        "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.creationTimestamp of type string"]
    assert type_errors(pod, {"metadata": {"creationTimestamp": "2024-13-01T00:00:00Z"}}) == [
        'parsing time "2024-13-01T00:00:00Z": month out of range']
    assert type_errors(pod, ["not", "an", "object"]) == [
        "json: cannot unmarshal array into Go value of type v1.Pod"]
    assert type_errors(pod, {"spec": None, "metadata": {"labels": None}}) == []  # null is fine anywhere
    secret = _kind("", "v1", "Secret")
    assert type_errors(secret, {"data": {"k": "not base64!"}}) == ["illegal base64 data at input byte 3"]
    assert type_errors(secret, {"data": {"k": 1}}) == [
        "json: cannot unmarshal number into Go struct field Secret.data of type []uint8"]
    event = _kind("events.k8s.io", "v1", "Event")
    assert type_errors(event, {"eventTime": "2024-01-01T00:00:00Z"}) == [
        'parsing time "2024-01-01T00:00:00Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "Z" as ".000000"']
    assert type_errors(event, {"eventTime": "2024-01-01T00:00:00.123456Z"}) == []


def test_decode_error_stops_where_upstream_stops(pod: SchemaNode) -> None:
    obj = {"spec": {"hostNetwork": "yes", "containers": [{"livenessProbe": {"httpGet": {"port": 1.5}}}]}}
    assert len(type_errors(pod, obj)) == 2
    # IntOrString decodes itself: its error aborts decoding and wins over the earlier one.
    assert decode_error(pod, obj) == ("json: cannot unmarshal number 1.5 into Go struct field "
                                      "HTTPGetAction.spec.containers.livenessProbe.httpGet.port of type int32")


# --- Go's string formats --------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "offset"), [
    ("", None), ("QUJD", None), ("QUI=", None), ("QQ==", None), ("QUJD\nQUJD\r\n", None),
    ("abc", 0), ("a", 0), ("ab!d", 2), ("QQ=", 3), ("QQ==x", 4), ("Q===", 1), ("QUJDQ", 4), ("QUJD====", 4),
])
def test_base64(text: str, offset: int | None) -> None:
    expected = None if offset is None else f"illegal base64 data at input byte {offset}"
    assert base64_error(text) == expected


LAYOUT = '"2006-01-02T15:04:05Z07:00"'


@pytest.mark.parametrize(("text", "message"), [
    ("2024-01-01T00:00:00Z", None),
    ("2024-02-29T23:59:59.123456789+05:30", None),
    ("2024-01-01T00:00:00,5-08:00", None),
    ("yesterday", f'parsing time "yesterday" as {LAYOUT}: cannot parse "yesterday" as "2006"'),
    ("2024-01-01", f'parsing time "2024-01-01" as {LAYOUT}: cannot parse "" as "T"'),
    ("2024-1-01T00:00:00Z", f'parsing time "2024-1-01T00:00:00Z" as {LAYOUT}: cannot parse "1-01T00:00:00Z" as "01"'),
    ("2024-01-01T00:00:00", f'parsing time "2024-01-01T00:00:00" as {LAYOUT}: cannot parse "" as "Z07:00"'),
    ("2024-01-01T00:00:00+0100", f'parsing time "2024-01-01T00:00:00+0100" as {LAYOUT}: cannot parse "+0100" as '
                                 '"Z07:00"'),
    ("2024-13-01T00:00:00Z", 'parsing time "2024-13-01T00:00:00Z": month out of range'),
    ("2023-02-29T00:00:00Z", 'parsing time "2023-02-29T00:00:00Z": day out of range'),
    ("2024-01-01T25:00:00Z", 'parsing time "2024-01-01T25:00:00Z": hour out of range'),
    ("2024-01-01T00:00:00Zjunk", 'parsing time "2024-01-01T00:00:00Zjunk": extra text: "junk"'),
    ("2024-01-01T00:00:00Zé", 'parsing time "2024-01-01T00:00:00Z\\xc3\\xa9": extra text: "\\xc3\\xa9"'),
])
def test_rfc3339(text: str, message: str | None) -> None:
    assert time_error(text) == message


def test_rfc3339_micro() -> None:
    assert time_error("2024-01-01T00:00:00.000001Z", RFC3339_MICRO) is None
    assert time_error("2024-01-01T00:00:00.1Z", RFC3339_MICRO) == (
        'parsing time "2024-01-01T00:00:00.1Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse ".1Z" as '
        '".000000"')


# --- OpenAPI renderings ---------------------------------------------------------------------------


def _refs(node: Any, prefix: str) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            assert ref.startswith(prefix)
            found.add(ref.removeprefix(prefix))
        for value in node.values():
            found |= _refs(value, prefix)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value, prefix)
    return found


def test_v3_schema_shapes() -> None:
    pod = v3_schema("io.k8s.api.core.v1.Pod")
    assert pod["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "Pod", "version": "v1"}]
    assert pod["properties"]["apiVersion"] == {"description": pod["properties"]["apiVersion"]["description"],
                                               "type": "string"}  # no enum, no "null"
    assert pod["properties"]["spec"]["allOf"] == [{"$ref": "#/components/schemas/io.k8s.api.core.v1.PodSpec"}]
    assert pod["properties"]["spec"]["description"].startswith("Specification of the desired behavior")
    containers = v3_schema("io.k8s.api.core.v1.PodSpec")["properties"]["containers"]
    assert containers["items"] == {"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"}
    assert containers["x-kubernetes-patch-merge-key"] == "name" and containers["type"] == "array"
    assert v3_schema("io.k8s.apimachinery.pkg.util.intstr.IntOrString") == {
        "format": "int-or-string", "oneOf": [{"type": "integer"}, {"type": "string"}]}
    assert v3_schema("io.k8s.apimachinery.pkg.api.resource.Quantity") == {
        "oneOf": [{"type": "string"}, {"type": "number"}]}


def test_v2_schema_shapes() -> None:
    spec = v2_schema("io.k8s.api.apps.v1.DeploymentSpec")["properties"]["strategy"]
    assert spec == {"$ref": "#/definitions/io.k8s.api.apps.v1.DeploymentStrategy",
                    "description": "The deployment strategy to use to replace existing pods with new ones.",
                    "x-kubernetes-patch-strategy": "retainKeys"}
    assert v2_schema("io.k8s.apimachinery.pkg.util.intstr.IntOrString") == {"format": "int-or-string",
                                                                            "type": "string"}


def test_components_hold_what_the_roots_reach() -> None:
    components = openapi_v3_components("apps", "v1", ["io.k8s.api.apps.v1.Deployment"])
    schemas = components["schemas"]
    assert list(schemas) == sorted(schemas)
    assert {"io.k8s.api.apps.v1.Deployment", "io.k8s.api.core.v1.PodSpec",
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"} <= set(schemas)
    assert "io.k8s.api.apps.v1.StatefulSet" not in schemas
    assert _refs(schemas, "#/components/schemas/") <= set(schemas)
    everything = openapi_v3_components("apps", "v1")["schemas"]
    assert {"io.k8s.api.apps.v1.StatefulSet", "io.k8s.api.apps.v1.DaemonSetList"} <= set(everything)
    definitions = swagger_definitions(["io.k8s.api.batch.v1.CronJob"])
    assert "io.k8s.api.batch.v1.JobTemplateSpec" in definitions
    assert _refs(definitions, "#/definitions/") <= set(definitions)
