"""Protobuf request bodies: real kubectl 1.33 captures, hand-checked bytes, round trips, tables.

The fixtures in ``fixtures/protobuf`` were recorded from kubectl 1.33 (protobuf) and, for the
same commands, kubectl 1.31 (JSON); ``capture.py`` there re-records them. The strongest
checks are that decoding a 1.33 body gives exactly the dict 1.31 sent as JSON, and that
encoding that dict again gives back kubectl's bytes.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import struct
import sys
import time
from pathlib import Path
from typing import Any

import kubernetes_validate
import orjson
import pytest

from kubeherd.api.protobuf import (
    PROTOBUF,
    ProtobufError,
    UnsupportedKindError,
    decode_message,
    decode_request,
    decode_value,
    encode_message,
    encode_request,
    encode_value,
    message_for,
    tables,
)
from kubeherd.api.resources import RESOURCES

FIXTURES = Path(__file__).parent / "fixtures" / "protobuf"
CASES: dict[str, Any] = json.loads((FIXTURES / "cases.json").read_text())
REQUESTS = [(case, r) for case, entry in sorted(CASES.items()) for r in entry["requests"]]
TWINS = [(case, entry["json_twin"]) for case, entry in sorted(CASES.items()) if "json_twin" in entry]

CORE = "k8s.io.api.core.v1."
META = "k8s.io.apimachinery.pkg.apis.meta.v1."
APPS = "k8s.io.api.apps.v1."
EXT = "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1."


def _ld(number: int, data: bytes) -> bytes:
    """A length-delimited field."""
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def fixture(case: str, n: int = 1) -> dict[str, Any]:
    name = f"{case}.pb" if n == 1 else f"{case}-{n}.pb"
    return decode_request((FIXTURES / name).read_bytes())


# --- real kubectl bodies -----------------------------------------------------------------------

def test_fixtures_cover_the_typed_writes_of_kubectl() -> None:
    assert len(REQUESTS) >= 30
    kinds = {fixture(case, i + 1)["kind"] for case, entry in CASES.items() for i in range(len(entry["requests"]))}
    assert kinds >= {
        "Deployment", "ConfigMap", "Secret", "Service", "Job", "CronJob", "Namespace", "Role", "RoleBinding",
        "ClusterRole", "ClusterRoleBinding", "ResourceQuota", "PriorityClass", "PodDisruptionBudget", "Ingress",
        "ServiceAccount", "TokenRequest", "SelfSubjectAccessReview", "SelfSubjectReview",
        "HorizontalPodAutoscaler", "CertificateSigningRequest", "Pod",
    }


@pytest.mark.parametrize(("case", "request_"), REQUESTS, ids=[r["file"] for _, r in REQUESTS])
def test_kubectl_body_decodes_and_re_encodes_byte_for_byte(case: str, request_: dict[str, Any]) -> None:
    body = (FIXTURES / request_["file"]).read_bytes()
    assert body[:4] == b"k8s\x00"
    obj = decode_request(body)
    assert message_for(obj["apiVersion"], obj["kind"])
    assert "metadata" in obj
    assert encode_request(obj) == body


@pytest.mark.parametrize(("case", "twin"), TWINS, ids=[case for case, _ in TWINS])
def test_protobuf_body_decodes_to_the_json_an_older_kubectl_sends(case: str, twin: dict[str, Any]) -> None:
    from_protobuf = decode_request((FIXTURES / twin["twin_of"]).read_bytes())
    from_json = orjson.loads((FIXTURES / twin["file"]).read_bytes())
    assert from_protobuf == from_json


def test_create_deployment() -> None:
    d = fixture("create-deployment")
    assert (d["kind"], d["apiVersion"]) == ("Deployment", "apps/v1")
    assert d["metadata"] == {"name": "web", "creationTimestamp": None, "labels": {"app": "web"}}
    assert d["spec"]["replicas"] == 3
    assert d["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert d["spec"]["template"]["metadata"]["labels"] == {"app": "web"}
    assert d["spec"]["template"]["spec"]["containers"] == [{"name": "nginx", "image": "nginx:1.25", "resources": {}}]
    assert d["spec"]["strategy"] == {} and d["status"] == {}


def test_create_deployment_keeps_an_explicit_zero() -> None:
    d = fixture("create-deployment-zero")
    assert d["spec"]["replicas"] == 0  # a pointer in Go: present on the wire, so present here
    assert d["spec"]["template"]["spec"]["containers"][0]["ports"] == [{"containerPort": 8080}]
    assert "minReadySeconds" not in d["spec"]  # non-pointer zero, omitempty: absent, as in JSON


def test_create_configmap_and_secrets() -> None:
    assert fixture("create-configmap")["data"] == {"a": "b", "empty": ""}
    secret = fixture("create-secret-generic")
    assert secret["data"] == {"p": base64.b64encode(b"q").decode()}  # bytes are base64, as in JSON
    assert "type" not in secret
    reg = fixture("create-secret-docker-registry")
    assert reg["type"] == "kubernetes.io/dockerconfigjson"
    config = json.loads(base64.b64decode(reg["data"][".dockerconfigjson"]))
    assert config["auths"]["registry.example.com"]["username"] == "u"
    tls = fixture("create-secret-tls")
    assert tls["type"] == "kubernetes.io/tls"
    assert base64.b64decode(tls["data"]["tls.crt"]).startswith(b"-----BEGIN CERTIFICATE-----")
    assert base64.b64decode(tls["data"]["tls.key"]).startswith(b"-----BEGIN PRIVATE KEY-----")


def test_create_services() -> None:
    s = fixture("create-service-clusterip")
    assert s["spec"]["type"] == "ClusterIP"
    assert s["spec"]["ports"] == [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080}]
    assert s["spec"]["selector"] == {"app": "s"}
    assert s["status"] == {"loadBalancer": {}}
    assert fixture("create-service-nodeport")["spec"]["ports"][0]["nodePort"] == 30080
    assert fixture("create-service-loadbalancer")["spec"]["type"] == "LoadBalancer"
    en = fixture("create-service-externalname")["spec"]
    assert (en["type"], en["externalName"]) == ("ExternalName", "example.com")
    assert "ports" not in en


def test_create_job_and_cronjob() -> None:
    job = fixture("create-job")
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["containers"][0]["image"] == "busybox"
    cj = fixture("create-cronjob")
    assert cj["spec"]["schedule"] == "*/5 * * * *"
    assert cj["spec"]["jobTemplate"]["metadata"]["name"] == "cj"
    assert cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"


def test_create_namespace_and_serviceaccount() -> None:
    ns = fixture("create-namespace")
    assert (ns["kind"], ns["apiVersion"], ns["metadata"]["name"]) == ("Namespace", "v1", "n")
    assert fixture("create-serviceaccount") == {
        "kind": "ServiceAccount", "apiVersion": "v1", "metadata": {"name": "sa", "creationTimestamp": None},
    }


def test_create_rbac() -> None:
    assert fixture("create-role")["rules"] == [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}]
    rb = fixture("create-rolebinding")
    assert rb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"}
    assert rb["subjects"] == [
        {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"},
        {"kind": "ServiceAccount", "name": "sa", "namespace": "default"},
    ]
    assert fixture("create-clusterrole")["rules"][1] == {"verbs": ["get"], "nonResourceURLs": ["/healthz"]}
    assert fixture("create-clusterrolebinding")["subjects"][0]["name"] == "devs"


def test_create_quota_priorityclass_pdb_ingress() -> None:
    assert fixture("create-quota")["spec"]["hard"] == {"cpu": "1", "memory": "1Gi", "pods": "10"}
    pc = fixture("create-priorityclass")
    assert (pc["value"], pc["description"], pc["preemptionPolicy"]) == (1000, "high", "Never")
    pdb = fixture("create-poddisruptionbudget")
    assert pdb["spec"]["minAvailable"] == "50%"  # IntOrString holding a string
    assert pdb["status"]["disruptionsAllowed"] == 0  # not omitempty in Go: kept
    rule = fixture("create-ingress")["spec"]["rules"][0]
    assert rule["host"] == "foo.com"
    assert rule["http"]["paths"] == [
        {"path": "/bar", "pathType": "Prefix", "backend": {"service": {"name": "svc1", "port": {"number": 8080}}}}
    ]


def test_token_and_reviews() -> None:
    token = fixture("create-token")
    assert token["spec"] == {"audiences": ["api"], "expirationSeconds": 3600, "boundObjectRef": None}
    assert token["status"] == {"token": "", "expirationTimestamp": None}
    ssar = fixture("auth-can-i")
    assert ssar["spec"]["resourceAttributes"] == {"namespace": "default", "verb": "create", "resource": "pods"}
    assert ssar["status"] == {"allowed": False}
    assert fixture("auth-can-i-subresource")["spec"]["resourceAttributes"]["subresource"] == "log"
    assert fixture("auth-can-i-nonresource")["spec"] == {"nonResourceAttributes": {"path": "/healthz", "verb": "get"}}
    who = fixture("auth-whoami")
    assert (who["kind"], who["apiVersion"]) == ("SelfSubjectReview", "authentication.k8s.io/v1")


def test_autoscale_sends_v2_then_v1() -> None:
    v2 = fixture("autoscale")
    assert v2["apiVersion"] == "autoscaling/v2"
    assert v2["spec"]["scaleTargetRef"] == {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"}
    assert (v2["spec"]["minReplicas"], v2["spec"]["maxReplicas"]) == (2, 5)
    assert v2["spec"]["metrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}
    ]
    v1 = fixture("autoscale", 2)
    assert v1["apiVersion"] == "autoscaling/v1"
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 80


def test_certificate_approve_sends_the_whole_object() -> None:
    csr = fixture("certificate-approve")
    assert csr["metadata"]["name"] == "alice"
    assert csr["metadata"]["creationTimestamp"].endswith("Z")  # a real Time, RFC 3339
    assert base64.b64decode(csr["spec"]["request"]).startswith(b"-----BEGIN CERTIFICATE REQUEST-----")
    assert csr["spec"]["usages"] == ["client auth"]
    condition = csr["status"]["conditions"][0]
    assert (condition["type"], condition["status"]) == ("Approved", "True")
    assert condition["lastUpdateTime"].endswith("Z")


def test_debug_creates_pods() -> None:
    copy = fixture("debug-copy")
    assert [c["name"] for c in copy["spec"]["containers"]] == ["c", "dbg"]
    assert copy["spec"]["containers"][1]["command"] == ["sleep", "1"]
    assert copy["spec"]["shareProcessNamespace"] is True
    assert copy["spec"]["priority"] == 0
    node = fixture("debug-node")["spec"]
    assert node["nodeName"] == "n1" and node["hostPID"] is True
    assert node["volumes"] == [{"name": "host-root", "hostPath": {"path": "/"}}]  # VolumeSource is inlined


# --- hand-checked bytes ------------------------------------------------------------------------

def test_object_meta_bytes() -> None:
    # name "a" (1), then every non-pointer field a Go client writes even when empty: generateName (2),
    # namespace (3), selfLink (4), uid (5), resourceVersion (6), generation (7) and the zero
    # creationTimestamp (8) as an empty message.
    data = b'\n\x01a\x12\x00\x1a\x00"\x00*\x002\x008\x00B\x00'
    assert encode_message(META + "ObjectMeta", {"name": "a"}) == data
    assert decode_message(META + "ObjectMeta", data) == {"name": "a", "creationTimestamp": None}
    assert decode_message(META + "ObjectMeta", b"\n\x01a") == {"name": "a"}


def test_configmap_bytes() -> None:
    data = b"\n\x03\n\x01a" + b"\x12\x06\n\x01k\x12\x01v" + b"\x12\x03\n\x01e" + b"\x1a\x05\n\x01b\x12\x00"
    assert decode_message(CORE + "ConfigMap", data) == {
        "metadata": {"name": "a"},
        "data": {"k": "v", "e": ""},  # a map entry without a value has the zero value
        "binaryData": {"b": ""},
    }


def test_scalars_zero_negative_and_wide() -> None:
    # replicas is a pointer: its zero stays; selector is a pointer without omitempty: JSON says null
    assert decode_message(APPS + "DeploymentSpec", b"\x08\x00") == {"replicas": 0, "selector": None}
    minus_one = b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"  # 10-byte two's complement varint
    assert decode_message("k8s.io.api.autoscaling.v1.ScaleSpec", b"\x08" + minus_one) == {"replicas": -1}
    assert encode_message("k8s.io.api.autoscaling.v1.ScaleSpec", {"replicas": -1}) == b"\x08" + minus_one
    # int64: deletionGracePeriodSeconds (10) = -5
    data = encode_message(META + "ObjectMeta", {"name": "a", "deletionGracePeriodSeconds": -5})
    assert b"\x50\xfb\xff\xff\xff\xff\xff\xff\xff\xff\x01" in data
    assert decode_message(META + "ObjectMeta", data)["deletionGracePeriodSeconds"] == -5
    big = 2**53 + 1
    assert decode_message(META + "ObjectMeta", encode_message(META + "ObjectMeta", {"generation": big}))[
        "generation"] == big
    # bools: false present on the wire for a pointer field stays
    assert decode_message(CORE + "ConfigMap", b"\x20\x00") == {"immutable": False}


def test_omitempty_zero_values_are_dropped_like_json() -> None:
    # generateName "" and generation 0 are on the wire (Go writes them) but not in the JSON form
    assert decode_message(META + "ObjectMeta", b"\n\x01a\x12\x008\x00") == {"name": "a"}
    # a later zero replaces an earlier value (last one wins)
    assert decode_message(META + "ObjectMeta", b"\n\x01a\n\x00") == {}


def test_packed_and_unpacked_repeated_scalars() -> None:
    # PodSecurityContext.supplementalGroups = 4 (repeated int64)
    unpacked = b"\x20\x01\x20\x02\x20\x03"
    packed = b"\x22\x03\x01\x02\x03"
    for data in (unpacked, packed, b"\x20\x01\x22\x02\x02\x03"):
        assert decode_message(CORE + "PodSecurityContext", data) == {"supplementalGroups": [1, 2, 3]}
    # encoding is unpacked, as gogo-protobuf writes proto2
    assert encode_message(CORE + "PodSecurityContext", {"supplementalGroups": [1, 2, 3]}) == unpacked
    # repeated int32 with negatives: PodFailurePolicyOnExitCodesRequirement.values = 3
    msg = "k8s.io.api.batch.v1.PodFailurePolicyOnExitCodesRequirement"
    obj = {"operator": "In", "values": [-1, 0, 2147483647]}
    assert decode_message(msg, encode_message(msg, obj)) == obj


def test_double_fields() -> None:
    data = b"\x49" + struct.pack("<d", 5.5) + b"\x59" + struct.pack("<d", 5.0)
    # JSONSchemaProps.maximum = 9, minimum = 11; Go writes 5.0 as `5`, which JSON reads as an int
    decoded = decode_message(EXT + "JSONSchemaProps", data)
    assert decoded["maximum"] == 5.5
    assert decoded["minimum"] == 5 and isinstance(decoded["minimum"], int)


def test_times() -> None:
    # 2026-11-25T10:00:00Z is 1795600800 seconds after the epoch
    seconds = b"\x08" + _varint(1795600800)
    assert decode_value(META + "Time", seconds) == "2026-11-25T10:00:00Z"
    assert decode_value(META + "Time", seconds + b"\x10\x01") == "2026-11-25T10:00:00Z"  # JSON drops nanos
    assert decode_value(META + "Time", b"") is None  # the zero time
    assert decode_value(META + "MicroTime", seconds + b"\x10" + _varint(123456789)) == "2026-11-25T10:00:00.123456Z"
    assert encode_value(META + "Time", "2026-11-25T10:00:00Z") == seconds + b"\x10\x00"
    assert decode_value(META + "Time", encode_value(META + "Time", "2026-11-25T11:00:00+01:00")) == (
        "2026-11-25T10:00:00Z")
    assert decode_value(META + "Time", b"\x08\x00") == "1970-01-01T00:00:00Z"


def test_durations_quantities_int_or_string() -> None:
    assert decode_value(META + "Duration", b"\x08" + _varint(3_723_500_000_000)) == "1h2m3.5s"
    for nanos, text in [(0, "0s"), (1500, "1.5µs"), (2_000_000, "2ms"), (90_000_000_000, "1m30s"),
                        (-1_000_000_000, "-1s")]:
        assert decode_value(META + "Duration", encode_value(META + "Duration", text)) == text
        assert decode_value(META + "Duration", b"\x08" + _varint(nanos)) == text
    quantity = "k8s.io.apimachinery.pkg.api.resource.Quantity"
    assert decode_value(quantity, b"\n\x04500m") == "500m"
    assert decode_value(quantity, b"") == "0"
    intstr = "k8s.io.apimachinery.pkg.util.intstr.IntOrString"
    assert decode_value(intstr, b"\x08\x00\x10\x50\x1a\x00") == 80
    assert decode_value(intstr, b"\x08\x01\x10\x00\x1a\x04http") == "http"
    assert encode_value(intstr, 80) == b"\x08\x00\x10\x50\x1a\x00"


def test_embedded_json_raw_extension_and_fields_v1() -> None:
    rev = {"metadata": {"name": "r", "creationTimestamp": None}, "data": {"spec": {"template": {}}}, "revision": 3}
    data = encode_message(APPS + "ControllerRevision", rev)
    assert b'{"spec":{"template":{}}}' in data
    assert decode_message(APPS + "ControllerRevision", data) == rev
    entry = {"manager": "kubectl", "operation": "Apply", "apiVersion": "v1", "time": "2026-11-25T10:00:00Z",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:a": {}}}}
    meta = {"name": "a", "creationTimestamp": None, "managedFields": [entry]}
    assert decode_message(META + "ObjectMeta", encode_message(META + "ObjectMeta", meta)) == meta
    with pytest.raises(ProtobufError, match=r"data: embedded JSON is invalid"):
        decode_message(APPS + "ControllerRevision", b"\x12\x03\n\x01{")


def test_raw_extension_holding_a_protobuf_object() -> None:
    pod = {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p", "creationTimestamp": None},
           "spec": {"containers": None}, "status": {}}
    raw = encode_request(pod)
    revision = b"\x12" + _varint(len(raw) + 2) + b"\x0a" + _varint(len(raw)) + raw
    assert decode_message(APPS + "ControllerRevision", revision)["data"] == pod


def test_unknown_fields_are_skipped() -> None:
    extra = (b"\xf8\x06\x2a"  # field 111, varint
             + b"\xfa\x06\x02hi"  # field 111, length-delimited
             + b"\xfd\x06\x00\x00\x00\x00"  # fixed32
             + b"\xf9\x06" + b"\x00" * 8  # fixed64
             + b"\xfb\x06\x08\x01\xfc\x06")  # a group holding a varint
    assert decode_message(CORE + "ConfigMap", b"\n\x03\n\x01a" + extra + b"\x20\x01") == {
        "metadata": {"name": "a"}, "immutable": True,
    }


def test_inlined_structs() -> None:
    # Probe embeds ProbeHandler as proto field 1; in JSON its fields sit in the probe itself
    probe = {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 5}
    data = encode_message(CORE + "Probe", probe)
    assert data.startswith(b"\n")
    handler = decode_message(CORE + "ProbeHandler", data[2:2 + data[1]])
    assert handler["httpGet"]["port"] == "http"
    assert decode_message(CORE + "Probe", data) == probe


def test_json_schema_props_names_and_unions() -> None:
    schema = {
        "type": "object",
        "$schema": "http://json-schema.org/draft-04/schema#",
        "x-kubernetes-preserve-unknown-fields": True,
        "x-kubernetes-list-map-keys": ["name"],
        "properties": {
            "spec": {"type": "object", "additionalProperties": {"type": "string"}},
            "tags": {"type": "array", "items": {"type": "string"}},
            "tuple": {"type": "array", "items": [{"type": "string"}, {"type": "integer"}]},
            "open": {"type": "object", "additionalProperties": False},
            "port": {"x-kubernetes-int-or-string": True, "default": 80, "maximum": 65535},
            "deps": {"type": "object", "dependencies": {"a": ["b"], "c": {"required": ["d"]}}},
        },
        "enum": ["a", 1, None],
    }
    data = encode_message(EXT + "JSONSchemaProps", schema)
    assert decode_message(EXT + "JSONSchemaProps", data) == schema


def test_maps_of_wrapped_string_lists() -> None:
    spec = {"user": "alice", "groups": ["devs"], "extra": {"scopes": ["a", "b"], "empty": []},
            "resourceAttributes": {"verb": "get", "resource": "pods"}}
    msg = "k8s.io.api.authorization.v1.SubjectAccessReviewSpec"
    assert decode_message(msg, encode_message(msg, spec)) == spec


# --- malformed input ---------------------------------------------------------------------------

@pytest.mark.parametrize(("body", "message"), [
    (b'{"kind":"Pod"}', "must start with the 4 bytes"),
    (b"k8s\x00\x0a", "truncated"),
    (b"k8s\x00\x0a\x05\x0a\x02v1", "truncated"),
    (b"k8s\x00\x0f", "typeMeta: field 1 of Unknown has wire type 7, expected length-delimited"),
    (b"k8s\x00\x7f", "invalid wire type 7 for field 15"),
    (b"k8s\x00\x78" + b"\xff" * 11, "longer than 10 bytes"),
    (b"k8s\x00" + _ld(1, _ld(1, b"v1")), "names no apiVersion and kind"),
    (b"k8s\x00" + _ld(1, _ld(1, b"v1") + _ld(2, b"ConfigMap")) + _ld(2, b"\x08\x01"),
     "^metadata: field 1 of ConfigMap has wire type varint, expected length-delimited$"),
])
def test_malformed_envelopes(body: bytes, message: str) -> None:
    with pytest.raises(ProtobufError, match=message):
        decode_request(body)


def test_wrong_wire_type_names_the_field() -> None:
    deployment = encode_message(APPS + "Deployment", {"metadata": {"name": "d"}, "spec": {"replicas": 1}})
    patched = deployment.replace(b"\x08\x01", b"\x0a\x01x", 1)  # replicas as a string
    with pytest.raises(ProtobufError) as info:
        decode_message(APPS + "Deployment", patched)
    assert str(info.value) == (
        "spec.replicas: field 1 of DeploymentSpec has wire type length-delimited, expected varint"
    )


def test_errors_inside_lists_name_the_index() -> None:
    pod = {"containers": [{"name": "a"}, {"name": "b", "ports": [{"containerPort": 80}]}]}
    data = encode_message(CORE + "PodSpec", pod)
    port = encode_message(CORE + "ContainerPort", {"containerPort": 80})
    bad = data.replace(port, port.replace(b"\x18\x50", b"\x1d\x50\x00\x00\x00"), 1)
    with pytest.raises(ProtobufError, match=r"^containers\[1\]\.ports\[0\]\.containerPort: field 3 of ContainerPort "
                                            r"has wire type 32-bit, expected varint$"):
        decode_message(CORE + "PodSpec", bad)


def test_every_truncation_is_a_protobuf_error() -> None:
    body = (FIXTURES / "create-deployment.pb").read_bytes()
    failures = 0
    for cut in range(len(body)):
        try:
            decode_request(body[:cut])
        except ProtobufError:
            failures += 1
    # cutting exactly between two fields of the envelope leaves a shorter but valid body
    assert failures >= len(body) - 3


def test_field_number_zero_and_bad_end_group() -> None:
    with pytest.raises(ProtobufError, match="field number 0"):
        decode_message(CORE + "ConfigMap", b"\x00\x01")
    with pytest.raises(ProtobufError, match="end-group"):
        decode_message(CORE + "ConfigMap", b"\xfb\x06\x0c")


def test_kinds_without_protobuf_and_envelope_options() -> None:
    unknown = _ld(1, _ld(1, b"example.com/v1") + _ld(2, b"Widget")) + _ld(2, b"") + _ld(3, b"") + _ld(4, b"")
    with pytest.raises(UnsupportedKindError, match="no protobuf serialization for Widget in example.com/v1"):
        decode_request(b"k8s\x00" + unknown)
    gzip = _ld(1, _ld(1, b"v1") + _ld(2, b"ConfigMap")) + _ld(2, b"") + _ld(3, b"gzip")
    with pytest.raises(ProtobufError, match="contentEncoding 'gzip'"):
        decode_request(b"k8s\x00" + gzip)
    # an empty typeMeta takes the endpoint's kind, as upstream's serializer does
    body = b"k8s\x00" + _ld(2, _ld(1, _ld(1, b"c")))
    assert decode_request(body, "v1", "ConfigMap") == {
        "kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "c"},
    }
    # DeleteOptions and other meta kinds decode in any group version
    opts = encode_request({"kind": "DeleteOptions", "apiVersion": "apps/v1", "propagationPolicy": "Foreground"})
    assert decode_request(opts) == {"kind": "DeleteOptions", "apiVersion": "apps/v1",
                                    "propagationPolicy": "Foreground"}
    assert PROTOBUF == "application/vnd.kubernetes.protobuf"


def test_encoding_rejects_wrong_types() -> None:
    with pytest.raises(ProtobufError, match=r"^spec\.replicas: expected an integer"):
        encode_message(APPS + "Deployment", {"spec": {"replicas": "3"}})
    with pytest.raises(ProtobufError, match="invalid base64"):
        encode_message(CORE + "Secret", {"data": {"k": "not base64!"}})
    with pytest.raises(ProtobufError, match="out of range"):
        encode_message(APPS + "DeploymentSpec", {"replicas": 2**31})


# --- round trips of realistic objects ----------------------------------------------------------

OBJECTS: list[dict[str, Any]] = [
    {
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {"name": "web-0", "namespace": "prod", "uid": "0b5e1f62-8c1d-4d4f-9a2c-1a2b3c4d5e6f",
                     "resourceVersion": "42", "generation": 2, "creationTimestamp": "2026-11-25T10:00:00Z",
                     "deletionTimestamp": "2026-11-25T10:05:00Z", "deletionGracePeriodSeconds": 30,
                     "labels": {"app": "web"}, "annotations": {"a": "b"}, "finalizers": ["x/y"],
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web",
                                          "uid": "u1", "controller": True, "blockOwnerDeletion": True}]},
        "spec": {
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data-web-0"}},
                        {"name": "cfg", "configMap": {"name": "cfg", "defaultMode": 420,
                                                      "items": [{"key": "a", "path": "a.txt"}]}},
                        {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}],
            "initContainers": [{"name": "init", "image": "busybox", "command": ["sh", "-c", "true"],
                                "resources": {}, "restartPolicy": "Always"}],
            "containers": [{
                "name": "app", "image": "nginx:1.25", "args": ["-g", "daemon off;"],
                "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
                "env": [{"name": "A", "value": "1"},
                        {"name": "B", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
                        {"name": "C", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k", "optional": False}}}],
                "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "100m"}},
                "volumeMounts": [{"name": "data", "mountPath": "/data", "readOnly": True}],
                "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
                                  "initialDelaySeconds": 5, "timeoutSeconds": 1, "periodSeconds": 10,
                                  "successThreshold": 1, "failureThreshold": 3},
                "readinessProbe": {"tcpSocket": {"port": 80}, "timeoutSeconds": 1, "periodSeconds": 10,
                                   "successThreshold": 1, "failureThreshold": 3},
                "lifecycle": {"preStop": {"sleep": {"seconds": 5}}},
                "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                "imagePullPolicy": "IfNotPresent",
                "securityContext": {"runAsUser": 1000, "runAsNonRoot": True, "allowPrivilegeEscalation": False,
                                    "capabilities": {"drop": ["ALL"]}},
            }],
            "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
            "nodeSelector": {"disk": "ssd"}, "serviceAccountName": "web", "nodeName": "n1",
            "securityContext": {"fsGroup": 2000, "supplementalGroups": [1, 2]},
            "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchExpressions": [
                    {"key": "app", "operator": "In", "values": ["web"]}]}, "topologyKey": "kubernetes.io/hostname"}}]}},
            "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 60}],
            "hostname": "web-0", "subdomain": "web", "priority": 0, "enableServiceLinks": True,
            "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
                                           "labelSelector": {"matchLabels": {"app": "web"}}}],
            "overhead": {"cpu": "10m"},
        },
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True",
                                                        "lastProbeTime": None,
                                                        "lastTransitionTime": "2026-11-25T10:01:00Z"}],
                   "hostIP": "10.0.0.1", "podIP": "10.244.0.5", "podIPs": [{"ip": "10.244.0.5"}],
                   "startTime": "2026-11-25T10:00:01Z", "qosClass": "Burstable",
                   "containerStatuses": [{"name": "app", "state": {"running": {"startedAt": "2026-11-25T10:00:02Z"}},
                                          "lastState": {}, "ready": True, "restartCount": 0, "image": "nginx:1.25",
                                          "imageID": "sha256:abc", "containerID": "containerd://1",
                                          "started": True}]},
    },
    {
        "kind": "Deployment", "apiVersion": "apps/v1",
        "metadata": {"name": "web", "namespace": "default", "creationTimestamp": None, "labels": {"app": "web"}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"creationTimestamp": None, "labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "nginx", "image": "nginx", "resources": {}}]}},
                 "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}},
                 "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600},
        "status": {"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3,
                   "availableReplicas": 3,
                   "conditions": [{"type": "Available", "status": "True", "lastUpdateTime": "2026-11-25T10:00:00Z",
                                   "lastTransitionTime": "2026-11-25T10:00:00Z", "reason": "MinimumReplicasAvailable",
                                   "message": "Deployment has minimum availability."}]},
    },
    {
        "kind": "StatefulSet", "apiVersion": "apps/v1",
        "metadata": {"name": "db", "creationTimestamp": None},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "db"}}, "serviceName": "db",
                 "template": {"metadata": {"creationTimestamp": None},
                              "spec": {"containers": [{"name": "db", "image": "postgres", "resources": {}}]}},
                 "volumeClaimTemplates": [{"metadata": {"name": "data", "creationTimestamp": None},
                                           "spec": {"accessModes": ["ReadWriteOnce"],
                                                    "resources": {"requests": {"storage": "1Gi"}}},
                                           "status": {}}],
                 "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                 "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Delete"},
                 "ordinals": {"start": 0}},
        "status": {"replicas": 0, "availableReplicas": 0},
    },
    {
        "kind": "CronJob", "apiVersion": "batch/v1",
        "metadata": {"name": "backup", "creationTimestamp": None},
        "spec": {"schedule": "0 3 * * *", "timeZone": "Etc/UTC", "concurrencyPolicy": "Forbid", "suspend": False,
                 "jobTemplate": {"metadata": {"creationTimestamp": None}, "spec": {
                     "backoffLimit": 2, "completions": 1, "ttlSecondsAfterFinished": 100,
                     "podFailurePolicy": {"rules": [{"action": "FailJob", "onExitCodes": {
                         "operator": "In", "values": [42]}}]},
                     "template": {"metadata": {"creationTimestamp": None}, "spec": {
                         "containers": [{"name": "b", "image": "busybox", "resources": {}}],
                         "restartPolicy": "OnFailure"}}}},
                 "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1},
        "status": {"lastScheduleTime": "2026-11-25T03:00:00Z"},
    },
    {
        "kind": "Service", "apiVersion": "v1",
        "metadata": {"name": "web", "creationTimestamp": None},
        "spec": {"ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": "http", "nodePort": 30080}],
                 "selector": {"app": "web"}, "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                 "type": "NodePort", "sessionAffinity": "ClientIP",
                 "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
                 "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack", "externalTrafficPolicy": "Cluster",
                 "internalTrafficPolicy": "Cluster"},
        "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4", "ports": [{"port": 80, "protocol": "TCP"}]}]}},
    },
    {
        "kind": "Ingress", "apiVersion": "networking.k8s.io/v1",
        "metadata": {"name": "ing", "creationTimestamp": None},
        "spec": {"ingressClassName": "nginx",
                 "defaultBackend": {"resource": {"apiGroup": None, "kind": "Bucket", "name": "b"}},
                 "rules": [{"host": "a.example.com", "http": {"paths": [
                     {"path": "/", "pathType": "Prefix",
                      "backend": {"service": {"name": "web", "port": {"name": "http"}}}}]}}]},
        "status": {"loadBalancer": {}},
    },
    {
        "kind": "NetworkPolicy", "apiVersion": "networking.k8s.io/v1",
        "metadata": {"name": "np", "creationTimestamp": None},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"],
                 "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}],
                              "ports": [{"protocol": "TCP", "port": 8080, "endPort": 8090}]}],
                 "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"team": "a"}}}],
                             "ports": [{"port": "dns"}]}]},
    },
    {
        "kind": "HorizontalPodAutoscaler", "apiVersion": "autoscaling/v2",
        "metadata": {"name": "web", "creationTimestamp": None},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"},
                 "minReplicas": 1, "maxReplicas": 10,
                 "metrics": [{"type": "Pods", "pods": {"metric": {"name": "qps"},
                                                       "target": {"type": "AverageValue", "averageValue": "1k"}}}],
                 "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300, "selectPolicy": "Max",
                                            "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}}},
        "status": {"desiredReplicas": 0, "currentMetrics": None},
    },
    {
        "kind": "ValidatingWebhookConfiguration", "apiVersion": "admissionregistration.k8s.io/v1",
        "metadata": {"name": "vw", "creationTimestamp": None},
        "webhooks": [{"name": "v.example.com",
                      "clientConfig": {"service": {"namespace": "ns", "name": "svc", "path": "/v", "port": 443},
                                       "caBundle": base64.b64encode(b"\x00\x01PEM").decode()},
                      "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                                 "resources": ["pods"], "scope": "*"}],
                      "failurePolicy": "Fail", "sideEffects": "None", "admissionReviewVersions": ["v1"],
                      "timeoutSeconds": 10, "matchConditions": [{"name": "m", "expression": "true"}]}],
    },
    {
        "kind": "CustomResourceDefinition", "apiVersion": "apiextensions.k8s.io/v1",
        "metadata": {"name": "widgets.example.com", "creationTimestamp": None},
        "spec": {"group": "example.com", "names": {"plural": "widgets", "kind": "Widget", "shortNames": ["wd"]},
                 "scope": "Namespaced",
                 "versions": [{"name": "v1", "served": True, "storage": True,
                               "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                   "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                                            "required": ["size"],
                                            "properties": {"size": {"type": "integer", "minimum": 1, "default": 3}}},
                                   "status": {"type": "object",
                                              "x-kubernetes-validations": [{"rule": "self.x > 0"}]}}}},
                               "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.size",
                                                                        "statusReplicasPath": ".status.size"}},
                               "additionalPrinterColumns": [{"name": "Size", "type": "integer",
                                                             "jsonPath": ".spec.size"}]}],
                 "conversion": {"strategy": "None"}},
        "status": {"conditions": None, "acceptedNames": {"plural": "", "kind": ""}, "storedVersions": None},
    },
    {
        "kind": "Lease", "apiVersion": "coordination.k8s.io/v1",
        "metadata": {"name": "n1", "namespace": "kube-node-lease", "creationTimestamp": None},
        "spec": {"holderIdentity": "n1", "leaseDurationSeconds": 40,
                 "renewTime": "2026-11-25T10:00:00.123456Z", "acquireTime": "2026-11-25T09:00:00.000000Z"},
    },
    {
        "kind": "Event", "apiVersion": "events.k8s.io/v1",
        "metadata": {"name": "e", "creationTimestamp": None},
        "eventTime": "2026-11-25T10:00:00.500000Z", "series": {"count": 2, "lastObservedTime":
                                                              "2026-11-25T10:01:00.000001Z"},
        "reportingController": "c", "reportingInstance": "i", "action": "Pull", "reason": "Pulled",
        "regarding": {"kind": "Pod", "namespace": "d", "name": "p"}, "note": "pulled", "type": "Normal",
        "deprecatedSource": {}, "deprecatedFirstTimestamp": None, "deprecatedLastTimestamp": None,
    },
    {
        "kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
        "metadata": {"name": "web-abc", "creationTimestamp": None, "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.244.0.5"], "conditions": {"ready": True, "serving": True,
                                                                   "terminating": False},
                       "targetRef": {"kind": "Pod", "name": "web-0"}, "nodeName": "n1",
                       "hints": {"forZones": [{"name": "a"}]}}],
        "ports": [{"name": "http", "protocol": "TCP", "port": 80}],
    },
    {
        "kind": "CertificateSigningRequest", "apiVersion": "certificates.k8s.io/v1",
        "metadata": {"name": "csr", "creationTimestamp": None},
        "spec": {"request": base64.b64encode(b"-----BEGIN CERTIFICATE REQUEST-----").decode(),
                 "signerName": "kubernetes.io/kube-apiserver-client", "expirationSeconds": 3600,
                 "usages": ["client auth"], "username": "alice", "groups": ["devs"],
                 "extra": {"scopes": ["a"]}},
        "status": {"certificate": base64.b64encode(b"CERT").decode()},
    },
    {
        "kind": "RuntimeClass", "apiVersion": "node.k8s.io/v1",
        "metadata": {"name": "gvisor", "creationTimestamp": None}, "handler": "runsc",
        "overhead": {"podFixed": {"cpu": "250m", "memory": "120Mi"}},
        "scheduling": {"nodeSelector": {"sandbox": "true"}, "tolerations": [{"key": "s", "operator": "Exists"}]},
    },
    {
        "kind": "StorageClass", "apiVersion": "storage.k8s.io/v1",
        "metadata": {"name": "fast", "creationTimestamp": None}, "provisioner": "kubernetes.io/no-provisioner",
        "parameters": {"type": "ssd"}, "reclaimPolicy": "Delete", "allowVolumeExpansion": True,
        "volumeBindingMode": "WaitForFirstConsumer",
        "allowedTopologies": [{"matchLabelExpressions": [{"key": "zone", "values": ["a"]}]}],
    },
    {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": "web", "namespace": "default", "creationTimestamp": None},
        "spec": {"replicas": 5}, "status": {"replicas": 3, "selector": "app=web"},
    },
    {
        "kind": "Eviction", "apiVersion": "policy/v1",
        "metadata": {"name": "p", "namespace": "default", "creationTimestamp": None},
        "deleteOptions": {"gracePeriodSeconds": 0, "preconditions": {"uid": "u1"},
                          "propagationPolicy": "Background", "dryRun": ["All"]},
    },
    {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground", "orphanDependents": False},
    {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "not found",
     "reason": "NotFound", "details": {"name": "x", "kind": "pods",
                                       "causes": [{"reason": "FieldValueInvalid", "message": "m", "field": "f"}]},
     "code": 404},
    {
        "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "spec": {"audiences": ["https://kubernetes.default.svc"], "expirationSeconds": 3600,
                 "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "p", "uid": "u"}},
        "status": {"token": "eyJ", "expirationTimestamp": "2026-11-25T11:00:00Z"},
    },
    {
        "kind": "PersistentVolume", "apiVersion": "v1",
        "metadata": {"name": "pv", "creationTimestamp": None},
        "spec": {"capacity": {"storage": "10Gi"}, "hostPath": {"path": "/mnt", "type": "DirectoryOrCreate"},
                 "accessModes": ["ReadWriteOnce"], "persistentVolumeReclaimPolicy": "Retain",
                 "nodeAffinity": {"required": {"nodeSelectorTerms": [
                     {"matchExpressions": [{"key": "h", "operator": "In", "values": ["n1"]}]}]}}},
        "status": {"phase": "Available", "lastPhaseTransitionTime": "2026-11-25T10:00:00Z"},
    },
]


def _contains(big: Any, small: Any, path: str = "") -> None:
    """Everything in ``small`` is in ``big``; extra keys in ``big`` hold only empty/zero values."""
    if isinstance(small, dict):
        assert isinstance(big, dict), path
        for k, v in small.items():
            assert k in big, f"{path}.{k} lost"
            _contains(big[k], v, f"{path}.{k}")
        for k in big.keys() - small.keys():
            assert _empty(big[k]), f"{path}.{k} = {big[k]!r} appeared"
    elif isinstance(small, list):
        assert isinstance(big, list) and len(big) == len(small), path
        for i, (b, s) in enumerate(zip(big, small, strict=True)):
            _contains(b, s, f"{path}[{i}]")
    else:
        assert big == small and type(big) is type(small), f"{path}: {big!r} != {small!r}"


def _empty(v: Any) -> bool:
    return v in (None, 0, "", False) or (isinstance(v, dict) and all(_empty(x) for x in v.values()))


@pytest.mark.parametrize("obj", OBJECTS, ids=[f"{o['kind']}.{o['apiVersion']}" for o in OBJECTS])
def test_round_trip(obj: dict[str, Any]) -> None:
    body = encode_request(obj)
    decoded = decode_request(body)
    _contains(decoded, obj)
    assert encode_request(decoded) == body  # a fixed point: nothing else is lost or invented
    assert decode_request(body) == decoded


def test_a_deployment_decodes_well_under_a_millisecond() -> None:
    body = (FIXTURES / "create-deployment.pb").read_bytes()
    decode_request(body)
    n = 200
    start = time.perf_counter()
    for _ in range(n):
        decode_request(body)
    assert (time.perf_counter() - start) / n < 0.001


# --- the generated tables ----------------------------------------------------------------------

def test_every_catalog_kind_and_request_kind_has_a_message() -> None:
    for r in RESOURCES:
        assert message_for(r.api_version, r.kind), r
        for sub in r.subresources:
            api_version = f"{sub.group}/{sub.version}" if sub.group else r.api_version
            if not sub.kind.endswith("Options"):
                assert message_for(api_version, sub.kind), (r.plural, sub.name)
    for api_version, kind in [("autoscaling/v1", "Scale"), ("policy/v1", "Eviction"),
                              ("authentication.k8s.io/v1", "TokenRequest"), ("v1", "DeleteOptions"),
                              ("authorization.k8s.io/v1", "SelfSubjectAccessReview"),
                              ("authentication.k8s.io/v1", "SelfSubjectReview"), ("v1", "Status")]:
        assert message_for(api_version, kind)


def _schema_definitions() -> dict[str, Any]:
    path = (Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / "v1.33.0-local"
            / "_definitions.json")
    return json.loads(path.read_text())["$defs"]


def _json_properties(message: str) -> set[str]:
    names: set[str] = set()
    for _, name, typ, flags in tables.MESSAGES[message]:
        names |= _json_properties(typ) if flags & 4 else {name}
    return names


def test_json_names_match_the_upstream_json_schema() -> None:
    definitions = _schema_definitions()
    kinds = set(tables.KINDS.values())
    checked = 0
    for message in tables.MESSAGES:
        if message in tables.CUSTOM_JSON:
            continue
        definition = (message.replace("k8s.io.apiextensions_apiserver", "io.k8s.apiextensions-apiserver")
                      .replace("k8s.io.api.", "io.k8s.api.").replace("k8s.io.apimachinery", "io.k8s.apimachinery"))
        if definition not in definitions:
            continue  # internal types (options, inlined halves) have no schema of their own
        properties = set(definitions[definition].get("properties", {}))
        if message in kinds:  # TypeMeta is not a protobuf field of a kind
            properties -= {"apiVersion", "kind"}
        assert _json_properties(message) == properties, message
        checked += 1
    assert checked > 450


def test_json_name_exceptions() -> None:
    props = {name: typ for _, name, typ, _ in tables.MESSAGES[EXT + "JSONSchemaProps"]}
    assert {"$ref", "$schema", "x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string"} <= props.keys()
    assert "ref" not in props and "xKubernetesPreserveUnknownFields" not in props
    assert {n for _, n, _, _ in tables.MESSAGES["k8s.io.api.authentication.v1.BoundObjectReference"]} >= {"uid"}
    volume = {n: f for _, n, _, f in tables.MESSAGES[CORE + "Volume"]}
    assert volume["volumeSource"] & 4  # inlined


def test_every_custom_json_message_has_a_codec() -> None:
    for message in tables.CUSTOM_JSON:
        decode_value(message, b"")  # raises if the engine has no codec for it


# --- the generator -----------------------------------------------------------------------------

def _generator() -> Any:
    path = Path(__file__).resolve().parents[2] / "hack" / "gen_proto_tables.py"
    spec = importlib.util.spec_from_file_location("gen_proto_tables", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_generator_parses_proto_and_go_tags(tmp_path: Path) -> None:
    gen = _generator()
    package, messages = gen.parse_proto(
        'syntax = "proto2";\npackage k8s.io.api.demo.v1;\n'
        "// Thing is a thing.\nmessage Thing {\n  // +optional\n  optional string name = 1;\n"
        "  repeated int32 ports = 2;\n  map<string, string> labels = 3;\n  optional .k8s.io.x.Y y = 4;\n}\n"
    )
    assert package == "k8s.io.api.demo.v1"
    assert [(f.number, f.name, f.type, f.repeated) for f in messages[0].fields] == [
        (1, "name", "string", False), (2, "ports", "int32", True), (3, "labels", "map<string,string>", False),
        (4, "y", ".k8s.io.x.Y", False),
    ]
    (tmp_path / "types.go").write_text(
        'package demo\n\nconst GroupName = "demo.example.com"\n\ntype Thing struct {\n'
        '\tmetav1.TypeMeta `json:",inline"`\n'
        '\t// comment\n\tName string `json:"name,omitempty" protobuf:"bytes,1,opt,name=name"`\n'
        '\tRef *string `json:"$ref,omitempty" protobuf:"bytes,5,opt,name=ref"`\n'
        '\tSource `json:",inline" protobuf:"bytes,6,opt,name=source"`\n}\n\ntype Verbs []string\n'
        "func (t Thing) MarshalJSON() ([]byte, error) { return nil, nil }\n"
    )
    pkg = gen.parse_go_package(gen.Source(str(tmp_path)), ".")
    assert pkg.group == "demo.example.com"
    fields = {f.proto_number: f for f in pkg.structs["Thing"] if f.proto_number}
    assert fields[5].tags["json"] == "$ref,omitempty" and fields[5].type == "*string"
    assert fields[6].name is None and fields[6].proto_name == "source"
    assert "Verbs" in pkg.slices and "Thing" in pkg.custom_json


@pytest.mark.skipif(not os.environ.get("KUBEHERD_UPSTREAM_API"), reason="needs upstream checkouts")
def test_generated_tables_are_current(tmp_path: Path) -> None:
    """KUBEHERD_UPSTREAM_API=api@ref,apimachinery@ref,apiextensions@ref regenerates and compares."""
    api, machinery, ext = os.environ["KUBEHERD_UPSTREAM_API"].split(",")
    out = tmp_path / "tables.py"
    _generator().main(["--api", api, "--apimachinery", machinery, "--apiextensions-apiserver", ext, "-o", str(out)])
    current = Path(tables.__file__).read_text()
    assert out.read_text().split('"""', 2)[2] == current.split('"""', 2)[2]
