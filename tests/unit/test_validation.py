"""Validation messages as kubectl users see them (cases from upstream's validation tests)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubeherd.api import validation as v
from kubeherd.api.validation.field import child, index, key, type_invalid
from kubeherd.api.validation.names import (
    is_config_map_key,
    is_dns1035_label,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_qualified_name,
    is_valid_label_value,
    is_valid_percent,
    is_valid_port_name,
    name_function,
)

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end "
    "with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, "
    "and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
    "'[a-z]([-a-z0-9]*[a-z0-9])?')"
)


def messages(causes: list[v.Cause]) -> list[str]:
    return [str(c) for c in causes]


# --------------------------------------------------------------------------- name formats


@pytest.mark.parametrize(
    "value",
    ["a", "ab", "abc", "a1", "a-1", "a--1--2--b", "0", "01", "012", "1a", "1-a", "1--a--b--2", "a" * 63],
)
def test_dns1123_label_good(value: str) -> None:
    assert is_dns1123_label(value) == []


@pytest.mark.parametrize(
    "value",
    [
        "",
        "A",
        "ABC",
        "aBc",
        "A1",
        "-",
        "a-",
        "-a",
        "1-",
        "_",
        "a_b",
        ".",
        "a.",
        ".a",
        "1.2",
        " ",
        "a b",
        "a" * 64,
    ],
)
def test_dns1123_label_bad(value: str) -> None:
    assert is_dns1123_label(value) != []


def test_dns1123_label_messages() -> None:
    assert is_dns1123_label("Foo") == [LABEL_MSG]
    assert is_dns1123_label("a.b") == ["must not contain dots"]
    assert is_dns1123_label("a" * 64) == ["must be no more than 63 characters"]


@pytest.mark.parametrize(
    "value", ["a", "a.a", "a--1--2--b.1", "1.2.3.4.5", "11.22.33.44.55", "a" * 253, "0.a", "a.b.c.d.e"]
)
def test_dns1123_subdomain_good(value: str) -> None:
    assert is_dns1123_subdomain(value) == []


@pytest.mark.parametrize(
    "value",
    [
        "",
        "A",
        "a..b",
        ".a",
        "a.",
        "A.a",
        "aB.a",
        "a@b",
        "a,b",
        "a_b",
        "a;b",
        "a:b",
        "a%b",
        "a?b",
        "a$b",
        "a" * 254,
    ],
)
def test_dns1123_subdomain_bad(value: str) -> None:
    assert is_dns1123_subdomain(value) != []


def test_dns1123_subdomain_message() -> None:
    assert is_dns1123_subdomain("Bad_Name") == [SUBDOMAIN_MSG]
    assert is_dns1123_subdomain("a" * 254) == ["must be no more than 253 characters"]
    assert is_dns1123_subdomain("A" * 254) == ["must be no more than 253 characters", SUBDOMAIN_MSG]


@pytest.mark.parametrize("value", ["a", "ab", "a-1", "a--1--2--b", "a" * 63])
def test_dns1035_label_good(value: str) -> None:
    assert is_dns1035_label(value) == []


@pytest.mark.parametrize(
    "value", ["0", "01", "1a", "1-a", "", "A", "a-", "-a", "a_b", "a.b", "a b", "a" * 64]
)
def test_dns1035_label_bad(value: str) -> None:
    assert is_dns1035_label(value) != []


def test_dns1035_label_message() -> None:
    assert is_dns1035_label("1abc") == [DNS1035_MSG]


@pytest.mark.parametrize(
    "value",
    [
        "simple",
        "now-with-dashes",
        "1-starts-with-num",
        "1234",
        "simple/simple",
        "now.with.dots/simple",
        "1.2.3.4/5678",
        "Uppercase_Is_OK_123",
        "example.com/Uppercase_Is_OK_123",
        "requests.storage-foo",
        "a" * 63,
        "a" * 253 + "/" + "b" * 63,
    ],
)
def test_qualified_name_good(value: str) -> None:
    assert is_qualified_name(value) == []


@pytest.mark.parametrize(
    "value",
    [
        "nospecialchars%^=@",
        "cantendwithadash-",
        "-cantstartwithadash-",
        "only/one/slash",
        "Example.com/abc",
        "example_com/abc",
        "example.com/",
        "/simple",
        "a" * 64,
        "a" * 254 + "/abc",
    ],
)
def test_qualified_name_bad(value: str) -> None:
    assert is_qualified_name(value) != []


def test_qualified_name_messages() -> None:
    assert is_qualified_name("/simple") == ["prefix part must be non-empty"]
    assert is_qualified_name("example.com/") == [
        "name part must be non-empty",
        "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
        "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
        "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
    ]
    assert is_qualified_name("Example.com/abc")[0].startswith("prefix part a lowercase RFC 1123 subdomain")
    assert is_qualified_name("a/b/c")[0].startswith("a qualified name must consist of")
    assert is_qualified_name("a/b/c")[0].endswith(
        "with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
    )


@pytest.mark.parametrize("value", ["simple", "now-with-dashes", "1234", "a" * 63, ""])
def test_label_value_good(value: str) -> None:
    assert is_valid_label_value(value) == []


@pytest.mark.parametrize(
    "value",
    [
        "nospecialchars%^=@",
        "Tama-nui-te-rā.is.Māori.sun",
        "\\backslashes\\are\\bad",
        "-starts-with-dash",
        "ends-with-dash-",
        ".starts.with.dot",
        "a" * 64,
    ],
)
def test_label_value_bad(value: str) -> None:
    assert is_valid_label_value(value) != []


def test_config_map_keys() -> None:
    for good in ["a", "good", "good-good", "still.good", ".so.is.this", "THIS_IS_GOOD", "so_is_this_17"]:
        assert is_config_map_key(good) == []
    assert is_config_map_key(".") == ["must not be '.'"]
    assert is_config_map_key("..") == ["must not be '..'"]
    assert is_config_map_key("..bad") == ["must not start with '..'"]
    assert is_config_map_key("b*d") == [
        "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
        "'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
    ]


def test_port_names_and_percent() -> None:
    for good in ["telnet", "re-mail-ck", "pop3", "a", "a-1", "1-a", "a-1-b-2-c", "1-a-2-b-3"]:
        assert is_valid_port_name(good) == []
    for bad in [
        "longerthan15characters",
        "",
        "a" * 16,
        "12345",
        "1-2-3-4",
        "-begin",
        "end-",
        "two--hyphens",
        "whois++",
    ]:
        assert is_valid_port_name(bad) != []
    for good in ["0%", "00000%", "100%", "101%"]:
        assert is_valid_percent(good) == []
    for bad in ["", "0", "0.0%", " 1%", "-1%", "+1%"]:
        assert is_valid_percent(bad) != []


def test_generate_name_prefix_masks_trailing_dash() -> None:
    check = name_function(v.DNS1123_SUBDOMAIN)
    assert check("web-", True) == []
    assert check("web-", False) == [SUBDOMAIN_MSG]
    assert name_function(v.PATH_SEGMENT)("..", False) == ["may not be '..'"]
    assert name_function(v.PATH_SEGMENT)("a/b%", False) == ["may not contain '/'", "may not contain '%'"]
    assert name_function(v.PATH_SEGMENT)("system:controller:foo", False) == []


# --------------------------------------------------------------------------- field errors


def test_cause_rendering_matches_field_error_body() -> None:
    assert (
        str(v.invalid("metadata.name", "Bad_Name", "bad")) == 'metadata.name: Invalid value: "Bad_Name": bad'
    )
    assert str(v.invalid("spec.replicas", -1, "must be greater than or equal to 0")) == (
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0"
    )
    assert str(v.invalid("a", None, "x")) == "a: Invalid value: null: x"
    assert str(v.invalid("a", True, "x")) == "a: Invalid value: true: x"
    assert str(v.invalid("a", ["x", "y"], "d")) == 'a: Invalid value: []string{"x", "y"}: d'
    assert (
        str(v.invalid("a", {"b": "c", "a": "d"}, "d"))
        == 'a: Invalid value: map[string]string{"a":"d", "b":"c"}: d'
    )
    assert str(v.invalid("a", v.OMIT, "d")) == "a: Invalid value: d"
    assert str(v.invalid("a", 'tab\there"', "d")) == 'a: Invalid value: "tab\\there\\"": d'
    assert str(v.required("spec.containers")) == "spec.containers: Required value"
    assert (
        str(v.required("metadata.name", "name or generateName is required"))
        == "metadata.name: Required value: name or generateName is required"
    )
    assert str(v.forbidden("x", "nope")) == "x: Forbidden: nope"
    assert str(v.duplicate("x", "a")) == 'x: Duplicate value: "a"'
    assert str(v.not_found("x", "a")) == 'x: Not found: "a"'
    assert str(v.not_supported("spec.restartPolicy", "Sometimes", ["Always", "OnFailure", "Never"])) == (
        'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"'
    )
    assert (
        str(v.too_long("metadata.annotations", 262144))
        == "metadata.annotations: Too long: may not be more than 262144 bytes"
    )
    assert str(v.too_many("x", 5, 3)) == "x: Too many: 5: must have at most 3 items"
    assert type_invalid("x", "a", "must be of type integer").type == "FieldValueTypeInvalid"


def test_paths() -> None:
    assert child("spec", "template", "spec") == "spec.template.spec"
    assert child(index(child("spec", "containers"), 0), "name") == "spec.containers[0].name"
    assert key(child("spec", "resources"), "storage") == "spec.resources[storage]"


def test_aggregate_and_invalid_message() -> None:
    one = [v.invalid("spec.replicas", -1, "must be greater than or equal to 0")]
    assert v.invalid_message("Deployment.apps", "x", one) == (
        'Deployment.apps "x" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0'
    )
    two = [*one, v.required("metadata.name"), *one]
    assert v.invalid_message("Deployment.apps", "x", two) == (
        'Deployment.apps "x" is invalid: [spec.replicas: Invalid value: -1: must be greater than or equal to 0, '
        "metadata.name: Required value]"
    )
    assert v.invalid_message("Pod", "p", []) == 'Pod "p" is invalid'


def test_invalid_status_shape() -> None:
    causes = [v.required("spec.containers")]
    status = v.invalid_status("apps", "Deployment", "web", causes)
    assert status["code"] == 422 and status["reason"] == "Invalid" and status["status"] == "Failure"
    assert status["details"] == {
        "name": "web",
        "group": "apps",
        "kind": "Deployment",
        "causes": [{"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers"}],
    }
    assert status["message"] == 'Deployment.apps "web" is invalid: spec.containers: Required value'
    assert "group" not in v.invalid_status("", "Pod", "p", causes)["details"]


# --------------------------------------------------------------------------- object meta


def test_object_meta_name_and_namespace() -> None:
    errs = v.validate_object_meta({"name": "Bad_Name"}, True, v.DNS1123_SUBDOMAIN)
    assert messages(errs) == [
        f'metadata.name: Invalid value: "Bad_Name": {SUBDOMAIN_MSG}',
        "metadata.namespace: Required value",
    ]
    assert messages(v.validate_object_meta({}, False, v.DNS1123_SUBDOMAIN)) == [
        "metadata.name: Required value: name or generateName is required"
    ]
    assert v.validate_object_meta({"generateName": "web-", "namespace": "d"}, True, v.DNS1123_SUBDOMAIN) == []
    assert messages(
        v.validate_object_meta(
            {"generateName": "web-", "namespace": "d"}, True, v.DNS1123_SUBDOMAIN, create=False
        )
    ) == ["metadata.name: Required value: name or generateName is required"]
    assert messages(v.validate_object_meta({"name": "n", "namespace": "x"}, False, v.DNS1123_SUBDOMAIN)) == [
        "metadata.namespace: Forbidden: not allowed on this type"
    ]


def test_object_meta_labels_annotations_finalizers() -> None:
    meta = {
        "name": "ok",
        "namespace": "d",
        "labels": {"good": "a b"},
        "annotations": {"x": "y" * 262144},
        "finalizers": ["example.com/ok", "custom"],
        "generation": -1,
    }
    msgs = messages(v.validate_object_meta(meta, True, v.DNS1123_SUBDOMAIN))
    assert msgs[0] == "metadata.generation: Invalid value: -1: must be greater than or equal to 0"
    assert msgs[1].startswith('metadata.labels: Invalid value: "a b": a valid label must be an empty string')
    assert msgs[2] == "metadata.annotations: Too long: may not be more than 262144 bytes"
    assert (
        msgs[3]
        == 'metadata.finalizers[1]: Invalid value: "custom": name is neither a standard finalizer name nor is it fully qualified'
    )
    assert len(msgs) == 4


def test_owner_references() -> None:
    meta = {
        "name": "n",
        "namespace": "d",
        "ownerReferences": [{"apiVersion": "", "kind": "", "name": "", "uid": ""}],
    }
    assert messages(v.validate_object_meta(meta, True, v.DNS1123_SUBDOMAIN)) == [
        'metadata.ownerReferences.apiVersion: Invalid value: "": version must not be empty',
        'metadata.ownerReferences.kind: Invalid value: "": kind must not be empty',
        'metadata.ownerReferences.name: Invalid value: "": name must not be empty',
        'metadata.ownerReferences.uid: Invalid value: "": uid must not be empty',
    ]


def test_object_meta_update_immutable_fields() -> None:
    old = {
        "name": "a",
        "namespace": "d",
        "uid": "u1",
        "resourceVersion": "1",
        "creationTimestamp": "2024-01-02T03:04:05Z",
    }
    new = {**old, "name": "b", "uid": "u2", "creationTimestamp": "2024-01-02T03:04:06Z"}
    assert messages(v.validate_object_meta_update(new, old)) == [
        'metadata.name: Invalid value: "b": field is immutable',
        'metadata.uid: Invalid value: "u2": field is immutable',
        "metadata.creationTimestamp: Invalid value: 2024-01-02 03:04:06 +0000 UTC: field is immutable",
    ]
    del new["resourceVersion"]
    assert 'metadata.resourceVersion: Invalid value: "": must be specified for an update' in messages(
        v.validate_object_meta_update(new, old)
    )


# --------------------------------------------------------------------------- pods


def pod(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"containers": [{"name": "app", "image": "nginx"}]}
    base.update(spec)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default", "resourceVersion": "1"},
        "spec": base,
    }


def test_valid_pod() -> None:
    assert v.validate("", "Pod", pod()) == []


def test_pod_container_errors() -> None:
    p = pod(
        containers=[
            {
                "name": "App",
                "image": "",
                "ports": [{"containerPort": 0}, {"containerPort": 70000, "protocol": "HTTP"}],
            },
            {"name": "App", "image": "x"},
        ],
        restartPolicy="Sometimes",
    )
    assert messages(v.validate("", "Pod", p)) == [
        f'spec.containers[0].name: Invalid value: "App": {LABEL_MSG}',
        "spec.containers[0].image: Required value",
        "spec.containers[0].ports[0].containerPort: Required value",
        "spec.containers[0].ports[1].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
        'spec.containers[0].ports[1].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"',
        f'spec.containers[1].name: Invalid value: "App": {LABEL_MSG}',
        'spec.containers[1].name: Duplicate value: "App"',
        'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
    ]


def test_pod_requires_containers() -> None:
    assert messages(v.validate("", "Pod", pod(containers=[]))) == ["spec.containers: Required value"]


def test_pod_resources() -> None:
    ctr = {
        "name": "a",
        "image": "x",
        "resources": {"requests": {"cpu": "2", "memory": "-1"}, "limits": {"cpu": "1", "foo": "1"}},
    }
    assert messages(v.validate("", "Pod", pod(containers=[ctr]))) == [
        'spec.containers[0].resources.limits[foo]: Invalid value: "foo": must be a standard resource type or fully qualified',
        'spec.containers[0].resources.limits[foo]: Invalid value: "foo": must be a standard resource for containers',
        'spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1',
        'spec.containers[0].resources.requests[memory]: Invalid value: "-1": must be greater than or equal to 0',
    ]
    bad = {"name": "a", "image": "x", "resources": {"limits": {"cpu": "lots"}}}
    assert messages(v.validate("", "Pod", pod(containers=[bad]))) == [
        'spec.containers[0].resources.limits[cpu]: Invalid value: "lots": quantities must match the regular '
        "expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    ]
    gpu = {"name": "a", "image": "x", "resources": {"requests": {"nvidia.com/gpu": "1"}}}
    assert messages(v.validate("", "Pod", pod(containers=[gpu]))) == [
        "spec.containers[0].resources.limits: Required value: Limit must be set for non overcommitable resources"
    ]


def test_pod_volumes_and_mounts() -> None:
    p = pod(
        volumes=[
            {"name": "data", "emptyDir": {}},
            {"name": "cfg"},
            {"name": "both", "emptyDir": {}, "hostPath": {"path": "/x"}},
        ],
        containers=[
            {
                "name": "a",
                "image": "x",
                "volumeMounts": [{"name": "data", "mountPath": "/d"}, {"name": "cfg", "mountPath": "/d"}],
            }
        ],
    )
    assert messages(v.validate("", "Pod", p)) == [
        "spec.volumes[1]: Required value: must specify a volume type",
        "spec.volumes[2].hostPath: Forbidden: may not specify more than 1 volume type",
        'spec.containers[0].volumeMounts[1].name: Not found: "cfg"',
        'spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/d": must be unique',
    ]


def test_pod_host_port_clash_and_tolerations() -> None:
    ports = [{"containerPort": 80, "hostPort": 8080}]
    p = pod(
        containers=[{"name": "a", "image": "x", "ports": ports}, {"name": "b", "image": "x", "ports": ports}],
        tolerations=[{"operator": "Equal", "value": "x"}],
    )
    assert messages(v.validate("", "Pod", p)) == [
        'spec.containers[1].ports[0].hostPort: Duplicate value: "TCP//8080"',
        'spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when `key` is empty, which means "match all values and all keys"',
    ]


def test_pod_update_rules() -> None:
    old = pod(
        containers=[{"name": "a", "image": "nginx:1", "ports": [{"containerPort": 80}]}],
        activeDeadlineSeconds=100,
    )
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:2"
    new["spec"]["activeDeadlineSeconds"] = 50
    new["spec"]["tolerations"] = [{"key": "k", "operator": "Exists"}]
    assert v.validate_update("", "Pod", new, old) == []

    changed = copy.deepcopy(old)
    changed["spec"]["containers"][0]["ports"][0]["containerPort"] = 81
    (cause,) = v.validate_update("", "Pod", changed, old)
    assert cause.type == "FieldValueForbidden" and cause.field == "spec"
    assert cause.message.startswith(
        "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,"
        "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),"
        "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n"
    )
    assert "containers[0].ports[0].containerPort: 80" in cause.message

    added = copy.deepcopy(old)
    added["spec"]["containers"].append({"name": "b", "image": "x"})
    assert messages(v.validate_update("", "Pod", added, old)) == [
        "spec.containers: Forbidden: pod updates may not add or remove containers"
    ]

    longer = copy.deepcopy(old)
    longer["spec"]["activeDeadlineSeconds"] = 200
    assert messages(v.validate_update("", "Pod", longer, old)) == [
        "spec.activeDeadlineSeconds: Invalid value: 200: must be less than or equal to previous value"
    ]


def test_pod_update_ignores_equivalent_quantities_and_allows_negative_grace_fix() -> None:
    old = pod(
        containers=[{"name": "a", "image": "x", "resources": {"limits": {"cpu": "1000m"}}}],
        terminationGracePeriodSeconds=-1,
    )
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["resources"]["limits"]["cpu"] = "1"
    new["spec"]["terminationGracePeriodSeconds"] = 1
    assert v.validate_update("", "Pod", new, old) == []


# --------------------------------------------------------------------------- services


def service(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"ports": [{"port": 80}]}
    base.update(spec)
    return {"metadata": {"name": "web", "namespace": "default", "resourceVersion": "1"}, "spec": base}


def test_service_validation() -> None:
    assert v.validate("", "Service", service()) == []
    bad = service(
        ports=[{"port": 0, "protocol": "HTTP"}, {"name": "b", "port": 80, "nodePort": 30000}], type="Weird"
    )
    bad["metadata"]["name"] = "1web"
    assert messages(v.validate("", "Service", bad)) == [
        f'metadata.name: Invalid value: "1web": {DNS1035_MSG}',
        "spec.ports[0].name: Required value",
        "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
        'spec.ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"',
        'spec.type: Unsupported value: "Weird": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
    ]
    assert messages(v.validate("", "Service", service(ports=[]))) == ["spec.ports: Required value"]
    assert v.validate("", "Service", service(ports=[], clusterIP="None")) == []
    assert (
        v.validate("", "Service", service(ports=[], type="ExternalName", externalName="example.com.")) == []
    )


def test_service_cluster_ip_rules() -> None:
    dup = service(ports=[{"port": 80, "name": "a"}, {"port": 80, "name": "b"}], clusterIP="10.0.0.1")
    assert messages(v.validate("", "Service", dup)) == [
        'spec.ports[1]: Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", AppProtocol:(*string)(nil), Port:80, '
        'TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}'
    ]
    assert messages(v.validate("", "Service", service(ports=[{"port": 80, "nodePort": 30001}]))) == [
        "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"
    ]
    old = service(clusterIP="10.0.0.1")
    new = service(clusterIP="10.0.0.2")
    assert messages(v.validate_update("", "Service", new, old)) == [
        'spec.clusterIPs[0]: Invalid value: []string{"10.0.0.2"}: may not change once set'
    ]
    # omitting the address keeps the allocated one
    assert v.validate_update("", "Service", service(), old) == []


# --------------------------------------------------------------------------- configmaps and secrets


def configmap(**fields: Any) -> dict[str, Any]:
    return {"metadata": {"name": "cfg", "namespace": "default", "resourceVersion": "1"}, **fields}


def test_configmap_keys_and_size() -> None:
    assert messages(v.validate("", "ConfigMap", configmap(data={"bad key": "x", "ok": "y"}))) == [
        'data[bad key]: Invalid value: "bad key": a valid config key must consist of alphanumeric characters, '
        "'-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
    ]
    assert messages(v.validate("", "ConfigMap", configmap(data={"a": "x" * (1024 * 1024 + 1)}))) == [
        ": Too long: may not be more than 1048576 bytes"
    ]


def test_configmap_immutable() -> None:
    old = configmap(data={"a": "1"}, immutable=True)
    assert v.validate_update("", "ConfigMap", old, old) == []
    new = configmap(data={"a": "2"})
    assert messages(v.validate_update("", "ConfigMap", new, old)) == [
        "immutable: Forbidden: field is immutable when `immutable` is set",
        "data: Forbidden: field is immutable when `immutable` is set",
    ]


def test_secret_rules() -> None:
    tls = configmap(type="kubernetes.io/tls", data={"tls.crt": "YQ=="})
    assert messages(v.validate("", "Secret", tls)) == ["data[tls.key]: Required value"]
    old = configmap(type="Opaque")
    new = configmap(type="kubernetes.io/basic-auth", stringData={"username": "u"})
    assert messages(v.validate_update("", "Secret", new, old)) == [
        'type: Invalid value: "kubernetes.io/basic-auth": field is immutable'
    ]
    frozen = configmap(data={"a": "YQ=="}, immutable=True)
    thawed = configmap(data={"a": "Yg=="}, immutable=True)
    assert messages(v.validate_update("", "Secret", thawed, frozen)) == [
        "data: Forbidden: field is immutable when `immutable` is set"
    ]


# --------------------------------------------------------------------------- namespaces, nodes, volumes


def test_namespace_name_is_a_label() -> None:
    assert messages(v.validate("", "Namespace", {"metadata": {"name": "a.b"}})) == [
        'metadata.name: Invalid value: "a.b": must not contain dots'
    ]
    assert v.validate("", "Namespace", {"metadata": {"name": "team-a"}}) == []


def test_node_taints_use_upstreams_metadata_path() -> None:
    node = {"metadata": {"name": "n1"}, "spec": {"taints": [{"key": "k", "effect": "Sometimes"}]}}
    assert messages(v.validate("", "Node", node)) == [
        'metadata.taints[0].effect: Unsupported value: "Sometimes": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"'
    ]


def test_persistent_volume_claim() -> None:
    pvc = {
        "metadata": {"name": "c", "namespace": "d"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {}}},
    }
    assert messages(v.validate("", "PersistentVolumeClaim", pvc)) == [
        "spec.resources[storage]: Required value"
    ]
    pvc["spec"] = {"resources": {"requests": {"storage": "0"}}}
    assert messages(v.validate("", "PersistentVolumeClaim", pvc)) == [
        "spec.accessModes: Required value: at least 1 access mode is required",
        'spec.resources[storage]: Invalid value: "0": must be greater than zero',
    ]


def test_persistent_volume() -> None:
    pv = {
        "metadata": {"name": "pv"},
        "spec": {
            "accessModes": ["ReadWriteAlways"],
            "capacity": {"storage": "1Gi"},
            "hostPath": {"path": "/d"},
        },
    }
    assert messages(v.validate("", "PersistentVolume", pv)) == [
        'spec.accessModes: Unsupported value: "ReadWriteAlways": supported values: "ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"'
    ]


# --------------------------------------------------------------------------- apps


def deployment(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx"}]},
        },
    }
    base.update(spec)
    return {"metadata": {"name": "web", "namespace": "default", "resourceVersion": "1"}, "spec": base}


def test_deployment_validation() -> None:
    assert v.validate("apps", "Deployment", deployment()) == []
    bad = deployment(replicas=-1, selector={"matchLabels": {"app": "nginx"}})
    assert messages(v.validate("apps", "Deployment", bad)) == [
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`',
    ]
    # a missing selector selects nothing, so upstream also reports the mismatch
    assert messages(v.validate("apps", "Deployment", deployment(selector=None))) == [
        "spec.selector: Required value",
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`',
    ]
    assert messages(v.validate("apps", "Deployment", deployment(selector={"matchLabels": {}}))) == [
        "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{}, "
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"
    ]


def test_deployment_selector_is_immutable() -> None:
    old = deployment()
    new = deployment(
        selector={"matchLabels": {"app": "web", "tier": "x"}},
        template={
            "metadata": {"labels": {"app": "web", "tier": "x"}},
            "spec": {"containers": [{"name": "web", "image": "nginx"}]},
        },
    )
    assert messages(v.validate_update("apps", "Deployment", new, old)) == [
        'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web", "tier":"x"}, '
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"
    ]
    assert v.validate_update("apps", "Deployment", deployment(replicas=5), old) == []


def test_replica_set_and_daemon_set() -> None:
    rs = deployment(
        template={
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "x"}], "restartPolicy": "Never"},
        }
    )
    assert messages(v.validate("apps", "ReplicaSet", rs)) == [
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"'
    ]
    ds = deployment()
    del ds["spec"]["selector"]
    assert messages(v.validate("apps", "DaemonSet", ds)) == [
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`'
    ]


def test_stateful_set() -> None:
    sts = deployment(serviceName="web")
    sts["metadata"]["name"] = "web.db"
    assert messages(v.validate("apps", "StatefulSet", sts)) == [
        'metadata.name: Invalid value: "web.db": must not contain dots'
    ]
    old = deployment(serviceName="web")
    new = deployment(serviceName="other", replicas=3)
    assert messages(v.validate_update("apps", "StatefulSet", new, old)) == [
        "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
        "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
    ]


# --------------------------------------------------------------------------- batch


def job(**spec: Any) -> dict[str, Any]:
    labels = {
        "batch.kubernetes.io/controller-uid": "u1",
        "batch.kubernetes.io/job-name": "pi",
        "controller-uid": "u1",
        "job-name": "pi",
    }
    base: dict[str, Any] = {
        "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}},
        "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": "pi", "image": "perl"}], "restartPolicy": "Never"},
        },
    }
    base.update(spec)
    return {
        "metadata": {"name": "pi", "namespace": "default", "uid": "u1", "resourceVersion": "1"},
        "spec": base,
    }


def test_job_validation() -> None:
    assert v.validate("batch", "Job", job()) == []
    bad = job(parallelism=-1)
    del bad["spec"]["template"]["spec"]["restartPolicy"]
    assert messages(v.validate("batch", "Job", bad)) == [
        "spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
        'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"',
    ]
    assert messages(v.validate("batch", "Job", job(selector=None)))[0] == "spec.selector: Required value"


def test_job_update_immutability() -> None:
    old = job(completions=1)
    new = job(completions=2)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "python"
    msgs = messages(v.validate_update("batch", "Job", new, old))
    assert msgs[0] == "spec.completions: Invalid value: 2: field is immutable"
    assert msgs[1].startswith("spec.template: Invalid value: core.PodTemplateSpec{") and msgs[1].endswith(
        ": field is immutable"
    )


def test_cron_job() -> None:
    cj = {
        "metadata": {"name": "c" * 53, "namespace": "default"},
        "spec": {
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {"containers": [{"name": "a", "image": "b"}], "restartPolicy": "OnFailure"}
                    }
                }
            }
        },
    }
    assert messages(v.validate("batch", "CronJob", cj)) == [
        "spec.schedule: Required value",
        f'metadata.name: Invalid value: "{"c" * 53}": must be no more than 52 characters',
    ]


# --------------------------------------------------------------------------- rbac


def test_roles_and_bindings() -> None:
    role = {
        "metadata": {"name": "system:reader", "namespace": "d"},
        "rules": [{"apiGroups": [""], "resources": []}],
    }
    assert messages(v.validate("rbac.authorization.k8s.io", "Role", role)) == [
        "rules[0].verbs: Required value: verbs must contain at least one value",
        "rules[0].resources: Required value: resource rules must supply at least one resource",
    ]
    binding: dict[str, Any] = {
        "metadata": {"name": "b", "namespace": "d", "resourceVersion": "1"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
        "subjects": [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}],
    }
    assert v.validate("rbac.authorization.k8s.io", "RoleBinding", binding) == []
    changed = copy.deepcopy(binding)
    changed["roleRef"]["name"] = "other"
    assert messages(v.validate_update("rbac.authorization.k8s.io", "RoleBinding", changed, binding)) == [
        'roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"Role", Name:"other"}: cannot change roleRef'
    ]


# --------------------------------------------------------------------------- registry


@pytest.mark.parametrize(
    ("group", "kind", "rule"),
    [
        ("", "Pod", v.DNS1123_SUBDOMAIN),
        ("", "Service", v.DNS1035_LABEL),
        ("", "Namespace", v.DNS1123_LABEL),
        ("apps", "StatefulSet", v.DNS1123_LABEL),
        ("apps", "Deployment", v.DNS1123_SUBDOMAIN),
        ("rbac.authorization.k8s.io", "ClusterRole", v.PATH_SEGMENT),
        ("example.com", "Widget", v.DNS1123_SUBDOMAIN),
    ],
)
def test_name_rules(group: str, kind: str, rule: str) -> None:
    assert v.name_rule(group, kind) == rule


def test_unregistered_kinds_get_object_meta_checks() -> None:
    obj = {"metadata": {"name": "Bad"}}
    assert messages(v.validate("example.com", "Widget", obj, namespaced=False)) == [
        f'metadata.name: Invalid value: "Bad": {SUBDOMAIN_MSG}'
    ]
    old = {"metadata": {"name": "a", "resourceVersion": "1"}}
    new = {"metadata": {"name": "b", "resourceVersion": "1"}}
    assert 'metadata.name: Invalid value: "b": field is immutable' in messages(
        v.validate_update("example.com", "Widget", new, old, namespaced=False)
    )


def test_malformed_fields_do_not_raise() -> None:
    weird = {
        "metadata": {"name": "p", "namespace": "d"},
        "spec": {"containers": "nope", "volumes": {}, "activeDeadlineSeconds": "x"},
    }
    assert messages(v.validate("", "Pod", weird)) == [
        "spec.containers: Required value",
        'spec.activeDeadlineSeconds: Invalid value: "x": must be of type integer',
    ]
    assert v.validate("apps", "Deployment", {"metadata": None, "spec": None})
